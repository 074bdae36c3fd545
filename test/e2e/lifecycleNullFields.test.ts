import { HttpRequest, HttpResponse } from '@azure/functions';
import { lifecycleHandler } from '../../functions/lifecycleNotifications';
import { drainIntake } from '../../shared/lifecycle/intake';
import { runSweep } from '../../shared/renewal/sweep';
import type { StoredSubscription } from '../../shared/subscriptions/model';
import { startHarness, type Harness } from '../../devkit/appHarness';
import { capturingContext, type HandlerLogLine } from '../../devkit/lifecycleServer';

/**
 * Real lifecycle payloads carry `null` for unset fields (Graph's SDK models type them as
 * nullable: https://learn.microsoft.com/graph/api/resources/changenotification). Such a payload
 * goes through the whole lifecycle handler (real `HttpRequest`, Azurite, the Graph simulator):
 * 202, and every event is acted on by the intake queue's run; an unusable item beside them is skipped, not a 400.
 */

const url = 'https://keeper.example.com/api/lifecycle?code=function-key';

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ clock: 'real' });
});

afterAll(async () => {
  await h.stop();
});

async function onGraph(...keys: string[]): Promise<StoredSubscription[]> {
  for (const key of keys) await h.manage({ key });
  await runSweep(h.deps, h.deps.sweepOptions);
  const rows = await Promise.all(keys.map((k) => h.read(k)));
  for (const row of rows) expect(row.graphSubscriptionId).toBeDefined();
  return rows;
}

/** Every nullable field of a changeNotification, null. */
function nullItem(row: StoredSubscription, overrides: Record<string, unknown>) {
  return {
    id: null,
    subscriptionId: row.graphSubscriptionId,
    subscriptionExpirationDateTime: null,
    changeType: null,
    resource: null,
    resourceData: null,
    encryptedContent: null,
    tenantId: null,
    organizationId: null,
    clientState: row.clientState,
    lifecycleEvent: 'reauthorizationRequired',
    ...overrides,
  };
}

async function post(body: unknown) {
  const logs: HandlerLogLine[] = [];
  const response = new HttpResponse(
    await lifecycleHandler(h.deps)(
      new HttpRequest({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/json' },
        body: { string: JSON.stringify(body) },
      }),
      capturingContext((l) => logs.push(l)),
    ),
  );
  return { status: response.status, body: await response.json(), logs };
}

describe('lifecycle payloads with null fields', () => {
  test('when every event arrives with null fields and an unusable item beside them, then 202, each event is acted on, and the bad item is skipped', async () => {
    const [reauth, removed, missed] = await onGraph('null-reauth', 'null-removed', 'null-missed');
    h.sim.loseSubscription(removed!.graphSubscriptionId!);
    // NOTE: past the 10 minutes after each write, so the reauthorize is sent at once.
    h.clock.advance(50 * 60_000);
    h.sim.resetCalls();

    const answer = await post({
      validationTokens: null,
      value: [
        nullItem(reauth!, { tenantId: reauth!.definition.tenantId }),
        nullItem(removed!, {
          organizationId: removed!.definition.tenantId,
          lifecycleEvent: 'subscriptionRemoved',
        }),
        nullItem(missed!, { lifecycleEvent: 'missed' }),
        { subscriptionId: null, lifecycleEvent: 'missed', clientState: null },
      ],
    });

    expect(answer.status).toBe(202);
    expect(answer.body).toEqual({ received: 3, queued: 3 });
    const skipped = answer.logs.filter((l) => l.message === 'lifecycle item skipped');
    expect(skipped.map((l) => l.properties?.index)).toEqual([3]);
    // NOTE: the queue trigger's work, as the sweep's drain does it.
    expect(await drainIntake(h.deps)).toMatchObject({ messages: 1, failed: 0, items: 3 });

    const calls = h.sim
      .calls()
      .filter((c) => /^\/(v1\.0|beta)\//.test(c.path))
      .map((c) => ({ kind: c.kind, subscriptionId: c.subscriptionId, status: c.status }));
    expect(calls).toEqual(
      expect.arrayContaining([
        { kind: 'reauthorize', subscriptionId: reauth!.graphSubscriptionId, status: 204 },
        // The removal is confirmed by a GET of the old id before the recreate.
        { kind: 'get', subscriptionId: removed!.graphSubscriptionId, status: 404 },
        expect.objectContaining({ kind: 'create', status: 201 }),
      ]),
    );
    expect(calls).toHaveLength(3);

    expect(await h.read('null-reauth')).toMatchObject({
      status: 'active',
      pendingEvent: undefined,
    });
    const removedAfter = await h.read('null-removed');
    expect(removedAfter).toMatchObject({
      status: 'active',
      generation: 2,
      resyncReason: 'subscriptionRemoved',
    });
    expect(removedAfter.graphSubscriptionId).not.toBe(removed!.graphSubscriptionId);
    expect(await h.read('null-missed')).toMatchObject({ resyncReason: 'missed' });
  });
});
