import { isGraphError } from '../graph/graphError';
import type { GraphSubscription } from '../graph/graphSubscriptions';
import type { Logger } from '../logger';
import { afterFailure, classifyFailure, earliest } from '../renewal/outcomes';
import { appliedDefinitionOf } from '../subscriptions/wantedState';
import { reconcileSubscription, writeOutcome, type ReconcileDeps } from '../renewal/reconcile';
import {
  isStoreConflictError,
  isStoreNotFoundError,
  type SubscriptionStore,
} from '../store/subscriptionStore';
import type {
  AppliedDefinition,
  ManagedSubscription,
  StoredSubscription,
} from '../subscriptions/model';
import {
  noDriftCounts,
  type DriftCounts,
  type DriftRecords,
  type TenantDriftRecord,
} from './driftRecords';
import type { ListPacer } from './listPacer';
import { planDrift, reconcilableFields, type Drifted, type Orphan } from './planDrift';

/**
 * The drift check (shell around `planDrift`): per tenant, list Graph's subscriptions for the app
 * (paged, paced under the list limit), read our rows, then act:
 * - a row whose Graph id is gone is confirmed with a GET (404), marked removed exactly as a 404
 *   on renew marks it, and recreated at once by the reconciler, which requests a resync with
 *   reason `notFound`;
 * - an orphan carrying this deployment's marker is deleted; any other orphan is reported;
 * - a drifted row is reported; what Graph holds becomes the row's applied state, due now, and
 *   the reconciler PATCHes a notification URL or certificate id back, or renews to the expiry
 *   we want (see `reconcileDrift`).
 * Tenants are checked oldest-checked first; a run stops starting tenants at its deadline and the
 * next run goes on with the rest. A tenant whose list, or the GET confirming a missing id, failed
 * transiently (timeout, 429, 5xx after the retry policy gave up) is checked once more after the
 * others, so one fault does not cost a silent drop a whole period.
 */

export interface DriftDeps extends ReconcileDeps {
  readonly store: SubscriptionStore;
  readonly driftRecords: DriftRecords;
  readonly listPacer: ListPacer;
  readonly deploymentId: string;
  readonly log: Logger;
}

export interface DriftRunOptions {
  /** No tenant is started after this (the Functions timeout); the next run takes the rest. */
  readonly deadline?: Date;
  readonly signal?: AbortSignal;
}

export interface DriftRunSummary extends DriftCounts {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly tenantsChecked: number;
  /** Tenants not reached before the deadline, or that could not be listed. */
  readonly tenantsLeft: number;
  readonly listRequests: number;
  readonly errors: number;
}

export async function runDriftCheck(
  deps: DriftDeps,
  options: DriftRunOptions = {},
): Promise<DriftRunSummary> {
  const startedAt = deps.clock.now();
  const lastChecked = new Map(
    (await deps.driftRecords.all()).map((r) => [r.tenantId, Date.parse(r.checkedAt)]),
  );
  // NOTE: the least recently checked first, so a run cut short by its deadline never starves
  // the same tenants twice.
  const tenants = [...(await deps.store.tenants())].sort(
    (a, b) => (lastChecked.get(a) ?? -Infinity) - (lastChecked.get(b) ?? -Infinity),
  );
  const total = emptyTotals();
  const checked = new Set<string>();
  // NOTE: each tenant at most twice: once in order, once more after the others when a transient
  // failure left something unchecked.
  const queue = tenants.map((tenantId) => ({ tenantId, retry: false }));
  for (const { tenantId, retry } of queue) {
    if (options.deadline !== undefined && deps.clock.now() >= options.deadline) break;
    if (options.signal?.aborted === true) break;
    const { record, listRequests, transientFailure } = await checkTenant(deps, tenantId, options);
    total.listRequests += listRequests;
    if (transientFailure && !retry) queue.push({ tenantId, retry: true });
    if (record.error !== null) {
      if (!transientFailure || retry) total.errors++;
      continue;
    }
    const first = !checked.has(tenantId);
    checked.add(tenantId);
    if (first) total.listed += record.listed;
    total.gone += record.gone;
    total.recreated += record.recreated;
    total.orphansDeleted += record.orphansDeleted;
    if (first) {
      total.orphansFound += record.orphansFound;
      total.orphansReported += record.orphansReported;
      total.drifted += record.drifted;
    }
  }
  return {
    startedAt: startedAt.toISOString(),
    finishedAt: deps.clock.now().toISOString(),
    tenantsChecked: checked.size,
    tenantsLeft: tenants.length - checked.size,
    ...total,
  };
}

