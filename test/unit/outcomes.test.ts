import {
  afterCreated,
  afterFailure,
  afterNothingOwed,
  afterReauthorized,
  afterRenewed,
  classifyFailure,
  defaultOutcomeTimings,
  recordLifecycleEvent,
  type OutcomePolicy,
} from '../../shared/renewal/outcomes';
import type { ManagedSubscription } from '../../shared/subscriptions/model';
import { aSubscription, type SubscriptionOverrides } from '../support/subscriptionMother';

const t0 = new Date('2026-11-22T12:00:00.000Z');
const min = (n: number) => n * 60_000;
const at = (offsetMinutes: number) => new Date(t0.getTime() + min(offsetMinutes));

const policy: OutcomePolicy = {
  sweepPeriodMs: min(5),
  renewalMarginMs: min(5),
  maxLifetimeMinutes: () => 10_080,
  ...defaultOutcomeTimings,
};

function subscription(overrides: SubscriptionOverrides = {}): ManagedSubscription {
  return aSubscription({
    expiresAt: at(60 * 24),
    nextActionAt: t0,
    lastRenewedAt: undefined,
    createdAt: at(-60),
    updatedAt: at(-60),
    ...overrides,
  });
}

describe('classifyFailure', () => {
  test.each([
    [404, 'itemNotFound', 'notFound'],
    [401, 'InvalidAuthenticationToken', 'denied'],
    [403, 'ExtensionError', 'denied'],
    [429, 'TooManyRequests', 'transient'],
    [503, 'serviceNotAvailable', 'transient'],
    [504, 'gatewayTimeout', 'transient'],
    [500, 'generalException', 'transient'],
    [0, 'NetworkError', 'transient'],
    [0, 'Timeout', 'transient'],
    [0, 'InvalidDefinition', 'rejected'],
    [200, 'NotExtended', 'transient'],
    [400, 'ExtensionError', 'rejected'],
    [409, 'Conflict', 'rejected'],
  ])('when Graph answers %i %s, then it is %s', (status, code, expected) => {
    expect(classifyFailure({ status, code, message: 'm' })).toBe(expected);
  });
});

describe('after a success', () => {
  test('when a renewal moved the expiry, then the subscription is active and due at a quarter of its lifetime', () => {
    const next = afterRenewed(
      subscription({
        status: 'failing',
        failureCount: 3,
        lastError: { code: 'x', message: 'y', at: at(-5) },
      }),
      { expirationDateTime: at(10_075) },
      t0,
      t0,
      policy,
    );
    expect(next).toMatchObject({
      status: 'active',
      failureCount: 0,
      lastError: undefined,
      expiresAt: at(10_075),
      lastRenewedAt: t0,
      nextActionAt: at(10_075 - 10_080 / 4),
    });
  });

  test('when Graph answered 200 without moving the expiry, then it is a failure, not a success', () => {
    const sub = subscription({ expiresAt: at(100) });
    const next = afterRenewed(sub, { expirationDateTime: at(100) }, t0, t0, policy);
    expect(next.status).toBe('failing');
    expect(next.lastError?.code).toBe('NotExtended');
    expect(next.expiresAt).toEqual(at(100));
  });

  test('when a removed subscription is recreated, then the generation grows and a resync is requested', () => {
    const sub = subscription({
      status: 'removed',
      graphSubscriptionId: undefined,
      pendingEvent: { name: 'subscriptionRemoved', receivedAt: at(-1) },
    });
    const next = afterCreated(
      sub,
      { id: 'g-2', expirationDateTime: at(10_075) },
      'removed',
      t0,
      t0,
      policy,
    );
    expect(next).toMatchObject({
      status: 'active',
      graphSubscriptionId: 'g-2',
      generation: 2,
      resyncRequestedAt: t0,
      resyncReason: 'subscriptionRemoved',
      pendingEvent: undefined,
    });
  });

  test('when a pending subscription is created the first time, then no resync is requested', () => {
    const sub = subscription({ status: 'pending', graphSubscriptionId: undefined, generation: 0 });
    const next = afterCreated(
      sub,
      { id: 'g-1', expirationDateTime: at(10_075) },
      'pending',
      t0,
      t0,
      policy,
    );
    expect(next.generation).toBe(1);
    expect(next.resyncRequestedAt).toBeUndefined();
  });

  test('when a 404 led to the recreate, then the resync reason says so', () => {
    const sub = subscription({
      status: 'removed',
      graphSubscriptionId: undefined,
      lastError: { code: 'itemNotFound', message: 'gone', status: 404, at: at(-1) },
    });
    const next = afterCreated(
      sub,
      { id: 'g-2', expirationDateTime: at(10_075) },
      'removed',
      t0,
      t0,
      policy,
    );
    expect(next.resyncReason).toBe('notFound');
  });

  test('when a reauthorize succeeded, then the expiry is unchanged and the time is recorded', () => {
    const sub = subscription({ status: 'reauthorizationRequired', expiresAt: at(5000) });
    const next = afterReauthorized(sub, t0, t0, policy);
    expect(next).toMatchObject({ status: 'active', expiresAt: at(5000), lastReauthorizedAt: t0 });
  });

  test('when a lifecycle event arrived while the action ran, then it stays pending and due', () => {
    const startedAt = at(-1);
    const read = subscription({
      pendingEvent: { name: 'subscriptionRemoved', receivedAt: at(-0.5) },
    });
    const next = afterRenewed(read, { expirationDateTime: at(10_075) }, t0, startedAt, policy);
    expect(next).toMatchObject({
      status: 'removed',
      graphSubscriptionId: undefined,
      nextActionAt: at(-0.5),
    });
  });
});

