import { readFileSync } from 'node:fs';
import { parseDefinitionInput } from '../../shared/operations/definitionInput';
import { isOperationError, type FieldProblem } from '../../shared/operations/errors';
import {
  applyDefinition,
  type ApplyChange,
  type ApplyResult,
} from '../../shared/operations/subscriptionOperations';
import type { SubscriptionDefinition, SubscriptionStatus } from '../../shared/subscriptions/model';
import { tlsVersions } from '../../shared/subscriptions/model';
import { CommandFailure, type Command, type CommandContext } from '../command';
import { hasFlag, optionValue, UsageError, type ParsedArguments } from '../commandLine';
import { mapWithConcurrency } from '../concurrency';
import { redactSecrets } from '../redaction';
import { formatTable, formatTime, plural } from '../textTable';

/**
 * `apply`: puts definitions under management and creates or updates them on Graph at once,
 * through the same `applyDefinition` as the admin API. Every definition gets its own outcome;
 * one that fails does not stop the others, and what fails on Graph stays recorded for the sweep.
 */

/** Definitions applied side by side; the pacer keeps Graph's write limits whatever this is. */
const applyConcurrency = 4;

/** The outcome of one definition, as `--json` prints it. */
export interface ApplyOutcome {
  /** Position in the file (0 for flags). */
  readonly index: number;
  readonly key: string | null;
  /** True when the subscription is on Graph with this definition. */
  readonly ok: boolean;
  readonly change?: ApplyChange;
  readonly complete?: boolean;
  readonly status?: SubscriptionStatus;
  readonly graphSubscriptionId?: string | null;
  readonly expirationDateTime?: string | null;
  /** Application permissions the definition needs across create, renew and reauthorize. */
  readonly applicationPermissions?: readonly string[];
  /** What the operator should know (no lifecycle URL, a resource outside the table). */
  readonly warnings?: readonly string[];
  readonly error?: {
    readonly code: string;
    readonly message: string;
    readonly httpStatus?: number | null;
    readonly problems?: readonly FieldProblem[];
  };
}

/** Definition flags: option name -> Graph's property name. */
const textFlags = [
  ['key', 'key', 'KEY', 'Our stable key for the subscription.'],
  ['tenant', 'tenantId', 'TENANT', 'Tenant id (GUID) the subscription lives in.'],
  ['resource', 'resource', 'PATH', 'Graph resource, e.g. users/{id}/messages.'],
  ['change-type', 'changeType', 'TYPES', 'created, updated and/or deleted, comma-separated.'],
  ['notification-url', 'notificationUrl', 'URL', 'HTTPS URL that receives the notifications.'],
  [
    'lifecycle-url',
    'lifecycleNotificationUrl',
    'URL',
    'Lifecycle notification URL (default LIFECYCLE_NOTIFICATION_URL).',
  ],
  [
    'encryption-certificate',
    'encryptionCertificate',
    'BASE64',
    'Public certificate for resource data (base64).',
  ],
  ['encryption-certificate-id', 'encryptionCertificateId', 'ID', 'Id of that certificate.'],
  ['tls-version', 'latestSupportedTlsVersion', 'VERSION', `One of ${tlsVersions.join(', ')}.`],
] as const;

const requiredFlags = ['key', 'tenant', 'resource', 'change-type', 'notification-url'] as const;

