import type { Clock } from '../clock';
import type { GraphSubscriptions } from '../graph/graphSubscriptions';
import type { SubscriptionOperation } from '../graph/permissions';
import type { Logger } from '../logger';
import type { ResyncPublisher } from '../resync/resyncPublisher';
import {
  isClaimHeldError,
  isStoreConflictError,
  isStoreNotFoundError,
  type SubscriptionStore,
} from '../store/subscriptionStore';
import { newClaimOwner } from '../subscriptions/claims';
import type { ManagedSubscription, StoredSubscription } from '../subscriptions/model';
import { needsResyncSignal } from '../resync/resyncPublisher';
import { perform } from './actions';
import { writeOutcome } from './outcomeWrite';
import { sendPendingResync } from './outbox';
import { afterNothingOwed, afterWait, type FailureFacts, type OutcomePolicy } from './outcomes';
import { decide, isDue, type Decision, type DecisionKind } from './planRenewals';
import type { WritePacer } from './writePacer';

export { writeOutcome, type Transition } from './outcomeWrite';

/**
 * The reconciler's loop, for one subscription: decide, claim the row, act, record the outcome,
 * and go round again when the outcome calls for another action at once. The only code that
 * claims a row and calls Graph for it; the sweep, the lifecycle intake, the drift check and the
 * admin operations all hand rows to it. Its jobs live beside it: what each decision does on Graph
 * (actions.ts), adopting Graph's copy after a 409 (adoption.ts), recording an outcome
 * conditionally (outcomeWrite.ts) and sending resync requests from the row (outbox.ts).
 *
 * Safety under overlap (two sweeps, a sweep and a lifecycle notification):
 * - every Graph call is preceded by a claim, an ETag-conditional write; the loser of a race sees
 *   the claim and skips, so one due time leads to one Graph call;
 * - the outcome is written conditionally on the claimed row's ETag; when a lifecycle event was
 *   recorded meanwhile, the fresh row is re-read and the same transition applied to it, so
 *   neither the Graph result nor the event is lost;
 * - a crash after the Graph call leaves the claim to expire; the next attempt finds Graph's copy
 *   (409 on create -> adopt), so no second subscription appears.
 */

export interface ReconcileDeps {
  readonly store: SubscriptionStore;
  readonly graph: GraphSubscriptions;
  readonly clock: Clock;
  readonly policy: OutcomePolicy;
  readonly pacer: WritePacer;
  readonly log: Logger;
  /**
   * Names the worker in claim owners; every claim adds a unique suffix (`newClaimOwner`), since a
   * claim belongs to one operation, not to the worker that runs several at once.
   */
  readonly instanceId: string;
  /** How long a claim holds the row while Graph is called. */
  readonly claimTtlMs: number;
  /** Problems with a definition that Graph would reject; checked before every create. */
  readonly checkDefinition?: (subscription: ManagedSubscription) => readonly string[];
  /** The Graph permissions a resource needs, named on 403s. */
  readonly requiredPermissionsFor?: (
    resource: string,
    operation: SubscriptionOperation,
  ) => readonly string[];
  /**
   * Where resync requests go (the owner's queue). The row is the outbox: a row holding a request
   * not yet sent is kept due, and the message is sent before anything else is done with it.
   */
  readonly resync?: ResyncPublisher;
}

export type ActionOutcome = 'succeeded' | 'failed' | 'skipped' | 'raced';

export interface ActionReport {
  readonly tenantId: string;
  readonly key: string;
  readonly graphId: string | undefined;
  readonly action: DecisionKind | 'adopt';
  readonly outcome: ActionOutcome;
  readonly ms: number;
  readonly code?: string | undefined;
  readonly status?: number | undefined;
  /** The state after the action, when one was written. */
  readonly subscription?: StoredSubscription | undefined;
}

export interface ReconcileOptions {
  readonly signal?: AbortSignal;
}

