import {
  decide,
  expiryFor,
  planRenewals,
  renewalDueAt,
  type RenewalPolicy,
} from '../../shared/renewal/planRenewals';
import type { ManagedSubscription, SubscriptionDefinition } from '../../shared/subscriptions/model';
import {
  aDefinition,
  aSubscription,
  type SubscriptionOverrides,
} from '../support/subscriptionMother';

const t0 = new Date('2026-11-22T12:00:00.000Z');
const min = (n: number) => n * 60_000;
const at = (offsetMinutes: number) => new Date(t0.getTime() + min(offsetMinutes));

/** Lifetimes by resource, as the Graph module's table gives them (outlook 10,080, presence 60). */
const policy: RenewalPolicy = {
  sweepPeriodMs: min(5),
  renewalMarginMs: min(5),
  maxLifetimeMinutes: (d) => (d.resource.startsWith('communications/presences') ? 60 : 10_080),
};

function definition(overrides: Partial<SubscriptionDefinition> = {}): SubscriptionDefinition {
  return aDefinition(overrides);
}

function subscription(overrides: SubscriptionOverrides = {}): ManagedSubscription {
  return aSubscription({
    expiresAt: at(7 * 24 * 60),
    nextActionAt: t0,
    lastRenewedAt: undefined,
    createdAt: at(-60),
    updatedAt: at(-60),
    ...overrides,
  });
}

describe('expiryFor and renewalDueAt', () => {
  test.each([
    ['outlook mail', definition(), min(10_080 - 5), min(10_080 / 4)],
    ['presence', definition({ resource: 'communications/presences?$filter=x' }), min(55), min(20)],
    [
      'a 50-minute lifetime, clamped to the 45-minute floor',
      definition({ lifetimeMinutes: 50 }),
      min(45),
      min(20),
    ],
    [
      'a 30-minute lifetime, never above what was asked',
      definition({ lifetimeMinutes: 30 }),
      min(30),
      min(15),
    ],
    [
      'a lifetime over the maximum, capped',
      definition({ resource: 'communications/presences', lifetimeMinutes: 600 }),
      min(55),
      min(20),
    ],
  ])(
    'when the subscription is %s, then the new expiry and renewal lead follow the policy',
    (_name, def, expiryMs, leadMs) => {
      const expiry = expiryFor(def, t0, policy);
      expect(expiry.getTime() - t0.getTime()).toBe(expiryMs);
      expect(expiry.getTime() - renewalDueAt(def, expiry, policy).getTime()).toBe(leadMs);
    },
  );

  test('when four sweep periods exceed a quarter of the lifetime, then renewal is due four periods before expiry', () => {
    const def = definition({ resource: 'communications/presences' });
    expect(renewalDueAt(def, at(60), policy)).toEqual(at(40));
  });

  test('when four sweep periods exceed half the lifetime, then renewal is due half a lifetime before expiry', () => {
    const slowSweep = { ...policy, sweepPeriodMs: min(10) };
    const def = definition({ resource: 'communications/presences' });
    expect(renewalDueAt(def, at(60), slowSweep)).toEqual(at(30));
  });

  test('when two sweep periods exceed half the lifetime, then renewal is still due two periods before expiry', () => {
    const slowestSweep = { ...policy, sweepPeriodMs: min(15) };
    const def = definition({ lifetimeMinutes: 50 });
    expect(renewalDueAt(def, at(50), slowestSweep)).toEqual(at(20));
  });
});

