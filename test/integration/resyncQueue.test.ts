import { randomUUID } from 'node:crypto';
import { loadConfig } from '../../shared/config';
import {
  decodeResyncMessage,
  QueueResyncPublisher,
  resyncQueueClient,
} from '../../shared/resync/queueResyncPublisher';
import { resyncMessageFor, type ResyncMessage } from '../../shared/resync/resyncPublisher';
import { StorageConnectionError } from '../../shared/store/tableClient';
import { azuriteConnectionString } from '../../devkit/appHarness';
import { aSubscription } from '../support/subscriptionMother';

function queueName(): string {
  return `resync-${randomUUID().slice(0, 8)}`;
}

describe('QueueResyncPublisher on Azurite', () => {
  test('when a resync is published, then the queue holds its JSON, base64-encoded, without expiry', async () => {
    const config = loadConfig({
      STORAGE_CONNECTION: azuriteConnectionString(),
      RESYNC_QUEUE: queueName(),
    });
    const publisher = QueueResyncPublisher.fromConfig(config.storage);
    const sub = {
      ...aSubscription(),
      resyncRequestedAt: new Date('2026-03-01T10:00:00Z'),
      resyncReason: 'missed',
    };
    const message = resyncMessageFor(sub);

    await publisher.publish(message);

    const received = await publisher.queue.receiveMessages({ numberOfMessages: 2 });
    expect(received.receivedMessageItems).toHaveLength(1);
    const [item] = received.receivedMessageItems;
    expect(decodeResyncMessage(item!.messageText)).toEqual<ResyncMessage>({
      type: 'resyncRequested',
      id: `${sub.definition.tenantId}|${sub.definition.key}|2026-03-01T10:00:00.000Z`,
      tenantId: sub.definition.tenantId,
      key: sub.definition.key,
      graphSubscriptionId: sub.graphSubscriptionId ?? null,
      resource: sub.definition.resource,
      reason: 'missed',
      requestedAt: '2026-03-01T10:00:00.000Z',
    });
    expect(item!.expiresOn.getUTCFullYear()).toBeGreaterThan(9000);
  });

  test('when the queue does not exist yet, then the first publish creates it', async () => {
    const name = queueName();
    const client = resyncQueueClient(azuriteConnectionString(), name);
    expect(await client.exists()).toBe(false);

    await new QueueResyncPublisher(client).publish(
      resyncMessageFor({ ...aSubscription(), resyncRequestedAt: new Date(), resyncReason: 'x' }),
    );

    expect(await client.exists()).toBe(true);
  });

  test('when the connection uses http for a remote host, then it is refused without echoing it', () => {
    const connection =
      'DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=c2VjcmV0;QueueEndpoint=http://storage.example.com/acct';
    expect(() => resyncQueueClient(connection, 'q1x')).toThrow(StorageConnectionError);
    expect(() => resyncQueueClient(connection, 'q1x')).not.toThrow(/c2VjcmV0/);
  });

  test('when the connection is identity-based, then its queue service URI is used', () => {
    const client = resyncQueueClient(
      loadConfig({ STORAGE_CONNECTION__accountName: 'acct' }).storage.connection,
      'resync',
    );
    expect(client.url).toBe('https://acct.queue.core.windows.net/resync');
  });
});
