import type { Clock } from '../clock';
import { GraphError, isGraphError, localGraphErrorCodes } from '../graph/graphError';
import type { GraphSubscription, GraphSubscriptions } from '../graph/graphSubscriptions';
import type { SubscriptionOperation } from '../graph/permissions';
import type { Logger } from '../logger';
import {
  isClaimHeldError,
  isStoreConflictError,
  isStoreNotFoundError,
  type SubscriptionStore,
} from '../store/subscriptionStore';
import { claimHeldUntil, newClaimOwner } from '../subscriptions/claims';
import { sameChangeTypes, sameSecret } from '../subscriptions/compare';
import { appliedFrom, pendingGraphChange } from '../subscriptions/wantedState';
import type { ManagedSubscription, StoredSubscription } from '../subscriptions/model';
import {
  afterCreated,
  afterFailure,
  afterReauthorized,
  afterRenewed,
  afterWait,
  earliest,
  type FailureFacts,
  type OutcomePolicy,
} from './outcomes';
import { decide, graphMinimumLifetimeMs, type Decision, type DecisionKind } from './planRenewals';
import type { WritePacer } from './writePacer';
import {
  needsResyncSignal,
  resyncMessageFor,
  type ResyncPublisher,
} from '../resync/resyncPublisher';

/**
 * The imperative shell around the planner, for one subscription: decide, claim the row, call
 * Graph, record the outcome. Used by the sweep and by the lifecycle endpoint, so renew,
 * reauthorize and recreate have one implementation.
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
/** Re-reads after losing a conditional write before giving up to the next sweep. */
const maxWriteRetries = 5;

export type Transition = (read: ManagedSubscription, now: Date) => ManagedSubscription;

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
      report: report(claimed, 'delete', 'succeeded', startedAt, clock.now(), undefined),
    };
  }
  const written = await writeOutcome(deps, claimed, performed.transition);
  const finishedAt = clock.now();
  if (written === undefined) {
    return { report: raced(claimed, performed.action, startedAt, finishedAt) };
  }
  const outcome: ActionOutcome = performed.failure === undefined ? 'succeeded' : 'failed';
  const result = report(
    claimed,
    performed.action,
    outcome,
    startedAt,
    finishedAt,
    performed.failure,
    written,
  );
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

interface Performed {
  readonly action: DecisionKind | 'adopt';
  readonly transition: Transition;
  readonly failure?: FailureFacts | undefined;
  readonly deleted?: boolean;
}