function emptyTotals() {
  return { ...noDriftCounts, listRequests: 0, errors: 0 };
}

export async function checkTenant(
  deps: DriftDeps,
  tenantId: string,
  options: DriftRunOptions = {},
): Promise<{
  readonly record: TenantDriftRecord;
  readonly listRequests: number;
  /** The list, or a GET confirming a missing id, failed transiently: worth another try. */
  readonly transientFailure: boolean;
}> {
  const { clock, log } = deps;
  const listStartedAt = clock.now();
  let listRequests = 0;
  const listed: GraphSubscription[] = [];
  try {
    const pages = deps.graph.list(tenantId, {
      abortSignal: options.signal,
      beforePage: async () => {
        await deps.listPacer.acquire(tenantId, options.signal);
        listRequests++;
      },
    });
    for await (const g of pages) listed.push(g);
  } catch (e) {
    if (!isGraphError(e)) throw e;
    log.warn('drift check could not list the tenant', {
      tenantId,
      status: e.status,
      code: e.code,
    });
    // NOTE: not recorded as checked: health keeps showing the tenant as not checked.
    return {
      record: { ...emptyRecord(tenantId, clock.now()), error: e.code },
      listRequests,
      transientFailure: classifyFailure(e) === 'transient',
    };
  }

  const rows = await tenantRows(deps.store, tenantId);
  const plan = planDrift({
    rows,
    listed,
    deploymentId: deps.deploymentId,
    listStartedAt,
    now: clock.now(),
    claimTtlMs: deps.claimTtlMs,
  });

  let gone = 0;
  let recreated = 0;
  let unconfirmed = 0;
  for (const row of plan.gone) {
    const outcome = await recreateGone(deps, row, options);
    if (outcome === 'recreated' || outcome === 'marked') gone++;
    if (outcome === 'recreated') recreated++;
    if (outcome === 'unconfirmed') unconfirmed++;
  }
  let orphansDeleted = 0;
  let orphansReported = 0;
  for (const orphan of plan.orphans) {
    if (orphan.kind === 'ours' && (await deleteOrphan(deps, tenantId, orphan, options))) {
      orphansDeleted++;
    } else {
      orphansReported++;
      log.warn('orphan subscription on Graph left alone', {
        tenantId,
        graphId: orphan.graph.id,
        kind: orphan.kind,
      });
    }
  }
  for (const drifted of plan.drifted) await reconcileDrift(deps, drifted, options);
  if (options.signal?.aborted === true) {
    // NOTE: cut short (the host stopping the worker): what was not done must not look checked.
    return {
      record: { ...emptyRecord(tenantId, clock.now()), error: 'Aborted' },
      listRequests,
      transientFailure: false,
    };
  }

  const record: TenantDriftRecord = {
    ...emptyRecord(tenantId, clock.now()),
    listed: listed.length,
    gone,
    recreated,
    orphansFound: plan.orphans.length,
    orphansDeleted,
    orphansReported,
    drifted: plan.drifted.length,
  };
  await deps.driftRecords.record(record);
  log.info('drift check of a tenant done', {
    tenantId,
    listed: record.listed,
    gone,
    recreated,
    orphansFound: record.orphansFound,
    orphansDeleted,
    drifted: record.drifted,
    inFlight: plan.inFlight,
  });
  return { record, listRequests, transientFailure: unconfirmed > 0 };
}

function emptyRecord(tenantId: string, at: Date): TenantDriftRecord {
  return { tenantId, checkedAt: at.toISOString(), ...noDriftCounts, error: null };
}

async function tenantRows(store: SubscriptionStore, tenantId: string) {
  const rows: StoredSubscription[] = [];
  let continuationToken: string | undefined;
  do {
    const page = await store.list({ tenantId, pageSize: 1000, continuationToken });
    rows.push(...page.items);
    continuationToken = page.continuationToken;
  } while (continuationToken !== undefined);
  return rows;
}

type GoneOutcome = 'recreated' | 'marked' | 'stillThere' | 'unconfirmed';

/**
 * The same transition as a 404 on renew (status `removed`, due now, last error 404), written
 * through the store's conditional update; then the reconciler recreates it at once and requests
 * the resync (reason `notFound`).
 */