export const applyCommand: Command = {
  spec: {
    name: 'apply',
    synopsis:
      'apply --file FILE [--json]\n' +
      '       graph-subs apply --key KEY --tenant TENANT --resource PATH --change-type TYPES\n' +
      '                        --notification-url URL [--lifecycle-url URL] [--lifetime-minutes N]\n' +
      '                        [--include-resource-data --encryption-certificate BASE64\n' +
      '                         --encryption-certificate-id ID] [--tls-version VERSION] [--json]',
    summary: 'Put subscriptions under management (a JSON file, or flags) and create them on Graph',
    description:
      "Stores each definition and creates or updates it on Graph at once, as the admin API's\n" +
      'PUT does: a new key is created; an unchanged one is left alone (or retried when due); a\n' +
      'new notificationUrl or certificate is PATCHed; a new resource, changeType, lifecycle URL,\n' +
      'includeResourceData or TLS version is applied by deleting and recreating (with a resync\n' +
      'request). Each definition gets its own outcome and one failure does not stop the others;\n' +
      'what Graph refuses or fails stays recorded and the sweep retries it.\n' +
      '\n' +
      "FILE holds a JSON array of definitions with Graph's property names: key, tenantId,\n" +
      'resource, changeType, notificationUrl, and optionally lifecycleNotificationUrl (default\n' +
      'LIFECYCLE_NOTIFICATION_URL), includeResourceData, encryptionCertificate,\n' +
      'encryptionCertificateId, latestSupportedTlsVersion, lifetimeMinutes (at most the\n' +
      "resource's maximum; default the maximum). Invalid definitions are reported with their\n" +
      'index, key and every bad field; the valid ones are still applied.',
    positionals: [],
    options: [
      { name: 'file', value: 'FILE', description: 'JSON file with an array of definitions.' },
      ...textFlags.map(([name, , value, description]) => ({ name, value, description })),
      {
        name: 'lifetime-minutes',
        value: 'N',
        description: "Lifetime to ask for (at most the resource's maximum).",
      },
      {
        name: 'include-resource-data',
        description: 'Notifications carry resource data (needs the certificate flags).',
      },
    ],
    jsonOutput:
      'an array with one result per definition, in file order:\n' +
      '  { index, key, ok, change: created|unchanged|updated|patched|recreated, complete,\n' +
      '    status, graphSubscriptionId, expirationDateTime, error: { code, message, problems } }.\n' +
      '  ok is true when the subscription is on Graph with its definition.',
    failsWhen:
      'a definition is invalid, Graph refused it, or its Graph step did not complete (stored; the sweep retries it), or FILE cannot be read as a JSON array',
    examples: [
      'graph-subs apply --file subscriptions.json',
      'graph-subs apply --key mail-alice --tenant 84bd8158-6d4d-4958-8b9f-9d6445542f95 \\\n' +
        '    --resource users/alice@contoso.com/messages --change-type created,updated \\\n' +
        '    --notification-url https://hooks.contoso.com/api/mail',
    ],
  },
  prepare(args) {
    const file = optionValue(args, 'file');
    const definitionFlags = [
      ...textFlags.map(([name]) => name),
      'lifetime-minutes',
      'include-resource-data',
    ];
    const given = definitionFlags.filter((name) => args.options.has(name));
    if (file !== undefined && given.length > 0) {
      throw new UsageError(
        `use either --file or definition flags, not both (${given.map((n) => `--${n}`).join(', ')})`,
        'apply',
      );
    }
    if (file === undefined) {
      if (given.length === 0)
        throw new UsageError('missing --file FILE or definition flags', 'apply');
      const missing = requiredFlags.filter((name) => !args.options.has(name));
      if (missing.length > 0) {
        throw new UsageError(`missing ${missing.map((n) => `--${n}`).join(', ')}`, 'apply');
      }
      const input = definitionFromFlags(args);
      return (ctx) => applyAll(ctx, [input]);
    }
    return (ctx) => applyAll(ctx, readDefinitionsFile(ctx, file));
  },
};

function definitionFromFlags(args: ParsedArguments): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const [flag, property] of textFlags) {
    const value = optionValue(args, flag);
    if (value !== undefined) input[property] = value;
  }
  const lifetime = optionValue(args, 'lifetime-minutes');
  if (lifetime !== undefined) {
    // NOTE: not a number stays text, so the definition check names lifetimeMinutes.
    input.lifetimeMinutes = /^\s*-?\d+(\.\d+)?\s*$/.test(lifetime) ? Number(lifetime) : lifetime;
  }
  if (hasFlag(args, 'include-resource-data')) input.includeResourceData = true;
  return input;
}

