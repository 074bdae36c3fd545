import { isConfigError, type Config, type ConfigError } from '../shared/config';
import { isOperationError } from '../shared/operations/errors';
import { StorageConnectionError } from '../shared/store/tableClient';
import { isCommandFailure, type CliIo, type ErrorDocument } from './command';
import { isLocalSettingsError } from './localSettings';
import { redactSecrets } from './redaction';

/**
 * The one place where a command's failure becomes output and exit code 1: a message on stderr,
 * and with --json also an error document on stdout, so a script always gets one document.
 * Configuration errors name every bad key, never a value.
 */
export function reportFailure(
  io: CliIo,
  json: boolean,
  e: unknown,
  options: { readonly config?: Config | undefined; readonly verbose?: boolean } = {},
): 1 {
  const document = errorDocument(e, options.config);
  const text = isConfigError(e) ? configProblemsText(e) : document.error.message;
  const problems =
    isConfigError(e) || document.error.problems === undefined
      ? []
      : document.error.problems.map((p) => `  ${p.field ?? p.key ?? ''}: ${p.message}`);
  io.err([`graph-subs: ${text}`, ...problems].join('\n'));
  if (
    options.verbose === true &&
    !isKnownFailure(e) &&
    e instanceof Error &&
    e.stack !== undefined
  ) {
    io.err(redactSecrets(e.stack, options.config));
  }
  if (json) io.out(JSON.stringify(document, null, 2));
  return 1;
}

function isKnownFailure(e: unknown): boolean {
  return (
    isConfigError(e) ||
    e instanceof StorageConnectionError ||
    isOperationError(e) ||
    isCommandFailure(e) ||
    isLocalSettingsError(e)
  );
}

export function errorDocument(e: unknown, config: Config | undefined): ErrorDocument {
  if (isConfigError(e)) {
    return {
      error: { code: 'InvalidConfiguration', message: e.message, problems: e.problems },
    };
  }
  if (e instanceof StorageConnectionError) {
    // NOTE: thrown when the clients are built: a setting the configuration schema cannot judge.
    return {
      error: {
        code: 'InvalidConfiguration',
        message: e.message,
        problems: [
          { key: 'STORAGE_CONNECTION', message: e.message.replace(/^STORAGE_CONNECTION /, '') },
        ],
      },
    };
  }
  if (isOperationError(e)) {
    return {
      error: {
        code: e.code,
        message: e.message,
        ...(e.details === undefined ? {} : { problems: e.details }),
      },
    };
  }
  if (isCommandFailure(e)) {
    return {
      error: {
        code: e.code,
        message: e.message,
        ...(e.problems === undefined ? {} : { problems: e.problems }),
      },
    };
  }
  if (isLocalSettingsError(e))
    return { error: { code: 'InvalidLocalSettings', message: e.message } };
  const message = e instanceof Error ? `${e.name}: ${e.message}` : 'unknown error';
  return {
    error: {
      code: 'UnexpectedError',
      message: `unexpected error: ${redactSecrets(message, config)}`,
    },
  };
}

export function configProblemsText(e: ConfigError): string {
  return [
    `Invalid configuration (${e.problems.length} problem${e.problems.length === 1 ? '' : 's'}):`,
    ...e.problems.map((p) => `  ${p.key}: ${p.message}`),
  ].join('\n');
}
