import type { ManagedSubscription } from '../subscriptions/model';

/**
 * Resync events for the owning application (docs/architecture.md#flows): when notifications may have
 * been lost (recreated after a removal or a 404, a `missed` event, a definition change applied by
 * recreating), the owner gets a durable message and the same facts stay on the subscription's
 * record until acknowledged.
 *
 * Delivery is at least once. The row is the outbox: `resyncRequestedAt` is written first (due
 * now), the message is sent from the row, then `resyncSignalledAt` records that it went out. A
 * crash in between sends it again on the next sweep, with the same `id`, so a consumer can drop
 * repeats.
 */

export interface ResyncMessage {
  readonly type: 'resyncRequested';
  /** Stable for one request: `{tenantId}|{key}|{requestedAt}`. */
  readonly id: string;
  readonly tenantId: string;
  readonly key: string;
  /** The Graph subscription now in place (null when not on Graph yet). */
  readonly graphSubscriptionId: string | null;
  readonly resource: string;
  /** subscriptionRemoved, notFound, expired, missed or recreated. */
  readonly reason: string;
  readonly requestedAt: string;
}

export interface ResyncPublisher {
  /** Sends one message durably; rejects when it could not be sent. */
  publish(message: ResyncMessage): Promise<void>;
}

/** True when the row holds a resync request that has not been sent to the owner yet. */
export function needsResyncSignal(sub: ManagedSubscription): boolean {
  const requested = sub.resyncRequestedAt;
  if (requested === undefined || sub.status === 'deleting') return false;
  const signalled = sub.resyncSignalledAt;
  return signalled === undefined || signalled.getTime() < requested.getTime();
}

export function resyncMessageFor(sub: ManagedSubscription): ResyncMessage {
  const requestedAt = (sub.resyncRequestedAt ?? sub.updatedAt).toISOString();
  const { tenantId, key, resource } = sub.definition;
  return {
    type: 'resyncRequested',
    id: `${tenantId}|${key}|${requestedAt}`,
    tenantId,
    key,
    graphSubscriptionId: sub.graphSubscriptionId ?? null,
    resource,
    reason: sub.resyncReason ?? 'unknown',
    requestedAt,
  };
}