/**
 * Rounds of decide-act per call: a 404 on renew is followed by the recreate, the resync message
 * and the rescheduling in the same call.
 */
const maxRounds = 5;
export async function reconcileSubscription(
  deps: ReconcileDeps,
  start: StoredSubscription,
  options: ReconcileOptions = {},
): Promise<ActionReport> {
  let current: StoredSubscription = start;
  let report: ActionReport | undefined;
  for (let round = 0; round < maxRounds; round++) {
    const step = await reconcileOnce(deps, current, options);
    // NOTE: the report is the round that acted; a later round that only rescheduled (after the
    // resync message went out) does not hide it.
    const acted = step.report.action !== 'none' && step.report.action !== 'wait';
    if (report === undefined || acted) report = step.report;
    // NOTE: one line per outcome, whatever the path (deleted, rescheduled, skipped, raced too).
    logReport(deps.log, report);
    if (step.continueWith === undefined) return report;
    current = step.continueWith;
  }
  return report ?? skipped(start, 'none', deps.clock.now());
}

interface Step {
  readonly report: ActionReport;
  /** Set when the state written calls for another action at once (e.g. recreate after 404). */
  readonly continueWith?: StoredSubscription | undefined;
}

async function reconcileOnce(
  deps: ReconcileDeps,
  start: StoredSubscription,
  options: ReconcileOptions,
): Promise<Step> {
  const { clock, store, policy } = deps;
  const read = await sendPendingResync(deps, start);
  const startedAt = clock.now();
  const decision = decide(read, startedAt, policy, { claimTtlMs: deps.claimTtlMs });

  if (decision.kind === 'none' || decision.kind === 'wait') {
    return { report: await reschedule(deps, read, decision, startedAt) };
  }

  // NOTE: the pace slot is taken before the claim, so a claim never expires while its holder
  // waits for the pacer; a slot lost to a claim race costs pace, never a Graph call.
  if (decision.kind !== 'delete' || read.graphSubscriptionId !== undefined) {
    const paced = decision.kind === 'reauthorize' ? 'reauthorize' : 'write';
    await deps.pacer.acquire(paced, read.definition.tenantId, options.signal);
  }
  const claimedAt = clock.now();
  let claimed: StoredSubscription;
  try {
    claimed = await store.claim(read, {
      owner: newClaimOwner(deps.instanceId),
      now: claimedAt,
      until: new Date(claimedAt.getTime() + deps.claimTtlMs),
    });
  } catch (e) {
    if (isClaimHeldError(e) || isStoreNotFoundError(e)) {
      return { report: skipped(read, decision.kind, startedAt, clock.now()) };
    }
    if (isStoreConflictError(e)) {
      // Another writer changed it since we read it: re-read and decide again.
      const fresh = await store.get(read.definition.tenantId, read.definition.key);
      if (fresh === undefined)
        return { report: skipped(read, decision.kind, startedAt, clock.now()) };
      return { report: raced(read, decision.kind, startedAt, clock.now()), continueWith: fresh };
    }
    throw e;
  }

  const performed = await perform(deps, claimed, decision, startedAt, options);
  if (performed.deleted === true) {
    return {
      report: report(claimed, {
        action: 'delete',
        outcome: 'succeeded',
        startedAt,
        finishedAt: clock.now(),
      }),
    };
  }
  const written = await writeOutcome(deps, claimed, performed.transition);
  const finishedAt = clock.now();
  if (written === undefined) {
    return { report: raced(claimed, performed.action, startedAt, finishedAt) };
  }
  const outcome: ActionOutcome = performed.failure === undefined ? 'succeeded' : 'failed';
  const result = report(claimed, {
    action: performed.action,
    outcome,
    startedAt,
    finishedAt,
    failure: performed.failure,
    written,
  });
  // A 404 on renew leaves it `removed` and due now: recreate in the same call; so does the
  // delete of a recreate, and a wanted change that arrived while this call held the row. A
  // resync the write requested is sent in the same call too (and the row rescheduled after it).
  const again = decide(written, clock.now(), policy, { claimTtlMs: deps.claimTtlMs });
  const followUp =
    (again.kind === 'create' &&
      (performed.failure?.status === 404 || performed.action === 'recreate')) ||
    (performed.failure === undefined &&
      (again.kind === 'patch' || again.kind === 'recreate' || again.kind === 'delete'));
  const signal = deps.resync !== undefined && needsResyncSignal(written);
  return { report: result, continueWith: followUp || signal ? written : undefined };
}

