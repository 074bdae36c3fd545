import { runSweep } from '../../shared/renewal/sweep';
import type { StoredSubscription } from '../../shared/subscriptions/model';
import { startHarness, type Harness } from '../../devkit/appHarness';

/**
 * The sweep against Azurite and the Graph simulator where Graph's copy and ours disagree: Graph
 * lost the subscription (404 on renew: recreate), Graph already has one (409 on create: adopt or
 * fail), and the owner asked for a delete.
 */

const minute = 60_000;

let h: Harness;

beforeEach(async () => {
  h = await startHarness({ store: 'table' });
});

afterEach(async () => {
  await h.stop();
});

const sweep = () => runSweep(h.deps, h.deps.sweepOptions);

function graphCalls() {
  return h.sim.calls().filter((c) => c.kind !== 'token' && c.kind !== 'other');
}

function onGraph(id: string) {
  return h.sim.subscriptions(h.tenantId).find((s) => s.id === id);
}

async function createdAndActive(key: string, resource?: string): Promise<StoredSubscription> {
  await h.manage(resource === undefined ? { key } : { key, resource });
  await sweep();
  const row = await h.read(key);
  expect(row.status).toBe('active');
  return row;
}

async function markDeleting(key: string): Promise<void> {
  const { etag, ...row } = await h.read(key);
  const now = h.clock.now();
  await h.store.update({ ...row, status: 'deleting', nextActionAt: now, updatedAt: now }, etag);
}

describe('sweep: 404 on renew', () => {
  test('when Graph lost the subscription, then the same sweep recreates it under a new id, moves the index and requests a resync', async () => {
    const before = await createdAndActive('lost');
    const oldId = before.graphSubscriptionId!;
    h.clock.advanceTo(before.nextActionAt);
    h.sim.loseSubscription(oldId);
    h.sim.resetCalls();

    const summary = await sweep();

    const after = await h.read('lost');
    const newId = after.graphSubscriptionId!;
    expect(newId).not.toBe(oldId);
    expect(after).toMatchObject({
      status: 'active',
      generation: before.generation + 1,
      resyncReason: 'notFound',
      failureCount: 0,
      lastError: undefined,
    });
    expect(after.resyncRequestedAt).toBeInstanceOf(Date);
    expect(graphCalls().map((c) => [c.kind, c.status])).toEqual([
      ['update', 404],
      ['create', 201],
    ]);
    expect(summary.counts).toEqual({ create: { succeeded: 1 } });
    expect((await h.store.findByGraphId(newId, h.tenantId))?.definition.key).toBe('lost');
    expect(await h.store.findByGraphId(oldId, h.tenantId)).toBeUndefined();
    expect(await h.store.findByGraphId(oldId)).toBeUndefined();
    expect(onGraph(oldId)).toBeUndefined();
    expect(onGraph(newId)).toMatchObject({
      resource: before.definition.resource,
      clientState: before.clientState,
    });
    expect(onGraph(newId)?.expirationDateTime).toEqual(after.expiresAt);
  });

  test('when Graph lost the subscription, then the log shows the failed renew and the create, with both Graph ids', async () => {
    const before = await createdAndActive('lost-logged');
    const oldId = before.graphSubscriptionId!;
    h.clock.advanceTo(before.nextActionAt);
    h.sim.loseSubscription(oldId);
    h.logs.length = 0;

    await sweep();

    const after = await h.read('lost-logged');
    const actions = h.logs.filter((l) => l.properties?.key === 'lost-logged');
    expect(actions.map((l) => l.properties)).toEqual([
      expect.objectContaining({
        action: 'renew',
        outcome: 'failed',
        graphId: oldId,
        status: 404,
        tenantId: h.tenantId,
      }),
      expect.objectContaining({
        action: 'create',
        outcome: 'succeeded',
        graphId: after.graphSubscriptionId,
        tenantId: h.tenantId,
      }),
    ]);
  });
});

describe('sweep: 409 on create', () => {
  test('when Graph already has the subscription with our notification URL, then the pending row adopts it and no second one is created', async () => {
    const row = await h.manage({ key: 'adopt' });
    const existing = await h.deps.graph.create(h.tenantId, {
      resource: row.definition.resource,
      changeType: row.definition.changeType,
      notificationUrl: row.definition.notificationUrl,
      lifecycleNotificationUrl: row.definition.lifecycleNotificationUrl,
      expirationDateTime: new Date(h.clock.now().getTime() + 60 * minute),
      clientState: row.clientState,
    });
    h.sim.resetCalls();

    await sweep();

    const after = await h.read('adopt');
    expect(after).toMatchObject({
      status: 'active',
      graphSubscriptionId: existing.id,
      generation: 1,
      resyncRequestedAt: undefined,
      lastError: undefined,
    });
    expect(graphCalls().map((c) => [c.kind, c.status])).toEqual([
      ['create', 409],
      ['list', 200],
      ['get', 200],
      ['update', 200],
    ]);
    const onSim = h.sim.subscriptions(h.tenantId);
    expect(onSim.filter((s) => s.resource === row.definition.resource)).toHaveLength(1);
    expect(onGraph(existing.id)?.expirationDateTime).toEqual(after.expiresAt);
    expect(after.expiresAt!.getTime()).toBeGreaterThan(existing.expirationDateTime.getTime());
    expect((await h.store.findByGraphId(existing.id, h.tenantId))?.definition.key).toBe('adopt');
  });

  test("when Graph already has the subscription with another notification URL, then the row is failed with Graph's code and the other is left alone", async () => {
    const row = await h.manage({ key: 'taken' });
    const other = await h.deps.graph.create(h.tenantId, {
      resource: row.definition.resource,
      changeType: row.definition.changeType,
      notificationUrl: 'https://someone-else.example.com/api/notify',
      expirationDateTime: new Date(h.clock.now().getTime() + 60 * minute),
      clientState: 'not-ours',
    });
    h.sim.resetCalls();

    const summary = await sweep();

    const after = await h.read('taken');
    expect(after).toMatchObject({
      status: 'failed',
      graphSubscriptionId: undefined,
      failureCount: 1,
    });
    expect(after.lastError).toMatchObject({ code: 'Conflict', status: 409 });
    expect(after.nextActionAt.getTime()).toBeGreaterThan(h.clock.now().getTime());
    expect(graphCalls().map((c) => c.kind)).toEqual(['create', 'list']);
    expect(h.sim.subscriptions(h.tenantId)).toEqual([
      expect.objectContaining({
        id: other.id,
        notificationUrl: 'https://someone-else.example.com/api/notify',
        expirationDateTime: other.expirationDateTime,
      }),
    ]);
    expect(summary.failures).toEqual([
      expect.objectContaining({ key: 'taken', action: 'adopt', code: 'Conflict', status: 409 }),
    ]);
  });
});

