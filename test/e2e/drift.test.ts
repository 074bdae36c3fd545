import { randomUUID } from 'node:crypto';
import { simulatorCredentialOptions } from '../../devkit/graphSimulator';
import { startHarness, type Harness } from '../../devkit/appHarness';
import { withDeploymentMarker } from '../../shared/drift/deploymentMarker';
import { runDriftCheck, type DriftDeps } from '../../shared/drift/driftCheck';
import { TableDriftRecords } from '../../shared/drift/driftRecords';
import { createGraphSubscriptions } from '../../shared/graph/createGraphSubscriptions';
import type { GraphSubscriptions } from '../../shared/graph/graphSubscriptions';
import { healthReport } from '../../shared/operations/health';
import { runSweep } from '../../shared/renewal/sweep';

/**
 * The drift check against Azurite and the Graph simulator: what Graph dropped without a
 * lifecycle event is recreated by the next check (not at renewal), an orphan of this deployment
 * is deleted, another deployment's is reported and left alone, and health shows when each
 * tenant was last checked.
 */

const minute = 60_000;
const hour = 60 * minute;

let h: Harness;
let drift: DriftDeps;

beforeEach(async () => {
  h = await startHarness({ store: 'table', env: { DEPLOYMENT_ID: 'keeper-test' } });
  drift = { ...h.deps, driftRecords: TableDriftRecords.fromConfig(h.config.storage) };
});

afterEach(async () => {
  await h.stop();
});

const sweep = () => runSweep(h.deps, h.deps.sweepOptions);

/** A Graph client that marks nothing: another deployment, or a script, creating directly. */
function unmarkedGraph(): GraphSubscriptions {
  return createGraphSubscriptions(h.config, {
    clock: h.clock,
    credentialOptions: simulatorCredentialOptions(h.sim),
    trustedCaCertificates: h.sim.tls.ca,
  });
}

function createRequest(lifecycleNotificationUrl?: string) {
  return {
    resource: `users/${randomUUID()}/messages`,
    changeType: 'created',
    notificationUrl: 'https://hooks.example.com/api/notify',
    lifecycleNotificationUrl,
    expirationDateTime: new Date(h.clock.now().getTime() + 24 * hour),
    clientState: `other-${randomUUID()}`,
  };
}

function live(id: string | undefined) {
  return h.sim.subscriptions(h.tenantId).find((s) => s.id === id);
}