describe('after a failure', () => {
  test('when a renew gets 404, then the subscription is removed and due now for a recreate', () => {
    const next = afterFailure(
      subscription(),
      'renew',
      { status: 404, code: 'itemNotFound', message: 'gone' },
      t0,
      t0,
      policy,
    );
    expect(next).toMatchObject({
      status: 'removed',
      graphSubscriptionId: undefined,
      nextActionAt: t0,
    });
    expect(next.lastError).toMatchObject({ code: 'itemNotFound', status: 404 });
  });

  test('when throttled with Retry-After, then the next attempt waits at least that long', () => {
    const next = afterFailure(
      subscription(),
      'renew',
      { status: 429, code: 'TooManyRequests', message: 'slow down', retryAfterMs: 120_000 },
      t0,
      t0,
      policy,
    );
    expect(next).toMatchObject({ status: 'failing', failureCount: 1, nextActionAt: at(2) });
  });

  test.each([
    [0, 0.5],
    [1, 1],
    [2, 2],
    [5, 15],
  ])('when %i failures came before, then the backoff is %f minutes', (failures, minutes) => {
    const next = afterFailure(
      subscription({ failureCount: failures, expiresAt: at(100_000) }),
      'renew',
      { status: 503, code: 'serviceNotAvailable', message: 'x' },
      t0,
      t0,
      policy,
    );
    expect(next.nextActionAt).toEqual(at(minutes));
  });

  test('when the expiry is near, then the backoff shrinks so a retry still comes before it', () => {
    const next = afterFailure(
      subscription({ failureCount: 5, expiresAt: at(12) }),
      'renew',
      { status: 503, code: 'serviceNotAvailable', message: 'x' },
      t0,
      t0,
      policy,
    );
    expect(next.nextActionAt).toEqual(at(5));
  });

  test('when access is denied, then it is failed with the permissions it needs, retried slowly', () => {
    const next = afterFailure(
      subscription(),
      'renew',
      {
        status: 403,
        code: 'ExtensionError',
        message: 'Access denied',
        requiredPermissions: ['Mail.Read'],
      },
      t0,
      t0,
      policy,
    );
    expect(next).toMatchObject({ status: 'failed', nextActionAt: at(30) });
    expect(next.lastError?.requiredPermissions).toEqual(['Mail.Read']);
  });

  test('when a create is rejected with 400, then it is failed with Graph code and message', () => {
    const next = afterFailure(
      subscription({ status: 'pending', graphSubscriptionId: undefined, expiresAt: undefined }),
      'create',
      { status: 400, code: 'ValidationError', message: 'Subscription validation request failed.' },
      t0,
      t0,
      policy,
    );
    expect(next.status).toBe('failed');
    expect(next.lastError).toMatchObject({ code: 'ValidationError', status: 400 });
  });
});

describe('recordLifecycleEvent', () => {
  test('when reauthorizationRequired arrives, then the status says so and it is due now', () => {
    const next = recordLifecycleEvent(
      subscription({ nextActionAt: at(500) }),
      'reauthorizationRequired',
      t0,
    );
    expect(next).toMatchObject({ status: 'reauthorizationRequired', nextActionAt: t0 });
  });

  test('when subscriptionRemoved arrives, then it is removed and due now for a recreate', () => {
    const next = recordLifecycleEvent(
      subscription({ nextActionAt: at(500) }),
      'subscriptionRemoved',
      t0,
    );
    expect(next).toMatchObject({
      status: 'removed',
      graphSubscriptionId: undefined,
      nextActionAt: t0,
    });
  });

  test('when missed arrives, then a resync is requested and the status is unchanged', () => {
    const next = recordLifecycleEvent(subscription(), 'missed', t0);
    expect(next).toMatchObject({ status: 'active', resyncRequestedAt: t0, resyncReason: 'missed' });
  });

  test('when an unknown event arrives, then it is kept on record and nothing else changes', () => {
    const sub = subscription({ nextActionAt: at(500) });
    const next = recordLifecycleEvent(sub, 'somethingNew', t0);
    expect(next.pendingEvent).toEqual({ name: 'somethingNew', receivedAt: t0 });
    expect(next).toMatchObject({ status: 'active', nextActionAt: at(500) });
  });

  test('when the subscription is being deleted, then a removal does not bring it back', () => {
    const next = recordLifecycleEvent(
      subscription({ status: 'deleting' }),
      'subscriptionRemoved',
      t0,
    );
    expect(next.status).toBe('deleting');
  });
});

describe('afterNothingOwed', () => {
  const failed = { code: 'ExtensionError', message: 'denied', status: 403, at: at(-30) };

  test.each<[string, SubscriptionOverrides, string]>([
    ['failed on Graph', { status: 'failed', failureCount: 2, lastError: failed }, 'active'],
    ['failing on Graph', { status: 'failing', failureCount: 1, lastError: failed }, 'active'],
    ['active', { status: 'active' }, 'active'],
    ['reauthorizationRequired', { status: 'reauthorizationRequired' }, 'reauthorizationRequired'],
    ['failed, not on Graph', { status: 'failed', graphSubscriptionId: undefined }, 'failed'],
  ])('when a due row %s owes Graph nothing, then it becomes %s', (_, overrides, expected) => {
    const next = afterNothingOwed(subscription(overrides), at(60), t0);

    expect(next.status).toBe(expected);
    expect(next.nextActionAt).toEqual(at(60));
    if (expected === 'active') expect([next.failureCount, next.lastError]).toEqual([0, undefined]);
  });
});