async function reschedule(
  deps: ReconcileDeps,
  read: StoredSubscription,
  decision: Extract<Decision, { kind: 'none' } | { kind: 'wait' }>,
  startedAt: Date,
): Promise<ActionReport> {
  if (decision.kind === 'wait' && decision.reason === 'claimed') {
    // NOTE: no write: the claim's holder writes next, and our write would make it lose its race.
    return skipped(read, 'wait', startedAt, deps.clock.now());
  }
  const until = decision.kind === 'wait' ? decision.until : decision.nextActionAt;
  // A `missed` event needs no Graph call: it is done once the resync request is on record.
  const settledEvent = read.pendingEvent?.name === 'missed';
  // Due, and nothing owed on Graph: a failure the row still shows is over.
  const nothingOwed = decision.kind === 'none' && isDue(read, startedAt);
  if (until.getTime() === read.nextActionAt.getTime() && !settledEvent && !nothingOwed) {
    return skipped(read, decision.kind, startedAt, deps.clock.now());
  }
  const written = await writeOutcome(deps, read, (sub, now) => ({
    ...(nothingOwed ? afterNothingOwed(sub, until, now) : afterWait(sub, until, now)),
    pendingEvent: sub.pendingEvent?.name === 'missed' ? undefined : sub.pendingEvent,
  }));
  return written === undefined
    ? raced(read, decision.kind, startedAt, deps.clock.now())
    : report(read, {
        action: decision.kind,
        outcome: 'succeeded',
        startedAt,
        finishedAt: deps.clock.now(),
        written,
      });
}

interface ReportFacts {
  readonly action: DecisionKind | 'adopt';
  readonly outcome: ActionOutcome;
  readonly startedAt: Date;
  readonly finishedAt: Date;
  readonly failure?: FailureFacts | undefined;
  /** The state written, when one was. */
  readonly written?: StoredSubscription | undefined;
}

function report(
  sub: ManagedSubscription,
  { action, outcome, startedAt, finishedAt, failure, written }: ReportFacts,
): ActionReport {
  return {
    tenantId: sub.definition.tenantId,
    key: sub.definition.key,
    graphId: written?.graphSubscriptionId ?? sub.graphSubscriptionId,
    action,
    outcome,
    ms: finishedAt.getTime() - startedAt.getTime(),
    code: failure?.code,
    status: failure?.status,
    subscription: written,
  };
}

function skipped(
  sub: ManagedSubscription,
  action: DecisionKind,
  startedAt: Date,
  finishedAt: Date = startedAt,
): ActionReport {
  return report(sub, { action, outcome: 'skipped', startedAt, finishedAt });
}

function raced(
  sub: ManagedSubscription,
  action: DecisionKind | 'adopt',
  startedAt: Date,
  finishedAt: Date,
): ActionReport {
  return report(sub, { action, outcome: 'raced', startedAt, finishedAt });
}

function logReport(log: Logger, r: ActionReport): void {
  const properties = {
    tenantId: r.tenantId,
    key: r.key,
    graphId: r.graphId,
    action: r.action,
    outcome: r.outcome,
    ms: r.ms,
    code: r.code,
    status: r.status,
  };
  if (r.outcome === 'failed') log.warn('subscription action failed', properties);
  else log.info('subscription action', properties);
}
