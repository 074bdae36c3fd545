import { GraphError } from '../../shared/graph/graphError';
import type { GraphSubscription, GraphSubscriptions } from '../../shared/graph/graphSubscriptions';
import type { Logger, LogProperties } from '../../shared/logger';
import { defaultOutcomeTimings, type OutcomePolicy } from '../../shared/renewal/outcomes';
import { reconcileSubscription, type ReconcileDeps } from '../../shared/renewal/reconcile';
import { WritePacer } from '../../shared/renewal/writePacer';
import { InMemorySubscriptionStore } from '../../devkit/inMemorySubscriptionStore';
import type { ManagedSubscription } from '../../shared/subscriptions/model';
import {
  aSubscription,
  minutesAfter,
  referenceTime,
  type SubscriptionOverrides,
} from '../support/subscriptionMother';
import { TestClock } from '../../devkit/testClock';

/**
 * The reconcile shell with the in-memory store and a hand-written Graph fake, for the cases the
 * simulator makes awkward to stage: a delete Graph refuses, a row another instance holds.
 */

const minute = 60_000;

/** Graph that answers every call with `failure`, or fails the test for calls it was not set up for. */
class RefusingGraph implements GraphSubscriptions {
  readonly calls: string[] = [];

  constructor(private readonly failure: GraphError) {}

  create(): Promise<GraphSubscription> {
    return this.refuse('create');
  }
  get(): Promise<GraphSubscription> {
    return this.refuse('get');
  }
  update(): Promise<GraphSubscription> {
    return this.refuse('update');
  }
  reauthorize(): Promise<void> {
    return this.refuse('reauthorize');
  }
  delete(): Promise<void> {
    return this.refuse('delete');
  }
  // eslint-disable-next-line require-yield -- a list that fails before its first page
  async *list(): AsyncIterable<GraphSubscription> {
    await this.refuse('list');
  }

  private refuse(call: string): Promise<never> {
    this.calls.push(call);
    return Promise.reject(this.failure);
  }
}

const policy: OutcomePolicy = {
  sweepPeriodMs: 5 * minute,
  renewalMarginMs: 5 * minute,
  maxLifetimeMinutes: () => 10_080,
  ...defaultOutcomeTimings,
};

function setUp(failure: GraphError) {
  const clock = new TestClock(referenceTime);
  const store = new InMemorySubscriptionStore();
  const graph = new RefusingGraph(failure);
  const lines: LogProperties[] = [];
  const log: Logger = {
    info: (_message, properties) => lines.push(properties ?? {}),
    warn: (_message, properties) => lines.push(properties ?? {}),
    error: (_message, properties) => lines.push(properties ?? {}),
  };
  const deps: ReconcileDeps = {
    store,
    graph,
    clock,
    policy,
    pacer: new WritePacer(clock),
    log,
    instanceId: 'sweep-1',
    claimTtlMs: minute,
  };
  return { clock, store, graph, lines, deps };
}

function deleting(overrides: SubscriptionOverrides = {}): ManagedSubscription {
  return aSubscription({ status: 'deleting', nextActionAt: referenceTime, ...overrides });
}

describe('reconcile: deleting', () => {
  test('when Graph answers a delete with 503, then the row stays deleting with the error and is retried after a backoff', async () => {
    const { store, graph, lines, deps } = setUp(
      new GraphError({ status: 503, code: 'ServiceNotAvailable', message: 'try later' }),
    );
    const row = await store.create(deleting());

    const report = await reconcileSubscription(deps, row);

    const after = await store.get(row.definition.tenantId, row.definition.key);
    expect(graph.calls).toEqual(['delete']);
    expect(after).toMatchObject({ status: 'deleting', failureCount: 1, claim: undefined });
    expect(after?.lastError).toMatchObject({ status: 503, code: 'ServiceNotAvailable' });
    expect(after!.nextActionAt.getTime() - after!.lastError!.at.getTime()).toBe(
      defaultOutcomeTimings.backoffBaseMs,
    );
    expect(report).toMatchObject({ action: 'delete', outcome: 'failed', status: 503 });
    expect(lines).toEqual([
      expect.objectContaining({ key: row.definition.key, action: 'delete', outcome: 'failed' }),
    ]);
  });

  test('when Graph refuses a delete with 403, then the row stays deleting and is retried on the slow schedule', async () => {
    const { store, deps } = setUp(
      new GraphError({ status: 403, code: 'ExtensionError', message: 'Access denied' }),
    );
    const row = await store.create(deleting());

    await reconcileSubscription(deps, row);

    const after = await store.get(row.definition.tenantId, row.definition.key);
    expect(after).toMatchObject({ status: 'deleting', failureCount: 1 });
    expect(after!.nextActionAt.getTime() - after!.lastError!.at.getTime()).toBe(
      defaultOutcomeTimings.failedRetryMs,
    );
  });

  test('when another instance holds the claim, then no Graph call is made and the skip is logged', async () => {
    const { store, graph, lines, deps } = setUp(
      new GraphError({ status: 500, code: 'generalException', message: 'unexpected' }),
    );
    const row = await store.create(
      deleting({ claim: { owner: 'sweep-2', until: minutesAfter(referenceTime, 1) } }),
    );

    const report = await reconcileSubscription(deps, row);

    expect(graph.calls).toEqual([]);
    expect(report).toMatchObject({ action: 'wait', outcome: 'skipped' });
    expect(await store.get(row.definition.tenantId, row.definition.key)).toEqual(row);
    expect(lines).toEqual([
      expect.objectContaining({ key: row.definition.key, action: 'wait', outcome: 'skipped' }),
    ]);
  });
});
