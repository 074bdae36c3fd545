import { TableClient } from '@azure/data-tables';
import { isRestError } from '@azure/core-rest-pipeline';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';

/**
 * Builds the TableClient for STORAGE_CONNECTION, which is one of:
 * - a connection string (account key or SAS), including Azurite's explicit `http://127.0.0.1:...`;
 * - `UseDevelopmentStorage=true` (Azurite on its standard ports);
 * - a table service URI, `https://ACCOUNT.table.core.windows.net`, used with a token credential
 *   (`DefaultAzureCredential` unless one is given: managed identity in Azure).
 *
 * Plain http is allowed only to a loopback host (Azurite): a key or SAS sent over http to anything
 * else would be readable on the network. Errors never echo the connection string: it is a secret.
 * Building the client does no I/O; `createTableIfMissing` is the first round trip.
 */

export interface SubscriptionTableClientOptions {
  /** For a table service URI. Default: `new DefaultAzureCredential()`. */
  readonly credential?: TokenCredential;
}

/** STORAGE_CONNECTION is unusable. The message says why, without the value. */
export class StorageConnectionError extends Error {
  constructor(message: string) {
    super(`STORAGE_CONNECTION ${message}`);
    this.name = 'StorageConnectionError';
  }
}

export function subscriptionTableClient(
  connection: string,
  tableName: string,
  options: SubscriptionTableClientOptions = {},
): TableClient {
  const value = connection.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    return clientForServiceUri(value, tableName, options);
  }
  const endpoint = tableEndpointOf(value);
  const insecure = endpoint.protocol === 'http:';
  if (insecure && !isLoopbackHost(endpoint.hostname)) {
    throw new StorageConnectionError(
      `uses http:// for ${endpoint.hostname}; plain http is allowed only for a loopback emulator (Azurite)`,
    );
  }
  // NOTE: the SDK needs allowInsecureConnection for an explicit http:// endpoint (Azurite); it
  // sets it itself for UseDevelopmentStorage=true.
  return TableClient.fromConnectionString(value, tableName, { allowInsecureConnection: insecure });
}

function clientForServiceUri(
  value: string,
  tableName: string,
  options: SubscriptionTableClientOptions,
): TableClient {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new StorageConnectionError('is not a valid table service URI');
  }
  if (url.protocol !== 'https:') {
    // NOTE: bearer tokens are refused over http by the SDK pipeline; say so before the first call.
    throw new StorageConnectionError(
      'as a URI must use https://; for Azurite use UseDevelopmentStorage=true or its connection string',
    );
  }
  if (url.search !== '' || url.username !== '' || url.password !== '') {
    throw new StorageConnectionError(
      'as a URI must be the bare table service endpoint (no query or user info); put a SAS in a connection string',
    );
  }
  const endpoint = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  return new TableClient(endpoint, tableName, options.credential ?? new DefaultAzureCredential());
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
