import fc from 'fast-check';
import { TableClient } from '@azure/data-tables';
import { HttpRequest, HttpResponse, InvocationContext } from '@azure/functions';
import type { HttpResponseInit } from '@azure/functions';
import { azuriteConnectionString } from '../../devkit/appHarness';
import type { GraphSimulator } from '../../devkit/graphSimulator';

/**
 * Shared parts of the fuzz tests (test/e2e/fuzz.*.test.ts): run counts and seeds from the
 * environment, generators of hostile text, a snapshot of everything a request could change,
 * and a way to call a handler with a real `HttpRequest` and `InvocationContext`.
 *
 * Runs: FUZZ_RUNS per property (default 200, so `npm test` stays quick); `npm run fuzz` sets
 * 10,000. Seed: FUZZ_SEED, else a random one for this run; a failure prints it with fast-check's
 * path, and `FUZZ_SEED=... FUZZ_PATH=...` replays exactly that case.
 */

export function fuzzRuns(fallback = 200): number {
  const text = process.env.FUZZ_RUNS;
  const runs = text === undefined || text.trim() === '' ? fallback : Number(text);
  if (!Number.isInteger(runs) || runs < 1) throw new Error('FUZZ_RUNS must be a whole number >= 1');
  return runs;
}

const seed = (() => {
  const text = process.env.FUZZ_SEED;
  if (text !== undefined && text.trim() !== '') {
    const value = Number(text);
    if (!Number.isInteger(value)) throw new Error('FUZZ_SEED must be a whole number');
    return value;
  }
  return Math.floor(Math.random() * 0x7fffffff);
})();

/**
 * Runs an async property with this run's seed; a failure names the seed, the path and the
 * command that replays it, above fast-check's own report (counterexample, shrunk).
 */
export async function assertProperty<Ts extends [unknown, ...unknown[]]>(
  name: string,
  property: fc.IAsyncProperty<Ts>,
  numRuns: number,
): Promise<void> {
  const path = process.env.FUZZ_PATH;
  const parameters: fc.Parameters<Ts> = {
    numRuns,
    seed,
    ...(path === undefined || path === '' ? {} : { path }),
  };
  try {
    await fc.assert(property, parameters);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const failedPath = /path: "([^"]*)"/.exec(message)?.[1];
    const replay = `FUZZ_SEED=${seed}${failedPath === undefined ? '' : ` FUZZ_PATH=${failedPath}`} FUZZ_RUNS=${numRuns}`;
    throw new Error(
      `Fuzz property "${name}" failed. Replay: ${replay} npx jest <this file>\n\n${message}`,
      {
        cause: e,
      },
    );
  }
}

// ---- hostile text ----

/**
 * Pieces that break naive OData filters, table keys, URLs and logs: quotes (raw, doubled,
 * percent-encoded once and twice), operators, key separators of our row keys, characters Azure
 * Tables forbids in keys, dot segments, control characters, and non-ASCII of every width.
 */
export const hostilePieces: readonly string[] = [
  "'",
  "''",
  '%27',
  '%2527',
  ' eq ',
  ' or ',
  ' and ',
  ' ne ',
  ' not ',
  "' or '1' eq '1",
  "') or (PartitionKey ne '",
  ' or PartitionKey ne ',
  '$filter=',
  '/',
  '\\',
  '#',
  '?',
  '%',
  '&',
  '=',
  '.',
  '..',
  '../',
  ':',
  '-',
  '_',
  '|',
  '~',
  '*',
  '(',
  ')',
  '"',
  '<script>',
  '{',
  '}',
  ' ',
  '\t',
  '\n',
  '\r\n',
  '\u0000',
  '\u007f',
  'é',
  'ß',
  'İ',
  '日本',
  '😀',
  '\u202e',
  '\ufeff',
  '\u200b',
  'graph|',
  'sub|',
  'due|',
  'tenant|',
  '~registry',
  'PartitionKey',
  'RowKey',
  'null',
  'undefined',
  'true',
];

/** A string built from hostile pieces, GUIDs and bits of random text. */
export function hostileString(maxPieces = 8): fc.Arbitrary<string> {
  return fc
    .array(
      fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...hostilePieces) },
        { weight: 1, arbitrary: fc.uuid() },
        { weight: 2, arbitrary: fc.string({ maxLength: 6 }) },
        { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) },
      ),
      { minLength: 1, maxLength: maxPieces },
    )
    .map((parts) => parts.join(''));
}

/** Tenant-id-like text: GUIDs with something hostile around them, or hostile text alone. */
export function hostileTenantId(tenantIds: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    fc
      .tuple(fc.constantFrom(...tenantIds), hostileString(3), fc.boolean())
      .map(([t, h, before]) => (before ? `${h}${t}` : `${t}${h}`)),
    fc.constantFrom(...tenantIds).map((t) => t.toUpperCase()),
    hostileString(),
  );
}

