import { HttpRequest, HttpResponse } from '@azure/functions';
import { lifecycleHandler } from '../../functions/lifecycleNotifications';
import { drainIntake } from '../../shared/lifecycle/intake';
import { runSweep } from '../../shared/renewal/sweep';
import type { StoredSubscription } from '../../shared/subscriptions/model';
import { startHarness, type Harness } from '../../devkit/appHarness';
import type { SimulatedCall } from '../../devkit/graphSimulator';
import {
  capturingContext,
  serveHandler,
  type HandlerLogLine,
  type ServedHandler,
} from '../../devkit/lifecycleServer';

/**
 * Each lifecycle event leads to its action on Graph (docs/graph-rules.md#lifecycle-notifications, docs/architecture.md#flows): the
 * Graph simulator POSTs lifecycle notifications to the lifecycle handler served over loopback
 * HTTPS, which runs on the harness's core (Azurite, the simulator, real time).
 */

const otherTenant = '1b2c3d4e-5f60-4718-89ab-cdef01234567';
const minute = 60_000;

let h: Harness;
let server: ServedHandler;

beforeAll(async () => {
  h = await startHarness({ clock: 'real' });
  server = await serveHandler(h.sim.tls, lifecycleHandler(h.deps));
});

afterAll(async () => {
  await server.stop();
  await h.stop();
});

/** Puts definitions under management with our lifecycle URL and creates them on Graph. */
async function onGraph(
  ...defs: Array<{ key: string; tenantId?: string; lifetimeMinutes?: number }>
): Promise<StoredSubscription[]> {
  for (const def of defs) await h.manage({ ...def, lifecycleNotificationUrl: server.url });
  const summary = await runSweep(h.deps, h.deps.sweepOptions);
  expect(summary.counts.create?.succeeded).toBe(defs.length);
  const rows = await Promise.all(defs.map((d) => h.read(d.key, d.tenantId)));
  for (const row of rows) expect(row.graphSubscriptionId).toBeDefined();
  return rows;
}