describe('drift check', () => {
  test('when Graph drops a 29-day subscription silently, then the next drift check recreates it with a resync request, long before its renewal', async () => {
    await h.manage({
      key: 'drive',
      resource: `drives/${randomUUID()}/root`,
      changeType: 'updated',
    });
    await sweep();
    const before = await h.read('drive');
    expect(before.status).toBe('active');
    // Renewal is weeks away; Graph drops it without a lifecycle event.
    expect(before.nextActionAt.getTime() - h.clock.now().getTime()).toBeGreaterThan(7 * 24 * hour);
    h.sim.loseSubscription(before.graphSubscriptionId!);
    h.clock.advance(hour);

    const summary = await runDriftCheck(drift);

    const after = await h.read('drive');
    expect(summary).toMatchObject({ tenantsChecked: 1, gone: 1, recreated: 1, orphansFound: 0 });
    expect(after.graphSubscriptionId).not.toBe(before.graphSubscriptionId);
    expect(after).toMatchObject({ status: 'active', generation: 2, resyncReason: 'notFound' });
    expect(live(after.graphSubscriptionId)).toBeDefined();
    expect(live(before.graphSubscriptionId)).toBeUndefined();
  });

  test.each(['list', 'get'] as const)(
    'when the %s of a check fails transiently, then the tenant is checked once more in the same run and the drop is recreated',
    async (kind) => {
      await h.manage({
        key: 'drive',
        resource: `drives/${randomUUID()}/root`,
        changeType: 'updated',
      });
      await sweep();
      const before = await h.read('drive');
      h.sim.loseSubscription(before.graphSubscriptionId!);
      h.clock.advance(hour);
      // Every attempt of one call (the first and its four retries) answers 500.
      h.sim.injectFault({ match: { kind }, status: 500, times: 5 });

      const summary = await runDriftCheck(drift);

      const after = await h.read('drive');
      expect(summary).toMatchObject({ tenantsChecked: 1, tenantsLeft: 0, recreated: 1, errors: 0 });
      expect(after).toMatchObject({ status: 'active', resyncReason: 'notFound' });
      expect(live(after.graphSubscriptionId)).toBeDefined();
    },
  );

  test('when a check is aborted after listing a tenant, then the tenant is not recorded as checked', async () => {
    await h.manage({
      key: 'drive',
      resource: `drives/${randomUUID()}/root`,
      changeType: 'updated',
    });
    await sweep();
    h.sim.loseSubscription((await h.read('drive')).graphSubscriptionId!);
    const controller = new AbortController();
    const graph = h.deps.graph;
    // The worker is stopped (host shutdown, a crash) right after the list was read.
    const stoppedAfterList: GraphSubscriptions = Object.assign(
      Object.create(graph) as GraphSubscriptions,
      {
        list: async function* (tenantId: string) {
          yield* graph.list(tenantId);
          controller.abort(new Error('worker stopped'));
        },
      },
    );

    const summary = await runDriftCheck(
      { ...drift, graph: stoppedAfterList },
      { signal: controller.signal },
    );

    expect(summary).toMatchObject({ tenantsChecked: 0, tenantsLeft: 1 });
    expect(await drift.driftRecords.all()).toEqual([]);
  });

  test('when Graph created a subscription and the app crashed before writing the row, then the drift check finds the orphan and deletes it, and the sweep creates one', async () => {
    const pending = await h.manage({ key: 'crashed' });
    // What the reconciler sends, through the app's (marking) client; the write never happens.
    const orphan = await h.deps.graph.create(h.tenantId, {
      ...createRequest(pending.definition.lifecycleNotificationUrl),
      resource: pending.definition.resource,
      changeType: pending.definition.changeType,
      clientState: pending.clientState,
    });
    h.clock.advance(hour);

    const summary = await runDriftCheck(drift);

    expect(summary).toMatchObject({ orphansFound: 1, orphansDeleted: 1, orphansReported: 0 });
    expect(live(orphan.id)).toBeUndefined();
    await sweep();
    const row = await h.read('crashed');
    expect(row.status).toBe('active');
    expect(h.sim.subscriptions(h.tenantId).map((s) => s.id)).toEqual([row.graphSubscriptionId]);
  });

  test("when another deployment's or an unmarked subscription is listed, then it is reported and never deleted", async () => {
    // The check lists the tenants the app keeps subscriptions in.
    await h.manage({ key: 'known' });
    await sweep();
    const graph = unmarkedGraph();
    const lifecycle = h.config.lifecycleNotificationUrl!;
    const foreign = await graph.create(
      h.tenantId,
      createRequest(withDeploymentMarker(lifecycle, 'keeper-other')),
    );
    const unmarked = await graph.create(h.tenantId, createRequest(lifecycle));
    h.clock.advance(hour);

    const first = await runDriftCheck(drift);
    h.clock.advance(hour);
    const second = await runDriftCheck(drift);

    for (const summary of [first, second]) {
      expect(summary).toMatchObject({ orphansFound: 2, orphansReported: 2, orphansDeleted: 0 });
    }
    expect(live(foreign.id)).toBeDefined();
    expect(live(unmarked.id)).toBeDefined();
    const reported = h.logs.filter((l) => l.message === 'orphan subscription on Graph left alone');
    expect(reported.map((l) => l.properties?.kind).sort()).toEqual([
      'foreign',
      'foreign',
      'unmarked',
      'unmarked',
    ]);
    expect(h.sim.calls().filter((c) => c.method === 'DELETE')).toEqual([]);
  });

  test('when nothing changed on Graph, then the check reports no drift and calls nothing but the list', async () => {
    for (const key of ['a', 'b', 'c']) await h.manage({ key });
    await sweep();
    h.clock.advance(hour);
    h.sim.resetCalls();

    const summary = await runDriftCheck(drift);

    expect(summary).toMatchObject({ listed: 3, gone: 0, drifted: 0, orphansFound: 0 });
    const graphCalls = h.sim.calls().filter((c) => c.kind !== 'token' && c.kind !== 'other');
    expect(graphCalls.map((c) => c.kind)).toEqual(['list']);
  });

  test("when a subscription's notification URL was changed on Graph, then it is reported and patched back", async () => {
    await h.manage({ key: 'moved' });
    await sweep();
    const row = await h.read('moved');
    await unmarkedGraph().update(h.tenantId, row.graphSubscriptionId!, {
      notificationUrl: 'https://elsewhere.example.com/api/notify',
    });
    h.clock.advance(hour);
    h.sim.resetCalls();

    const summary = await runDriftCheck(drift);

    expect(summary.drifted).toBe(1);
    expect(live(row.graphSubscriptionId)?.notificationUrl).toBe(row.definition.notificationUrl);
    // Through the one reconciler: a single PATCH, and the row's applied state is the wanted one.
    const patches = h.sim.calls().filter((c) => c.kind === 'update');
    expect(patches.map((c) => [c.subscriptionId, c.status])).toEqual([
      [row.graphSubscriptionId, 200],
    ]);
    const after = await h.read('moved');
    expect(after.applied?.definition.notificationUrl).toBe(row.definition.notificationUrl);
    expect(after.claim).toBeUndefined();
    const warned = h.logs.find((l) => l.message === 'subscription drifted from what was applied');
    expect(warned?.properties).toMatchObject({ key: 'moved', fields: 'notificationUrl' });
  });

  test('when tenants were checked, then health shows when each was last checked, and a tenant left unchecked for two periods makes it unhealthy', async () => {
    const other = randomUUID();
    await h.manage({ key: 'home' });
    await h.manage({ key: 'away', tenantId: other });
    await sweep();
    h.clock.advance(hour);
    const checkStarted = h.clock.now().toISOString();
    await runDriftCheck(drift);
    const deps = { ...h.deps, driftRecords: drift.driftRecords };

    const fresh = await healthReport(deps);

    const shown = fresh.drift?.tenants ?? [];
    expect(shown.map((t) => t.tenantId).sort()).toEqual([h.tenantId, other].sort());
    for (const tenant of shown) {
      expect(tenant.error).toBeNull();
      expect(tenant.lastCheckedAt! >= checkStarted).toBe(true);
    }
    expect(fresh.drift?.notCheckedWithinTwoPeriods).toEqual([]);

    // Only the home tenant is checked from now on (the other's token is refused).
    h.sim.revokePermission(other);
    h.clock.advance(2 * hour + minute);
    await runDriftCheck(drift);
    await sweep();
    const stale = await healthReport(deps);

    expect(stale.drift?.notCheckedWithinTwoPeriods).toEqual([other]);
    expect(stale.reasons).toContain('1 tenant(s) not checked for drift within two drift periods');
  });
});
