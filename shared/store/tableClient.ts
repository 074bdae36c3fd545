import { TableClient } from '@azure/data-tables';
import { isRestError } from '@azure/core-rest-pipeline';
import { ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import type { StorageConnection } from '../config';

/**
 * Builds the TableClient for the state account (STORAGE_CONNECTION, else AzureWebJobsStorage),
 * which is one of:
 * - a connection string (account key or SAS), including Azurite's explicit `http://127.0.0.1:...`;
 * - `UseDevelopmentStorage=true` (Azurite on its standard ports);
 * - an identity-based connection (`__accountName` or `__tableServiceUri`), reached with
 *   `ManagedIdentityCredential`: the system-assigned identity, or the user-assigned one that
 *   `__clientId` names. Never `DefaultAzureCredential`, which would pick up whatever other
 *   credential the environment happens to hold (Graph's app registration, for one).
 *
 * Plain http is allowed only to a loopback host (Azurite): a key or SAS sent over http to anything
 * else would be readable on the network. Errors never echo the connection string: it is a secret.
 * Building the client does no I/O; `createTableIfMissing` is the first round trip.
 */

export interface StorageClientOptions {
  /** For an identity-based connection. Default: `storageCredentialFor(connection)`. */
  readonly credential?: TokenCredential;
}

/** The state account's settings are unusable. The message says why, without the value. */
export class StorageConnectionError extends Error {
  constructor(message: string, setting = 'STORAGE_CONNECTION') {
    super(`${setting} ${message}`);
    this.name = 'StorageConnectionError';
  }
}

const credentials = new WeakMap<StorageConnection, TokenCredential>();

/**
 * The managed identity of an identity-based connection; one per connection, so the table and
 * the queue clients share its token cache.
 */
export function storageCredentialFor(
  connection: Extract<StorageConnection, { kind: 'managedIdentity' }>,
): TokenCredential {
  let credential = credentials.get(connection);
  if (credential === undefined) {
    credential =
      connection.clientId === undefined
        ? new ManagedIdentityCredential()
        : new ManagedIdentityCredential({ clientId: connection.clientId });
    credentials.set(connection, credential);
  }
  return credential;
}

/** A connection string is accepted as it is, for callers (tests, benches) that hold one. */
export function asStorageConnection(connection: StorageConnection | string): StorageConnection {
  return typeof connection === 'string'
    ? { kind: 'connectionString', setting: 'STORAGE_CONNECTION', connectionString: connection }
    : connection;
}

export function subscriptionTableClient(
  connection: StorageConnection | string,
  tableName: string,
  options: StorageClientOptions = {},
): TableClient {
  const resolved = asStorageConnection(connection);
  if (resolved.kind === 'managedIdentity') {
    return new TableClient(
      resolved.tableServiceUri,
      tableName,
      options.credential ?? storageCredentialFor(resolved),
    );
  }
  const value = resolved.connectionString.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    throw new StorageConnectionError(
      `must be a connection string; for a service URI set ${resolved.setting}__tableServiceUri and __queueServiceUri (managed identity)`,
      resolved.setting,
    );
  }
  const endpoint = tableEndpointOf(value);
  const insecure = endpoint.protocol === 'http:';
  if (insecure && !isLoopbackHost(endpoint.hostname)) {
    throw new StorageConnectionError(
      `uses http:// for ${endpoint.hostname}; plain http is allowed only for a loopback emulator (Azurite)`,
      resolved.setting,
    );
  }
  // NOTE: the SDK needs allowInsecureConnection for an explicit http:// endpoint (Azurite); it
  // sets it itself for UseDevelopmentStorage=true.
  return TableClient.fromConnectionString(value, tableName, { allowInsecureConnection: insecure });
}

/** The table endpoint a connection string points at, to decide whether http is acceptable. */
function tableEndpointOf(connectionString: string): URL {
  return storageEndpointOf(connectionString, 'table');
}

const developmentPorts = { queue: 10001, table: 10002 } as const;

/**
 * The endpoint of one storage service (table or queue) a connection string points at. Throws a
 * `StorageConnectionError` that never contains the connection string.
 */
export function storageEndpointOf(connectionString: string, service: 'table' | 'queue'): URL {
  const parts = new Map<string, string>();
  for (const element of connectionString.split(';')) {
    const at = element.indexOf('=');
    if (at > 0) parts.set(element.slice(0, at).trim().toLowerCase(), element.slice(at + 1).trim());
  }
  if (parts.get('usedevelopmentstorage')?.toLowerCase() === 'true') {
    return new URL(`http://127.0.0.1:${developmentPorts[service]}`);
  }
  const name = service === 'table' ? 'TableEndpoint' : 'QueueEndpoint';
  const explicit = parts.get(name.toLowerCase());
  if (explicit !== undefined && explicit !== '') {
    try {
      return new URL(explicit);
    } catch {
      throw new StorageConnectionError(`has a ${name} that is not a URL`);
    }
  }
  const account = parts.get('accountname');
  if (account === undefined || account === '') {
    throw new StorageConnectionError(
      `is neither a connection string (AccountName, ${name} or UseDevelopmentStorage=true) nor an https:// ${service} service URI`,
    );
  }
  const protocol = (parts.get('defaultendpointsprotocol') ?? 'https').toLowerCase();
  const suffix = parts.get('endpointsuffix') ?? 'core.windows.net';
  try {
    return new URL(`${protocol}://${account}.${service}.${suffix}`);
  } catch {
    throw new StorageConnectionError('has an AccountName or EndpointSuffix that makes no URL');
  }
}

export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

/**
 * Creates the table; one that exists already is fine (409 TableAlreadyExists). The SDK swallows
 * that case itself today; the catch keeps this true if it stops doing so.
 */
export async function createTableIfMissing(client: TableClient): Promise<void> {
  try {
    await client.createTable();
  } catch (e) {
    if (isRestError(e) && e.statusCode === 409 && odataCodeOf(e) === 'TableAlreadyExists') return;
    throw e;
  }
}

/**
 * The service's error code. Single operations carry it in `details.odataError.code` (with `code`
 * undefined); transactions carry it in `code`.
 */
export function odataCodeOf(e: unknown): string | undefined {
  if (!isRestError(e)) return undefined;
  if (e.code !== undefined) return e.code;
  const details = e.details;
  if (typeof details !== 'object' || details === null || !('odataError' in details))
    return undefined;
  const odataError = details.odataError;
  if (typeof odataError !== 'object' || odataError === null || !('code' in odataError)) {
    return undefined;
  }
  return typeof odataError.code === 'string' ? odataError.code : undefined;
}

/** HTTP status of a failed table call, or undefined for anything that is not a RestError. */
export function statusOf(e: unknown): number | undefined {
  return isRestError(e) ? e.statusCode : undefined;
}
