import { isGraphError } from '../graph/graphError';
import { recordLifecycleEvent } from '../renewal/outcomes';
import { reconcileSubscription, type ActionReport, type ReconcileDeps } from '../renewal/reconcile';
import { isInvalidRowError } from '../store/subscriptionEntity';
import { isStoreConflictError, isStoreNotFoundError } from '../store/subscriptionStore';
import { sameSecret } from '../subscriptions/compare';
import { lifecycleEvents, type StoredSubscription } from '../subscriptions/model';
import { maxUnknownLookups, type IntakeItem, type LifecycleIntakeQueue } from './intakeQueue';

/**
 * What happens to an accepted lifecycle collection once it is on the intake queue (docs/lifecycle.md):
 * 1. items are grouped by tenant (lower-cased) and Graph id; each distinct id is looked up once,
 *    and at most `maxUnknownLookups` ids per collection may turn out unknown before the rest of
 *    the collection is skipped, so a forged bulk costs a bounded number of reads;
 * 2. the clientState of each item is compared in constant time; an unknown id, a wrong
 *    clientState or a row that cannot be read changes nothing and is only counted (one warning
 *    per collection, with counts, never an id's clientState);
 * 3. the event is recorded on the row, after the cheap checks that keep replays from costing:
 *    `subscriptionRemoved` is confirmed by one GET of the old id (404 confirms; a live
 *    subscription means the event is stale or replayed: nothing is written, no resync), and a
 *    `missed` is collapsed while a resync request of that subscription is still unacknowledged;
 * 4. every recorded subscription is reconciled at once (reauthorize, renew, recreate).
 * A failure to read or write the store throws, so the queue delivers the message again (the
 * host's retries, then the poison queue); a removal Graph cannot confirm (403, 5xx) is recorded
 * all the same, so no event waits on Graph. Recorded events are on the rows, and the sweep
 * finishes what an action left undone.
 */

export interface LifecycleDeps extends ReconcileDeps {
  /** How long the endpoint waits for the intake write before answering 503. */
  readonly inlineBudgetMs: number;
  /** Where accepted collections are stored; absent where nothing accepts them (CLI-only use). */
  readonly intake?: LifecycleIntakeQueue | undefined;
}

export interface IntakeResult {
  readonly received: number;
  /** Distinct subscriptions whose event was recorded. */
  readonly recorded: number;
  /** Ids with no subscription of ours (or whose row points elsewhere). */
  readonly unknown: number;
  /** Items whose clientState did not match. */
  readonly forged: number;
  /** Rows that exist but cannot be read (corrupted): treated like unknown ids. */
  readonly unreadable: number;
  /** Items not looked up because the collection's unknown-id budget was spent. */
  readonly skipped: number;
  /** `subscriptionRemoved` for a subscription Graph still has: stale or replayed. */
  readonly stale: number;
  /** `missed` while a resync request is still unacknowledged. */
  readonly collapsed: number;
  /** Items of a collection whose validationTokens failed (docs/rich-notifications.md). */
  readonly refused?: number;
  readonly actions: readonly ActionReport[];
}

/** The item counters of an `IntakeResult`, all zero: where a collection's counting starts. */
export const noIntakeCounts = {
  unknown: 0,
  forged: 0,
  unreadable: 0,
  skipped: 0,
  stale: 0,
  collapsed: 0,
} as const;

/** Lookups across all tenants (an item without a tenant, or one whose tenant finds nothing). */
const maxCrossTenantLookups = 5;
const lookupConcurrency = 8;
const actConcurrency = 16;
const maxRecordAttempts = 4;

interface Group {
  readonly tenantId: string | undefined;
  readonly graphId: string;
  readonly items: IntakeItem[];
}

