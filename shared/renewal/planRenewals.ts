import { claimHeldUntil } from '../subscriptions/claims';
import { pendingGraphChange } from '../subscriptions/wantedState';
import type { ManagedSubscription, SubscriptionDefinition } from '../subscriptions/model';

/**
 * The functional core of the sweep: given a subscription, `now` and the policy, decide what to do.
 * No I/O, no clock: the shell reads, calls this, acts, and records the outcome (outcomes.ts).
 *
 * Rules (docs/graph-rules.md#lifetimes and docs/graph-rules.md#lifecycle-notifications, docs/architecture.md#flows):
 * - Renew when a quarter of the lifetime or less remains, and never later than four sweep periods
 *   before expiry where half the lifetime allows (two at least). The new expiry is now + lifetime - margin, never under Graph's 45-minute floor.
 * - pending / removed / expired on Graph: create from the stored definition.
 * - reauthorizationRequired: renew when due or when a PATCH was sent in the last 10 minutes (a
 *   PATCH also reauthorizes), otherwise reauthorize; at once in either case. Never a reauthorize
 *   and a PATCH on one subscription within 10 minutes; a create opens no window
 *   (https://learn.microsoft.com/graph/change-notifications-lifecycle-events).
 * - wanted against applied (wantedState.ts): a changed notification URL or certificate is
 *   PATCHed (which renews too); any other change Graph cannot PATCH is a delete, then a create.
 * - deleting: delete.
 */

export const minute = 60_000;
/** Graph raises shorter requested lifetimes to 45 minutes (docs/graph-rules.md#lifetimes). */
export const graphMinimumLifetimeMs = 45 * minute;
/** No reauthorize and PATCH on one subscription within this window (docs/graph-rules.md#lifecycle-notifications). */
export const reauthorizeSpacingMs = 10 * minute;
/**
 * NOTE: waiting out the 10-minute window is right unless the wait would let the subscription
 * expire: a lapse loses notifications for certain, a close pair only risks an inconsistency.
 */
export const lapseGuardMs = 2 * minute;

export interface RenewalPolicy {
  /** The longest gap between two sweeps (from SWEEP_SCHEDULE). */
  readonly sweepPeriodMs: number;
  /** Subtracted from the lifetime when renewing (RENEWAL_MARGIN_MINUTES). */
  readonly renewalMarginMs: number;
  /** The resource's maximum lifetime in minutes (the Graph module's lifetime table). */
  readonly maxLifetimeMinutes: (definition: SubscriptionDefinition) => number;
}

export type CreateReason = 'pending' | 'removed' | 'expired';
export type RenewReason = 'due' | 'reauthorizationRequired';

export type Decision =
  | { readonly kind: 'create'; readonly reason: CreateReason; readonly expirationDateTime: Date }
  | { readonly kind: 'renew'; readonly reason: RenewReason; readonly expirationDateTime: Date }
  | { readonly kind: 'reauthorize' }
  /** The wanted definition changed what a PATCH can change; the PATCH also renews. */
  | {
      readonly kind: 'patch';
      readonly reason: 'definitionChanged';
      readonly expirationDateTime: Date;
    }
  /** The wanted definition changed what Graph cannot PATCH: delete, then create. */
  | { readonly kind: 'recreate'; readonly reason: 'definitionChanged' }
  | { readonly kind: 'delete' }
  /** Something is owed but must wait (the 10-minute rule, another writer's claim). */
  | {
      readonly kind: 'wait';
      readonly reason: 'reauthorizeSpacing' | 'claimed';
      readonly until: Date;
    }
  /** Nothing to do now; `nextActionAt` is when to look again. */
  | { readonly kind: 'none'; readonly nextActionAt: Date };

export type DecisionKind = Decision['kind'];

/** The lifetime this subscription asks for: its own `lifetimeMinutes`, capped at the maximum. */
export function lifetimeMsFor(definition: SubscriptionDefinition, policy: RenewalPolicy): number {
  const max = policy.maxLifetimeMinutes(definition);
  const wanted =
    definition.lifetimeMinutes === undefined ? max : Math.min(definition.lifetimeMinutes, max);
  return wanted * minute;
}

/** The expiry to request now: lifetime - margin, at least Graph's floor, at most the lifetime. */
export function expiryFor(
  definition: SubscriptionDefinition,
  now: Date,
  policy: RenewalPolicy,
): Date {
  const lifetime = lifetimeMsFor(definition, policy);
  const ms = Math.min(
    lifetime,
    Math.max(lifetime - policy.renewalMarginMs, graphMinimumLifetimeMs),
  );
  return new Date(now.getTime() + ms);
}

/**
 * How long before expiry a renewal is due: a quarter of the lifetime, and at least four sweep
 * periods where half the lifetime allows (never less than two), so a short-lived subscription
 * (presence, Teams: 60 minutes) gets four chances before it expires, not three: the chaos run
 * showed a crashed sweep, a throttled call and a timeout in a row lapsing some with three.
 */