/** Text that survives a URL query unchanged (no lone surrogates, which become U+FFFD). */
export function wellFormed(text: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return text.filter(isWellFormed);
}

function isWellFormed(text: string): boolean {
  try {
    encodeURIComponent(text);
    return true;
  } catch {
    return false;
  }
}

// ---- what a request could change ----

export interface WorldSnapshot {
  /** Every entity of the app's table (all tenants, indexes, registry) with its ETag. */
  readonly rows: readonly string[];
  /** The Graph simulator's live subscriptions, as JSON. */
  readonly graph: string;
}

export function rawTable(tableName: string): TableClient {
  return TableClient.fromConnectionString(azuriteConnectionString(), tableName, {
    allowInsecureConnection: true,
  });
}

export async function snapshotWorld(
  table: TableClient,
  sim: Pick<GraphSimulator, 'subscriptions'>,
): Promise<WorldSnapshot> {
  const rows: string[] = [];
  for await (const e of table.listEntities()) {
    rows.push(`${e.partitionKey}\t${e.rowKey}\t${e.etag}`);
  }
  rows.sort();
  return { rows, graph: JSON.stringify(sim.subscriptions()) };
}

// ---- calling a handler ----

export type Handler = (
  request: HttpRequest,
  context: InvocationContext,
) => Promise<HttpResponseInit>;

export interface FuzzAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** The body as text (JSON or plain). */
  readonly text: string;
  /** The body parsed as JSON, when it is JSON. */
  readonly json: unknown;
  /** Every log line of the invocation, serialised. */
  readonly logs: readonly string[];
  readonly ms: number;
}

/**
 * Calls `handler` as the Functions host would: a real `HttpRequest` and `InvocationContext`,
 * and the returned `HttpResponseInit` read back through the library's `HttpResponse`.
 * A handler that throws rejects here (the host would answer 500).
 */
export async function invoke(handler: Handler, request: HttpRequest): Promise<FuzzAnswer> {
  const logs: string[] = [];
  const context = new InvocationContext({
    functionName: 'fuzz',
    invocationId: 'fuzz-invocation',
    logHandler: (level, ...args) => {
      logs.push(`${level} ${JSON.stringify(args)}`);
    },
  });
  const started = performance.now();
  const init = await handler(request, context);
  const ms = performance.now() - started;
  const response = new HttpResponse(init);
  // NOTE: not `response.text()`, which drops a leading byte-order mark: the bytes are the answer.
  const text = new TextDecoder('utf-8', { ignoreBOM: true }).decode(await response.arrayBuffer());
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers, text, json, logs, ms };
}

/** A request with a body given as bytes, so that no content type is added behind our back. */
export function fuzzRequest(options: {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array | undefined;
  readonly params?: Readonly<Record<string, string>>;
}): HttpRequest {
  return new HttpRequest({
    method: options.method,
    url: options.url,
    headers: { ...options.headers },
    ...(options.params === undefined ? {} : { params: { ...options.params } }),
    ...(options.body === undefined ? {} : { body: { bytes: options.body } }),
  });
}

/** The documented JSON rule of both endpoints: `application/json` or any `+json` media type. */
export function isJsonContentType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const media = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return media === 'application/json' || media.endsWith('+json');
}

/** Content types: the JSON ones the endpoints accept, usual wrong ones, and random text. */
export const contentTypes: fc.Arbitrary<string | undefined> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'APPLICATION/JSON',
      ' application/json ; charset=UTF-8',
      'application/problem+json',
      'application/vnd.ms-graph+json;odata.metadata=minimal',
    ),
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      undefined,
      '',
      'text/plain',
      'text/json',
      'application/jsonx',
      'application/json-patch',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
      'json',
      ';application/json',
    ),
  },
  {
    weight: 1,
    // NOTE: printable ASCII only: a header value with control characters is refused by the
    // Headers class before any handler sees it (the host's HTTP server refuses it too).
    arbitrary: fc.string({ unit: fc.constantFrom(...printableAscii()), maxLength: 40 }),
  },
);

function printableAscii(): string[] {
  return Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i));
}

/** Nested JSON arrays or objects `depth` deep, as text (JSON.stringify would recurse). */
export function nestedJson(depth: number, kind: 'array' | 'object', inner = '1'): string {
  return kind === 'array'
    ? `${'['.repeat(depth)}${inner}${']'.repeat(depth)}`
    : `${'{"a":'.repeat(depth)}${inner}${'}'.repeat(depth)}`;
}

export const utf8 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'utf8'));

/** JSON of a generated value; `undefined` (which JSON.stringify turns into nothing) as null. */
export function jsonText(value: unknown): string {
  return value === undefined ? 'null' : JSON.stringify(value);
}

/** `{ ... }` from entries, written by hand so that keys like `__proto__` stay plain keys. */
export function objectText(entries: readonly (readonly [string, unknown])[]): string {
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${jsonText(v)}`).join(',')}}`;
}
