import { startAzurite } from './azurite';

/**
 * One Azurite for the whole test run, in memory, on free loopback ports. Workers inherit the
 * environment set here, so every test finds it through AZURITE_CONNECTION_STRING.
 */
export default async function globalSetup(): Promise<void> {
  const azurite = await startAzurite();
  process.env.AZURITE_CONNECTION_STRING = azurite.connectionString;
  process.env.AZURITE_TABLE_PORT = String(azurite.tablePort);
  process.env.AZURITE_QUEUE_PORT = String(azurite.queuePort);
  (globalThis as { __azurite__?: { stop(): Promise<void> } }).__azurite__ = azurite;
}
