import { setMaxListeners } from 'node:events';
import { recordLifecycleEvent } from '../renewal/outcomes';
import { reconcileSubscription, type ActionReport, type ReconcileDeps } from '../renewal/reconcile';
import { isStoreConflictError, isStoreNotFoundError } from '../store/subscriptionStore';
import { sameSecret } from '../subscriptions/compare';
import { lifecycleEvents, type StoredSubscription } from '../subscriptions/model';
import type { LifecycleNotification } from './lifecyclePayload';

/**
 * What the lifecycle endpoint does with a valid collection (docs/architecture.md#flows):
 * 1. each item is matched to its subscription by Graph id (one point read) and its clientState
 *    checked in constant time; an unknown id or a wrong clientState is logged and changes nothing;
 * 2. the event is recorded on the row (due now, status set) in one conditional write: from
 *    then on it is durable, and the sweep finishes whatever is not done here;
 * 3. the recorded subscriptions are acted on inline, within what is left of a time budget that
 *    runs from the request; the answer does not wait for more.
 * Only an event that could not even be recorded makes the caller answer 5xx, so Graph retries
 * (receive.ts runs the steps: recording against the answer's deadline, acting within the budget).
 */

export interface LifecycleDeps extends ReconcileDeps {
  /** How long inline actions may take before the endpoint answers. */
  readonly inlineBudgetMs: number;
}

/** What recording a collection gave: the rows now carrying their event, and what was not. */
export interface RecordedEvents {
  readonly received: number;
  /** One row per subscription, as last written. */
  readonly subscriptions: readonly StoredSubscription[];
  readonly ignored: number;
  /** Events that could not be recorded: the endpoint answers 5xx so that Graph retries. */
  readonly notRecorded: number;
}

export interface LifecycleResult {
  readonly received: number;
  readonly recorded: number;
  readonly ignored: number;
  /** Events that could not be recorded: the endpoint answers 5xx so that Graph retries. */
  readonly notRecorded: number;
  /** Inline actions finished within the budget, whatever their outcome. */
  readonly actions: readonly ActionReport[];
  /** Recorded subscriptions whose action is done (for `missed`, the record is the action). */
  readonly completed: number;
  /**
   * Recorded subscriptions whose action was left to the sweep: not finished within the budget,
   * failed, taken by another writer, or waiting out the 10-minute rule.
   */
  readonly deferred: number;
}

const maxRecordAttempts = 4;
/** Subscriptions whose items are recorded at the same time. */
const recordConcurrency = 8;
/** Recorded subscriptions acted on at the same time within the inline budget. */
const inlineConcurrency = 16;
/**
 * Lookups across tenants per collection, for items whose tenant field does not find them. Bounded
 * so that a forged collection of random ids costs a few queries, not one per item.
 */
const maxCrossTenantLookups = 5;
/**
 * After the budget, aborted actions get this long to write their outcome, so that nothing of
 * this invocation is still writing when it answers (the host may freeze the worker after that).
 */
export const settleAfterAbortMs = 200;

/** Steps 1 and 2: match, check and record each item. Never throws for one item's failure. */
export async function recordLifecycleNotifications(
  deps: LifecycleDeps,
  notifications: readonly LifecycleNotification[],
): Promise<RecordedEvents> {
  const { log } = deps;
  let ignored = 0;
  let notRecorded = 0;
  const recorded = new Map<string, StoredSubscription>();
  const budget: CollectionLookups = {
    crossTenantLookups: maxCrossTenantLookups,
    found: new Map(),
  };

  const recordItem = async (n: LifecycleNotification): Promise<void> => {
    const where = { graphId: n.subscriptionId, event: n.lifecycleEvent ?? null };
    if (n.lifecycleEvent === undefined) {
      ignored++;
      log.warn('lifecycle endpoint got an item without lifecycleEvent; ignored', where);
      return;
    }
    let result: Recorded | undefined;
    try {
      result = await recordOne(deps, { ...n, lifecycleEvent: n.lifecycleEvent }, budget);
    } catch (e) {
      notRecorded++;
      log.error('lifecycle event could not be recorded', {
        ...where,
        error: e instanceof Error ? e.name : 'unknown',
      });
      return;
    }
    if (result === undefined) {
      ignored++;
      return;
    }
    const { written } = result;
    recorded.set(`${written.definition.tenantId}|${written.definition.key}`, written);
  };

  // NOTE: items of one subscription are recorded in order; different subscriptions side by
  // side, a few at a time, so a large batch is on record well within Graph's deadline.
  const groups = new Map<string, LifecycleNotification[]>();
  for (const n of notifications) {
    const group = groups.get(n.subscriptionId);
    if (group === undefined) groups.set(n.subscriptionId, [n]);
    else group.push(n);
  }
  const queue = [...groups.values()];
  const worker = async (): Promise<void> => {
    for (let group = queue.shift(); group !== undefined; group = queue.shift()) {
      for (const n of group) await recordItem(n);
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(recordConcurrency, queue.length) }, () => worker()),
  );
  return {
    received: notifications.length,
    subscriptions: [...recorded.values()],
    ignored,
    notRecorded,
  };
}

export function lifecycleResult(
  recorded: RecordedEvents,
  actions: readonly ActionReport[],
): LifecycleResult {
  const completed = actions.filter((a) => a.outcome === 'succeeded' && a.action !== 'wait').length;
  return {
    received: recorded.received,
    recorded: recorded.subscriptions.length,
    ignored: recorded.ignored,
    notRecorded: recorded.notRecorded,
    actions,
    completed,
    deferred: recorded.subscriptions.length - completed,
  };
}

