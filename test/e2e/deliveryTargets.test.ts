import { isGraphError } from '../../shared/graph/graphError';
import { runSweep } from '../../shared/renewal/sweep';
import { startHarness, type Harness } from '../../devkit/appHarness';

/**
 * Subscriptions delivered to Azure Event Hubs and Azure Event Grid, over Azurite and the Graph
 * simulator: created, renewed and recreated like webhooks, with no validation handshake.
 */

const minute = 60_000;
const tenant = '84bd8158-6d4d-4958-8b9f-9d6445542f95';
const eventHub = `EventHub:https://keeper-events.servicebus.windows.net/eventhubname/graph-hub?tenantId=${tenant}`;
const eventGrid =
  'EventGrid:?azuresubscriptionid=8a8a8a8a-4b4b-4c4c-4d4d-12e12e12e12e&resourcegroup=rg-graph&partnertopic=graph-topic&location=westeurope';

let h: Harness;

beforeEach(async () => {
  h = await startHarness({ store: 'table' });
});

afterEach(async () => {
  await h.stop();
});

const sweep = () => runSweep(h.deps, h.deps.sweepOptions);

describe.each([
  ['Event Hubs', eventHub],
  ['Event Grid', eventGrid],
])('delivery through %s', (_, target) => {
  test('when the definition is swept, then it is created, renewed before expiry and recreated after Graph lost it', async () => {
    await h.manage({
      key: 'azure-target',
      resource: 'users',
      changeType: 'updated',
      notificationUrl: target,
      lifecycleNotificationUrl: target,
    });

    await sweep();
    const created = await h.read('azure-target');
    expect(created.status).toBe('active');
    const onGraph = h.sim
      .subscriptions(h.tenantId)
      .find((s) => s.id === created.graphSubscriptionId);
    expect(onGraph).toMatchObject({ notificationUrl: target, lifecycleNotificationUrl: target });

    h.clock.advanceTo(created.nextActionAt);
    await sweep();
    const renewed = await h.read('azure-target');
    expect(renewed.graphSubscriptionId).toBe(created.graphSubscriptionId);
    expect(renewed.expiresAt!.getTime()).toBeGreaterThan(created.expiresAt!.getTime());

    h.clock.advanceTo(renewed.nextActionAt);
    h.sim.loseSubscription(renewed.graphSubscriptionId!);
    await sweep();
    const recreated = await h.read('azure-target');
    expect(recreated).toMatchObject({ status: 'active', generation: renewed.generation + 1 });
    expect(recreated.graphSubscriptionId).not.toBe(renewed.graphSubscriptionId);
    expect(
      h.sim.subscriptions(h.tenantId).find((s) => s.id === recreated.graphSubscriptionId),
    ).toMatchObject({ notificationUrl: target });
  });
});

test('when an Event Hubs address lacks its tenantId, then the simulator refuses it as Graph does', async () => {
  const bad = eventHub.replace(/\?.*$/, '');
  const attempt = h.deps.graph.create(h.tenantId, {
    resource: 'users',
    changeType: 'updated',
    notificationUrl: bad,
    expirationDateTime: new Date(h.clock.now().getTime() + 60 * minute),
    clientState: 'state',
  });
  const error: unknown = await attempt.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isGraphError(error) && error.status).toBe(400);
  expect(isGraphError(error) && error.message).toMatch(/notificationUrl/);
});
