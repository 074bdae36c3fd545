import { randomUUID } from 'node:crypto';
import { HttpRequest, HttpResponse } from '@azure/functions';
import { lifecycleHandler } from '../../functions/lifecycleNotifications';
import type { AppDependencies } from '../../shared/composition';
import { runSweep } from '../../shared/renewal/sweep';
import type {
  ClaimRequest,
  ListDueOptions,
  ListOptions,
  SubscriptionPage,
  SubscriptionStore,
} from '../../shared/store/subscriptionStore';
import type { ManagedSubscription, StoredSubscription } from '../../shared/subscriptions/model';
import { startHarness, type Harness } from '../../devkit/appHarness';
import type { SimulatedCall } from '../../devkit/graphSimulator';
import {
  capturingContext,
  serveHandler,
  type HandlerLogLine,
  type ServedHandler,
} from '../../devkit/lifecycleServer';

/**
 * When Graph or the store misbehaves: the endpoint still answers 202 within its budget once every
 * event is on record, leaves what it could not do to the sweep, and answers 5xx only for an event
 * it could not record (so that Graph delivers it again).
 */

const budgetMs = 1000;
const minute = 60_000;

let h: Harness;
let server: ServedHandler;

beforeAll(async () => {
  h = await startHarness({
    clock: 'real',
    env: { LIFECYCLE_INLINE_BUDGET_MS: String(budgetMs) },
  });
  server = await serveHandler(h.sim.tls, lifecycleHandler(h.deps));
});

afterAll(async () => {
  await server.stop();
  await h.stop();
});

afterEach(() => {
  h.sim.clearFaults();
  h.sim.setLatency(0);
});

/** Manages definitions with our lifecycle URL, creates them on Graph, moves past 10 minutes. */
async function onGraph(...keys: string[]): Promise<StoredSubscription[]> {
  for (const key of keys) await h.manage({ key, lifecycleNotificationUrl: server.url });
  const summary = await runSweep(h.deps, h.deps.sweepOptions);
  expect(summary.counts.create?.succeeded).toBe(keys.length);
  // NOTE: past the 10-minute window after create, so reauthorizationRequired means reauthorize.
  h.clock.advance(11 * minute);
  return Promise.all(keys.map((k) => h.read(k)));
}

function graphCalls(): SimulatedCall[] {
  return h.sim.calls().filter((c) => /^\/(v1\.0|beta)\//.test(c.path));
}

function graphIdOf(row: StoredSubscription): string {
  if (row.graphSubscriptionId === undefined) throw new Error(`${row.definition.key} not on Graph`);
  return row.graphSubscriptionId;
}

/** The next sweep, as the timer would run it after a sweep period. */
async function nextSweep() {
  h.clock.advance(h.config.sweep.periodMs);
  return runSweep(h.deps, h.deps.sweepOptions);
}

interface Answer {
  readonly status: number;
  readonly retryAfter: string | null;
  readonly body: Record<string, unknown>;
  readonly logs: readonly HandlerLogLine[];
}

/** POSTs `items` straight to a handler on `deps`. */
async function post(deps: AppDependencies, items: readonly object[]): Promise<Answer> {
  const logs: HandlerLogLine[] = [];
  const request = new HttpRequest({
    method: 'POST',
    url: server.url,
    headers: { 'content-type': 'application/json' },
    body: { string: JSON.stringify({ value: items }) },
  });
  const response = new HttpResponse(
    await lifecycleHandler(deps)(
      request,
      capturingContext((l) => logs.push(l)),
    ),
  );
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    body: (await response.json()) as Record<string, unknown>,
    logs,
  };
}

function itemFor(row: StoredSubscription, lifecycleEvent: string) {
  return {
    subscriptionId: row.graphSubscriptionId,
    tenantId: row.definition.tenantId,
    clientState: row.clientState,
    lifecycleEvent,
  };
}

/** A store that behaves like `inner` except where `override` says otherwise. */
class StoreWrapper implements SubscriptionStore {
  constructor(
    private readonly inner: SubscriptionStore,
    private readonly override: {
      update?: (next: ManagedSubscription, etag: string) => Promise<StoredSubscription>;
      findByGraphId?: (id: string, tenantId?: string) => Promise<StoredSubscription | undefined>;
    },
  ) {}
  create(s: ManagedSubscription) {
    return this.inner.create(s);
  }
  get(tenantId: string, key: string) {
    return this.inner.get(tenantId, key);
  }
  findByKey(key: string) {
    return this.inner.findByKey(key);
  }
  findByGraphId(graphSubscriptionId: string, tenantId?: string) {
    return (
      this.override.findByGraphId?.(graphSubscriptionId, tenantId) ??
      this.inner.findByGraphId(graphSubscriptionId, tenantId)
    );
  }
  update(next: ManagedSubscription, etag: string) {
    return this.override.update?.(next, etag) ?? this.inner.update(next, etag);
  }
  claim(current: StoredSubscription, request: ClaimRequest) {
    return this.inner.claim(current, request);
  }
  delete(current: StoredSubscription, etag?: string) {
    return this.inner.delete(current, etag);
  }
  listDue(before: Date, options?: ListDueOptions) {
    return this.inner.listDue(before, options);
  }
  list(options?: ListOptions): Promise<SubscriptionPage> {
    return this.inner.list(options);
  }
  tenants() {
    return this.inner.tenants();
  }
}