function readDefinitionsFile(ctx: CommandContext, path: string): unknown[] {
  let text: string;
  try {
    text = (ctx.io.readFile ?? ((p: string) => readFileSync(p, 'utf8')))(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new CommandFailure('FileUnreadable', `${path} cannot be read (${code})`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch {
    // NOTE: JSON.parse's message quotes the text near the error, which may hold a URL's key.
    throw new CommandFailure('InvalidJson', `${path} is not valid JSON`);
  }
  if (!Array.isArray(doc)) {
    throw new CommandFailure(
      'NotAnArray',
      `${path} must hold a JSON array of definitions: [{ "key": ..., "tenantId": ... }, ...]`,
    );
  }
  return doc;
}

type Checked =
  | {
      readonly index: number;
      readonly key: string | null;
      readonly definition: SubscriptionDefinition;
      readonly applicationPermissions: readonly string[];
      readonly warnings: readonly string[];
    }
  | {
      readonly index: number;
      readonly key: string | null;
      readonly problems: readonly FieldProblem[];
    };

async function applyAll(ctx: CommandContext, inputs: readonly unknown[]): Promise<number> {
  const checked = checkAll(ctx, inputs);
  // NOTE: named before the first Graph call, on stderr so `--json` stays one document: an
  // operator who grants only what create needs would otherwise learn the rest from a 403 at
  // the first renewal (drive items and lists renew with the ReadWrite permission).
  for (const c of checked) {
    if (!('definition' in c)) continue;
    const who = `[${c.index}] ${c.definition.key}`;
    if (c.applicationPermissions.length > 0) {
      ctx.io.err(
        `${who}: needs application permissions in tenant ${c.definition.tenantId}: ` +
          c.applicationPermissions.join(', '),
      );
    }
    for (const w of c.warnings) ctx.io.err(`${who}: warning: ${w}`);
  }
  const outcomes = await mapWithConcurrency(checked, applyConcurrency, async (c) => {
    if (!('definition' in c)) return invalid(c);
    const outcome = await applyOne(ctx, c.index, c.definition);
    return { ...outcome, applicationPermissions: c.applicationPermissions, warnings: c.warnings };
  });
  ctx.print(outcomes, () => applyText(outcomes, ctx.deps.clock.now()));
  return outcomes.every((o) => o.ok) ? 0 : 1;
}

function checkAll(ctx: CommandContext, inputs: readonly unknown[]): Checked[] {
  const checked: Checked[] = inputs.map((input, index) => {
    const key = keyOf(input);
    const parsed = parseDefinitionInput(input, { config: ctx.config });
    return parsed.ok
      ? {
          index,
          key,
          definition: parsed.definition,
          applicationPermissions: parsed.applicationPermissions,
          warnings: parsed.warnings,
        }
      : { index, key, problems: parsed.problems };
  });
  // NOTE: two definitions with one key: which one is meant is unclear, so neither is applied.
  const indexesByKey = new Map<string, number[]>();
  for (const c of checked) {
    if (c.key !== null) indexesByKey.set(c.key, [...(indexesByKey.get(c.key) ?? []), c.index]);
  }
  return checked.map((c) => {
    const indexes = c.key === null ? [] : (indexesByKey.get(c.key) ?? []);
    if (indexes.length < 2) return c;
    const duplicate = {
      field: 'key',
      message: `is used by more than one definition in the file (indexes ${indexes.join(', ')})`,
    };
    return {
      index: c.index,
      key: c.key,
      problems: ['problems' in c ? c.problems : [], [duplicate]].flat(),
    };
  });
}

function keyOf(input: unknown): string | null {
  if (typeof input !== 'object' || input === null) return null;
  const key = (input as { key?: unknown }).key;
  return typeof key === 'string' ? key : null;
}

function invalid(c: {
  index: number;
  key: string | null;
  problems: readonly FieldProblem[];
}): ApplyOutcome {
  return {
    index: c.index,
    key: c.key,
    ok: false,
    error: {
      code: 'InvalidDefinition',
      message: c.problems.map((p) => `${p.field}: ${p.message}`).join('; '),
      problems: c.problems,
    },
  };
}

async function applyOne(
  ctx: CommandContext,
  index: number,
  definition: SubscriptionDefinition,
): Promise<ApplyOutcome> {
  const key = definition.key;
  let result: ApplyResult;
  try {
    result = await applyDefinition(ctx.deps, definition);
  } catch (e) {
    if (isOperationError(e)) {
      return {
        index,
        key,
        ok: false,
        error: { code: e.code, message: e.message, httpStatus: e.status, problems: e.details },
      };
    }
    // NOTE: one definition's unexpected failure (a store outage, say) is reported with it; the
    // others are still tried.
    const message = e instanceof Error ? `${e.name}: ${e.message}` : 'unknown error';
    ctx.deps.log.error('apply failed unexpectedly', {
      key,
      error: redactSecrets(message, ctx.config),
    });
    return {
      index,
      key,
      ok: false,
      error: { code: 'UnexpectedError', message: redactSecrets(message, ctx.config) },
    };
  }
  const sub = result.subscription;
  const facts = {
    index,
    key,
    ok: result.complete,
    change: result.change,
    complete: result.complete,
    status: sub.status,
    graphSubscriptionId: sub.graphSubscriptionId ?? null,
    expirationDateTime: sub.expiresAt?.toISOString() ?? null,
  };
  if (result.complete) return facts;
  const e = sub.lastError;
  const action = result.action;
  return {
    ...facts,
    error:
      e === undefined
        ? {
            code: 'NotComplete',
            message: `stored; the Graph step is not done yet (${action === undefined ? 'not attempted' : `${action.action}: ${action.outcome}`}); the sweep retries it`,
          }
        : {
            code: e.code,
            message: `${e.message}; stored, the sweep retries it${needs(e.message, e.requiredPermissions)}`,
            httpStatus: e.status ?? null,
          },
  };
}

/** The permissions a 403 needs, unless the message names them already. */
function needs(message: string, permissions: readonly string[] | undefined): string {
  if (permissions === undefined || permissions.every((p) => message.includes(p))) return '';
  return ` (needs ${permissions.join(' or ')})`;
}

function applyText(outcomes: readonly ApplyOutcome[], now: Date): string {
  if (outcomes.length === 0) return 'No definitions to apply.';
  const table = formatTable(
    ['#', 'KEY', 'RESULT', 'CHANGE', 'STATUS', 'GRAPH ID', 'EXPIRES'],
    outcomes.map((o) => [
      o.index,
      o.key,
      o.ok ? 'ok' : o.error?.code === 'InvalidDefinition' ? 'invalid' : 'failed',
      o.change,
      o.status,
      o.graphSubscriptionId,
      o.expirationDateTime === undefined ? null : formatTime(o.expirationDateTime, now),
    ]),
  );
  const problems = outcomes.flatMap((o) => {
    const who = `[${o.index}] ${o.key ?? '(no key)'}`;
    if (o.error === undefined) return [];
    if (o.error.problems !== undefined && o.error.problems.length > 0) {
      return o.error.problems.map((p) => `  ${who}: ${p.field}: ${p.message}`);
    }
    const http = o.error.httpStatus == null ? '' : ` (HTTP ${o.error.httpStatus})`;
    return [`  ${who}: ${o.error.code}${http}: ${o.error.message}`];
  });
  const ok = outcomes.filter((o) => o.ok).length;
  const invalidCount = outcomes.filter((o) => o.error?.code === 'InvalidDefinition').length;
  const failed = outcomes.length - ok - invalidCount;
  const footer =
    `${ok} of ${plural(outcomes.length, 'definition')} on Graph as defined` +
    (invalidCount > 0 ? `; ${invalidCount} invalid (not stored)` : '') +
    (failed > 0 ? `; ${failed} failed or not complete` : '') +
    '.';
  return [table, ...(problems.length > 0 ? ['', 'Problems:', ...problems] : []), '', footer].join(
    '\n',
  );
}