/** Steps 1 to 4 for one collection (one queue message). */
export async function actOnIntake(
  deps: ReconcileDeps,
  items: readonly IntakeItem[],
  unknownBudget = maxUnknownLookups,
): Promise<IntakeResult> {
  const { log } = deps;
  const counts = { ...noIntakeCounts };
  const groups = groupItems(items);
  const budget = { unknown: unknownBudget, crossTenant: maxCrossTenantLookups };
  const recorded = new Map<string, StoredSubscription>();
  let transientFailure: Error | undefined;

  await inParallel(groups, lookupConcurrency, async (group) => {
    // NOTE: a lookup takes a unit of the budget before it starts and gives it back when the id
    // is found, so lookups in flight cannot overshoot the budget.
    if (budget.unknown <= 0) {
      counts.skipped += group.items.length;
      return;
    }
    budget.unknown--;
    let found: StoredSubscription | undefined;
    try {
      found = await lookUp(deps, group, budget);
    } catch (e) {
      if (!isInvalidRowError(e)) throw e;
      counts.unreadable += group.items.length;
      return;
    }
    if (found === undefined) {
      counts.unknown += group.items.length;
      return;
    }
    budget.unknown++;
    let row: StoredSubscription = found;
    const seen = new Set<string>();
    for (const item of group.items) {
      if (!sameSecret(item.clientState ?? undefined, row.clientState)) {
        counts.forged++;
        continue;
      }
      // NOTE: copies of one event in one collection are one event (and one confirming GET).
      if (seen.has(item.lifecycleEvent)) {
        counts.collapsed++;
        continue;
      }
      seen.add(item.lifecycleEvent);
      try {
        const outcome = await recordItem(deps, row, item);
        if (outcome.kind === 'recorded') {
          row = outcome.row;
          recorded.set(`${row.definition.tenantId}|${row.definition.key}`, row);
        } else {
          counts[outcome.kind === 'gone' ? 'unknown' : outcome.kind]++;
        }
      } catch (e) {
        transientFailure ??= e instanceof Error ? e : new Error('lifecycle event not recorded');
        log.warn('lifecycle event could not be recorded; the queue delivers it again', {
          tenantId: row.definition.tenantId,
          key: row.definition.key,
          event: item.lifecycleEvent,
          error: e instanceof Error ? e.name : 'unknown',
        });
      }
    }
  });

  const actions: ActionReport[] = [];
  await inParallel([...recorded.values()], actConcurrency, async (sub) => {
    try {
      actions.push(await reconcileSubscription(deps, sub));
    } catch (e) {
      // NOTE: the event is on the row, due now: the sweep retries what failed here.
      log.warn('lifecycle action failed; left to the sweep', {
        tenantId: sub.definition.tenantId,
        key: sub.definition.key,
        error: e instanceof Error ? e.name : 'unknown',
      });
    }
  });

  const result: IntakeResult = {
    received: items.length,
    recorded: recorded.size,
    ...counts,
    actions,
  };
  const ignored =
    counts.unknown + counts.forged + counts.unreadable + counts.skipped + counts.stale;
  if (ignored > 0) {
    // NOTE: one line per collection, whatever its size: a forged bulk cannot flood the logs.
    log.warn('lifecycle items ignored', {
      received: result.received,
      unknown: counts.unknown,
      forged: counts.forged,
      unreadable: counts.unreadable,
      skipped: counts.skipped,
      stale: counts.stale,
    });
  }
  log.info('lifecycle collection acted on', {
    received: result.received,
    recorded: result.recorded,
    collapsed: counts.collapsed,
    acted: actions.filter((a) => a.outcome === 'succeeded').length,
  });
  if (transientFailure !== undefined) throw transientFailure;
  return result;
}

function groupItems(items: readonly IntakeItem[]): Group[] {
  const groups = new Map<string, Group>();
  for (const item of items) {
    // NOTE: tenant ids are GUIDs, stored lower-case; payloads may carry them in upper case.
    const tenantId = item.tenantId === null ? undefined : item.tenantId.trim().toLowerCase();
    const id = `${tenantId ?? ''}|${item.subscriptionId}`;
    const group = groups.get(id);
    if (group === undefined) {
      groups.set(id, { tenantId, graphId: item.subscriptionId, items: [item] });
    } else {
      group.items.push(item);
    }
  }
  // NOTE: one tenant's ids side by side, so their reads go to one partition together.
  return [...groups.values()].sort((a, b) => (a.tenantId ?? '').localeCompare(b.tenantId ?? ''));
}

async function lookUp(
  deps: ReconcileDeps,
  group: Group,
  budget: { crossTenant: number },
): Promise<StoredSubscription | undefined> {
  if (group.tenantId !== undefined) {
    const found = await deps.store.findByGraphId(group.graphId, group.tenantId);
    if (found !== undefined) return found;
  }
  if (budget.crossTenant <= 0) return undefined;
  budget.crossTenant--;
  // NOTE: a payload without a tenant (or with a wrong one) still finds its subscription, a few
  // per collection; the sweep renews the rest on time anyway.
  return deps.store.findByGraphId(group.graphId);
}