const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

describe('Graph outage during the inline action', () => {
  test('when Graph never answers, then 202 with the Graph actions deferred, every event on its row, and the next sweep completes them', async () => {
    const [reauth, removed, missed] = await onGraph('hang-reauth', 'hang-removed', 'hang-missed');
    h.sim.injectFault({ kind: 'timeout' });

    const answers = await h.sim.sendLifecycleEvents([
      { subscriptionId: graphIdOf(reauth!), event: 'reauthorizationRequired' },
      { subscriptionId: graphIdOf(removed!), event: 'subscriptionRemoved' },
      { subscriptionId: graphIdOf(missed!), event: 'missed' },
    ]);

    expect(answers.map((a) => a.status)).toEqual([202]);
    // missed needs no Graph call: it is complete once its resync request is on record.
    expect(JSON.parse(answers[0]!.body)).toEqual({
      received: 3,
      recorded: 3,
      ignored: 0,
      completed: 1,
      deferred: 2,
    });
    // On record and due within one sweep period, whatever the aborted call wrote meanwhile.
    const dueBy = h.clock.now().getTime() + h.config.sweep.periodMs;
    const reauthRow = await h.read('hang-reauth');
    expect(reauthRow.nextActionAt.getTime()).toBeLessThanOrEqual(dueBy);
    expect(reauthRow.pendingEvent?.name).toBe('reauthorizationRequired');
    expect(reauthRow.graphSubscriptionId).toBe(reauth!.graphSubscriptionId);
    const removedRow = await h.read('hang-removed');
    expect(removedRow.pendingEvent?.name).toBe('subscriptionRemoved');
    expect(removedRow.graphSubscriptionId).toBeUndefined();
    expect(removedRow.nextActionAt.getTime()).toBeLessThanOrEqual(dueBy);
    expect(await h.read('hang-missed')).toMatchObject({
      resyncReason: 'missed',
      pendingEvent: undefined,
    });

    h.sim.clearFaults();
    h.sim.resetCalls();
    const summary = await nextSweep();

    expect(summary.failureCount).toBe(0);
    expect(graphCalls().map((c) => [c.kind, c.status])).toEqual(
      expect.arrayContaining([
        ['reauthorize', 204],
        ['create', 201],
      ]),
    );
    expect(await h.read('hang-reauth')).toMatchObject({
      status: 'active',
      pendingEvent: undefined,
    });
    const recreated = await h.read('hang-removed');
    expect(recreated).toMatchObject({
      status: 'active',
      pendingEvent: undefined,
      resyncReason: 'subscriptionRemoved',
    });
    expect(h.sim.subscriptions().map((s) => s.id)).toContain(recreated.graphSubscriptionId);
  });

  test('when Graph answers 503 with a long Retry-After, then 202 with the action deferred and the event on its row, and the next sweep completes it', async () => {
    const [row] = await onGraph('busy-reauth');
    h.sim.injectFault({ status: 503, retryAfterSeconds: 30 });

    const answer = await post(h.deps, [itemFor(row!, 'reauthorizationRequired')]);

    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({ recorded: 1, completed: 0, deferred: 1 });
    expect((await h.read('busy-reauth')).pendingEvent?.name).toBe('reauthorizationRequired');

    h.sim.clearFaults();
    h.sim.resetCalls();
    await nextSweep();

    expect(graphCalls().map((c) => [c.kind, c.status])).toEqual([['reauthorize', 204]]);
    expect(await h.read('busy-reauth')).toMatchObject({
      status: 'active',
      pendingEvent: undefined,
    });
  });

  test('when the budget cuts an action short, then what it writes is written before the answer, not after', async () => {
    const [row] = await onGraph('cut-short');
    h.sim.setLatency(5_000);
    let writes = 0;
    const deps = {
      ...h.deps,
      store: new StoreWrapper(h.store, {
        update: async (next, etag) => {
          // The record goes through at once; the aborted action's outcome takes a moment.
          if (++writes > 1) await sleep(50);
          return h.store.update(next, etag);
        },
      }),
    };

    const answer = await post(deps, [itemFor(row!, 'reauthorizationRequired')]);
    const atAnswer = await h.read('cut-short');
    await sleep(300);

    expect(answer.body).toMatchObject({ recorded: 1, deferred: 1 });
    expect(writes).toBe(2);
    expect((await h.read('cut-short')).etag).toBe(atAnswer.etag);
  });

  test('when Graph is slower than the budget, then 202 with the action deferred, and the row is not marked failing', async () => {
    const [row] = await onGraph('slow-reauth');
    h.sim.setLatency(5_000);

    const answer = await post(h.deps, [itemFor(row!, 'reauthorizationRequired')]);
    await sleep(300);

    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({ recorded: 1, completed: 0, deferred: 1 });
    const after = await h.read('slow-reauth');
    expect(after.pendingEvent?.name).toBe('reauthorizationRequired');
    // We stopped waiting; Graph did not fail: no failure counted, no error shown, due now.
    expect(after).toMatchObject({
      status: 'reauthorizationRequired',
      failureCount: 0,
      lastError: undefined,
      claim: undefined,
    });
    expect(after.nextActionAt.getTime()).toBeLessThanOrEqual(h.clock.now().getTime());
  });
});