async function perform(
  deps: ReconcileDeps,
  claimed: StoredSubscription,
  decision: Exclude<Decision, { kind: 'none' } | { kind: 'wait' }>,
  startedAt: Date,
  options: ReconcileOptions,
): Promise<Performed> {
  const { graph, policy } = deps;
  const { definition } = claimed;
  const tenantId = definition.tenantId;
  const call = { abortSignal: options.signal };
  const failed = (action: DecisionKind | 'adopt', e: unknown): Performed => {
    const failure = failureFacts(e, definition.resource, deps, operationOf(decision.kind));
    if (options.signal?.aborted === true && failure.code === localGraphErrorCodes.aborted) {
      // NOTE: we stopped waiting (the lifecycle budget), Graph did not fail: the row stays as it
      // was, due now, for the sweep; no failure is counted. Graph may have done the call; the
      // next attempt finds that out (409 -> adopt, or a renewal that extends again).
      return {
        action,
        failure,
        transition: (sub, now) => ({
          ...sub,
          claim: undefined,
          nextActionAt: earliest(sub.nextActionAt, now),
          updatedAt: now,
        }),
      };
    }
    return {
      action,
      failure,
      transition: (sub, now) => afterFailure(sub, decision.kind, failure, now, startedAt, policy),
    };
  };

  switch (decision.kind) {
    case 'create': {
      const problems = deps.checkDefinition?.(claimed) ?? [];
      if (problems.length > 0) {
        return failed(
          'create',
          new GraphError({
            status: 0,
            code: localGraphErrorCodes.invalidDefinition,
            message: `Invalid definition: ${problems.join('; ')}`,
          }),
        );
      }
      const request = {
        resource: definition.resource,
        changeType: definition.changeType,
        notificationUrl: definition.notificationUrl,
        lifecycleNotificationUrl: definition.lifecycleNotificationUrl,
        expirationDateTime: decision.expirationDateTime,
        // NOTE: clientState is fixed when the row is stored, before any create, so a subscription
        // adopted after a crash carries the clientState we hold.
        clientState: claimed.clientState,
        includeResourceData: definition.includeResourceData,
        encryptionCertificate: definition.encryptionCertificate,
        encryptionCertificateId: definition.encryptionCertificateId,
        latestSupportedTlsVersion: definition.latestSupportedTlsVersion,
        notificationQueryOptions: definition.notificationQueryOptions,
        notificationUrlAppId: definition.notificationUrlAppId,
      };
      try {
        const { value: created, capped } = await withGraphsMaximum(
          deps,
          claimed,
          request.expirationDateTime,
          (at) => graph.create(tenantId, { ...request, expirationDateTime: at }, call),
        );
        return {
          action: 'create',
          transition: (sub, now) => ({
            ...afterCreated(capped(sub), created, decision.reason, now, startedAt, policy),
            applied: appliedFrom(claimed),
          }),
        };
      } catch (e) {
        if (!(isGraphError(e) && e.status === 409)) return failed('create', e);
        return adopt(deps, claimed, decision, startedAt, options, e);
      }
    }
    case 'renew': {
      const id = claimed.graphSubscriptionId ?? '';
      try {
        const { value: renewed, capped } = await withGraphsMaximum(
          deps,
          claimed,
          decision.expirationDateTime,
          (at) => graph.update(tenantId, id, { expirationDateTime: at }, call),
        );
        return {
          action: 'renew',
          transition: (sub, now) => afterRenewed(capped(sub), renewed, now, startedAt, policy),
        };
      } catch (e) {
        return failed('renew', e);
      }
    }
    case 'reauthorize': {
      const id = claimed.graphSubscriptionId ?? '';
      try {
        await graph.reauthorize(tenantId, id, call);
        return {
          action: 'reauthorize',
          transition: (sub, now) => afterReauthorized(sub, now, startedAt, policy),
        };
      } catch (e) {
        return failed('reauthorize', e);
      }
    }
    case 'patch': {
      const id = claimed.graphSubscriptionId ?? '';
      // NOTE: the expiry is renewed in the same PATCH (Graph wants one of expiry or URL anyway).
      const changes = {
        notificationUrl: definition.notificationUrl,
        encryptionCertificate: definition.encryptionCertificate,
        encryptionCertificateId: definition.encryptionCertificateId,
      };
      try {
        const { value: renewed, capped } = await withGraphsMaximum(
          deps,
          claimed,
          decision.expirationDateTime,
          (at) => graph.update(tenantId, id, { ...changes, expirationDateTime: at }, call),
        );
        return {
          action: 'patch',
          transition: (sub, now) => ({
            ...afterRenewed(capped(sub), renewed, now, startedAt, policy),
            applied: appliedFrom(claimed),
          }),
        };
      } catch (e) {
        return failed('patch', e);
      }
    }
    case 'recreate': {
      const id = claimed.graphSubscriptionId ?? '';
      try {
        await graph.delete(tenantId, id, call);
      } catch (e) {
        // 404: Graph no longer has it, which is what the delete wants.
        if (!(isGraphError(e) && e.status === 404)) return failed('recreate', e);
      }
      deps.log.info('subscription deleted on Graph to apply a definition change', {
        tenantId,
        key: definition.key,
        graphId: id,
      });
      return { action: 'recreate', transition: afterDeletedForRecreate };
    }
    case 'delete': {
      try {
        if (claimed.graphSubscriptionId !== undefined) {
          await graph.delete(tenantId, claimed.graphSubscriptionId, call);
        }
      } catch (e) {
        // 404: Graph no longer has it, which is what a delete wants.
        if (!(isGraphError(e) && e.status === 404)) return failed('delete', e);
      }
      await deleteRows(deps, claimed);
      return { action: 'delete', transition: (sub) => sub, deleted: true };
    }
  }
}

