import type { GraphSubscription } from '../graph/graphSubscriptions';
import {
  differencesFromGraph,
  normalizedResource,
  sameChangeTypes,
  type DriftDifference,
} from '../subscriptions/compare';
import type { StoredSubscription, SubscriptionStatus } from '../subscriptions/model';
import { claimHeldUntil } from '../subscriptions/claims';
import { deploymentMarkerOf } from './deploymentMarker';

/**
 * The drift check's decisions for one tenant, from Graph's list and our rows (pure).
 *
 * - A row that should be on Graph and whose Graph id is not listed is `gone`: confirmed with a GET
 *   (404), then recreated at once with a resync request (reason `notFound`).
 * - A listed subscription that no row points at is an orphan: `ours` (it carries this
 *   deployment's marker) is deleted; `foreign` (another deployment's marker) and `unmarked` (no
 *   marker) are reported and never deleted.
 * - A row whose Graph copy differs from what we applied is `drifted`: reported and reconciled.
 *
 * Rows that changed after the list was asked for, or that a writer holds (a claim), are
 * left alone this time: the list may predate their Graph call. Orphans that such a row may own
 * (same resource and change type) are left alone too, so a create in flight is never undone.
 */

export type OrphanKind = 'ours' | 'foreign' | 'unmarked';

export interface Orphan {
  readonly graph: GraphSubscription;
  readonly kind: OrphanKind;
}

export interface Drifted {
  readonly row: StoredSubscription;
  readonly graph: GraphSubscription;
  readonly differences: readonly DriftDifference[];
}

export interface DriftPlan {
  readonly gone: readonly StoredSubscription[];
  readonly drifted: readonly Drifted[];
  readonly orphans: readonly Orphan[];
  /** Rows and orphans left for the next check because a writer is at work on them. */
  readonly inFlight: number;
}

export interface DriftInput {
  readonly rows: readonly StoredSubscription[];
  readonly listed: readonly GraphSubscription[];
  readonly deploymentId: string;
  /** When the first list page was asked for. */
  readonly listStartedAt: Date;
  readonly now: Date;
  /** The claim TTL the app sets: a claim ending later is honoured only that long (claims.ts). */
  readonly claimTtlMs?: number;
}

/** Statuses in which the row's Graph id should be live on Graph. */
const livingStatuses: ReadonlySet<SubscriptionStatus> = new Set([
  'active',
  'reauthorizationRequired',
  'failing',
]);

/** Differences the drift check reconciles (PATCHable or ours to refresh); others are reported. */
export const reconcilableFields: ReadonlySet<string> = new Set([
  'expirationDateTime',
  'notificationUrl',
  'encryptionCertificateId',
]);

export function planDrift(input: DriftInput): DriftPlan {
  const { rows, listed, deploymentId, listStartedAt, now } = input;
  const claimTtlMs = input.claimTtlMs ?? Number.POSITIVE_INFINITY;
  const byId = new Map(listed.map((g) => [g.id, g]));
  const referenced = new Set<string>();
  const busy: StoredSubscription[] = [];
  const gone: StoredSubscription[] = [];
  const drifted: Drifted[] = [];

  for (const row of rows) {
    if (row.graphSubscriptionId !== undefined) referenced.add(row.graphSubscriptionId);
    if (isBusy(row, listStartedAt, now, claimTtlMs)) {
      busy.push(row);
      continue;
    }
    if (row.graphSubscriptionId === undefined || !livingStatuses.has(row.status)) continue;
    const onGraph = byId.get(row.graphSubscriptionId);
    if (onGraph === undefined) {
      gone.push(row);
      continue;
    }
    const differences = differencesFromGraph(row, onGraph);
    if (differences.length > 0) drifted.push({ row, graph: onGraph, differences });
  }

  const orphans: Orphan[] = [];
  let inFlight = busy.length;
  for (const g of listed) {
    if (referenced.has(g.id)) continue;
    if (busy.some((row) => mayOwn(row, g))) {
      inFlight++;
      continue;
    }
    const marker = deploymentMarkerOf(g.lifecycleNotificationUrl);
    const kind: OrphanKind =
      marker === undefined ? 'unmarked' : marker === deploymentId ? 'ours' : 'foreign';
    orphans.push({ graph: g, kind });
  }
  return { gone, drifted, orphans, inFlight };
}

function isBusy(
  row: StoredSubscription,
  listStartedAt: Date,
  now: Date,
  claimTtlMs: number,
): boolean {
  // NOTE: the one "held by someone else" rule, the one the store and the planner apply.
  if (claimHeldUntil(row, now, claimTtlMs) !== undefined) return true;
  // NOTE: strictly after. A row written at the very instant the list started was written after
  // Graph answered the call it records, and the list was asked for after that; should Graph's
  // list still lack its id, the GET that confirms "gone" finds it and nothing changes. Treating
  // equality as busy skipped such a row for a whole period wherever a clock's resolution puts a
  // write and the list start on the same instant (the chaos run's clock stands still in a tick).
  return row.updatedAt > listStartedAt;
}

function mayOwn(row: StoredSubscription, g: GraphSubscription): boolean {
  return (
    normalizedResource(row.definition.resource) === normalizedResource(g.resource) &&
    sameChangeTypes(row.definition.changeType, g.changeType)
  );
}