type RecordOutcome =
  | { readonly kind: 'recorded'; readonly row: StoredSubscription }
  | { readonly kind: 'stale' }
  | { readonly kind: 'collapsed' }
  | { readonly kind: 'gone' };

async function recordItem(
  deps: ReconcileDeps,
  start: StoredSubscription,
  item: IntakeItem,
): Promise<RecordOutcome> {
  const { store, clock, log } = deps;
  const where = {
    tenantId: start.definition.tenantId,
    key: start.definition.key,
    graphId: item.subscriptionId,
    event: item.lifecycleEvent,
  };
  if (item.lifecycleEvent === 'subscriptionRemoved') {
    const removal = await confirmRemoval(deps, start, item.subscriptionId);
    if (removal.kind === 'alreadyRecorded') return { kind: 'stale' };
    if (removal.kind === 'live') {
      log.info('subscriptionRemoved for a subscription Graph still has; stale or replayed', where);
      return { kind: 'stale' };
    }
    if (removal.kind === 'unconfirmed') {
      log.warn('subscriptionRemoved could not be confirmed; recorded all the same', {
        ...where,
        status: removal.status,
      });
    }
  }
  if (!(lifecycleEvents as readonly string[]).includes(item.lifecycleEvent)) {
    log.warn('unknown lifecycle event; kept on record', where);
  }
  let current = start;
  for (let attempt = 0; attempt < maxRecordAttempts; attempt++) {
    if (current.graphSubscriptionId !== item.subscriptionId) return { kind: 'gone' };
    if (item.lifecycleEvent === 'missed' && current.resyncRequestedAt !== undefined) {
      // NOTE: the owner has not acknowledged the last resync request yet: it covers this loss.
      return { kind: 'collapsed' };
    }
    try {
      const row = await store.update(
        recordLifecycleEvent(current, item.lifecycleEvent, clock.now()),
        current.etag,
      );
      log.info('lifecycle event recorded', where);
      return { kind: 'recorded', row };
    } catch (e) {
      if (isStoreNotFoundError(e)) return { kind: 'gone' };
      if (!isStoreConflictError(e) || attempt === maxRecordAttempts - 1) throw e;
      const fresh = await store.get(current.definition.tenantId, current.definition.key);
      if (fresh === undefined) return { kind: 'gone' };
      current = fresh;
    }
  }
  return { kind: 'gone' };
}

type RemovalCheck =
  | { readonly kind: 'confirmed' }
  | { readonly kind: 'live' }
  | { readonly kind: 'alreadyRecorded' }
  | { readonly kind: 'unconfirmed'; readonly status: number };

/**
 * One GET of the id the event names: 404 confirms the removal; a subscription Graph still
 * serves means the event is stale or replayed. Only that answer stops the event: when Graph
 * answers anything else (403 while the tenant's consent is revoked, 5xx or a timeout after the
 * retries), the event is recorded unconfirmed. Dropping a real removal loses the owner's
 * notifications until someone notices; recording a replayed one costs a create that Graph
 * answers 409, and the reconciler adopts the live subscription.
 * NOTE: throwing here instead made the queue deliver the message again until it went to the
 * poison queue (5 tries), so a removal sent during a revocation was lost (chaos seed 20260901).
 */
async function confirmRemoval(
  deps: ReconcileDeps,
  row: StoredSubscription,
  graphId: string,
): Promise<RemovalCheck> {
  // NOTE: a row already waiting to be recreated needs no confirmation and no second record.
  if (row.status === 'removed' || row.status === 'pending') return { kind: 'alreadyRecorded' };
  try {
    await deps.graph.get(row.definition.tenantId, graphId);
    return { kind: 'live' };
  } catch (e) {
    if (!isGraphError(e)) throw e;
    if (e.status === 404) return { kind: 'confirmed' };
    return { kind: 'unconfirmed', status: e.status };
  }
}

async function inParallel<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  const queue = [...items];
  const worker = async (): Promise<void> => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) await work(next);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, () => worker()));
}