/**
 * After the delete of a recreate: nothing on Graph, due now, generation kept, so the create that
 * follows (in the same call) requests a resync: notifications between the two are lost.
 */
const afterDeletedForRecreate: Transition = (sub, now) => ({
  ...sub,
  graphSubscriptionId: undefined,
  expiresAt: undefined,
  applied: undefined,
  status: 'pending',
  nextActionAt: now,
  failureCount: 0,
  lastError: undefined,
  pendingEvent: undefined,
  claim: undefined,
  updatedAt: now,
});

/**
 * 409 on create: Graph already has a subscription for this resource and change type, typically
 * one we created just before a crash. Find it with one list call and adopt it when its
 * notification URL matches ours; then renew it, which also proves it is this app's.
 */
async function adopt(
  deps: ReconcileDeps,
  claimed: StoredSubscription,
  decision: Extract<Decision, { kind: 'create' }>,
  startedAt: Date,
  options: ReconcileOptions,
  conflict: GraphError,
): Promise<Performed> {
  const { graph, pacer, policy } = deps;
  const { definition } = claimed;
  const tenantId = definition.tenantId;
  const failedWith = (facts: FailureFacts): Performed => ({
    action: 'adopt',
    failure: facts,
    transition: (sub, now) => afterFailure(sub, 'create', facts, now, startedAt, policy),
  });
  try {
    let existing: GraphSubscription | undefined;
    for await (const candidate of graph.list(tenantId, { abortSignal: options.signal })) {
      if (
        candidate.resource.toLowerCase() === definition.resource.toLowerCase() &&
        sameChangeTypes(candidate.changeType, definition.changeType)
      ) {
        existing = candidate;
        break;
      }
    }
    if (existing?.notificationUrl !== definition.notificationUrl) {
      return failedWith(failureFacts(conflict, definition.resource, deps));
    }
    // NOTE: the list omits clientState; a GET shows whether it carries ours (one we created
    // before a crash) or another's (another deployment sending to the same URL): never adopt that.
    const full = await graph.get(tenantId, existing.id, { abortSignal: options.signal });
    if (full.clientState !== null && !sameSecret(full.clientState, claimed.clientState)) {
      return failedWith({
        status: 409,
        code: 'NotOurs',
        message:
          'Graph has a subscription for this resource and URL with another clientState (another deployment?); not adopted',
      });
    }
    await pacer.acquire('write', tenantId, options.signal);
    const renewed = await graph.update(
      tenantId,
      existing.id,
      { expirationDateTime: decision.expirationDateTime },
      {
        abortSignal: options.signal,
      },
    );
    return {
      action: 'adopt',
      // NOTE: adopting renews with a PATCH: that one opens the 10-minute window.
      transition: (sub, now) => ({
        ...afterCreated(sub, renewed, decision.reason, now, startedAt, policy),
        lastRenewedAt: now,
        applied: appliedFrom(claimed),
      }),
    };
  } catch (e) {
    return failedWith(failureFacts(e, definition.resource, deps));
  }
}

/** Writes `transition(row)` conditionally; on a lost race re-reads and applies it again. */
export async function writeOutcome(
  deps: ReconcileDeps,
  claimed: StoredSubscription,
  transition: Transition,
): Promise<StoredSubscription | undefined> {
  let read: StoredSubscription = claimed;
  for (let attempt = 0; attempt < maxWriteRetries; attempt++) {
    const now = deps.clock.now();
    const next = keepWantedDue(
      keepDeleting(read, keepOutboxDue(deps, transition(read, now), now), now),
      now,
    );
    try {
      return await deps.store.update(next, read.etag);
    } catch (e) {
      if (isStoreNotFoundError(e)) return undefined;
      if (!isStoreConflictError(e)) throw e;
      const fresh = await deps.store.get(read.definition.tenantId, read.definition.key);
      if (fresh === undefined) return undefined;
      read = fresh;
    }
  }
  deps.log.warn('outcome not recorded after repeated races; the next sweep retries', {
    tenantId: claimed.definition.tenantId,
    key: claimed.definition.key,
  });
  return undefined;
}