describe('sweep: 409 on create, same URL, another clientState', () => {
  test('when Graph has a subscription for our resource and URL with another clientState, then it is not adopted, the row is failed, and the other is left alone', async () => {
    const row = await h.manage({ key: 'lookalike' });
    const other = await h.deps.graph.create(h.tenantId, {
      resource: row.definition.resource,
      changeType: row.definition.changeType,
      notificationUrl: row.definition.notificationUrl,
      lifecycleNotificationUrl: row.definition.lifecycleNotificationUrl,
      expirationDateTime: new Date(h.clock.now().getTime() + 60 * minute),
      clientState: 'another-deployment-s-client-state',
    });
    h.sim.resetCalls();

    await sweep();

    const after = await h.read('lookalike');
    expect(after).toMatchObject({ status: 'failed', graphSubscriptionId: undefined });
    expect(after.lastError).toMatchObject({ code: 'NotOurs', status: 409 });
    expect(graphCalls().map((c) => c.kind)).toEqual(['create', 'list', 'get']);
    expect(onGraph(other.id)?.expirationDateTime).toEqual(other.expirationDateTime);
  });
});

describe('sweep: deleting', () => {
  test('when a subscription is marked deleting, then it is deleted on Graph and its rows are removed', async () => {
    const row = await createdAndActive('bye');
    const id = row.graphSubscriptionId!;
    await markDeleting('bye');
    h.sim.resetCalls();

    await sweep();

    expect(graphCalls()).toEqual([
      expect.objectContaining({ kind: 'delete', subscriptionId: id, status: 204 }),
    ]);
    expect(onGraph(id)).toBeUndefined();
    expect(await h.store.get(h.tenantId, 'bye')).toBeUndefined();
    expect(await h.store.findByGraphId(id, h.tenantId)).toBeUndefined();
    expect(h.logs.map((l) => l.properties)).toContainEqual(
      expect.objectContaining({ key: 'bye', action: 'delete', outcome: 'succeeded', graphId: id }),
    );
  });

  test('when a subscription marked deleting is already gone from Graph, then the 404 counts as deleted and its rows are removed', async () => {
    const row = await createdAndActive('gone');
    const id = row.graphSubscriptionId!;
    h.sim.loseSubscription(id);
    await markDeleting('gone');
    h.sim.resetCalls();

    const summary = await sweep();

    expect(graphCalls()).toEqual([
      expect.objectContaining({ kind: 'delete', subscriptionId: id, status: 404 }),
    ]);
    expect(await h.store.get(h.tenantId, 'gone')).toBeUndefined();
    expect(await h.store.findByGraphId(id, h.tenantId)).toBeUndefined();
    expect(summary.counts).toEqual({ delete: { succeeded: 1 } });
  });

  test('when a subscription marked deleting never reached Graph, then its row is removed without a Graph call', async () => {
    await h.manage({ key: 'never' });
    await markDeleting('never');

    await sweep();

    expect(graphCalls()).toEqual([]);
    expect(await h.store.get(h.tenantId, 'never')).toBeUndefined();
  });

  test('when the delete fails on Graph, then the row stays deleting and a later sweep deletes it', async () => {
    const row = await createdAndActive('stubborn');
    const id = row.graphSubscriptionId!;
    await markDeleting('stubborn');
    h.sim.revokePermission(h.tenantId);

    await sweep();

    const failed = await h.read('stubborn');
    expect(failed.status).toBe('deleting');
    expect(failed.lastError).toMatchObject({ status: 403 });
    expect(onGraph(id)).toBeDefined();

    h.sim.restorePermission(h.tenantId);
    h.clock.advanceTo(failed.nextActionAt);
    await sweep();

    expect(onGraph(id)).toBeUndefined();
    expect(await h.store.get(h.tenantId, 'stubborn')).toBeUndefined();
    // NOTE: never renewed: the owner asked for it to go.
    expect(h.sim.calls().filter((c) => c.kind === 'update')).toEqual([]);
  });
});
