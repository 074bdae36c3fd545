import {
  isStoreConflictError,
  isStoreNotFoundError,
  withConflictRetry,
} from '../store/subscriptionStore';
import type { ManagedSubscription, StoredSubscription } from '../subscriptions/model';
import { pendingGraphChange } from '../subscriptions/wantedState';
import { needsResyncSignal } from '../resync/resyncPublisher';
import { earliest } from './outcomes';
import type { ReconcileDeps } from './reconcile';

/**
 * Recording an outcome: conditionally on the row read, and on a lost race applied again to a
 * fresh read, keeping what others stored meanwhile (a delete, a wanted change, an unsent resync
 * request). Used by the reconciler and by those that record an event before handing a row to it.
 */

/** Re-reads after losing a conditional write before giving up to the next sweep. */
const maxWriteRetries = 5;

export type Transition = (read: ManagedSubscription, now: Date) => ManagedSubscription;

/** Writes `transition(row)` conditionally; on a lost race re-reads and applies it again. */
export async function writeOutcome(
  deps: ReconcileDeps,
  claimed: StoredSubscription,
  transition: Transition,
): Promise<StoredSubscription | undefined> {
  let read: StoredSubscription = claimed;
  return withConflictRetry(
    async () => {
      const now = deps.clock.now();
      const next = keepWantedDue(
        keepDeleting(read, keepOutboxDue(deps, transition(read, now), now), now),
        now,
      );
      try {
        return await deps.store.update(next, read.etag);
      } catch (e) {
        if (isStoreNotFoundError(e)) return undefined;
        if (isStoreConflictError(e)) {
          const fresh = await deps.store.get(read.definition.tenantId, read.definition.key);
          if (fresh === undefined) return undefined;
          read = fresh;
        }
        throw e;
      }
    },
    {
      attempts: maxWriteRetries,
      exhausted: () => {
        deps.log.warn('outcome not recorded after repeated races; the next sweep retries', {
          tenantId: claimed.definition.tenantId,
          key: claimed.definition.key,
        });
        return undefined;
      },
    },
  );
}

/** Deletes the claimed row; a row no longer `deleting` (the owner applied it again) is kept. */
export async function deleteRows(deps: ReconcileDeps, claimed: StoredSubscription): Promise<void> {
  const { tenantId, key } = claimed.definition;
  let read: StoredSubscription = claimed;
  await withConflictRetry(
    async () => {
      try {
        await deps.store.delete(read, read.etag);
      } catch (e) {
        if (isStoreNotFoundError(e)) return;
        if (isStoreConflictError(e)) {
          const fresh = await deps.store.get(tenantId, key);
          if (fresh === undefined || fresh.status !== 'deleting') return;
          read = fresh;
        }
        throw e;
      }
    },
    { attempts: maxWriteRetries, exhausted: () => undefined },
  );
}

/**
 * A row holding an unsent resync request stays due: it is the outbox (see `ResyncPublisher`).
 * Once sent, the planner moves the row to its real next action.
 */
function keepOutboxDue(
  deps: ReconcileDeps,
  next: ManagedSubscription,
  now: Date,
): ManagedSubscription {
  if (deps.resync === undefined || !needsResyncSignal(next)) return next;
  return {
    ...next,
    nextActionAt: earliest(next.nextActionAt, now),
  };
}

/**
 * A delete stored while another operation held the row is kept by that operation's outcome
 * (whatever it did on Graph is undone by the delete that follows), due now.
 */
function keepDeleting(
  read: ManagedSubscription,
  next: ManagedSubscription,
  now: Date,
): ManagedSubscription {
  if (read.status !== 'deleting' || next.status === 'deleting') return next;
  return { ...next, status: 'deleting', nextActionAt: earliest(next.nextActionAt, now) };
}

/**
 * A row whose wanted definition is not yet on Graph stays due, unless it is backing off after a
 * failure: a wanted change stored while another operation held the row must not wait for that
 * operation's next renewal time.
 */
function keepWantedDue(next: ManagedSubscription, now: Date): ManagedSubscription {
  if (next.failureCount > 0 || next.status === 'deleting') return next;
  if (pendingGraphChange(next) === undefined) return next;
  return { ...next, nextActionAt: earliest(next.nextActionAt, now) };
}