describe('decide', () => {
  test.each<[string, Partial<ManagedSubscription>, ReturnType<typeof decide>]>([
    [
      'pending',
      { status: 'pending', graphSubscriptionId: undefined, expiresAt: undefined },
      { kind: 'create', reason: 'pending', expirationDateTime: at(10_075) },
    ],
    [
      'removed by Graph',
      { status: 'removed', graphSubscriptionId: undefined },
      { kind: 'create', reason: 'removed', expirationDateTime: at(10_075) },
    ],
    [
      'expired on Graph',
      { expiresAt: at(-1) },
      { kind: 'create', reason: 'expired', expirationDateTime: at(10_075) },
    ],
    ['deleting', { status: 'deleting' }, { kind: 'delete' }],
    ['not due yet', { nextActionAt: at(1) }, { kind: 'none', nextActionAt: at(1) }],
    [
      'due with a quarter of its lifetime left',
      { expiresAt: at(10_080 / 4) },
      { kind: 'renew', reason: 'due', expirationDateTime: at(10_075) },
    ],
    [
      'due but with more than a quarter left',
      { expiresAt: at(10_080 / 4 + 1) },
      { kind: 'none', nextActionAt: at(1) },
    ],
    [
      'failing and due again',
      { status: 'failing', failureCount: 2, expiresAt: at(100) },
      { kind: 'renew', reason: 'due', expirationDateTime: at(10_075) },
    ],
    [
      'failed (403) and due for its slow retry',
      { status: 'failed', expiresAt: at(100) },
      { kind: 'renew', reason: 'due', expirationDateTime: at(10_075) },
    ],
    [
      'claimed by another writer',
      { claim: { owner: 'other', until: at(2) } },
      { kind: 'wait', reason: 'claimed', until: at(2) },
    ],
    [
      'claimed, but the claim expired',
      {
        status: 'pending',
        graphSubscriptionId: undefined,
        claim: { owner: 'other', until: at(-1) },
      },
      { kind: 'create', reason: 'pending', expirationDateTime: at(10_075) },
    ],
  ])('when the subscription is %s, then the decision follows', (_name, overrides, expected) => {
    expect(decide(subscription(overrides), t0, policy)).toEqual(expected);
  });

  describe('reauthorizationRequired and the 10-minute rule', () => {
    const asked = { status: 'reauthorizationRequired' as const };

    test('when not due for renewal, then it is answered by a reauthorize', () => {
      expect(decide(subscription(asked), t0, policy)).toEqual({ kind: 'reauthorize' });
    });

    test('when due for renewal, then it is answered by a renew PATCH, which also reauthorizes', () => {
      expect(decide(subscription({ ...asked, expiresAt: at(100) }), t0, policy)).toEqual({
        kind: 'renew',
        reason: 'reauthorizationRequired',
        expirationDateTime: at(10_075),
      });
    });

    test('when a renew PATCH succeeded 4 minutes ago, then the event is answered at once with another PATCH, not a reauthorize', () => {
      const sub = subscription({ ...asked, lastRenewedAt: at(-4) });
      expect(decide(sub, t0, policy)).toEqual({
        kind: 'renew',
        reason: 'reauthorizationRequired',
        expirationDateTime: expiryFor(sub.definition, t0, policy),
      });
    });

    test('when a renew PATCH succeeded 10 minutes ago, then the reauthorize goes ahead', () => {
      expect(decide(subscription({ ...asked, lastRenewedAt: at(-10) }), t0, policy)).toEqual({
        kind: 'reauthorize',
      });
    });

    test('when a reauthorize succeeded 3 minutes ago and renewal is due, then the renew waits', () => {
      const sub = subscription({ expiresAt: at(100), lastReauthorizedAt: at(-3) });
      expect(decide(sub, t0, policy)).toEqual({
        kind: 'wait',
        reason: 'reauthorizeSpacing',
        until: at(7),
      });
    });

    test('when waiting out the window would let it expire, then it renews at once', () => {
      const sub = subscription({ expiresAt: at(8), lastReauthorizedAt: at(-3) });
      expect(decide(sub, t0, policy)).toMatchObject({ kind: 'renew' });
    });

    test('when the event is pending but the status moved to failing, then it is still answered', () => {
      const sub = subscription({
        status: 'failing',
        pendingEvent: { name: 'reauthorizationRequired', receivedAt: at(-1) },
      });
      expect(decide(sub, t0, policy)).toEqual({ kind: 'reauthorize' });
    });
  });
});

describe('planRenewals', () => {
  test('when given a mixed set, then each subscription gets its own decision in order', () => {
    const plan = planRenewals(
      [
        subscription({ status: 'pending', graphSubscriptionId: undefined }),
        subscription({ nextActionAt: at(5) }),
      ],
      t0,
      policy,
    );
    expect(plan.map((p) => p.decision.kind)).toEqual(['create', 'none']);
  });
});
