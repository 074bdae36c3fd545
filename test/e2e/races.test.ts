import { randomUUID } from 'node:crypto';
import { subscriptionsApiHandler } from '../../functions/subscriptionsApi';
import type { AppDependencies } from '../../shared/composition';
import { lifecycleHandler } from '../../functions/lifecycleNotifications';
import { recordLifecycleEvent } from '../../shared/renewal/outcomes';
import { drainIntake } from '../../shared/lifecycle/intake';
import { renewalDueAt } from '../../shared/renewal/planRenewals';
import { reconcileSubscription, writeOutcome } from '../../shared/renewal/reconcile';
import { runSweep } from '../../shared/renewal/sweep';
import type { StoredSubscription } from '../../shared/subscriptions/model';
import { sameChangeTypes } from '../../shared/subscriptions/compare';
import { startHarness, type Harness } from '../../devkit/appHarness';
import { invokeHttp, type HttpAnswer } from '../support/httpInvocation';

/**
 * The app raced against itself on Azurite and the Graph simulator over HTTPS: in one worker (every
 * request on the same dependencies, as one Functions worker runs the timer, the lifecycle
 * function and the admin API) and across workers (each request on another instance). After each
 * race: one row per key, exactly one live Graph subscription per key (none after a delete), no
 * orphan on the simulator, and at most one Graph write per due action.
 */

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ simulator: { throttling: false } });
});

afterAll(async () => {
  await h.stop();
});

type Workers = 'one worker' | 'across workers';
const workerModes: Workers[] = ['one worker', 'across workers'];

function depsFor(mode: Workers): () => AppDependencies {
  return mode === 'one worker' ? () => h.deps : () => h.anotherInstance();
}

function put(deps: AppDependencies, key: string, definition: unknown): Promise<HttpAnswer> {
  return invokeHttp(
    subscriptionsApiHandler(deps),
    { method: 'PUT', path: `/api/subscriptions/${key}`, params: { key }, json: definition },
    'subscriptionsApi',
  );
}

function del(deps: AppDependencies, key: string): Promise<HttpAnswer> {
  return invokeHttp(
    subscriptionsApiHandler(deps),
    { method: 'DELETE', path: `/api/subscriptions/${key}`, params: { key } },
    'subscriptionsApi',
  );
}

function mail(resource: string, overrides: Record<string, unknown> = {}) {
  return {
    tenantId: h.tenantId,
    resource,
    changeType: 'created,updated',
    notificationUrl: 'https://hooks.example.com/api/notify',
    ...overrides,
  };
}

/** A mail subscription put under management, with the clock moved to just past its renewal. */
async function mailDueForRenewal(deps: AppDependencies, prefix: string) {
  const key = `${prefix}-${randomUUID().slice(0, 8)}`;
  const resource = `users/${randomUUID()}/messages`;
  await put(deps, key, mail(resource));
  const created = await h.read(key);
  const dueAt = renewalDueAt(created.definition, created.expiresAt ?? h.clock.now(), h.deps.policy);
  h.clock.advance(dueAt.getTime() - h.clock.now().getTime() + 1);
  return { key, resource, created };
}

async function rowsWithKey(key: string): Promise<StoredSubscription[]> {
  const rows: StoredSubscription[] = [];
  let continuationToken: string | undefined;
  do {
    const page = await h.store.list({ pageSize: 1000, continuationToken });
    rows.push(...page.items.filter((r) => r.definition.key === key));
    continuationToken = page.continuationToken;
  } while (continuationToken !== undefined);
  return rows;
}

/** What is left due after the race, reconciled once more (what the next sweep would do). */
async function settle(key: string): Promise<void> {
  for (let round = 0; round < 3; round++) {
    const row = await h.store.findByKey(key);
    if (row === undefined) return;
    await reconcileSubscription(h.deps, row);
  }
}

