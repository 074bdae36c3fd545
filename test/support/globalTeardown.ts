import { readdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { TableClient, TableServiceClient } from '@azure/data-tables';
import { describeLeaks, scanCaptureDirectory, type KnownSecret } from './leakScan';
import { captureDirVariable, secretFilePrefix } from '../../devkit/testLogSink';

/**
 * Stops the run's Azurite, then checks every log line the run captured against every secret it
 * registered (issue 9). A finding fails the run: jest exits non-zero with a message that names
 * the kind of secret and the log file and line, never the secret.
 */
export default async function globalTeardown(): Promise<void> {
  const azurite = (globalThis as { __azurite__?: { stop(): Promise<void> } }).__azurite__;
  const dir = process.env[captureDirVariable];
  let stored: KnownSecret[] = [];
  const connection = process.env.AZURITE_CONNECTION_STRING;
  if (dir !== undefined && connection !== undefined) {
    try {
      stored = await storedClientStates(connection);
    } catch (e) {
      console.warn(
        `secrets check: could not read the stored clientStates from Azurite (${e instanceof Error ? e.name : 'unknown'}); checking the registered secrets only`,
      );
    }
  }
  await azurite?.stop();
  if (dir !== undefined) checkCapturedLogs(dir, stored);
}

const keepVariable = 'TEST_LOG_CAPTURE_KEEP';

/**
 * Throws when a captured line holds a secret; then the logs stay in `dir` for whoever fixes the
 * leak, and the register of secrets is removed. Otherwise removes `dir` and says what it read.
 */
export function checkCapturedLogs(dir: string, stored: readonly KnownSecret[] = []): void {
  const result = scanCaptureDirectory(dir, stored);
  // NOTE: TEST_LOG_CAPTURE_KEEP=1 keeps the captured lines of a clean run too, to look at them.
  const keep = result.leaks.length > 0 || process.env[keepVariable] === '1';
  if (keep) {
    for (const file of readdirSync(dir).filter((f) => f.startsWith(secretFilePrefix))) {
      rmSync(path.join(dir, file), { force: true });
    }
  } else {
    rmSync(dir, { recursive: true, force: true });
  }
  if (result.leaks.length > 0) throw new Error(describeLeaks(result.leaks, dir));
  console.log(
    `secrets check: ${result.lines} log lines in ${result.files} files checked against ${result.secrets} secrets: none found${keep ? ` (kept in ${dir})` : ''}`,
  );
}

/**
 * Every clientState still stored in Azurite, from every table of the run: subscriptions that
 * never reached the Graph simulator (which registers those it receives) are checked too.
 */
async function storedClientStates(connection: string): Promise<KnownSecret[]> {
  const options = { allowInsecureConnection: true };
  const service = TableServiceClient.fromConnectionString(connection, options);
  const found = new Set<string>();
  for await (const table of service.listTables()) {
    if (table.name === undefined) continue;
    const client = TableClient.fromConnectionString(connection, table.name, options);
    const rows = client.listEntities<{ clientState?: unknown }>({
      queryOptions: { select: ['clientState'] },
    });
    for await (const row of rows) {
      if (typeof row.clientState === 'string') found.add(row.clientState);
    }
  }
  return [...found].map((value) => ({ kind: 'clientState', value }));
}
