import { isGraphError } from '../graph/graphError';
import type { GraphSubscription } from '../graph/graphSubscriptions';
import type { StoredSubscription } from '../subscriptions/model';
import {
  appliedOptionDifferences,
  differencesFromGraph,
  type DriftDifference,
} from '../subscriptions/compare';
import { appliedDefinitionOf } from '../subscriptions/wantedState';
import type { OperationsDeps } from './subscriptionOperations';

/**
 * Drift between our record and Graph's copy (`GET /subscriptions/{id}`): what an operator checks
 * when notifications stop arriving. Read-only: nothing is changed on either side; the sweep
 * recreates what Graph lost when it next touches it.
 */

export type DriftState =
  /** Graph's copy matches our record. */
  | 'inSync'
  /** Graph has it, with different properties (listed). */
  | 'drifted'
  /** Graph answered 404: it expired or was removed. */
  | 'missingOnGraph'
  /** We have not created it on Graph yet (pending, removed, being recreated). */
  | 'notOnGraph'
  /** Graph could not be asked (403, throttling, outage). */
  | 'error';

export type { DriftDifference };

export interface DriftReport {
  readonly key: string;
  readonly tenantId: string;
  readonly graphSubscriptionId: string | null;
  readonly state: DriftState;
  readonly differences: readonly DriftDifference[];
  readonly error: { readonly status: number | null; readonly code: string } | null;
}

export async function verifySubscription(
  deps: Pick<OperationsDeps, 'graph'>,
  sub: StoredSubscription,
): Promise<DriftReport> {
  const { tenantId, key } = sub.definition;
  const base = { key, tenantId, graphSubscriptionId: sub.graphSubscriptionId ?? null };
  if (sub.graphSubscriptionId === undefined) {
    return { ...base, state: 'notOnGraph', differences: [], error: null };
  }
  let onGraph: GraphSubscription;
  try {
    onGraph = await deps.graph.get(tenantId, sub.graphSubscriptionId);
  } catch (e) {
    if (!isGraphError(e)) throw e;
    if (e.status === 404) return { ...base, state: 'missingOnGraph', differences: [], error: null };
    return {
      ...base,
      state: 'error',
      differences: [],
      error: { status: e.status === 0 ? null : e.status, code: e.code },
    };
  }
  const differences = [
    ...differencesFromGraph(sub, onGraph),
    ...appliedOptionDifferences(appliedDefinitionOf(sub)?.definition ?? sub.definition, onGraph),
  ];
  return {
    ...base,
    state: differences.length === 0 ? 'inSync' : 'drifted',
    differences,
    error: null,
  };
}