async function deleteRows(deps: ReconcileDeps, claimed: StoredSubscription): Promise<void> {
  let read: StoredSubscription | undefined = claimed;
  for (let attempt = 0; attempt < maxWriteRetries && read !== undefined; attempt++) {
    try {
      await deps.store.delete(read, read.etag);
      return;
    } catch (e) {
      if (isStoreNotFoundError(e)) return;
      if (!isStoreConflictError(e)) throw e;
      read = await deps.store.get(claimed.definition.tenantId, claimed.definition.key);
      if (read !== undefined && read.status !== 'deleting') return;
    }
  }
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
  if (until.getTime() === read.nextActionAt.getTime() && !settledEvent) {
    return skipped(read, decision.kind, startedAt, deps.clock.now());
  }
  const written = await writeOutcome(deps, read, (sub, now) => ({
    ...afterWait(sub, until, now),
    pendingEvent: sub.pendingEvent?.name === 'missed' ? undefined : sub.pendingEvent,
  }));
  return written === undefined
    ? raced(read, decision.kind, startedAt, deps.clock.now())
    : report(read, decision.kind, 'succeeded', startedAt, deps.clock.now(), undefined, written);
}

/**
 * The outbox step: sends the resync request the row holds, if any, then marks it sent. Returns
 * the row to go on with. A failed send is logged and left on the row (due soon, see
 * `keepOutboxDue`); it never stops the Graph work.
 */
async function sendPendingResync(
  deps: ReconcileDeps,
  read: StoredSubscription,
): Promise<StoredSubscription> {
  const { resync, clock, log } = deps;
  if (resync === undefined || !needsResyncSignal(read)) return read;
  // NOTE: the claim's holder sends it after its own write; sending now would send it twice.
  if (claimHeldUntil(read, clock.now(), deps.claimTtlMs) !== undefined) return read;
  const message = resyncMessageFor(read);
  const where = {
    tenantId: message.tenantId,
    key: message.key,
    graphId: message.graphSubscriptionId ?? undefined,
    reason: message.reason,
  };
  try {
    await resync.publish(message);
  } catch (e) {
    log.error('resync request could not be sent to the owner; retried', {
      ...where,
      error: e instanceof Error ? e.name : 'unknown',
    });
    return read;
  }
  log.info('resync requested of the owner', where);
  const requestedAt = read.resyncRequestedAt?.getTime();
  const written = await writeOutcome(deps, read, (sub, now) =>
    sub.resyncRequestedAt?.getTime() === requestedAt
      ? { ...sub, resyncSignalledAt: sub.resyncRequestedAt, updatedAt: now }
      : sub,
  );
  return written ?? read;
}

/**
 * A row holding an unsent resync request stays due: it is the outbox (see `ResyncPublisher`).
 * Once sent, the planner moves the row to its real next action.
 */
function keepOutboxDue(
  deps: ReconcileDeps,
  next: ManagedSubscription,
  now: Date,
): ManagedSubscription {
  if (deps.resync === undefined || !needsResyncSignal(next)) return next;
  return {
    ...next,
    nextActionAt: earliest(next.nextActionAt, now),
  };
}

/**
 * A delete stored while another operation held the row is kept by that operation's outcome
 * (whatever it did on Graph is undone by the delete that follows), due now.
 */
function keepDeleting(
  read: ManagedSubscription,
  next: ManagedSubscription,
  now: Date,
): ManagedSubscription {
  if (read.status !== 'deleting' || next.status === 'deleting') return next;
  return { ...next, status: 'deleting', nextActionAt: earliest(next.nextActionAt, now) };
}

/**
 * A row whose wanted definition is not yet on Graph stays due, unless it is backing off after a
 * failure: a wanted change stored while another operation held the row must not wait for that
 * operation's next renewal time.
 */
