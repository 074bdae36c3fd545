export default async function globalTeardown(): Promise<void> {
  const azurite = (globalThis as { __azurite__?: { stop(): Promise<void> } }).__azurite__;
  await azurite?.stop();
}
