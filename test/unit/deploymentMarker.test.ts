import type { GraphSubscription } from '../../shared/graph/graphSubscriptions';
import {
  defaultDeploymentId,
  deploymentMarkerOf,
  withDeploymentMarker,
  withoutDeploymentMarker,
} from '../../shared/drift/deploymentMarker';
import { differencesFromGraph } from '../../shared/subscriptions/compare';
import { aSubscription } from '../support/subscriptionMother';

describe('the deployment marker', () => {
  test('when a lifecycle URL with a function key is marked, then the key stays and the marker reads back', () => {
    const marked = withDeploymentMarker(
      'https://keeper.example.com/api/lifecycle?code=k1',
      'prod-eu',
    );
    expect(new URL(marked).searchParams.get('code')).toBe('k1');
    expect(deploymentMarkerOf(marked)).toBe('prod-eu');
    expect(withoutDeploymentMarker(marked)).toBe(
      'https://keeper.example.com/api/lifecycle?code=k1',
    );
  });

  test('when a URL without a query is marked and unmarked, then it is as the owner gave it', () => {
    const url = 'https://keeper.example.com/api/lifecycle';
    expect(withoutDeploymentMarker(withDeploymentMarker(url, 'a'))).toBe(url);
    expect(deploymentMarkerOf(url)).toBeUndefined();
    expect(deploymentMarkerOf(null)).toBeUndefined();
  });

  test('when the account key rotates, then the default id stays; another table gets another id', () => {
    const before = defaultDeploymentId(
      'DefaultEndpointsProtocol=https;AccountName=keeperprod;AccountKey=b2xkLWtleQ==;EndpointSuffix=core.windows.net',
      'subscriptions',
    );
    const after = defaultDeploymentId(
      'DefaultEndpointsProtocol=https;AccountName=keeperprod;AccountKey=bmV3LWtleQ==;EndpointSuffix=core.windows.net',
      'subscriptions',
    );
    expect(after).toBe(before);
    expect(before).toMatch(/^d[0-9a-f]{15}$/);
    expect(defaultDeploymentId('https://keeperprod.table.core.windows.net', 'subscriptions')).toBe(
      before,
    );
    expect(defaultDeploymentId('https://keeperprod.table.core.windows.net', 'other')).not.toBe(
      before,
    );
  });
});

describe('differencesFromGraph', () => {
  const sub = aSubscription({
    definition: {
      resource: 'users/4f2d7b9e-8a61-4c1b-9d0e-2b7c5a3f1e10/messages',
      lifecycleNotificationUrl: 'https://keeper.example.com/api/lifecycle?code=k1',
    },
    expiresAt: new Date('2026-06-04T12:00:00.123Z'),
  });
  const asListed = (overrides: Partial<GraphSubscription> = {}): GraphSubscription => ({
    id: sub.graphSubscriptionId ?? '',
    resource: `/${sub.definition.resource}`,
    changeType: 'updated,created',
    notificationUrl: sub.definition.notificationUrl,
    lifecycleNotificationUrl: withDeploymentMarker(
      sub.definition.lifecycleNotificationUrl ?? '',
      'prod-eu',
    ),
    // Graph's seven fractional digits, parsed by the client to the millisecond.
    expirationDateTime: new Date('2026-06-04T12:00:00.1234567Z'),
    clientState: null,
    includeResourceData: false,
    encryptionCertificateId: '',
    latestSupportedTlsVersion: 'v1_2',
    applicationId: null,
    creatorId: null,
    ...overrides,
  });

  test('when Graph lists an unchanged subscription its own way, then there is no difference', () => {
    expect(differencesFromGraph(sub, asListed())).toEqual([]);
  });

  test.each<[string, Partial<GraphSubscription>]>([
    ['notificationUrl', { notificationUrl: 'https://elsewhere.example.com/api/notify' }],
    ['encryptionCertificateId', { encryptionCertificateId: 'cert-2027' }],
    ['expirationDateTime', { expirationDateTime: new Date('2026-06-02T12:00:00Z') }],
    ['lifecycleNotificationUrl', { lifecycleNotificationUrl: null }],
  ])('when %s differs on Graph, then it is the difference reported', (field, change) => {
    expect(differencesFromGraph(sub, asListed(change)).map((d) => d.field)).toEqual([field]);
  });

  test('when the lifecycle URL differs, then the difference shows no query value', () => {
    const [difference] = differencesFromGraph(
      sub,
      asListed({ lifecycleNotificationUrl: 'https://keeper.example.com/api/other?code=k2' }),
    );
    expect(JSON.stringify(difference)).not.toMatch(/k1|k2/);
  });
});