function keepWantedDue(next: ManagedSubscription, now: Date): ManagedSubscription {
  if (next.failureCount > 0 || next.status === 'deleting') return next;
  if (pendingGraphChange(next) === undefined) return next;
  return { ...next, nextActionAt: earliest(next.nextActionAt, now) };
}

function failureFacts(
  e: unknown,
  resource: string,
  deps: ReconcileDeps,
  operation: SubscriptionOperation = 'create',
): FailureFacts {
  if (!isGraphError(e)) throw e;
  const requiredPermissions =
    e.requiredPermissions ??
    (e.status === 403 || e.status === 401
      ? deps.requiredPermissionsFor?.(resource, operation)
      : undefined);
  return {
    status: e.status,
    code: e.code,
    message: e.message,
    retryAfterMs: e.retryAfterMs,
    requiredPermissions,
  };
}

/** Graph's 400 when an expiry is beyond its maximum for the resource (docs/graph-rules.md#lifetimes). */
const beyondMaximum = /can only be (\d+) minutes in the future/i;

/**
 * Calls `write` with `expiresAt`; when Graph answers that the expiry is beyond its maximum for
 * the resource (our lifetime table is higher than what Graph allows this resource), writes once
 * more with Graph's maximum minus the renewal margin, never under the 45-minute floor, so a wrong
 * table entry costs a call rather than the subscription.
 */
async function withGraphsMaximum<T>(
  deps: ReconcileDeps,
  sub: StoredSubscription,
  expiresAt: Date,
  write: (expiresAt: Date) => Promise<T>,
): Promise<{ value: T; capped: (s: ManagedSubscription) => ManagedSubscription }> {
  try {
    return { value: await write(expiresAt), capped: (s) => s };
  } catch (e) {
    const found = isGraphError(e) && e.status === 400 ? beyondMaximum.exec(e.message) : null;
    if (found === null) throw e;
    const graphMaximum = Number(found[1]);
    const lifetimeMs = Math.max(
      graphMinimumLifetimeMs,
      graphMaximum * 60_000 - deps.policy.renewalMarginMs,
    );
    const shorter = new Date(deps.clock.now().getTime() + lifetimeMs);
    if (shorter.getTime() >= expiresAt.getTime()) throw e;
    deps.log.warn('Graph allows a shorter lifetime than our table; retried with its maximum', {
      tenantId: sub.definition.tenantId,
      key: sub.definition.key,
      resource: sub.definition.resource,
      graphMaximumMinutes: graphMaximum,
    });
    await deps.pacer.acquire('write', sub.definition.tenantId);
    const value = await write(shorter);
    // NOTE: remembered as the definition's lifetime, so renewals ask for it (and are scheduled
    // by it) from now on; re-applying the owner's definition resets it and it is learned again.
    return {
      value,
      capped: (s) => {
        const own = s.definition.lifetimeMinutes;
        return own !== undefined && own <= graphMaximum
          ? s
          : { ...s, definition: { ...s.definition, lifetimeMinutes: graphMaximum } };
      },
    };
  }
}

function operationOf(kind: DecisionKind): SubscriptionOperation {
  switch (kind) {
    case 'renew':
    case 'patch':
      return 'update';
    case 'reauthorize':
      return 'reauthorize';
    case 'delete':
    case 'recreate':
      return 'delete';
    default:
      return 'create';
  }
}

function report(
  sub: ManagedSubscription,
  action: DecisionKind | 'adopt',
  outcome: ActionOutcome,
  startedAt: Date,
  finishedAt: Date,
  failure: FailureFacts | undefined,
  written?: StoredSubscription,
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
  return report(sub, action, 'skipped', startedAt, finishedAt, undefined);
}

function raced(
  sub: ManagedSubscription,
  action: DecisionKind | 'adopt',
  startedAt: Date,
  finishedAt: Date,
): ActionReport {
  return report(sub, action, 'raced', startedAt, finishedAt, undefined);
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
