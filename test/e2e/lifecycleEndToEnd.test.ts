import { drainIntake } from '../../shared/lifecycle/intake';
import { runSweep } from '../../shared/renewal/sweep';
import type { StoredSubscription } from '../../shared/subscriptions/model';
import {
  azuriteConnectionString,
  simulatorAppSettings,
  startHarness,
  type Harness,
} from '../../devkit/appHarness';
import type { SimulatedCall } from '../../devkit/graphSimulator';
import { startLifecycleHandlerProcess, type ServedHandler } from '../../devkit/lifecycleServer';
import { withoutDeploymentMarker } from '../../shared/drift/deploymentMarker';

/**
 * End to end, as deployed: the production export `lifecycleNotifications` runs in its own Node
 * process with nothing but app settings in its environment (the composition root builds the
 * Table store, the credential and the Graph client from them, as in Azure; the simulator's CA is
 * trusted through NODE_EXTRA_CA_CERTS), served over loopback HTTPS behind a function key. The
 * Graph simulator validates it on create and POSTs lifecycle events to it; the outcome is read
 * on the simulator and in the store the process shares with this test (Azurite).
 */

const minute = 60_000;

let h: Harness;
let endpoint: ServedHandler;

beforeAll(async () => {
  h = await startHarness({ clock: 'real' });
  // NOTE: the handler process runs on the system clock; the simulator follows the harness clock.
  h.clock.advanceTo(new Date());
  endpoint = await startLifecycleHandlerProcess({
    tls: h.sim.tls,
    settings: {
      STORAGE_CONNECTION: azuriteConnectionString(),
      SUBSCRIPTIONS_TABLE: h.config.storage.table,
      LIFECYCLE_QUEUE: h.config.storage.lifecycleQueue,
      ...simulatorAppSettings(h.sim, h.tenantId),
    },
  });
});

afterAll(async () => {
  await endpoint.stop();
  await h.stop();
});

function graphCalls(): SimulatedCall[] {
  return h.sim.calls().filter((c) => /^\/(v1\.0|beta)\//.test(c.path));
}

function graphIdOf(row: StoredSubscription): string {
  if (row.graphSubscriptionId === undefined) throw new Error(`${row.definition.key} not on Graph`);
  return row.graphSubscriptionId;
}

/** The row as if its last PATCH (the create) were 11 minutes old: past the 10-minute rule. */
async function renewedElevenMinutesAgo(key: string): Promise<void> {
  const row = await h.read(key);
  const earliestNow = Math.min(h.clock.now().getTime(), Date.now());
  await h.store.update({ ...row, lastRenewedAt: new Date(earliestNow - 11 * minute) }, row.etag);
}

describe('the deployed lifecycle endpoint', () => {
  let reauth: StoredSubscription;
  let removed: StoredSubscription;
  let missed: StoredSubscription;

  test('when subscriptions are created with the endpoint as lifecycleNotificationUrl, then Graph’s validation handshake to it succeeds', async () => {
    for (const key of ['e2e-reauth', 'e2e-removed', 'e2e-missed']) {
      await h.manage({ key, lifecycleNotificationUrl: endpoint.url });
    }

    const summary = await runSweep(h.deps, h.deps.sweepOptions);

    expect(summary.counts.create).toEqual({ succeeded: 3 });
    // One validation POST per create reached the function (the other URL is not loopback).
    expect(endpoint.invocations).toBe(3);
    reauth = await h.read('e2e-reauth');
    removed = await h.read('e2e-removed');
    missed = await h.read('e2e-missed');
    // NOTE: Graph keeps the URL as created: the endpoint's, with this deployment's marker added.
    const live = h.sim
      .subscriptions()
      .map((s) =>
        s.lifecycleNotificationUrl === null
          ? null
          : withoutDeploymentMarker(s.lifecycleNotificationUrl),
      );
    expect(live).toEqual([endpoint.url, endpoint.url, endpoint.url]);
  });

  test('when Graph posts one event of each kind to it, then each is acted on with the production dependencies', async () => {
    await renewedElevenMinutesAgo('e2e-reauth');
    h.sim.resetCalls();

    const answers = await h.sim.sendLifecycleEvents([
      { subscriptionId: graphIdOf(reauth), event: 'reauthorizationRequired' },
      {
        subscriptionId: graphIdOf(removed),
        event: 'subscriptionRemoved',
        variant: 'organizationId',
      },
      { subscriptionId: graphIdOf(missed), event: 'missed', variant: 'emptyResource' },
    ]);

    expect(answers.map((a) => a.status)).toEqual([202]);
    expect(JSON.parse(answers[0]!.body)).toEqual({ received: 3, queued: 3 });
    // The endpoint only queued them; the queue trigger's work, done here by the sweep's drain.
    expect(graphCalls()).toEqual([]);
    expect(await drainIntake(h.deps)).toMatchObject({ messages: 1, items: 3, failed: 0 });
    const calls = graphCalls().map((c) => ({
      kind: c.kind,
      id: c.subscriptionId,
      status: c.status,
    }));
    expect(calls).toEqual(
      expect.arrayContaining([
        { kind: 'reauthorize', id: reauth.graphSubscriptionId, status: 204 },
        // subscriptionRemoved is confirmed by a GET of the old id before the recreate.
        { kind: 'get', id: removed.graphSubscriptionId, status: 404 },
        expect.objectContaining({ kind: 'create', status: 201 }),
      ]),
    );
    expect(calls).toHaveLength(3);

    expect(await h.read('e2e-reauth')).toMatchObject({
      status: 'active',
      graphSubscriptionId: reauth.graphSubscriptionId,
      pendingEvent: undefined,
    });
    const recreated = await h.read('e2e-removed');
    expect(recreated).toMatchObject({
      status: 'active',
      generation: 2,
      resyncReason: 'subscriptionRemoved',
      pendingEvent: undefined,
    });
    expect(recreated.graphSubscriptionId).not.toBe(removed.graphSubscriptionId);
    const live = h.sim.subscriptions().map((s) => s.id);
    expect(live).toContain(recreated.graphSubscriptionId);
    expect(live).not.toContain(removed.graphSubscriptionId);
    expect(await h.read('e2e-missed')).toMatchObject({
      status: 'active',
      graphSubscriptionId: missed.graphSubscriptionId,
      resyncReason: 'missed',
      pendingEvent: undefined,
    });
  });

  test('when an event comes with a forged clientState, then 202, the row unchanged and no Graph call', async () => {
    const before = await h.read('e2e-missed');
    h.sim.resetCalls();

    const answer = await h.sim.sendLifecycleEvent(graphIdOf(before), 'reauthorizationRequired', {
      clientState: 'forged-by-someone',
    });

    expect(answer.status).toBe(202);
    expect(JSON.parse(answer.body)).toEqual({ received: 1, queued: 1 });
    expect(await drainIntake(h.deps)).toMatchObject({ messages: 1, failed: 0 });
    expect((await h.read('e2e-missed')).etag).toBe(before.etag);
    expect(graphCalls()).toEqual([]);
  });
});