export function renewalLeadMs(definition: SubscriptionDefinition, policy: RenewalPolicy): number {
  const lifetime = lifetimeMsFor(definition, policy);
  const period = policy.sweepPeriodMs;
  return Math.max(lifetime / 4, 2 * period, Math.min(4 * period, lifetime / 2));
}

/** When a subscription expiring at `expiresAt` is next due for renewal. */
export function renewalDueAt(
  definition: SubscriptionDefinition,
  expiresAt: Date,
  policy: RenewalPolicy,
): Date {
  return new Date(expiresAt.getTime() - renewalLeadMs(definition, policy));
}

export function isDue(subscription: ManagedSubscription, now: Date): boolean {
  return subscription.nextActionAt.getTime() <= now.getTime();
}

export function decide(
  subscription: ManagedSubscription,
  now: Date,
  policy: RenewalPolicy,
  options: { readonly claimTtlMs?: number } = {},
): Decision {
  const t = now.getTime();
  // NOTE: a live claim is held for everyone, this process included: it belongs to one operation.
  const claimedUntil = claimHeldUntil(subscription, now, options.claimTtlMs ?? Infinity);
  if (claimedUntil !== undefined) return { kind: 'wait', reason: 'claimed', until: claimedUntil };
  if (subscription.status === 'deleting') return { kind: 'delete' };
  if (!isDue(subscription, now)) return { kind: 'none', nextActionAt: subscription.nextActionAt };

  const { definition, graphSubscriptionId, expiresAt } = subscription;
  const createAt = (reason: CreateReason): Decision => ({
    kind: 'create',
    reason,
    expirationDateTime: expiryFor(definition, now, policy),
  });
  if (subscription.status === 'pending' || graphSubscriptionId === undefined) {
    return createAt(subscription.status === 'removed' ? 'removed' : 'pending');
  }
  if (subscription.status === 'removed') return createAt('removed');
  if (expiresAt === undefined || expiresAt.getTime() <= t) return createAt('expired');

  const change = pendingGraphChange(subscription);
  if (change === 'recreate') return { kind: 'recreate', reason: 'definitionChanged' };
  if (change === 'patch') {
    // A PATCH within 10 minutes of a reauthorize is not allowed; wait unless that risks a lapse.
    const spacingEnds = endOfSpacing(subscription.lastReauthorizedAt);
    if (
      spacingEnds !== undefined &&
      spacingEnds.getTime() > t &&
      spacingEnds.getTime() <= expiresAt.getTime() - lapseGuardMs
    ) {
      return { kind: 'wait', reason: 'reauthorizeSpacing', until: spacingEnds };
    }
    return {
      kind: 'patch',
      reason: 'definitionChanged',
      expirationDateTime: expiryFor(definition, now, policy),
    };
  }

  const dueAt = renewalDueAt(definition, expiresAt, policy);
  const dueForRenewal = dueAt.getTime() <= t;
  const reauthorizationAsked =
    subscription.status === 'reauthorizationRequired' ||
    subscription.pendingEvent?.name === 'reauthorizationRequired';

  if (dueForRenewal) {
    // A PATCH within 10 minutes of a reauthorize is not allowed; wait unless that risks a lapse.
    const spacingEnds = endOfSpacing(subscription.lastReauthorizedAt);
    if (spacingEnds !== undefined && spacingEnds.getTime() > t) {
      const latestSafe = expiresAt.getTime() - lapseGuardMs;
      if (spacingEnds.getTime() <= latestSafe) {
        return { kind: 'wait', reason: 'reauthorizeSpacing', until: spacingEnds };
      }
    }
    return {
      kind: 'renew',
      reason: reauthorizationAsked ? 'reauthorizationRequired' : 'due',
      expirationDateTime: expiryFor(definition, now, policy),
    };
  }

  if (reauthorizationAsked) {
    // A renew PATCH in the last 10 minutes forbids a reauthorize now; another PATCH answers the
    // event at once instead (a PATCH also reauthorizes), so it never waits.
    const spacingEnds = endOfSpacing(subscription.lastRenewedAt);
    if (spacingEnds !== undefined && spacingEnds.getTime() > t) {
      return {
        kind: 'renew',
        reason: 'reauthorizationRequired',
        expirationDateTime: expiryFor(definition, now, policy),
      };
    }
    return { kind: 'reauthorize' };
  }

  return { kind: 'none', nextActionAt: dueAt };
}

/** Decides for many at once: the table-tested entry point of the sweep's planning step. */
export function planRenewals(
  subscriptions: readonly ManagedSubscription[],
  now: Date,
  policy: RenewalPolicy,
): { readonly subscription: ManagedSubscription; readonly decision: Decision }[] {
  return subscriptions.map((subscription) => ({
    subscription,
    decision: decide(subscription, now, policy),
  }));
}

function endOfSpacing(lastCall: Date | undefined): Date | undefined {
  return lastCall === undefined ? undefined : new Date(lastCall.getTime() + reauthorizeSpacingMs);
}
