import { randomUUID } from 'node:crypto';
import { HttpRequest, HttpResponse, InvocationContext } from '@azure/functions';
import { lifecycleIntakeHandler } from '../../functions/lifecycleIntake';
import { lifecycleHandler } from '../../functions/lifecycleNotifications';
import type { AppDependencies } from '../../shared/composition';
import type { IntakeResult } from '../../shared/lifecycle/handleLifecycleNotifications';
import { QueueLifecycleIntake } from '../../shared/lifecycle/intakeQueue';
import { acknowledgeResync } from '../../shared/operations/subscriptionOperations';
import { sweepAndRecord } from '../../shared/operations/sweepOperation';
import { InMemoryResyncPublisher } from '../../devkit/inMemoryRecords';
import { runSweep } from '../../shared/renewal/sweep';
import { rowKeys } from '../../shared/store/subscriptionEntity';
import { subscriptionTableClient } from '../../shared/store/tableClient';
import { TableSubscriptionStore } from '../../shared/store/tableSubscriptionStore';
import type { StoredSubscription } from '../../shared/subscriptions/model';
import { azuriteConnectionString, startHarness, type Harness } from '../../devkit/appHarness';

/**
 * The lifecycle intake path (docs/lifecycle.md): the endpoint stores each collection on the intake
 * queue and answers 202 without touching the table or Graph; the queue handler, called as the
 * host calls it (the message body and a real InvocationContext), does the lookups, the
 * clientState check and the actions. Azurite holds table and queue; Graph is the simulator.
 */

const minute = 60_000;

let h: Harness;
let resync: InMemoryResyncPublisher;
let deps: AppDependencies;

beforeAll(async () => {
  h = await startHarness();
  resync = new InMemoryResyncPublisher();
  deps = { ...h.deps, resync };
});

afterAll(async () => {
  await h.stop();
});

interface Logged {
  readonly level: string;
  readonly text: string;
  readonly args: readonly unknown[];
}

function context(logs: Logged[], functionName: string): InvocationContext {
  return new InvocationContext({
    functionName,
    logHandler: (level, ...args) => {
      logs.push({
        level,
        text: args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '),
        args,
      });
    },
  });
}

async function post(
  items: readonly Record<string, unknown>[],
  on: AppDependencies = deps,
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const request = new HttpRequest({
    method: 'POST',
    url: 'https://keeper.example.com/api/lifecycle?code=function-key',
    headers: { 'content-type': 'application/json' },
    body: { string: JSON.stringify({ value: items }) },
  });
  const response = new HttpResponse(
    await lifecycleHandler(on)(request, context([], 'lifecycleNotifications')),
  );
  return {
    status: response.status,
    body: (await response.json()) as Record<string, unknown>,
    headers: response.headers,
  };
}

/** Runs the queue trigger over every message the intake queue holds, as the host would. */
async function runQueue(logs: Logged[] = []): Promise<IntakeResult[]> {
  const intake = deps.intake;
  if (intake === undefined) throw new Error('no intake queue');
  const results: IntakeResult[] = [];
  for (;;) {
    const batch = await intake.receive(32, 30);
    if (batch.length === 0) return results;
    for (const message of batch) {
      results.push(
        await lifecycleIntakeHandler(deps)(message.body, context(logs, 'lifecycleIntake')),
      );
      await intake.remove(message);
    }
  }
}

async function onGraph(...keys: string[]): Promise<StoredSubscription[]> {
  for (const key of keys) await h.manage({ key });
  await runSweep(deps, deps.sweepOptions);
  return Promise.all(keys.map((k) => h.read(k)));
}

function item(row: StoredSubscription, event: string, overrides: Record<string, unknown> = {}) {
  return {
    subscriptionId: row.graphSubscriptionId,
    subscriptionExpirationDateTime: '2026-12-01T10:15:00.0000000+00:00',
    tenantId: row.definition.tenantId,
    clientState: row.clientState,
    lifecycleEvent: event,
    ...overrides,
  };
}

function tableStore(): TableSubscriptionStore {
  if (!(h.store instanceof TableSubscriptionStore)) throw new Error('the harness runs on Azurite');
  return h.store;
}

