import type { TokenCredential } from '@azure/identity';
import type { QueueClient } from '@azure/storage-queue';
import { z } from 'zod';
import type { Config } from '../config';
import { resyncQueueClient } from '../resync/queueResyncPublisher';

/**
 * The lifecycle intake queue: the lifecycle endpoint stores each accepted notification collection
 * here in one durable write and answers 202; the `lifecycleIntake` queue trigger (and the sweep,
 * for whatever the trigger has not taken) acts on it.
 *
 * Messages are JSON, base64-encoded as the Functions queue trigger expects by default. A Storage
 * queue message holds at most 64 KB
 * (https://learn.microsoft.com/azure/storage/queues/storage-queues-introduction), so a large
 * collection is split into several messages; when one of them cannot be sent, those already sent
 * are deleted again, so a failed accept leaves nothing half-written and Graph delivers again.
 */

/** One lifecycle item as kept on the queue. Tenant ids are lower-cased when the item is read. */
export interface IntakeItem {
  readonly subscriptionId: string;
  readonly tenantId: string | null;
  readonly clientState: string | null;
  readonly lifecycleEvent: string;
}

export interface IntakeMessage {
  readonly v: 1;
  /** When the endpoint accepted the collection (ISO). */
  readonly acceptedAt: string;
  readonly items: readonly IntakeItem[];
  /**
   * Distinct ids of this message that may turn out unknown before the rest is skipped: the
   * collection's budget (`maxUnknownLookups`), shared among the messages it was split into.
   */
  readonly unknownBudget?: number;
}

/** Distinct ids per collection that may turn out unknown before the rest is skipped. */
export const maxUnknownLookups = 50;

export const intakeMessageSchema = z.object({
  v: z.literal(1),
  acceptedAt: z.string().max(64),
  items: z
    .array(
      z.object({
        subscriptionId: z.string().min(1).max(256),
        tenantId: z.string().max(64).nullable(),
        clientState: z.string().max(1024).nullable(),
        lifecycleEvent: z.string().min(1).max(128),
      }),
    )
    .max(1000),
  unknownBudget: z.number().int().min(1).max(maxUnknownLookups).optional(),
});

/** A message taken from the queue by the sweep's drain (the trigger gets its messages from the host). */
export interface ReceivedIntake {
  readonly messageId: string;
  readonly popReceipt: string;
  readonly dequeueCount: number;
  /** The decoded message body, not yet validated. */
  readonly body: unknown;
}

export interface LifecycleIntakeQueue {
  /** Stores the items durably (one message, or several when too large); all or nothing. */
  accept(message: IntakeMessage, options?: { readonly abortSignal?: AbortSignal }): Promise<number>;
  /** Takes up to `max` messages, invisible to others for `visibilitySeconds`. */
  receive(max: number, visibilitySeconds: number): Promise<readonly ReceivedIntake[]>;
  /** Deletes a message once acted on. */
  remove(message: ReceivedIntake): Promise<void>;
  /** Moves a message that keeps failing to the poison queue, as the host does for the trigger. */
  poison(message: ReceivedIntake): Promise<void>;
}

/** Storage's limit on one message, base64 text included. */
export const maxMessageBytes = 64 * 1024;
/** Host default for the queue trigger (host.json `extensions.queues.maxDequeueCount`). */
export const maxDequeueCount = 5;

export function encodeIntake(message: IntakeMessage): string {
  return Buffer.from(JSON.stringify(message), 'utf8').toString('base64');
}

/** Decodes what the queue holds: base64 JSON (as sent), or plain JSON. */
export function decodeIntake(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) return JSON.parse(trimmed);
  return JSON.parse(Buffer.from(trimmed, 'base64').toString('utf8'));
}

