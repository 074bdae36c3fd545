import {
  isAzureDeliveryTarget,
  notificationTargetProblem,
  parseNotificationTarget,
} from '../../shared/graph/notificationTargets';
import { subscriptionDefinitionSchema, withoutQuery } from '../../shared/subscriptions/model';
import { withDeploymentMarker } from '../../shared/drift/deploymentMarker';

const tenant = '84bd8158-6d4d-4958-8b9f-9d6445542f95';
const eventHub = `EventHub:https://keeper-events.servicebus.windows.net/eventhubname/graph-hub?tenantId=${tenant}`;
const eventHubByDomain =
  'EventHub:https://keeper-events.servicebus.windows.net/eventhubname/graph-hub?tenantId=contoso.onmicrosoft.com';
const eventHubKeyVault =
  'EventHub:https://keeper-vault.vault.azure.net/secrets/hub-connection?tenantId=contoso.onmicrosoft.com';
const eventGrid =
  'EventGrid:?azuresubscriptionid=8a8a8a8a-4b4b-4c4c-4d4d-12e12e12e12e&resourcegroup=rg-graph&partnertopic=graph-topic&location=westeurope';

describe('parseNotificationTarget', () => {
  test.each([
    ['an https webhook', 'https://hooks.example.com/api/notify?code=k', 'webhook'],
    ['an Event Hub (role-based access)', eventHub, 'eventHub'],
    ['an Event Hub named by a tenant domain', eventHubByDomain, 'eventHub'],
    ['an Event Hub through a Key Vault secret', eventHubKeyVault, 'eventHub'],
    ['an Event Grid partner topic', eventGrid, 'eventGrid'],
  ])('when the target is %s, then it is accepted as %s', (_, value, kind) => {
    const parsed = parseNotificationTarget(value);
    expect(parsed.ok && parsed.target.kind).toBe(kind);
  });

  test.each([
    ['plain http', 'http://hooks.example.com/x'],
    ['an Event Hub over http', eventHub.replace('EventHub:https', 'EventHub:http')],
    ['an Event Hub without tenantId', eventHub.replace(/\?.*$/, '')],
    ['an Event Hub on another host', eventHub.replace('servicebus.windows.net', 'example.com')],
    ['an Event Hub without the eventhubname segment', eventHub.replace('/eventhubname', '')],
    ['an Event Hub with an extra query', `${eventHub}&code=x`],
    ['an Event Grid address without location', eventGrid.replace(/&location=[^&]*/, '')],
    ['an Event Grid address with a bad Azure subscription', eventGrid.replace('8a8a8a8a', 'nope')],
    ['an Event Grid address without "?"', eventGrid.replace('EventGrid:?', 'EventGrid:')],
    ['an Event Grid address with an unknown parameter', `${eventGrid}&x=1`],
    // The issue text spelled it azsubscriptionid; Microsoft's pages spell it azuresubscriptionid.
    [
      'an Event Grid address spelling azsubscriptionid',
      eventGrid.replace('azuresubscriptionid', 'azsubscriptionid'),
    ],
  ])('when the target is %s, then a problem is named', (_, value) => {
    expect(notificationTargetProblem(value)).toEqual(expect.any(String));
  });

  test('when a problem is reported, then the value itself is not in it', () => {
    const bad = eventHub.replace('eventhubname', 'secret-value');
    expect(notificationTargetProblem(bad)).not.toContain('secret-value');
  });
});

describe('delivery targets in definitions and views', () => {
  test('when a definition sends to Event Hubs and its lifecycle notifications to Event Grid, then the schema accepts it', () => {
    const parsed = subscriptionDefinitionSchema.safeParse({
      key: 'hub',
      tenantId: tenant,
      resource: 'users',
      changeType: 'updated',
      notificationUrl: eventHub,
      lifecycleNotificationUrl: eventGrid,
    });
    expect(parsed.success).toBe(true);
  });

  test('when a view shows an Azure delivery target, then it is shown whole (it holds ids, no key)', () => {
    expect(isAzureDeliveryTarget(eventGrid)).toBe(true);
    expect(withoutQuery(eventHub)).toBe(eventHub);
    expect(withoutQuery(eventGrid)).toBe(eventGrid);
  });

  test('when a lifecycle URL is an Azure delivery target, then the deployment marker is not added to it', () => {
    expect(withDeploymentMarker(eventGrid, 'd0123456789abcdef')).toBe(eventGrid);
    expect(withDeploymentMarker(eventHub, 'd0123456789abcdef')).toBe(eventHub);
    expect(withDeploymentMarker('https://keeper.example.com/api/lifecycle', 'd1')).toContain(
      'keeperDeployment=d1',
    );
  });
});
