import type { AccessToken, TokenCredential } from '@azure/identity';
import { StorageConnectionError, subscriptionTableClient } from '../../shared/store/tableClient';

/** Building the TableClient from STORAGE_CONNECTION: no I/O, only which endpoint and transport. */
describe('subscriptionTableClient', () => {
  const key = Buffer.from('not-a-real-key-but-base64-shaped').toString('base64');
  const credential: TokenCredential = {
    getToken: (): Promise<AccessToken | null> => Promise.resolve(null),
  };

  test('when given an Azurite connection string on loopback http, then the client points at it', () => {
    const client = subscriptionTableClient(
      `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${key};TableEndpoint=http://127.0.0.1:41002/devstoreaccount1;`,
      'subscriptions',
    );

    expect(client.url).toBe('http://127.0.0.1:41002/devstoreaccount1');
    expect(client.tableName).toBe('subscriptions');
  });

  test('when given UseDevelopmentStorage=true, then the client points at Azurite on its standard port', () => {
    const client = subscriptionTableClient('UseDevelopmentStorage=true', 'subscriptions');

    expect(client.url).toBe('http://127.0.0.1:10002/devstoreaccount1');
  });

  test('when given an account connection string, then the client uses https to the account', () => {
    const client = subscriptionTableClient(
      `DefaultEndpointsProtocol=https;AccountName=contosokeeper;AccountKey=${key};EndpointSuffix=core.windows.net`,
      'subscriptions',
    );

    expect(client.url).toBe('https://contosokeeper.table.core.windows.net');
  });

  test('when given an identity-based connection, then the client uses its table service URI', () => {
    const client = subscriptionTableClient(
      {
        kind: 'managedIdentity',
        setting: 'STORAGE_CONNECTION',
        tableServiceUri: 'https://contosokeeper.table.core.windows.net',
        queueServiceUri: 'https://contosokeeper.queue.core.windows.net',
        clientId: undefined,
      },
      'subscriptions',
      { credential },
    );

    expect(client.url).toBe('https://contosokeeper.table.core.windows.net');
  });

  test.each([
    [
      'http to a remote host',
      `DefaultEndpointsProtocol=http;AccountName=contoso;AccountKey=${key}`,
      /loopback/,
    ],
    [
      'an explicit http endpoint off loopback',
      `AccountName=contoso;AccountKey=${key};DefaultEndpointsProtocol=http;TableEndpoint=http://10.0.0.5:10002/contoso`,
      /loopback/,
    ],
    ['an http service URI', 'http://127.0.0.1:10002/devstoreaccount1', /__tableServiceUri/],
    [
      'a URI with a SAS query',
      `https://contoso.table.core.windows.net/?sig=${key}`,
      /connection string/,
    ],
    ['text that is neither', `just-a-secret-${key}`, /neither/],
  ])('when given %s, then it is refused without echoing the value', (_case, connection, reason) => {
    let failure: unknown;
    try {
      subscriptionTableClient(connection, 'subscriptions', { credential });
    } catch (e) {
      failure = e;
    }

    expect(failure).toBeInstanceOf(StorageConnectionError);
    expect((failure as Error).message).toMatch(reason);
    expect((failure as Error).message).not.toContain(key);
  });
});
