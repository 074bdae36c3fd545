import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { productionDependencies, type AppDependencies } from '../shared/composition';
import type { Config } from '../shared/config';
import type { Logger, LogProperties } from '../shared/logger';

/**
 * The CLI's composition root: the same parts the functions' root (`shared/composition.ts`)
 * builds, from the configuration the CLI loaded (the environment plus local.settings.json)
 * rather than from `process.env`, and with a logger on stderr.
 */
export function cliDependencies(config: Config, log: Logger): AppDependencies {
  // NOTE: a claim left by an interrupted CLI run names where it came from.
  return productionDependencies(config, {
    log,
    instanceId: `graph-subs@${hostname()}:${randomUUID()}`,
  });
}

/**
 * Logs on stderr, one line each: `warn subscription action failed key=a action=create ...`.
 * Without --verbose only errors are shown; the command's own output reports outcomes.
 */
export function stderrLogger(write: (line: string) => void, verbose: boolean): Logger {
  const line = (level: string, message: string, properties?: LogProperties) => {
    const fields = Object.entries(properties ?? {})
      .filter(([, v]) => v !== undefined && v !== null)
      .map(([k, v]) => `${k}=${String(v)}`);
    write([level, message, ...fields].join(' '));
  };
  return {
    info: (message, properties) => {
      if (verbose) line('info', message, properties);
    },
    warn: (message, properties) => {
      if (verbose) line('warn', message, properties);
    },
    error: (message, properties) => {
      line('error', message, properties);
    },
  };
}
