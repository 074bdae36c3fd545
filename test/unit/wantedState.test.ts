import { decide, type RenewalPolicy } from '../../shared/renewal/planRenewals';
import type { SubscriptionDefinition } from '../../shared/subscriptions/model';
import {
  appliedDefinitionOf,
  diffDefinitions,
  pendingGraphChange,
} from '../../shared/subscriptions/wantedState';
import { aDefinition, aSubscription } from '../support/subscriptionMother';

const t0 = new Date('2026-11-22T12:00:00.000Z');
const at = (minutes: number) => new Date(t0.getTime() + minutes * 60_000);

const policy: RenewalPolicy = {
  sweepPeriodMs: 5 * 60_000,
  renewalMarginMs: 5 * 60_000,
  maxLifetimeMinutes: () => 10_080,
};

const onGraph = aDefinition({
  key: 'orders',
  resource: 'users/a/messages',
  changeType: 'created',
  notificationUrl: 'https://hooks.example.com/api/notify',
});

/** A row on Graph with `onGraph` applied, the owner now wanting `wanted`, due now. */
function rowWanting(wanted: Partial<SubscriptionDefinition>, overrides = {}) {
  return aSubscription({
    definition: { ...onGraph, ...wanted },
    status: 'active',
    graphSubscriptionId: 'graph-1',
    expiresAt: at(3 * 24 * 60),
    nextActionAt: t0,
    lastRenewedAt: at(-60),
    lastReauthorizedAt: undefined,
    wantedRevision: 2,
    applied: { definition: onGraph, wantedRevision: 1 },
    ...overrides,
  });
}

describe('the planner, wanted against applied', () => {
  test.each([
    ['nothing changed', {}, 'none'],
    ['the notification URL', { notificationUrl: 'https://hooks2.example.com/api/notify' }, 'patch'],
    ['the encryption certificate id', { encryptionCertificateId: 'cert-2' }, 'patch'],
    ['the resource', { resource: 'users/b/messages' }, 'recreate'],
    ['the changeType', { changeType: 'created,updated' }, 'recreate'],
    ['includeResourceData', { includeResourceData: true }, 'recreate'],
    [
      'the lifecycle notification URL',
      { lifecycleNotificationUrl: 'https://keeper.example.com/api/lifecycle2' },
      'recreate',
    ],
    [
      'the payment model in a metered resource URL',
      { resource: 'teams/getAllMessages?model=B' },
      'recreate',
    ],
    ['the TLS version', { latestSupportedTlsVersion: 'v1_3' as const }, 'recreate'],
    [
      'the URL and the resource: a recreate carries both',
      { resource: 'users/b/messages', notificationUrl: 'https://x.example.com/n' },
      'recreate',
    ],
    ['only the lifetime (used at the next renewal)', { lifetimeMinutes: 600 }, 'none'],
  ])('when %s changed, then %s', (_what, wanted, expected) => {
    expect(decide(rowWanting(wanted), t0, policy).kind).toBe(expected);
  });

  test('when the row is not on Graph, then it is created from the wanted definition whatever was applied', () => {
    const row = rowWanting(
      { resource: 'users/b/messages' },
      { status: 'pending', graphSubscriptionId: undefined, applied: undefined },
    );

    expect(decide(row, t0, policy)).toMatchObject({ kind: 'create', reason: 'pending' });
  });

  test('when a URL change meets the 10-minute rule after a reauthorize, then the PATCH waits', () => {
    const row = rowWanting(
      { notificationUrl: 'https://hooks2.example.com/api/notify' },
      { lastReauthorizedAt: at(-3) },
    );

    expect(decide(row, t0, policy)).toEqual({
      kind: 'wait',
      reason: 'reauthorizeSpacing',
      until: at(7),
    });
  });

  test('when the row is backing off after a failed PATCH, then nothing is done before it is due', () => {
    const row = rowWanting(
      { notificationUrl: 'https://hooks2.example.com/api/notify' },
      { nextActionAt: at(10), failureCount: 1, status: 'failing' },
    );

    expect(decide(row, t0, policy).kind).toBe('none');
  });

  test('when the row is being deleted, then it is deleted whatever is wanted', () => {
    const row = rowWanting({ resource: 'users/b/messages' }, { status: 'deleting' });

    expect(decide(row, t0, policy).kind).toBe('delete');
  });
});

describe('rows written before the applied state was kept', () => {
  test('when a row on Graph has no applied state, then its definition is what it applied', () => {
    const legacy = aSubscription({
      definition: onGraph,
      graphSubscriptionId: 'graph-1',
      applied: undefined,
    });

    expect(appliedDefinitionOf(legacy)).toEqual({ definition: onGraph, wantedRevision: 0 });
    expect(pendingGraphChange(legacy)).toBeUndefined();
  });

  test('when a row is not on Graph, then nothing is applied', () => {
    const pending = aSubscription({ graphSubscriptionId: undefined, applied: undefined });

    expect(appliedDefinitionOf(pending)).toBeUndefined();
  });
});

describe('diffDefinitions', () => {
  test('when several fields change, then each is named under what Graph needs for it', () => {
    const diff = diffDefinitions(onGraph, {
      ...onGraph,
      resource: 'users/b/messages',
      notificationUrl: 'https://x.example.com/n',
      lifetimeMinutes: 60,
    });

    expect(diff).toEqual({
      recreate: ['resource'],
      patch: ['notificationUrl'],
      local: ['lifetimeMinutes'],
    });
  });
});