/** Calls to Graph's subscription API (not the token endpoint). */
function graphCalls(): SimulatedCall[] {
  return h.sim.calls().filter((c) => /^\/(v1\.0|beta)\//.test(c.path));
}

function graphIdOf(row: StoredSubscription): string {
  if (row.graphSubscriptionId === undefined) throw new Error(`${row.definition.key} not on Graph`);
  return row.graphSubscriptionId;
}

describe('lifecycle events from Graph', () => {
  test('when one POST mixes every event across subscriptions, tenants and payload variants, then each leads to its own action', async () => {
    const [reauth, due, removed, missed] = await onGraph(
      { key: 'mixed-reauth' },
      { key: 'mixed-due', lifetimeMinutes: 60 },
      { key: 'mixed-removed' },
      { key: 'mixed-missed', tenantId: otherTenant },
    );
    // 50 minutes on: past the 10-minute window after each create, and the 60-minute one is due.
    h.clock.advance(50 * minute);
    h.sim.resetCalls();
    const invocationsBefore = server.invocations;

    const answers = await h.sim.sendLifecycleEvents([
      { subscriptionId: graphIdOf(reauth!), event: 'reauthorizationRequired' },
      {
        subscriptionId: graphIdOf(due!),
        event: 'reauthorizationRequired',
        variant: 'organizationId',
      },
      {
        subscriptionId: graphIdOf(removed!),
        event: 'subscriptionRemoved',
        variant: 'emptyResource',
      },
      { subscriptionId: graphIdOf(missed!), event: 'missed', variant: 'organizationId' },
    ]);

    expect(answers).toHaveLength(1);
    expect(answers[0]?.status).toBe(202);
    expect(JSON.parse(answers[0]?.body ?? '')).toEqual({ received: 4, queued: 4 });
    // The queue trigger's work (here through the sweep's drain of the same queue).
    expect(await drainIntake(h.deps)).toMatchObject({ messages: 1, items: 4, failed: 0 });

    // On Graph: reauthorize (not due), PATCH (due: also reauthorizes), the GET that confirms the
    // removal, create; nothing for missed.
    const calls = graphCalls().map((c) => ({
      kind: c.kind,
      subscriptionId: c.subscriptionId,
      status: c.status,
    }));
    expect(calls).toEqual(
      expect.arrayContaining([
        { kind: 'reauthorize', subscriptionId: reauth!.graphSubscriptionId, status: 204 },
        { kind: 'update', subscriptionId: due!.graphSubscriptionId, status: 200 },
        { kind: 'get', subscriptionId: removed!.graphSubscriptionId, status: 404 },
        expect.objectContaining({ kind: 'create', status: 201 }),
      ]),
    );
    expect(calls).toHaveLength(4);
    // The create was validated against this endpoint: one handshake besides the event POST.
    expect(server.invocations - invocationsBefore).toBe(2);

    const live = new Map(h.sim.subscriptions().map((s) => [s.id, s]));

    const reauthAfter = await h.read('mixed-reauth');
    expect(reauthAfter).toMatchObject({
      status: 'active',
      graphSubscriptionId: reauth!.graphSubscriptionId,
      expiresAt: reauth!.expiresAt,
      pendingEvent: undefined,
    });
    expect(reauthAfter.lastReauthorizedAt?.getTime()).toBeGreaterThan(reauth!.updatedAt.getTime());
    expect(live.get(graphIdOf(reauth!))?.reauthorizationRequiredAt).toBeNull();

    const dueAfter = await h.read('mixed-due');
    expect(dueAfter).toMatchObject({ status: 'active', pendingEvent: undefined });
    expect(dueAfter.expiresAt!.getTime()).toBeGreaterThan(due!.expiresAt!.getTime());
    expect(live.get(graphIdOf(due!))?.expirationDateTime).toEqual(dueAfter.expiresAt);
    expect(live.get(graphIdOf(due!))?.reauthorizationRequiredAt).toBeNull();

    const removedAfter = await h.read('mixed-removed');
    expect(removedAfter).toMatchObject({
      status: 'active',
      generation: 2,
      resyncReason: 'subscriptionRemoved',
      pendingEvent: undefined,
    });
    expect(removedAfter.graphSubscriptionId).not.toBe(removed!.graphSubscriptionId);
    expect(live.has(graphIdOf(removedAfter))).toBe(true);
    expect(live.has(graphIdOf(removed!))).toBe(false);
    expect(removedAfter.resyncRequestedAt).toBeDefined();
    expect(live.get(graphIdOf(removedAfter))?.clientState).toBe(removed!.clientState);

    const missedAfter = await h.read('mixed-missed', otherTenant);
    expect(missedAfter).toMatchObject({
      status: 'active',
      graphSubscriptionId: missed!.graphSubscriptionId,
      expiresAt: missed!.expiresAt,
      resyncReason: 'missed',
      pendingEvent: undefined,
    });
    expect(missedAfter.resyncRequestedAt).toBeDefined();
  });

  test('when an item carries fields Graph does not document, then it is accepted and acted on', async () => {
    const [row] = await onGraph({ key: 'extra-fields' });
    const logs: HandlerLogLine[] = [];
    const body = {
      validationTokens: null,
      value: [
        {
          id: 'lsgTZMr9KwAAA',
          subscriptionId: row!.graphSubscriptionId,
          subscriptionExpirationDateTime: '2026-06-03T10:15:00.0000000+00:00',
          tenantId: h.tenantId,
          organizationId: h.tenantId,
          clientState: row!.clientState,
          lifecycleEvent: 'missed',
          resource: '',
          sequenceNumber: 12,
          resourceData: null,
          futureField: { nested: ['x'] },
        },
      ],
    };
    const request = new HttpRequest({
      method: 'POST',
      url: server.url,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: { string: JSON.stringify(body) },
    });

    const response = new HttpResponse(
      await lifecycleHandler(h.deps)(
        request,
        capturingContext((l) => logs.push(l)),
      ),
    );

    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ received: 1, queued: 1 });
    expect(await drainIntake(h.deps)).toMatchObject({ messages: 1, failed: 0 });
    expect(await h.read('extra-fields')).toMatchObject({ resyncReason: 'missed' });
    expect(logs.filter((l) => l.level === 'warning' || l.level === 'error')).toEqual([]);
  });
});
