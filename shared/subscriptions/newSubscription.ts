import { randomBytes } from 'node:crypto';
import type { ManagedSubscription, SubscriptionDefinition } from './model';

/**
 * A fresh clientState: 48 random bytes, base64url (64 characters, under Graph's 128). It is the
 * secret Graph echoes in every notification, so each subscription gets its own.
 */
export function newClientState(): string {
  return randomBytes(48).toString('base64url');
}

/**
 * A definition put under management: stored as `pending` and due now, so the next sweep (or the
 * caller, at once) creates it on Graph. The clientState is fixed here, before any create, so a
 * subscription adopted after a crash carries the clientState we hold.
 */
export function newManagedSubscription(
  definition: SubscriptionDefinition,
  now: Date,
  clientState: string = newClientState(),
): ManagedSubscription {
  return {
    definition,
    clientState,
    graphSubscriptionId: undefined,
    expiresAt: undefined,
    status: 'pending',
    nextActionAt: now,
    failureCount: 0,
    lastError: undefined,
    lastRenewedAt: undefined,
    lastReauthorizedAt: undefined,
    generation: 0,
    resyncRequestedAt: undefined,
    resyncReason: undefined,
    resyncSignalledAt: undefined,
    pendingEvent: undefined,
    claim: undefined,
    createdAt: now,
    updatedAt: now,
  };
}
