import { TableClient } from '@azure/data-tables';

/**
 * The harness itself: Azurite is up for this run and a Table round trip works through the same
 * SDK the app uses.
 */
describe('Azurite harness', () => {
  const connectionString = process.env.AZURITE_CONNECTION_STRING;

  test('when the test run starts, then Azurite listens on a loopback port', () => {
    expect(connectionString).toMatch(/TableEndpoint=http:\/\/127\.0\.0\.1:\d+\//);
  });

  test('when an entity is written and read back, then every property round-trips', async () => {
    const client = TableClient.fromConnectionString(connectionString!, 'harness', {
      allowInsecureConnection: true,
    });
    await client.createTable();
    const expiresAt = new Date('2026-11-22T10:15:00.000Z');
    await client.createEntity({
      partitionKey: 'tenant-a',
      rowKey: 'sub|orders',
      resource: "users/o'brien/messages",
      generation: 3,
      expiresAt,
      includeResourceData: false,
    });
    const read = await client.getEntity<{
      resource: string;
      generation: number;
      expiresAt: Date;
      includeResourceData: boolean;
    }>('tenant-a', 'sub|orders');
    expect(read.resource).toBe("users/o'brien/messages");
    expect(read.generation).toBe(3);
    expect(read.expiresAt).toEqual(expiresAt);
    expect(read.includeResourceData).toBe(false);
    expect(read.etag).toEqual(expect.any(String));
  });
});

describe('network guard', () => {
  test('when a test dials a host outside loopback, then the connection is refused at once', async () => {
    const failure = await fetch('https://graph.microsoft.com/v1.0/subscriptions').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).toEqual(expect.objectContaining({ message: 'fetch failed' }));
    expect(String((failure as Error & { cause?: unknown }).cause)).toMatch(
      /Outbound network refused in tests: graph\.microsoft\.com/,
    );
  });
});
