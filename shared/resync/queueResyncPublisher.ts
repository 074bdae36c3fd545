import type { TokenCredential } from '@azure/identity';
import { QueueClient, QueueServiceClient } from '@azure/storage-queue';
import type { Config, StorageConnection } from '../config';
import {
  asStorageConnection,
  isLoopbackHost,
  StorageConnectionError,
  storageCredentialFor,
  storageEndpointOf,
} from '../store/tableClient';
import type { ResyncMessage, ResyncPublisher } from './resyncPublisher';

/**
 * `ResyncPublisher` on an Azure Storage queue (RESYNC_QUEUE in the STORAGE_CONNECTION account).
 * Messages are the JSON of a `ResyncMessage`, base64-encoded as the Functions queue trigger
 * expects by default, and never expire (a consumer that is down for a week still gets them).
 * The queue is created on first use.
 *
 * The SDK is used directly rather than a Functions output binding so the CLI, the sandbox and the
 * tests send through the same code as the functions.
 */
export class QueueResyncPublisher implements ResyncPublisher {
  private ready: Promise<void> | undefined;

  constructor(readonly queue: QueueClient) {}

  static fromConfig(
    storage: Config['storage'],
    options: { readonly credential?: TokenCredential } = {},
  ): QueueResyncPublisher {
    return new QueueResyncPublisher(
      resyncQueueClient(storage.connection, storage.resyncQueue, options),
    );
  }

  async publish(message: ResyncMessage): Promise<void> {
    await this.ensureQueue();
    await this.queue.sendMessage(encodeResyncMessage(message), { messageTimeToLive: -1 });
  }

  private ensureQueue(): Promise<void> {
    this.ready ??= this.queue.createIfNotExists().then(
      () => undefined,
      (e: unknown) => {
        this.ready = undefined;
        throw e;
      },
    );
    return this.ready;
  }
}

export function encodeResyncMessage(message: ResyncMessage): string {
  return Buffer.from(JSON.stringify(message), 'utf8').toString('base64');
}

export function decodeResyncMessage(text: string): unknown {
  return JSON.parse(Buffer.from(text, 'base64').toString('utf8'));
}

/**
 * The queue client for the state account: a connection string (Azurite's included), or an
 * identity-based connection's queue service URI with its managed identity.
 */
export function resyncQueueClient(
  connection: StorageConnection | string,
  queueName: string,
  options: { readonly credential?: TokenCredential } = {},
): QueueClient {
  const resolved = asStorageConnection(connection);
  if (resolved.kind === 'managedIdentity') {
    return new QueueServiceClient(
      resolved.queueServiceUri,
      options.credential ?? storageCredentialFor(resolved),
    ).getQueueClient(queueName);
  }
  const value = resolved.connectionString.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    throw new StorageConnectionError(
      `must be a connection string; for a service URI set ${resolved.setting}__queueServiceUri (managed identity)`,
      resolved.setting,
    );
  }
  const endpoint = storageEndpointOf(value, 'queue');
  if (endpoint.protocol === 'http:' && !isLoopbackHost(endpoint.hostname)) {
    throw new StorageConnectionError(
      `uses http:// for ${endpoint.hostname}; plain http is allowed only for a loopback emulator (Azurite)`,
      resolved.setting,
    );
  }
  return QueueServiceClient.fromConnectionString(value).getQueueClient(queueName);
}
