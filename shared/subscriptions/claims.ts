import { randomUUID } from 'node:crypto';
import type { ManagedSubscription } from './model';

/**
 * The one "held by someone else" rule, used by the stores, the planner, the outbox step and the
 * admin operations. A claim belongs to one operation (its owner is unique per reconcile attempt),
 * so a live claim is held for everyone, the same process and the same owner name included.
 *
 * A claim's end is honoured up to `claimTtlMs` (the TTL the app itself sets on its claims) after
 * the row was written: an end further away than `now + claimTtlMs` cannot have been set by this
 * app with a sane clock (a clock gone wrong, a hand edit), so it holds at most until
 * `updatedAt + claimTtlMs`, never for ever.
 */
export function claimHeldUntil(
  subscription: Pick<ManagedSubscription, 'claim' | 'updatedAt'>,
  now: Date,
  claimTtlMs: number,
): Date | undefined {
  const held = subscription.claim;
  if (held === undefined) return undefined;
  const t = now.getTime();
  const until = held.until.getTime();
  const honoured =
    until <= t + claimTtlMs
      ? until
      : Math.min(until, subscription.updatedAt.getTime() + claimTtlMs);
  return honoured > t ? new Date(honoured) : undefined;
}

/**
 * The owner of one claim: the worker's name plus a suffix unique to this operation, so two
 * invocations in one worker (timer, lifecycle, admin API) never take each other's claim for
 * their own.
 */
export function newClaimOwner(instanceId: string): string {
  return `${instanceId.slice(0, 200)}/${randomUUID()}`;
}
