import type { GraphError } from '../graph/graphError';
import type { GraphSubscription } from '../graph/graphSubscriptions';
import { sameChangeTypes, sameSecret } from '../subscriptions/compare';
import type { StoredSubscription } from '../subscriptions/model';
import { appliedFrom } from '../subscriptions/wantedState';
import { failureFacts, type Performed } from './actions';
import { afterCreated, afterFailure, type FailureFacts } from './outcomes';
import type { Decision } from './planRenewals';
import type { ReconcileDeps, ReconcileOptions } from './reconcile';

/**
 * 409 on create: Graph already has a subscription for this resource and change type, typically
 * one we created just before a crash. Find it with one list call and adopt it when its
 * notification URL matches ours; then renew it, which also proves it is this app's.
 */
export async function adopt(
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
