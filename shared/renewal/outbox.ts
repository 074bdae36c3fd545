import { claimHeldUntil } from '../subscriptions/claims';
import type { StoredSubscription } from '../subscriptions/model';
import { needsResyncSignal, resyncMessageFor } from '../resync/resyncPublisher';
import { writeOutcome } from './outcomeWrite';
import type { ReconcileDeps } from './reconcile';

/**
 * The outbox step: sends the resync request the row holds, if any, then marks it sent. Returns
 * the row to go on with. A failed send is logged and left on the row (due soon, see
 * `keepOutboxDue`); it never stops the Graph work.
 */
export async function sendPendingResync(
  deps: ReconcileDeps,
  read: StoredSubscription,
): Promise<StoredSubscription> {
  const { resync, clock, log } = deps;
  if (resync === undefined || !needsResyncSignal(read)) return read;
  // NOTE: the claim's holder sends it after its own write; sending now would send it twice.
  if (claimHeldUntil(read, clock.now(), deps.claimTtlMs) !== undefined) return read;
  const message = resyncMessageFor(read);
  const where = {
    tenantId: message.tenantId,
    key: message.key,
    graphId: message.graphSubscriptionId ?? undefined,
    reason: message.reason,
  };
  try {
    await resync.publish(message);
  } catch (e) {
    log.error('resync request could not be sent to the owner; retried', {
      ...where,
      error: e instanceof Error ? e.name : 'unknown',
    });
    return read;
  }
  log.info('resync requested of the owner', where);
  const requestedAt = read.resyncRequestedAt?.getTime();
  const written = await writeOutcome(deps, read, (sub, now) =>
    sub.resyncRequestedAt?.getTime() === requestedAt
      ? { ...sub, resyncSignalledAt: sub.resyncRequestedAt, updatedAt: now }
      : sub,
  );
  return written ?? read;
}