/** Lookups of one collection: the bound on lookups across tenants, and what each id found. */
interface CollectionLookups {
  crossTenantLookups: number;
  readonly found: Map<string, StoredSubscription | undefined>;
}

interface Recorded {
  readonly written: StoredSubscription;
}

/** Returns the recorded row, or undefined when the item is not ours (unknown id, bad state). */
async function recordOne(
  deps: LifecycleDeps,
  n: LifecycleNotification & { lifecycleEvent: string },
  budget: CollectionLookups,
): Promise<Recorded | undefined> {
  const { store, log, clock } = deps;
  const where = { graphId: n.subscriptionId, event: n.lifecycleEvent };
  // NOTE: one lookup per Graph id and tenant per collection: repeats of an id (genuine or
  // forged) reuse it, so a collection of copies costs one read, not one per copy.
  const lookupKey = `${n.subscriptionId}|${n.tenantId ?? ''}`;
  let current: StoredSubscription | undefined;
  if (budget.found.has(lookupKey)) {
    current = budget.found.get(lookupKey);
  } else {
    current =
      n.tenantId !== undefined || budget.crossTenantLookups-- > 0
        ? await store.findByGraphId(n.subscriptionId, n.tenantId)
        : undefined;
    if (current === undefined && n.tenantId !== undefined && budget.crossTenantLookups-- > 0) {
      // NOTE: a payload whose tenant field is wrong still finds its subscription (a few per
      // collection; the sweep renews the rest on time anyway).
      current = await store.findByGraphId(n.subscriptionId);
    }
    budget.found.set(lookupKey, current);
  }
  if (current === undefined) {
    log.warn('lifecycle notification for an unknown subscription; ignored', where);
    return undefined;
  }
  if (!sameSecret(n.clientState, current.clientState)) {
    log.warn('lifecycle notification with a wrong clientState; ignored', {
      ...where,
      tenantId: current.definition.tenantId,
      key: current.definition.key,
    });
    return undefined;
  }
  if (!(lifecycleEvents as readonly string[]).includes(n.lifecycleEvent)) {
    log.warn('unknown lifecycle event; kept on record', {
      ...where,
      tenantId: current.definition.tenantId,
      key: current.definition.key,
    });
  }
  for (let attempt = 0; attempt < maxRecordAttempts; attempt++) {
    try {
      const written = await store.update(
        recordLifecycleEvent(current, n.lifecycleEvent, clock.now()),
        current.etag,
      );
      log.info('lifecycle event recorded', {
        ...where,
        tenantId: written.definition.tenantId,
        key: written.definition.key,
      });
      budget.found.set(lookupKey, written);
      return { written };
    } catch (e) {
      if (isStoreNotFoundError(e)) return undefined;
      if (!isStoreConflictError(e) || attempt === maxRecordAttempts - 1) throw e;
      const fresh = await store.get(current.definition.tenantId, current.definition.key);
      if (fresh === undefined || fresh.graphSubscriptionId !== n.subscriptionId) return undefined;
      current = fresh;
    }
  }
  return undefined;
}

/**
 * Step 3: acts on the recorded subscriptions for at most `budgetMs`; what is not finished then is
 * aborted and left to the sweep (the events are on record). Returns the finished actions.
 */
export async function actWithinBudget(
  deps: LifecycleDeps,
  subscriptions: readonly StoredSubscription[],
  budgetMs: number,
): Promise<ActionReport[]> {
  if (subscriptions.length === 0 || budgetMs <= 0) return [];
  const controller = new AbortController();
  // NOTE: every inline action (and each Graph call in it) listens on this one signal.
  setMaxListeners(0, controller.signal);
  const finished: ActionReport[] = [];
  const act = async (sub: StoredSubscription): Promise<void> => {
    try {
      finished.push(await reconcileSubscription(deps, sub, { signal: controller.signal }));
    } catch (e) {
      // NOTE: the event is on record; the sweep retries what failed here.
      if (!controller.signal.aborted) {
        deps.log.warn('inline lifecycle action failed; left to the sweep', {
          tenantId: sub.definition.tenantId,
          key: sub.definition.key,
          error: e instanceof Error ? e.name : 'unknown',
        });
      }
    }
  };
  // NOTE: a few at a time, not the whole collection at once: the store also records the events
  // of the POSTs arriving meanwhile, which must finish within their deadline; what the budget
  // does not reach is on record for the sweep.
  const queue = [...subscriptions];
  const worker = async (): Promise<void> => {
    for (let sub = queue.shift(); sub !== undefined; sub = queue.shift()) {
      if (controller.signal.aborted) return;
      await act(sub);
    }
  };
  const work = Promise.all(
    Array.from({ length: Math.min(inlineConcurrency, queue.length) }, () => worker()),
  );
  const budget = deps.clock.sleep(budgetMs, controller.signal).then(
    () => 'budget' as const,
    () => 'done' as const,
  );
  const first = await Promise.race([work.then(() => 'done' as const), budget]);
  controller.abort(new Error('lifecycle inline budget spent'));
  if (first === 'budget') {
    deps.log.info('inline budget spent; the sweep finishes the rest', {
      finished: finished.length,
      total: subscriptions.length,
    });
    // NOTE: only the count is taken before the grace: an action that ends during it was aborted.
    const inTime = [...finished];
    const settled = new AbortController();
    await Promise.race([
      work,
      deps.clock.sleep(settleAfterAbortMs, settled.signal).catch(() => undefined),
    ]);
    settled.abort();
    return inTime;
  }
  return [...finished];
}