function graphCalls() {
  return h.sim.calls().filter((c) => /^\/(v1\.0|beta)\//.test(c.path));
}

describe('lifecycle intake', () => {
  test('when a collection arrives, then it is queued with 202 and nothing is read or written until the queue runs', async () => {
    const [row] = await onGraph('intake-accept');
    h.clock.advance(20 * minute);
    const store = tableStore();
    const reads = store.metrics.requests;
    h.sim.resetCalls();

    const answer = await post([item(row!, 'reauthorizationRequired')]);

    expect(answer.status).toBe(202);
    expect(answer.body).toEqual({ received: 1, queued: 1 });
    expect(store.metrics.requests).toBe(reads);
    expect(graphCalls()).toHaveLength(0);
    expect((await h.read('intake-accept')).etag).toBe(row!.etag);

    const [result] = await runQueue();
    expect(result).toMatchObject({ received: 1, recorded: 1 });
    expect(graphCalls().map((c) => [c.kind, c.status])).toEqual([['reauthorize', 204]]);
  });

  test('when reauthorizationRequired comes right after a create, then one queue run reauthorizes it', async () => {
    const [row] = await onGraph('intake-fresh');
    h.sim.resetCalls();

    expect((await post([item(row!, 'reauthorizationRequired')])).status).toBe(202);
    await runQueue();

    expect(graphCalls().map((c) => [c.kind, c.status])).toEqual([['reauthorize', 204]]);
    const after = await h.read('intake-fresh');
    expect(after).toMatchObject({ status: 'active', pendingEvent: undefined });
    expect(h.sim.spacingViolations()).toEqual([]);
  });

  test('when reauthorizationRequired comes right after a renewal, then one queue run answers it with a PATCH, never a reauthorize', async () => {
    await h.manage({ key: 'intake-renewed', lifetimeMinutes: 60 });
    await runSweep(deps, deps.sweepOptions);
    // Past the renewal point of a 60-minute subscription: the sweep PATCHes it.
    h.clock.advance(40 * minute);
    await runSweep(deps, deps.sweepOptions);
    const renewed = await h.read('intake-renewed');
    expect(renewed.lastRenewedAt).toBeDefined();
    h.clock.advance(2 * minute);
    h.sim.resetCalls();

    expect((await post([item(renewed, 'reauthorizationRequired')])).status).toBe(202);
    await runQueue();

    expect(graphCalls().map((c) => [c.kind, c.status])).toEqual([['update', 200]]);
    const after = await h.read('intake-renewed');
    expect(after).toMatchObject({ status: 'active', pendingEvent: undefined });
    expect(after.expiresAt!.getTime()).toBeGreaterThan(renewed.expiresAt!.getTime());
    expect(h.sim.spacingViolations()).toEqual([]);
  });

  test('when subscriptionRemoved is replayed for a live subscription, then each replay costs one GET: no write on Graph, no resync, no new generation', async () => {
    const [row] = await onGraph('intake-replayed');
    const messagesBefore = resync.messages.length;
    h.sim.resetCalls();

    for (let i = 0; i < 10; i++) {
      expect((await post([item(row!, 'subscriptionRemoved')])).status).toBe(202);
    }
    const results = await runQueue();

    expect(results.map((r) => r.stale)).toEqual(Array<number>(10).fill(1));
    expect(graphCalls().every((c) => c.kind === 'get')).toBe(true);
    expect(graphCalls()).toHaveLength(10);
    const after = await h.read('intake-replayed');
    expect(after).toMatchObject({
      generation: 1,
      graphSubscriptionId: row!.graphSubscriptionId,
      resyncRequestedAt: undefined,
      status: 'active',
    });
    expect(resync.messages.length).toBe(messagesBefore);
  });

  test('when Graph really removed a subscription, then the GET confirms it and one queue run recreates it and requests a resync', async () => {
    const [row] = await onGraph('intake-removed');
    h.sim.loseSubscription(row!.graphSubscriptionId!);
    h.sim.resetCalls();

    expect((await post([item(row!, 'subscriptionRemoved')])).status).toBe(202);
    await runQueue();

    expect(graphCalls().map((c) => [c.kind, c.status])).toEqual([
      ['get', 404],
      ['create', 201],
    ]);
    const after = await h.read('intake-removed');
    expect(after).toMatchObject({ generation: 2, resyncReason: 'subscriptionRemoved' });
    expect(resync.messages.filter((m) => m.key === 'intake-removed')).toHaveLength(1);
  });

  test('when Graph refuses the confirming GET (consent revoked), then the removal is recorded all the same, the queue message is done, and it is recreated with a resync once consent is back', async () => {
    const [row] = await onGraph('intake-removed-revoked');
    h.sim.loseSubscription(row!.graphSubscriptionId!);
    h.sim.revokePermission(h.tenantId);
    try {
      h.sim.resetCalls();
      expect((await post([item(row!, 'subscriptionRemoved')])).status).toBe(202);
      const [result] = await runQueue();

      expect(result).toMatchObject({ recorded: 1, stale: 0 });
      expect(graphCalls()[0]).toMatchObject({ kind: 'get', status: 403 });
      expect(await deps.intake!.receive(1, 1)).toHaveLength(0);
      expect(await h.read('intake-removed-revoked')).toMatchObject({ generation: 1 });
    } finally {
      h.sim.restorePermission(h.tenantId);
    }
    h.clock.advance(60 * minute);
    await runSweep(deps, deps.sweepOptions);

    const after = await h.read('intake-removed-revoked');
    expect(after).toMatchObject({
      status: 'active',
      generation: 2,
      resyncReason: 'subscriptionRemoved',
    });
    expect(resync.messages.filter((m) => m.key === 'intake-removed-revoked')).toHaveLength(1);
  });

  test('when missed repeats, then one resync message goes out until the owner acknowledges it', async () => {
    const [row] = await onGraph('intake-missed');
    const sent = () => resync.messages.filter((m) => m.key === 'intake-missed').length;

    for (let i = 0; i < 3; i++) {
      expect((await post([item(row!, 'missed'), item(row!, 'missed')])).status).toBe(202);
      await runQueue();
      h.clock.advance(minute);
    }
    expect(sent()).toBe(1);

    await acknowledgeResync(deps, 'intake-missed', { tenantId: h.tenantId });
    expect((await post([item(row!, 'missed')])).status).toBe(202);
    await runQueue();
    expect(sent()).toBe(2);
  });

  test('when a POST carries 1,000 forged ids, then it is answered 202, the queue run reads a bounded number of rows and logs one warning with counts', async () => {
    await onGraph('intake-forged-neighbour');
    const store = tableStore();
    const forged = Array.from({ length: 1000 }, () => ({
      subscriptionId: randomUUID(),
      tenantId: h.tenantId,
      clientState: 'forged-client-state-value',
      lifecycleEvent: 'subscriptionRemoved',
    }));
    h.sim.resetCalls();

    const answer = await post(forged);
    expect(answer.status).toBe(202);

    const reads = store.metrics.requests;
    const logs: Logged[] = [];
    const results = await runQueue(logs);
    const total = (pick: (r: IntakeResult) => number) =>
      results.reduce((sum, r) => sum + pick(r), 0);

    // A collection larger than one queue message is split; its budget of lookups is shared.
    expect(total((r) => r.received)).toBe(1000);
    expect(total((r) => r.recorded)).toBe(0);
    expect(total((r) => r.unknown + r.skipped)).toBe(1000);
    expect(total((r) => r.unknown)).toBeLessThanOrEqual(50 + results.length);
    expect(total((r) => r.skipped)).toBeGreaterThan(900);
    // Each looked-up id costs a point read (the index row), and at most 5 per message a query
    // across tenants: about 70 requests for 1,000 ids (it was one read per item).
    expect(store.metrics.requests - reads).toBeLessThanOrEqual(
      50 + results.length + 5 * results.length,
    );
    expect(graphCalls()).toHaveLength(0);
    // One warning per message, with counts, whatever the number of items.
    const warnings = logs.filter((l) => l.level === 'warning');
    expect(warnings).toHaveLength(results.length);
    expect(warnings[0]!.text).toContain('"unknown"');
    expect(logs.some((l) => l.text.includes('forged-client-state-value'))).toBe(false);
  });

  test('when upper-case tenant ids arrive, then every event finds its subscription', async () => {
    const rows = await onGraph(...Array.from({ length: 8 }, (_, i) => `intake-upper-${i}`));
    h.sim.resetCalls();

    const answer = await post(
      rows.map((r) =>
        item(r, 'reauthorizationRequired', { tenantId: r.definition.tenantId.toUpperCase() }),
      ),
    );
    expect(answer.status).toBe(202);
    const [result] = await runQueue();

    expect(result).toMatchObject({ received: 8, recorded: 8, unknown: 0 });
    expect(graphCalls().filter((c) => c.kind === 'reauthorize')).toHaveLength(8);
  });

  test('when a row is corrupted, then its items count as unreadable and the rest of the collection is acted on', async () => {
    const [broken, fine] = await onGraph('intake-corrupted', 'intake-intact');
    const table = subscriptionTableClient(azuriteConnectionString(), h.config.storage.table);
    await table.updateEntity(
      {
        partitionKey: h.tenantId,
        rowKey: rowKeys.subscription('intake-corrupted'),
        status: 42,
        expiresAt: 'not a date',
      },
      'Merge',
    );
    h.sim.resetCalls();

    const answer = await post([
      item(broken!, 'reauthorizationRequired', { clientState: 'wrong' }),
      item(fine!, 'reauthorizationRequired'),
    ]);
    expect(answer.status).toBe(202);
    const [result] = await runQueue();

    expect(result).toMatchObject({ received: 2, recorded: 1, unreadable: 1 });
    expect(graphCalls().map((c) => [c.kind, c.subscriptionId])).toEqual([
      ['reauthorize', fine!.graphSubscriptionId],
    ]);
  });

  test('when the queue cannot be reached, then the answer is 503 with Retry-After', async () => {
    const unreachable = QueueLifecycleIntake.fromConfig({
      ...h.config.storage,
      connection: {
        kind: 'connectionString',
        setting: 'STORAGE_CONNECTION',
        connectionString:
          'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;QueueEndpoint=http://127.0.0.1:9/devstoreaccount1;TableEndpoint=http://127.0.0.1:9/devstoreaccount1',
      },
    });
    const [row] = await onGraph('intake-outage');

    const answer = await post([item(row!, 'reauthorizationRequired')], {
      ...deps,
      intake: unreachable,
      inlineBudgetMs: 1000,
    });

    expect(answer.status).toBe(503);
    expect(answer.headers.get('retry-after')).toBe('5');
  });

  test('when the queue trigger is stopped, then one sweep after the 202 completes every event', async () => {
    const [row] = await onGraph('intake-by-sweep');
    h.sim.resetCalls();

    expect((await post([item(row!, 'reauthorizationRequired')])).status).toBe(202);
    await sweepAndRecord(deps, deps.sweepOptions);

    expect(graphCalls().map((c) => [c.kind, c.status])).toEqual([['reauthorize', 204]]);
    expect(await deps.intake!.receive(32, 1)).toHaveLength(0);
  });

  test('when Graph is down during the queue run, then the event stays on its row and the next sweep completes it', async () => {
    const [row] = await onGraph('intake-graph-down');
    h.sim.injectFault({ status: 503, retryAfterSeconds: 120 });

    expect((await post([item(row!, 'reauthorizationRequired')])).status).toBe(202);
    await runQueue();
    expect((await h.read('intake-graph-down')).pendingEvent?.name).toBe('reauthorizationRequired');

    h.sim.clearFaults();
    h.sim.resetCalls();
    h.clock.advance(16 * minute);
    await sweepAndRecord(deps, deps.sweepOptions);

    expect(
      graphCalls()
        .filter((c) => c.subscriptionId === row!.graphSubscriptionId)
        .map((c) => [c.kind, c.status]),
    ).toEqual([['reauthorize', 204]]);
    expect(await h.read('intake-graph-down')).toMatchObject({
      status: 'active',
      pendingEvent: undefined,
    });
  });
});