async function expectNoOrphanOnGraph(): Promise<void> {
  const page = await h.store.list({ pageSize: 1000 });
  const known = new Set(page.items.map((r) => r.graphSubscriptionId));
  expect(h.sim.subscriptions().filter((s) => !known.has(s.id))).toEqual([]);
}

async function expectOneLive(key: string, resource: string): Promise<StoredSubscription> {
  const rows = await rowsWithKey(key);
  expect(rows).toHaveLength(1);
  const [row] = rows;
  const live = h.sim.subscriptions().filter((s) => s.resource === resource);
  expect(live.map((s) => s.id)).toEqual([row?.graphSubscriptionId]);
  expect(sameChangeTypes(live[0]?.changeType ?? '', row?.definition.changeType ?? '')).toBe(true);
  await expectNoOrphanOnGraph();
  return row as StoredSubscription;
}

function writes(kind: 'create' | 'update' | 'reauthorize' | 'delete', resourceId?: string) {
  return h.sim
    .calls()
    .filter(
      (c) => c.kind === kind && (resourceId === undefined || c.subscriptionId === resourceId),
    );
}

describe.each(workerModes)('races, %s', (mode) => {
  const deps = depsFor(mode);

  test('when 50 PUTs of one key alternate its changeType, then one row and one live Graph subscription with the stored changeType', async () => {
    const key = `alt-${randomUUID().slice(0, 8)}`;
    const resource = `users/${randomUUID()}/messages`;
    await put(deps(), key, mail(resource, { changeType: 'created' }));
    h.sim.resetCalls();

    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        put(
          deps(),
          key,
          mail(resource, { changeType: i % 2 === 0 ? 'created,updated' : 'created' }),
        ),
      ),
    );
    await settle(key);

    expect(answers.filter((a) => a.status >= 500)).toEqual([]);
    const row = await expectOneLive(key, resource);
    expect(row.applied?.definition.changeType).toBe(row.definition.changeType);
    // Each applied change is one delete and one create (Graph cannot PATCH a changeType): the
    // first subscription and every create but the live one were deleted, each Graph id once,
    // and no write met a 404 or a 409.
    const creates = writes('create').filter((c) => c.status === 201);
    const deletes = writes('delete').filter((c) => c.status < 300);
    expect(creates.length).toBe(deletes.length);
    expect(new Set(deletes.map((c) => c.subscriptionId)).size).toBe(deletes.length);
    expect(h.sim.calls().filter((c) => c.status === 404 || c.status === 409)).toEqual([]);
    expect(writes('update')).toEqual([]);
  });

  test('when 50 identical PUTs of a new key arrive at once, then Graph gets exactly one create', async () => {
    const key = `same-${randomUUID().slice(0, 8)}`;
    const resource = `users/${randomUUID()}/messages`;
    h.sim.resetCalls();

    const answers = await Promise.all(
      Array.from({ length: 50 }, () => put(deps(), key, mail(resource))),
    );
    await settle(key);

    expect(answers.filter((a) => a.status >= 400)).toEqual([]);
    await expectOneLive(key, resource);
    expect(writes('create').map((c) => c.status)).toEqual([201]);
    expect(writes('update')).toEqual([]);
  });

  test('when one key is PUT in 50 tenants at once, then one 201, 409 KeyInUse for the rest, one row and one Graph subscription', async () => {
    const key = `tenants-${randomUUID().slice(0, 8)}`;
    const resource = `users/${randomUUID()}/messages`;
    const tenants = Array.from({ length: 50 }, () => randomUUID());
    h.sim.resetCalls();

    const answers = await Promise.all(
      tenants.map((tenantId) => put(deps(), key, mail(resource, { tenantId }))),
    );

    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    const refused = answers.filter((a) => a.status === 409);
    expect(refused).toHaveLength(49);
    expect(refused.every((a) => JSON.stringify(a.body).includes('KeyInUse'))).toBe(true);
    await expectOneLive(key, resource);
    expect(writes('create').map((c) => c.status)).toEqual([201]);
    expect((await h.store.findByKey(key))?.definition.tenantId).toBe(
      tenants[answers.findIndex((a) => a.status === 201)],
    );
  });

  test('when a sweep renewal races a reauthorizationRequired event, then Graph gets one write', async () => {
    const { key, resource, created } = await mailDueForRenewal(deps(), 'sweep-life');
    // The lifecycle function records the event on the row, then reconciles it.
    const recorded = await writeOutcome(h.deps, created, (sub, now) =>
      recordLifecycleEvent(sub, 'reauthorizationRequired', now),
    );
    h.sim.resetCalls();
    const graphId = created.graphSubscriptionId;

    await Promise.all([
      runSweep(deps(), h.deps.sweepOptions),
      reconcileSubscription(deps(), recorded as StoredSubscription),
    ]);

    const graphWrites = [...writes('update', graphId), ...writes('reauthorize', graphId)];
    expect(graphWrites.map((c) => c.status)).toEqual([200]);
    await expectOneLive(key, resource);
  });

  test("when Graph's reauthorizationRequired POST is drained from the intake queue while a sweep renews, then at most one write per due action and the event is answered", async () => {
    const { key, resource, created } = await mailDueForRenewal(deps(), 'intake-race');
    // Graph's POST to the lifecycle endpoint: queued (202), then the queue trigger acts on it.
    const accepted = await invokeHttp(
      lifecycleHandler(deps()),
      {
        method: 'POST',
        path: '/api/lifecycle',
        json: {
          value: [
            {
              subscriptionId: created.graphSubscriptionId,
              subscriptionExpirationDateTime: created.expiresAt?.toISOString(),
              tenantId: created.definition.tenantId,
              clientState: created.clientState,
              lifecycleEvent: 'reauthorizationRequired',
            },
          ],
        },
      },
      'lifecycleNotifications',
    );
    expect(accepted.status).toBe(202);
    h.sim.resetCalls();
    const graphId = created.graphSubscriptionId;

    const [, drained] = await Promise.all([
      runSweep(deps(), h.deps.sweepOptions),
      drainIntake(deps()),
    ]);

    await settle(key);

    expect(drained).toMatchObject({ items: 1, failed: 0, poisoned: 0 });
    // Two due actions (the renewal, the event): at most one write each, never a reauthorize
    // and a PATCH together (a PATCH reauthorizes too; docs/lifecycle.md).
    const patches = writes('update', graphId);
    const reauthorizations = writes('reauthorize', graphId);
    expect(patches.length + reauthorizations.length).toBeLessThanOrEqual(2);
    expect(patches.length).toBeGreaterThanOrEqual(1);
    expect(reauthorizations.length === 0 || patches.length === 0).toBe(true);
    const after = await h.read(key);
    expect([after.status, after.pendingEvent]).toEqual(['active', undefined]);
    await expectOneLive(key, resource);
  });

  test('when a DELETE races a sweep renewal, then the row and the Graph subscription are gone', async () => {
    const { key, resource, created } = await mailDueForRenewal(deps(), 'del-sweep');
    h.sim.resetCalls();

    const [answer] = await Promise.all([del(deps(), key), runSweep(deps(), h.deps.sweepOptions)]);
    await settle(key);

    expect([200, 202]).toContain(answer.status);
    expect(await rowsWithKey(key)).toEqual([]);
    expect(h.sim.subscriptions().filter((s) => s.resource === resource)).toEqual([]);
    expect(
      writes('delete', created.graphSubscriptionId).filter((c) => c.status < 300),
    ).toHaveLength(1);
    // The due renewal is one write at most, and nothing is created again after the delete.
    expect(writes('update', created.graphSubscriptionId).length).toBeLessThanOrEqual(1);
    expect(writes('create')).toEqual([]);
    await expectNoOrphanOnGraph();
  });
});
