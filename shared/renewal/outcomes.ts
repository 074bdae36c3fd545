import type {
  ManagedSubscription,
  RecordedLifecycleEvent,
  SubscriptionError,
} from '../subscriptions/model';
import {
  lapseGuardMs,
  minute,
  renewalDueAt,
  type CreateReason,
  type DecisionKind,
  type RenewalPolicy,
} from './planRenewals';

/**
 * Pure state transitions: what a subscription becomes after a Graph call succeeded or failed, or
 * after a lifecycle event was received. The shell applies them to the row it read; when its
 * conditional write loses a race it re-reads and applies the same transition to the fresh row,
 * which is why each takes `startedAt` (events received after the action started stay pending).
 */

export interface OutcomePolicy extends RenewalPolicy {
  /** First retry delay after a transient failure; doubles per consecutive failure. */
  readonly backoffBaseMs: number;
  /** Longest retry delay after a transient failure. */
  readonly backoffMaxMs: number;
  /** Retry delay for `failed` (401/403/400): access may come back, a definition may be fixed. */
  readonly failedRetryMs: number;
}

export const defaultOutcomeTimings = {
  backoffBaseMs: 30_000,
  backoffMaxMs: 15 * minute,
  failedRetryMs: 30 * minute,
} as const;

/** Why the owning application must resync (docs/architecture.md#flows). */
export type ResyncReason = 'subscriptionRemoved' | 'notFound' | 'expired' | 'missed' | 'recreated';

/** What we need of a Graph failure; `GraphError` has this shape. */
export interface FailureFacts {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly retryAfterMs?: number | undefined;
  readonly requiredPermissions?: readonly string[] | undefined;
}

/** Our own code for a PATCH that answered 200 without moving the expiry (docs/architecture.md#decisions-and-their-reasons). */
export const notExtendedCode = 'NotExtended';

export type FailureClass = 'notFound' | 'transient' | 'denied' | 'rejected';

export function classifyFailure(f: FailureFacts): FailureClass {
  if (f.code === notExtendedCode) return 'transient';
  if (f.status === 404) return 'notFound';
  if (f.status === 401 || f.status === 403) return 'denied';
  if (f.status === 0 || f.status === 408 || f.status === 429 || f.status >= 500) {
    // NOTE: status 0 covers network errors and timeouts, and also our own InvalidDefinition.
    return f.code === 'InvalidDefinition' ? 'rejected' : 'transient';
  }
  return 'rejected';
}

export function afterCreated(
  sub: ManagedSubscription,
  created: { readonly id: string; readonly expirationDateTime: Date },
  reason: CreateReason,
  now: Date,
  startedAt: Date,
  policy: OutcomePolicy,
): ManagedSubscription {
  // A first create needs no resync; any later one means notifications may have been lost.
  const resyncReason =
    sub.generation === 0 && reason === 'pending' ? undefined : resyncReasonFor(sub, reason);
  return settle(
    {
      ...succeeded(sub, now),
      graphSubscriptionId: created.id,
      expiresAt: created.expirationDateTime,
      generation: sub.generation + 1,
      // NOTE: a create is not a PATCH: it opens no 10-minute window, so a reauthorizationRequired
      // right after it is answered with a reauthorize at once.
      nextActionAt: renewalDueAt(sub.definition, created.expirationDateTime, policy),
      ...(resyncReason === undefined ? {} : { resyncRequestedAt: now, resyncReason }),
    },
    sub,
    startedAt,
  );
}

