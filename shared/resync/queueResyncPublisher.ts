import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { QueueClient, QueueServiceClient } from '@azure/storage-queue';
import type { Config } from '../config';
import { isLoopbackHost, StorageConnectionError, storageEndpointOf } from '../store/tableClient';
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
 * The queue client for STORAGE_CONNECTION: a connection string (Azurite's included), or a table
 * service URI, whose account's queue endpoint is used with a token credential.
 */
export function resyncQueueClient(
  connection: string,
  queueName: string,
  options: { readonly credential?: TokenCredential } = {},
): QueueClient {
  const value = connection.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new StorageConnectionError('is not a valid table service URI');
    }
    if (url.protocol !== 'https:' || !url.hostname.includes('.table.')) {
      throw new StorageConnectionError(
        'as a URI must be an https:// table service endpoint (ACCOUNT.table.SUFFIX) to find the queue service',
      );
    }
    const queueHost = url.hostname.replace('.table.', '.queue.');
    return new QueueServiceClient(
      `https://${queueHost}`,
      options.credential ?? new DefaultAzureCredential(),
    ).getQueueClient(queueName);
  }
  const endpoint = storageEndpointOf(value, 'queue');
  if (endpoint.protocol === 'http:' && !isLoopbackHost(endpoint.hostname)) {
    throw new StorageConnectionError(
      `uses http:// for ${endpoint.hostname}; plain http is allowed only for a loopback emulator (Azurite)`,
    );
  }
  return QueueServiceClient.fromConnectionString(value).getQueueClient(queueName);
}
