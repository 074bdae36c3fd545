import { decide, type RenewalPolicy } from '../../shared/renewal/planRenewals';
import { claimHeldUntil, newClaimOwner } from '../../shared/subscriptions/claims';
import { aSubscription } from '../support/subscriptionMother';

const t0 = new Date('2026-11-22T12:00:00.000Z');
const at = (minutes: number) => new Date(t0.getTime() + minutes * 60_000);
const ttlMs = 2 * 60_000;

const policy: RenewalPolicy = {
  sweepPeriodMs: 5 * 60_000,
  renewalMarginMs: 5 * 60_000,
  maxLifetimeMinutes: () => 10_080,
};

describe('claimHeldUntil: the one "held by someone else" rule', () => {
  test.each([
    ['no claim', undefined, at(-1), undefined],
    ['a live claim', { owner: 'w1/a', until: at(1) }, at(0), at(1)],
    ['an expired claim', { owner: 'w1/a', until: at(-1) }, at(-2), undefined],
    ['a claim ending exactly now', { owner: 'w1/a', until: at(0) }, at(-1), undefined],
    [
      'a claim a year ahead, written a minute ago: held until the TTL after its write',
      { owner: 'w1/a', until: at(525_600) },
      at(-1),
      at(1),
    ],
    [
      'a claim a year ahead, written ten minutes ago: not honoured past the TTL',
      { owner: 'w1/a', until: at(525_600) },
      at(-10),
      undefined,
    ],
  ])('%s', (_name, claim, updatedAt, expected) => {
    const row = aSubscription({ claim, updatedAt });

    expect(claimHeldUntil(row, t0, ttlMs)).toEqual(expected);
  });
});

describe('decide with a claim on the row', () => {
  test('when any live claim is on the row, then the planner waits, whoever holds it', () => {
    const row = aSubscription({
      nextActionAt: t0,
      status: 'pending',
      graphSubscriptionId: undefined,
      claim: { owner: 'this-worker/one-operation', until: at(1) },
      updatedAt: t0,
    });

    expect(decide(row, t0, policy, { claimTtlMs: ttlMs })).toEqual({
      kind: 'wait',
      reason: 'claimed',
      until: at(1),
    });
  });

  test('when the claim lies far beyond the TTL and its write is older than the TTL, then it is acted on', () => {
    const row = aSubscription({
      nextActionAt: t0,
      status: 'pending',
      graphSubscriptionId: undefined,
      claim: { owner: 'clock-gone-wrong', until: at(525_600) },
      updatedAt: at(-5),
    });

    expect(decide(row, t0, policy, { claimTtlMs: ttlMs }).kind).toBe('create');
  });
});

describe('newClaimOwner', () => {
  test('when one worker takes two claims, then their owners differ and both name the worker', () => {
    const first = newClaimOwner('worker-1');
    const second = newClaimOwner('worker-1');

    expect(first).not.toBe(second);
    expect(first.startsWith('worker-1/')).toBe(true);
    expect(second.startsWith('worker-1/')).toBe(true);
  });
});