export function afterRenewed(
  sub: ManagedSubscription,
  renewed: { readonly expirationDateTime: Date },
  now: Date,
  startedAt: Date,
  policy: OutcomePolicy,
): ManagedSubscription {
  const before = sub.expiresAt?.getTime() ?? Number.NEGATIVE_INFINITY;
  if (renewed.expirationDateTime.getTime() <= before) {
    return afterFailure(
      sub,
      'renew',
      {
        status: 200,
        code: notExtendedCode,
        message: `Graph answered the renewal without extending the expiry (${renewed.expirationDateTime.toISOString()})`,
      },
      now,
      startedAt,
      policy,
    );
  }
  return settle(
    {
      ...succeeded(sub, now),
      expiresAt: renewed.expirationDateTime,
      lastRenewedAt: now,
      nextActionAt: renewalDueAt(sub.definition, renewed.expirationDateTime, policy),
    },
    sub,
    startedAt,
  );
}

export function afterReauthorized(
  sub: ManagedSubscription,
  now: Date,
  startedAt: Date,
  policy: OutcomePolicy,
): ManagedSubscription {
  const expiresAt = sub.expiresAt ?? now;
  return settle(
    {
      ...succeeded(sub, now),
      lastReauthorizedAt: now,
      nextActionAt: renewalDueAt(sub.definition, expiresAt, policy),
    },
    sub,
    startedAt,
  );
}

/** A wait decided by the planner: only the schedule moves. */
export function afterWait(sub: ManagedSubscription, until: Date, now: Date): ManagedSubscription {
  return { ...sub, nextActionAt: until, updatedAt: now };
}

/**
 * A due row for which the planner finds nothing owed on Graph: whatever failed is moot (a wanted
 * change that failed and that the owner has since withdrawn, for example), so a failing or failed
 * row that is on Graph is active again. Found by the chaos run: such a row stayed `failed` until
 * its next renewal.
 */
export function afterNothingOwed(
  sub: ManagedSubscription,
  until: Date,
  now: Date,
): ManagedSubscription {
  const waited = afterWait(sub, until, now);
  const failure = sub.status === 'failed' || sub.status === 'failing';
  if (!failure || sub.graphSubscriptionId === undefined) return waited;
  return { ...waited, status: 'active', failureCount: 0, lastError: undefined };
}

export function afterFailure(
  sub: ManagedSubscription,
  action: DecisionKind,
  failure: FailureFacts,
  now: Date,
  startedAt: Date,
  policy: OutcomePolicy,
): ManagedSubscription {
  const lastError: SubscriptionError = {
    code: failure.code,
    message: shorten(failure.message),
    status: failure.status === 0 ? undefined : failure.status,
    at: now,
    requiredPermissions: failure.requiredPermissions,
  };
  const base = { ...sub, claim: undefined, lastError, updatedAt: now };
  const kind = classifyFailure(failure);

  if (
    kind === 'notFound' &&
    (action === 'renew' || action === 'reauthorize' || action === 'patch')
  ) {
    // Graph no longer has it (expired or deleted): recreate at once, docs/graph-rules.md#errors.
    return settle(
      {
        ...base,
        status: 'removed',
        graphSubscriptionId: undefined,
        expiresAt: undefined,
        failureCount: 0,
        nextActionAt: now,
      },
      sub,
      startedAt,
    );
  }

  const failureCount = sub.failureCount + 1;
  const backoff = Math.min(policy.backoffMaxMs, policy.backoffBaseMs * 2 ** (failureCount - 1));
  const transientDelay = Math.max(backoff, failure.retryAfterMs ?? 0);
  if (action === 'delete') {
    // NOTE: the owner asked for it to go; `failing` or `failed` would make the next sweep renew
    // it instead. It stays `deleting` (expiry no concern) and the delete is retried.
    const delay = kind === 'transient' ? transientDelay : policy.failedRetryMs;
    return settle(
      {
        ...base,
        status: 'deleting',
        failureCount,
        nextActionAt: new Date(now.getTime() + delay),
      },
      sub,
      startedAt,
    );
  }
  if (kind === 'transient' || kind === 'notFound') {
    return settle(
      {
        ...base,
        status: 'failing',
        failureCount,
        nextActionAt: new Date(now.getTime() + capByExpiry(transientDelay, sub, now, policy)),
      },
      sub,
      startedAt,
    );
  }
  return settle(
    {
      ...base,
      status: 'failed',
      failureCount,
      nextActionAt: new Date(now.getTime() + capByExpiry(policy.failedRetryMs, sub, now, policy)),
    },
    sub,
    startedAt,
  );
}

