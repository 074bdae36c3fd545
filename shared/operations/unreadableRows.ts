import { isGraphError } from '../graph/graphError';
import type { ReconcileDeps } from '../renewal/reconcile';
import type { InvalidRow } from '../store/subscriptionStore';

export interface UnreadableRowDeletion {
  /** False when the row was gone already. */
  readonly removed: boolean;
  /** The Graph id the row still named, if it could be read. */
  readonly graphSubscriptionId: string | undefined;
  /** True when that Graph subscription is gone now (deleted, or already gone). */
  readonly graphDeleted: boolean;
}

/**
 * DELETE of a subscription whose row cannot be read (hand-edited or corrupted): the row goes
 * (with its due and Graph-index rows and its key's reservation), then the Graph subscription it
 * still names, where that id is readable.
 * NOTE: the one Graph write outside the reconciler, which needs a readable row to claim. The
 * row is gone first, so nothing else acts on it; a Graph delete that fails leaves an orphan
 * that the drift check finds by its deployment marker (docs/drift.md).
 */
export async function deleteUnreadableSubscription(
  deps: Pick<ReconcileDeps, 'store' | 'graph' | 'log'>,
  problem: InvalidRow,
  key: string,
): Promise<UnreadableRowDeletion> {
  const tenantId = problem.partitionKey;
  const removal = await deps.store.removeUnreadable(tenantId, key);
  const graphSubscriptionId = removal.graphSubscriptionId;
  let graphDeleted = graphSubscriptionId === undefined;
  if (graphSubscriptionId !== undefined) {
    try {
      await deps.graph.delete(tenantId, graphSubscriptionId);
      graphDeleted = true;
    } catch (e) {
      if (isGraphError(e) && e.status === 404) {
        graphDeleted = true;
      } else {
        deps.log.warn('unreadable row removed; its Graph subscription could not be deleted', {
          tenantId,
          key,
          graphId: graphSubscriptionId,
          status: isGraphError(e) ? e.status : null,
        });
      }
    }
  }
  deps.log.info('unreadable subscription row deleted', {
    tenantId,
    key,
    removed: removal.removed,
    graphDeleted,
  });
  return { removed: removal.removed, graphSubscriptionId, graphDeleted };
}
