import { appendFileSync } from 'node:fs';
import * as path from 'node:path';

/**
 * The test run's log sink and secret register (issue 9: no clientState, access token, client
 * secret or storage account key ever appears in a log line of the test suite).
 *
 * The jest global setup creates a directory and names it in TEST_LOG_CAPTURE_DIR; every process
 * of the run (the jest parent and each worker) appends to its own files there, so no locking is
 * needed:
 * - `log-{pid}.log`: every captured log line as `{source}\t{text}`;
 * - `secrets-{pid}.jsonl`: one `{ kind, value }` per secret, registered as it appears (the Graph
 *   simulator registers each clientState it receives, each token it issues and its client
 *   secret; the global setup registers Azurite's account key).
 * The global teardown scans every line for every secret (leakScan.ts) and fails the run on a hit.
 *
 * Outside a jest run (sandbox, chaos run, benchmarks) the variable is unset and nothing is
 * written. Writes are synchronous so that a line logged just before a crash is still scanned.
 */

export const captureDirVariable = 'TEST_LOG_CAPTURE_DIR';

export const secretKinds = [
  'clientState',
  'accessToken',
  'clientSecret',
  'storageAccountKey',
] as const;
export type SecretKind = (typeof secretKinds)[number];

/** Shorter values are not registered: too likely to occur by chance in an innocent line. */
export const minSecretLength = 8;

export const logFilePrefix = 'log-';
export const secretFilePrefix = 'secrets-';

// NOTE: read once and kept: some tests replace process.env wholesale for a moment, and a line
// logged then must still reach the sink.
let directory: string | undefined;
const registered = new Set<string>();

/** The capture directory of this run, or undefined outside a jest run. */
export function captureDirectory(): string | undefined {
  directory ??= process.env[captureDirVariable];
  return directory;
}

/** Adds a secret to the run's register; a no-op outside a jest run or for a short value. */
export function registerSecret(kind: SecretKind, value: string | null | undefined): void {
  if (value === null || value === undefined || value.length < minSecretLength) return;
  const dir = captureDirectory();
  if (dir === undefined) return;
  const id = `${kind}\u0000${value}`;
  if (registered.has(id)) return;
  registered.add(id);
  try {
    appendFileSync(
      path.join(dir, `${secretFilePrefix}${process.pid}.jsonl`),
      `${JSON.stringify({ kind, value })}\n`,
      { mode: 0o600 },
    );
  } catch {
    // NOTE: the directory is gone once the teardown has run (a straggling timer); nothing to do.
  }
}

/** Registers `value` and returns it: `const secret = knownSecret('clientSecret', '...')`. */
export function knownSecret(kind: SecretKind, value: string): string {
  registerSecret(kind, value);
  return value;
}

/**
 * Appends log text to the sink, one line per line of `text`, tagged with where it came from
 * (`console.warn`, `stdout`, `harness`, `invocation`, `lifecycle-child`, ...).
 */
export function recordLogLine(source: string, text: string): void {
  const dir = captureDirectory();
  if (dir === undefined || text === '') return;
  const lines = text
    .replace(/\r?\n$/, '')
    .split(/\r?\n/)
    .map((line) => `${source}\t${line}\n`)
    .join('');
  try {
    appendFileSync(path.join(dir, `${logFilePrefix}${process.pid}.log`), lines);
  } catch {
    // NOTE: the directory is gone once the teardown has run (a straggling timer); nothing to do.
  }
}