describe('5xx only for an event that could not be recorded', () => {
  test('when the store cannot write, then 503 with Retry-After, nothing changes and Graph is not called', async () => {
    const [row] = await onGraph('store-down');
    const deps = {
      ...h.deps,
      store: new StoreWrapper(h.store, {
        update: () => Promise.reject(new Error('storage unavailable')),
      }),
    };
    h.sim.resetCalls();

    const answer = await post(deps, [itemFor(row!, 'reauthorizationRequired')]);

    expect(answer.status).toBe(503);
    expect(answer.retryAfter).not.toBeNull();
    expect((await h.read('store-down')).etag).toBe(row!.etag);
    expect(h.sim.calls()).toEqual([]);
    expect(answer.logs.map((l) => [l.level, l.message])).toContainEqual([
      'error',
      'lifecycle event could not be recorded',
    ]);
  });

  test('when one event of a POST cannot be recorded, then 503 so Graph delivers the POST again, and the others are on record', async () => {
    const [failing, fine] = await onGraph('partly-down', 'partly-fine');
    const deps = {
      ...h.deps,
      store: new StoreWrapper(h.store, {
        update: (next, etag) =>
          next.definition.key === 'partly-down'
            ? Promise.reject(new Error('storage unavailable'))
            : h.store.update(next, etag),
      }),
    };

    const answer = await post(deps, [itemFor(failing!, 'missed'), itemFor(fine!, 'missed')]);

    expect(answer.status).toBe(503);
    expect((await h.read('partly-down')).etag).toBe(failing!.etag);
    expect(await h.read('partly-fine')).toMatchObject({ resyncReason: 'missed' });
  });

  test('when recording is slow and Graph slower, then the events on record still get 202 (the rest of the budget goes to the sweep)', async () => {
    const [row] = await onGraph('slow-store');
    h.sim.setLatency(5_000);
    const deps = {
      ...h.deps,
      store: new StoreWrapper(h.store, {
        update: async (next, etag) => {
          // NOTE: most of the inline budget, well within the deadline to record (budget +
          // 500 ms): the event is on record in time, with little of the budget left to act.
          await sleep(budgetMs - 100);
          return h.store.update(next, etag);
        },
      }),
    };

    const answer = await post(deps, [itemFor(row!, 'reauthorizationRequired')]);

    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({ recorded: 1, deferred: 1 });
    expect((await h.read('slow-store')).pendingEvent?.name).toBe('reauthorizationRequired');
  });

  test('when telling the owner about a resync fails after the event is on record, then it is still 202', async () => {
    const [row] = await onGraph('resync-hook-down');
    const deps: AppDependencies = {
      ...h.deps,
      resync: { publish: () => Promise.reject(new Error('queue unavailable')) },
    };

    const answer = await post(deps, [itemFor(row!, 'missed')]);

    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({ recorded: 1 });
    expect(await h.read('resync-hook-down')).toMatchObject({ resyncReason: 'missed' });
    expect(answer.logs.some((l) => l.level === 'error')).toBe(true);
  });
});

describe('forged collections', () => {
  test('when many items carry unknown ids and wrong tenants, then only a few lookups go across tenants and the genuine item is still recorded', async () => {
    const [row] = await onGraph('among-forgeries');
    let acrossTenants = 0;
    const deps: AppDependencies = {
      ...h.deps,
      store: new StoreWrapper(h.store, {
        findByGraphId: (id, tenantId) => {
          if (tenantId === undefined) acrossTenants++;
          return h.store.findByGraphId(id, tenantId);
        },
      }),
    };
    const forged = Array.from({ length: 40 }, () => ({
      subscriptionId: randomUUID(),
      tenantId: randomUUID(),
      clientState: 'forged',
      lifecycleEvent: 'subscriptionRemoved',
    }));

    const answer = await post(deps, [...forged, itemFor(row!, 'missed')]);

    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({ received: 41, recorded: 1, ignored: 40 });
    expect(acrossTenants).toBeLessThanOrEqual(5);
    expect(await h.read('among-forgeries')).toMatchObject({ resyncReason: 'missed' });
  });
});