async function recreateGone(
  deps: DriftDeps,
  row: StoredSubscription,
  options: DriftRunOptions,
): Promise<GoneOutcome> {
  const { tenantId, key } = row.definition;
  const graphId = row.graphSubscriptionId ?? '';
  try {
    // NOTE: a GET confirms before anything changes: a list is a snapshot, a GET is not.
    await deps.graph.get(tenantId, graphId, { abortSignal: options.signal });
    return 'stillThere';
  } catch (e) {
    if (!isGraphError(e)) throw e;
    if (e.status !== 404) {
      deps.log.warn('drift check could not confirm a missing subscription', {
        tenantId,
        key,
        graphId,
        status: e.status,
        code: e.code,
      });
      return classifyFailure(e) === 'transient' ? 'unconfirmed' : 'stillThere';
    }
  }
  const now = deps.clock.now();
  const marked = afterFailure(
    row,
    'renew',
    {
      status: 404,
      code: 'NotListedOnGraph',
      message: 'The drift check found the subscription gone from Graph',
    },
    now,
    now,
    deps.policy,
  );
  let written: StoredSubscription;
  try {
    written = await deps.store.update(marked, row.etag);
  } catch (e) {
    // Another writer changed it meanwhile: it is theirs to act on; the next check looks again.
    if (isStoreConflictError(e) || isStoreNotFoundError(e)) return 'stillThere';
    throw e;
  }
  deps.log.warn('subscription gone from Graph; recreating', { tenantId, key, graphId });
  const report = await reconcileSubscription(deps, written, { signal: options.signal });
  return report.action === 'create' && report.outcome === 'succeeded' ? 'recreated' : 'marked';
}

async function deleteOrphan(
  deps: DriftDeps,
  tenantId: string,
  orphan: Orphan,
  options: DriftRunOptions,
): Promise<boolean> {
  await deps.pacer.acquire('write', tenantId, options.signal);
  try {
    await deps.graph.delete(tenantId, orphan.graph.id, { abortSignal: options.signal });
  } catch (e) {
    if (!isGraphError(e)) throw e;
    if (e.status !== 404) {
      deps.log.warn('drift check could not delete an orphan', {
        tenantId,
        graphId: orphan.graph.id,
        status: e.status,
        code: e.code,
      });
      return false;
    }
  }
  deps.log.info('orphan subscription of this deployment deleted', {
    tenantId,
    graphId: orphan.graph.id,
  });
  return true;
}

/**
 * A row whose Graph copy differs from what was applied: reported; then what Graph holds is
 * written as the row's applied state (its notification URL and certificate id, its expiry), due
 * now, and the one reconciler takes it from there: the planner sees wanted and applied differ and
 * PATCHes under its own claim, or renews when only the expiry moved. No second Graph write path.
 */
async function reconcileDrift(
  deps: DriftDeps,
  drifted: Drifted,
  options: DriftRunOptions,
): Promise<void> {
  const { row, graph: onGraph, differences } = drifted;
  const { tenantId, key } = row.definition;
  const fields = differences.map((d) => d.field);
  deps.log.warn('subscription drifted from what was applied', {
    tenantId,
    key,
    graphId: onGraph.id,
    fields: fields.join(','),
  });
  if (!fields.some((f) => reconcilableFields.has(f))) return;
  const written = await writeOutcome(deps, row, (sub, now) =>
    sub.graphSubscriptionId === onGraph.id
      ? {
          ...sub,
          applied: appliedOnGraph(sub, onGraph, fields),
          expiresAt: onGraph.expirationDateTime,
          nextActionAt: earliest(sub.nextActionAt, now),
          updatedAt: now,
        }
      : sub,
  );
  if (written === undefined) return;
  await reconcileSubscription(deps, written, { signal: options.signal });
}

/** The applied state with the drifted fields as Graph holds them. */
function appliedOnGraph(
  sub: ManagedSubscription,
  onGraph: GraphSubscription,
  fields: readonly string[],
): AppliedDefinition | undefined {
  const applied = appliedDefinitionOf(sub);
  if (applied === undefined) return undefined;
  const definition = { ...applied.definition };
  if (fields.includes('notificationUrl')) definition.notificationUrl = onGraph.notificationUrl;
  if (fields.includes('encryptionCertificateId')) {
    // NOTE: a list does not return the certificate itself; a different id means neither is ours.
    const id = onGraph.encryptionCertificateId;
    definition.encryptionCertificateId = typeof id === 'string' && id !== '' ? id : undefined;
    definition.encryptionCertificate = undefined;
  }
  return { ...applied, definition };
}
