import { isGraphError } from '../graph/graphError';
import type { GraphSubscription } from '../graph/graphSubscriptions';
import type { StoredSubscription } from '../subscriptions/model';
import { withoutQuery } from '../subscriptions/model';
import { sameChangeTypes, sameSecret } from '../subscriptions/compare';
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

export interface DriftDifference {
  readonly field: string;
  /** Our value (URLs with query values hidden; secrets never shown). */
  readonly ours: string | boolean | null;
  readonly graph: string | boolean | null;
}

export interface DriftReport {
  readonly key: string;
  readonly tenantId: string;
  readonly graphSubscriptionId: string | null;
  readonly state: DriftState;
  readonly differences: readonly DriftDifference[];
  readonly error: { readonly status: number | null; readonly code: string } | null;
}

/** Expiry differences below this are clock and rounding noise, not drift. */
const expiryToleranceMs = 60_000;

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
  const differences = compare(sub, onGraph);
  return {
    ...base,
    state: differences.length === 0 ? 'inSync' : 'drifted',
    differences,
    error: null,
  };
}

function compare(sub: StoredSubscription, g: GraphSubscription): DriftDifference[] {
  const d = sub.definition;
  const out: DriftDifference[] = [];
  const add = (field: string, ours: string | boolean | null, graph: string | boolean | null) =>
    out.push({ field, ours, graph });

  if (normalizeResource(d.resource) !== normalizeResource(g.resource)) {
    add('resource', d.resource, g.resource);
  }
  if (!sameChangeTypes(d.changeType, g.changeType)) {
    add('changeType', d.changeType, g.changeType);
  }
  if (d.notificationUrl !== g.notificationUrl) {
    add('notificationUrl', hide(d.notificationUrl), hide(g.notificationUrl));
  }
  const lifecycle = d.lifecycleNotificationUrl ?? null;
  if (lifecycle !== g.lifecycleNotificationUrl) {
    add('lifecycleNotificationUrl', hide(lifecycle), hide(g.lifecycleNotificationUrl));
  }
  if (d.includeResourceData !== g.includeResourceData) {
    add('includeResourceData', d.includeResourceData, g.includeResourceData);
  }
  if ((d.encryptionCertificateId ?? null) !== g.encryptionCertificateId) {
    add('encryptionCertificateId', d.encryptionCertificateId ?? null, g.encryptionCertificateId);
  }
  if (
    d.latestSupportedTlsVersion !== undefined &&
    g.latestSupportedTlsVersion !== null &&
    d.latestSupportedTlsVersion !== g.latestSupportedTlsVersion
  ) {
    add('latestSupportedTlsVersion', d.latestSupportedTlsVersion, g.latestSupportedTlsVersion);
  }
  const ours = sub.expiresAt;
  if (
    ours === undefined ||
    Math.abs(ours.getTime() - g.expirationDateTime.getTime()) > expiryToleranceMs
  ) {
    add('expirationDateTime', ours?.toISOString() ?? null, g.expirationDateTime.toISOString());
  }
  // NOTE: compared in constant time and never shown; Graph omits it from some answers.
  if (g.clientState !== null && !sameSecret(g.clientState, sub.clientState)) {
    add('clientState', '(hidden)', '(hidden, different)');
  }
  return out;
}

function normalizeResource(resource: string): string {
  return resource.replace(/^\/+/, '').toLowerCase();
}

function hide(url: string | null): string | null {
  if (url === null) return null;
  try {
    return withoutQuery(url);
  } catch {
    return '(not a URL)';
  }
}