/**
 * Records a lifecycle event on the row, due now, before anything is done about it: the record is
 * what makes the event durable (docs/architecture.md#flows).
 */
export function recordLifecycleEvent(
  sub: ManagedSubscription,
  eventName: string,
  now: Date,
): ManagedSubscription {
  const event: RecordedLifecycleEvent = { name: eventName, receivedAt: now };
  return applyEvent({ ...sub, updatedAt: now }, event);
}

function applyEvent(sub: ManagedSubscription, event: RecordedLifecycleEvent): ManagedSubscription {
  const settled = sub.status === 'deleting';
  switch (event.name) {
    case 'reauthorizationRequired':
      return {
        ...sub,
        pendingEvent: event,
        status:
          settled || sub.status === 'pending' || sub.status === 'removed'
            ? sub.status
            : 'reauthorizationRequired',
        nextActionAt: earliest(sub.nextActionAt, event.receivedAt),
      };
    case 'subscriptionRemoved':
      return {
        ...sub,
        pendingEvent: event,
        status: settled ? sub.status : 'removed',
        graphSubscriptionId: settled ? sub.graphSubscriptionId : undefined,
        expiresAt: settled ? sub.expiresAt : undefined,
        nextActionAt: earliest(sub.nextActionAt, event.receivedAt),
      };
    case 'missed':
      return {
        ...sub,
        resyncRequestedAt: event.receivedAt,
        resyncReason: 'missed',
        // NOTE: missed needs no Graph call; the record and the resync request are the action.
        pendingEvent: sub.pendingEvent ?? event,
        nextActionAt: earliest(sub.nextActionAt, event.receivedAt),
      };
    default:
      // Unknown events are kept on record for an operator; nothing else changes.
      return { ...sub, pendingEvent: sub.pendingEvent ?? event };
  }
}

function succeeded(sub: ManagedSubscription, now: Date): ManagedSubscription {
  return {
    ...sub,
    status: 'active',
    failureCount: 0,
    lastError: undefined,
    claim: undefined,
    pendingEvent: undefined,
    updatedAt: now,
  };
}

/** Keeps a lifecycle event that arrived after the action started: it still needs its own action. */
function settle(
  next: ManagedSubscription,
  read: ManagedSubscription,
  startedAt: Date,
): ManagedSubscription {
  const event = read.pendingEvent;
  if (event === undefined || event.receivedAt.getTime() <= startedAt.getTime()) return next;
  return applyEvent(next, event);
}

function resyncReasonFor(sub: ManagedSubscription, reason: CreateReason): ResyncReason {
  if (sub.pendingEvent?.name === 'subscriptionRemoved') return 'subscriptionRemoved';
  if (sub.lastError?.status === 404) return 'notFound';
  if (reason === 'expired') return 'expired';
  return 'recreated';
}

/** Never let a backoff carry the next attempt past the expiry: retry sooner as it nears. */
function capByExpiry(
  delayMs: number,
  sub: ManagedSubscription,
  now: Date,
  policy: OutcomePolicy,
): number {
  if (sub.expiresAt === undefined) return delayMs;
  const room = sub.expiresAt.getTime() - now.getTime() - lapseGuardMs;
  const floor = Math.min(policy.backoffBaseMs, policy.sweepPeriodMs);
  return Math.max(floor, Math.min(delayMs, room / 2));
}

/** The earlier of two times. */
export function earliest(a: Date, b: Date): Date {
  return a.getTime() <= b.getTime() ? a : b;
}

function shorten(message: string): string {
  return message.length <= 300 ? message : `${message.slice(0, 297)}...`;
}
