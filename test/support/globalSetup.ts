import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { developmentAccount, startAzurite } from '../../devkit/azurite';
import { captureDirVariable, registerSecret } from '../../devkit/testLogSink';

/**
 * One Azurite for the whole test run, in memory, on free loopback ports. Workers inherit the
 * environment set here, so every test finds it through AZURITE_CONNECTION_STRING.
 *
 * Also the directory where every process of the run captures its log lines and registers the
 * secrets it meets (testLogSink.ts); the global teardown checks the one against the other.
 */
export default async function globalSetup(): Promise<void> {
  process.env[captureDirVariable] = mkdtempSync(path.join(tmpdir(), 'graph-subs-test-logs-'));
  registerSecret('storageAccountKey', developmentAccount().key);
  const azurite = await startAzurite();
  process.env.AZURITE_CONNECTION_STRING = azurite.connectionString;
  process.env.AZURITE_TABLE_PORT = String(azurite.tablePort);
  process.env.AZURITE_QUEUE_PORT = String(azurite.queuePort);
  (globalThis as { __azurite__?: { stop(): Promise<void> } }).__azurite__ = azurite;
}
