import { GraphError, isGraphError, localGraphErrorCodes } from '../graph/graphError';
import type { SubscriptionOperation } from '../graph/permissions';
import type { ManagedSubscription, StoredSubscription } from '../subscriptions/model';
import { appliedFrom } from '../subscriptions/wantedState';
import { adopt } from './adoption';
import {
  afterCreated,
  afterFailure,
  afterReauthorized,
  afterRenewed,
  earliest,
  type FailureFacts,
} from './outcomes';
import { deleteRows, type Transition } from './outcomeWrite';
import { graphMinimumLifetimeMs, type Decision, type DecisionKind } from './planRenewals';
import type { ReconcileDeps, ReconcileOptions } from './reconcile';

/**
 * What each decision does on Graph, for a row the reconciler has claimed: the call, and the
 * transition the row goes through after its answer (written by the loop in reconcile.ts).
 */

export interface Performed {
  readonly action: DecisionKind | 'adopt';
  readonly transition: Transition;
  readonly failure?: FailureFacts | undefined;
  readonly deleted?: boolean;
}

export async function perform(
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

export function failureFacts(
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