/** Splits a collection into messages that each fit one queue message. */
export function splitIntake(message: IntakeMessage, limit = maxMessageBytes): IntakeMessage[] {
  if (encodeIntake(message).length <= limit || message.items.length <= 1) return [message];
  const half = Math.ceil(message.items.length / 2);
  return [
    ...splitIntake({ ...message, items: message.items.slice(0, half) }, limit),
    ...splitIntake({ ...message, items: message.items.slice(half) }, limit),
  ];
}

export class QueueLifecycleIntake implements LifecycleIntakeQueue {
  private ready: Promise<void> | undefined;
  private poisonReady: Promise<void> | undefined;

  constructor(
    readonly queue: QueueClient,
    private readonly poisonQueue: QueueClient,
  ) {}

  /** The intake queue of a configuration: LIFECYCLE_QUEUE in the STORAGE_CONNECTION account. */
  static fromConfig(
    storage: Config['storage'],
    options: { readonly credential?: TokenCredential } = {},
  ): QueueLifecycleIntake {
    return new QueueLifecycleIntake(
      resyncQueueClient(storage.connection, storage.lifecycleQueue, options),
      resyncQueueClient(storage.connection, `${storage.lifecycleQueue}-poison`, options),
    );
  }

  async accept(
    message: IntakeMessage,
    options: { readonly abortSignal?: AbortSignal } = {},
  ): Promise<number> {
    await this.ensureQueue(options.abortSignal);
    const split = splitIntake(message);
    const unknownBudget = Math.max(1, Math.ceil(maxUnknownLookups / split.length));
    const parts = split.map((part) => ({ ...part, unknownBudget }));
    const sent: { messageId: string; popReceipt: string }[] = [];
    try {
      for (const part of parts) {
        const result = await this.queue.sendMessage(encodeIntake(part), {
          messageTimeToLive: -1,
          abortSignal: options.abortSignal,
        });
        sent.push({ messageId: result.messageId, popReceipt: result.popReceipt });
      }
    } catch (e) {
      // NOTE: all or nothing: the parts already stored are taken back, so a 503 means nothing
      // of the collection is acted on and Graph's redelivery carries it whole.
      await Promise.all(
        sent.map((m) => this.queue.deleteMessage(m.messageId, m.popReceipt).catch(() => undefined)),
      );
      throw e;
    }
    return parts.length;
  }

  async receive(max: number, visibilitySeconds: number): Promise<readonly ReceivedIntake[]> {
    await this.ensureQueue();
    const response = await this.queue.receiveMessages({
      numberOfMessages: Math.min(32, Math.max(1, max)),
      visibilityTimeout: visibilitySeconds,
    });
    return response.receivedMessageItems.map((m) => {
      let body: unknown;
      try {
        body = decodeIntake(m.messageText);
      } catch {
        body = undefined;
      }
      return {
        messageId: m.messageId,
        popReceipt: m.popReceipt,
        dequeueCount: m.dequeueCount,
        body,
      };
    });
  }

  async remove(message: ReceivedIntake): Promise<void> {
    await this.queue.deleteMessage(message.messageId, message.popReceipt);
  }

  async poison(message: ReceivedIntake): Promise<void> {
    this.poisonReady ??= this.poisonQueue.createIfNotExists().then(
      () => undefined,
      (e: unknown) => {
        this.poisonReady = undefined;
        throw e;
      },
    );
    await this.poisonReady;
    const text =
      message.body === undefined
        ? ''
        : Buffer.from(JSON.stringify(message.body)).toString('base64');
    await this.poisonQueue.sendMessage(text, { messageTimeToLive: -1 });
    await this.remove(message);
  }

  /** Messages waiting (approximate, as Storage reports it). */
  async approximateCount(): Promise<number> {
    await this.ensureQueue();
    const properties = await this.queue.getProperties();
    return properties.approximateMessagesCount ?? 0;
  }

  private ensureQueue(abortSignal?: AbortSignal): Promise<void> {
    this.ready ??= this.queue.createIfNotExists({ abortSignal }).then(
      () => undefined,
      (e: unknown) => {
        this.ready = undefined;
        throw e;
      },
    );
    return this.ready;
  }
}
