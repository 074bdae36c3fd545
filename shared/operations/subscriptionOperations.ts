import type { AppDependencies } from '../composition';
import { isGraphError, type GraphError } from '../graph/graphError';
import type { UpdateSubscriptionRequest } from '../graph/graphSubscriptions';
import { afterFailure, afterRenewed } from '../renewal/outcomes';
import { expiryFor, isDue } from '../renewal/planRenewals';
import {
  reconcileSubscription,
  writeOutcome,
  type ActionReport,
  type Transition,
} from '../renewal/reconcile';
import {
  isClaimHeldError,
  isKeyInUseError,
  isStoreConflictError,
  isStoreNotFoundError,
  type SubscriptionStore,
} from '../store/subscriptionStore';
import type {
  ManagedSubscription,
  StoredSubscription,
  SubscriptionDefinition,
} from '../subscriptions/model';
import { subscriptionKeyPattern, tenantIdPattern } from '../subscriptions/model';
import { claimHeldUntil, newClaimOwner } from '../subscriptions/claims';
import { sameChangeTypes } from '../subscriptions/compare';
import { newManagedSubscription } from '../subscriptions/newSubscription';
import { notFound, OperationError } from './errors';

/**
 * What operators do to managed subscriptions (admin API and CLI): put a definition under
 * management, change it, delete it, acknowledge a resync. Every Graph call goes through the same
 * core as the functions (reconcile: claim, pace, call, record), so an operation and a sweep or a
 * lifecycle notification never both act on one subscription.
 */

export type OperationsDeps = AppDependencies;

/**
 * By our key, in any tenant (keys are unique across tenants: the store reads the key's
 * reservation), or in the given one.
 */
export async function findByKey(
  store: SubscriptionStore,
  key: string,
  tenantId?: string,
): Promise<StoredSubscription | undefined> {
  if (!subscriptionKeyPattern.test(key)) return undefined;
  if (tenantId !== undefined) {
    return tenantIdPattern.test(tenantId) ? store.get(tenantId.toLowerCase(), key) : undefined;
  }
  return store.findByKey(key);
}

export async function getByKey(
  deps: OperationsDeps,
  key: string,
  tenantId?: string,
): Promise<StoredSubscription> {
  const found = await findByKey(deps.store, key, tenantId);
  if (found === undefined) throw notFound(key);
  return found;
}

/** How an applied definition changed the managed subscription. */
export type ApplyChange =
  /** New: stored and created on Graph. */
  | 'created'
  /** Same definition as stored. */
  | 'unchanged'
  /** Changed while not on Graph (pending, removed): stored, then created. */
  | 'updated'
  /** notificationUrl or certificate changed: PATCHed on Graph (which also renews it). */
  | 'patched'
  /** resource, changeType, lifecycle URL, resource data or TLS changed: deleted and created. */
  | 'recreated';

export interface ApplyResult {
  readonly change: ApplyChange;
  readonly subscription: StoredSubscription;
  /** The Graph step done at once, if any; a failed one stays recorded for the sweep to retry. */
  readonly action: ActionReport | undefined;
  /** True when the subscription is on Graph with this definition (nothing left for the sweep). */
  readonly complete: boolean;
}

const recreateFields = [
  'resource',
  'changeType',
  'lifecycleNotificationUrl',
  'includeResourceData',
  'latestSupportedTlsVersion',
] as const;
const patchFields = [
  'notificationUrl',
  'encryptionCertificate',
  'encryptionCertificateId',
] as const;

export interface DefinitionDiff {
  readonly recreate: readonly string[];
  readonly patch: readonly string[];
  /** Changes Graph does not hold (lifetimeMinutes): stored, used at the next renewal. */
  readonly local: readonly string[];
}

export function diffDefinitions(
  stored: SubscriptionDefinition,
  wanted: SubscriptionDefinition,
): DefinitionDiff {
  const recreate = recreateFields.filter((f) =>
    f === 'changeType'
      ? !sameChangeTypes(stored.changeType, wanted.changeType)
      : stored[f] !== wanted[f],
  );
  const patch = patchFields.filter((f) => stored[f] !== wanted[f]);
  const local = stored.lifetimeMinutes === wanted.lifetimeMinutes ? [] : ['lifetimeMinutes'];
  return { recreate, patch, local };
}

/**
 * Puts `definition` under management, idempotently. A new key is stored (pending, due now) and
 * created on Graph at once. A changed definition is applied the way Graph allows: PATCH for the
 * notification URL and the certificate, delete-and-create for anything else (with a resync
 * request, since notifications in between are lost). A failed Graph step after the definition is
 * stored stays recorded for the sweep to retry; a refused delete (before a recreate) or PATCH
 * leaves everything as it was and is reported as an `OperationError` (502/503).
 */
export async function applyDefinition(
  deps: OperationsDeps,
  definition: SubscriptionDefinition,
): Promise<ApplyResult> {
  const { store, clock } = deps;
  for (let attempt = 0; attempt < 3; attempt++) {
    const existing = await findByKey(store, definition.key);
    if (existing === undefined) {
      let created: StoredSubscription;
      try {
        created = await store.create(newManagedSubscription(definition, clock.now()));
      } catch (e) {
        // Another writer stored the same key meanwhile: apply to what it stored.
        if (isStoreConflictError(e)) continue;
        if (isKeyInUseError(e)) throw keyInUse(definition.key, e.heldByTenant ?? 'another tenant');
        throw e;
      }
      return finish(deps, 'created', created);
    }
    if (existing.definition.tenantId !== definition.tenantId) {
      throw keyInUse(definition.key, existing.definition.tenantId);
    }
    if (existing.status === 'deleting') {
      throw new OperationError(
        409,
        'BeingDeleted',
        `The subscription ${definition.key} is being deleted; apply it again once it is gone`,
      );
    }
    try {
      return await applyChange(deps, existing, definition);
    } catch (e) {
      if (isStoreConflictError(e)) continue;
      if (isClaimHeldError(e)) throw busy(definition.key);
      throw e;
    }
  }
  throw new OperationError(
    409,
    'Conflict',
    `The subscription ${definition.key} kept changing while it was applied; try again`,
  );
}

async function applyChange(
  deps: OperationsDeps,
  existing: StoredSubscription,
  definition: SubscriptionDefinition,
): Promise<ApplyResult> {
  const { store, clock } = deps;
  const diff = diffDefinitions(existing.definition, definition);
  const changed = diff.recreate.length + diff.patch.length + diff.local.length > 0;
  if (!changed) {
    // NOTE: `failed` needs a person (a permission, a definition): one who re-applies it has
    // usually just fixed the cause, so it is tried now rather than at the slow retry.
    if (existing.status === 'failed' && !isDue(existing, clock.now())) {
      const now = clock.now();
      const due = await store.update(
        { ...withDefinition(existing, existing.definition, now), nextActionAt: now },
        existing.etag,
      );
      return finish(deps, 'unchanged', due);
    }
    // Re-applying an unchanged definition retries what is due (a failing create, say).
    return isDue(existing, clock.now())
      ? finish(deps, 'unchanged', existing)
      : {
          change: 'unchanged',
          subscription: existing,
          action: undefined,
          complete: isComplete(existing),
        };
  }
  if (existing.graphSubscriptionId === undefined) {
    const updated = await store.update(
      { ...withDefinition(existing, definition, clock.now()), nextActionAt: clock.now() },
      existing.etag,
    );
    return finish(deps, 'updated', updated);
  }
  if (diff.recreate.length > 0) return recreate(deps, existing, definition);
  if (diff.patch.length > 0) return patch(deps, existing, definition);
  const updated = await store.update(
    withDefinition(existing, definition, clock.now()),
    existing.etag,
  );
  return {
    change: 'updated',
    subscription: updated,
    action: undefined,
    complete: isComplete(updated),
  };
}

function withDefinition(
  sub: StoredSubscription,
  definition: SubscriptionDefinition,
  now: Date,
): ManagedSubscription {
  const { etag: _etag, ...rest } = sub;
  return { ...rest, definition, updatedAt: now };
}

async function claim(deps: OperationsDeps, row: StoredSubscription): Promise<StoredSubscription> {
  const now = deps.clock.now();
  const owner = newClaimOwner(deps.instanceId);
  return deps.store.claim(row, owner, now, new Date(now.getTime() + deps.claimTtlMs));
}

/** Releases a claim without changing anything else (after a refused Graph call). */
async function release(deps: OperationsDeps, claimed: StoredSubscription): Promise<void> {
  const owner = claimed.claim?.owner;
  await writeOutcome(deps, claimed, (sub, now) =>
    owner !== undefined && sub.claim?.owner === owner
      ? { ...sub, claim: undefined, updatedAt: now }
      : sub,
  );
}

async function recreate(
  deps: OperationsDeps,
  existing: StoredSubscription,
  definition: SubscriptionDefinition,
): Promise<ApplyResult> {
  const { graph, pacer } = deps;
  const tenantId = definition.tenantId;
  await pacer.acquire('write', tenantId);
  const claimed = await claim(deps, existing);
  const oldId = claimed.graphSubscriptionId ?? '';
  try {
    await graph.delete(tenantId, oldId);
  } catch (e) {
    if (!(isGraphError(e) && e.status === 404)) {
      await release(deps, claimed);
      throw graphRefusal(e, definition.key, 'delete the old subscription before recreating it');
    }
  }
  deps.log.info('subscription deleted on Graph to apply a definition change', {
    tenantId,
    key: definition.key,
    graphId: oldId,
  });
  // NOTE: stored as pending with its generation kept: the create that follows requests a resync
  // (reason `recreated`), since notifications between the delete and the create are lost.
  const toPending: Transition = (sub, now) => ({
    ...sub,
    definition,
    graphSubscriptionId: undefined,
    expiresAt: undefined,
    status: 'pending',
    nextActionAt: now,
    failureCount: 0,
    lastError: undefined,
    pendingEvent: undefined,
    claim: undefined,
    updatedAt: now,
  });
  const written = await writeOutcome(deps, claimed, toPending);
  if (written === undefined) throw notFound(definition.key);
  return finish(deps, 'recreated', written);
}

async function patch(
  deps: OperationsDeps,
  existing: StoredSubscription,
  definition: SubscriptionDefinition,
): Promise<ApplyResult> {
  const { graph, pacer, clock, policy } = deps;
  const tenantId = definition.tenantId;
  await pacer.acquire('write', tenantId);
  const claimed = await claim(deps, existing);
  const startedAt = clock.now();
  // NOTE: the expiry is renewed in the same PATCH (Graph wants one of expiry or URL anyway).
  const changes: UpdateSubscriptionRequest = {
    notificationUrl: definition.notificationUrl,
    expirationDateTime: expiryFor(definition, startedAt, policy),
    encryptionCertificate: definition.encryptionCertificate,
    encryptionCertificateId: definition.encryptionCertificateId,
  };
  let transition: Transition;
  try {
    const renewed = await graph.update(tenantId, claimed.graphSubscriptionId ?? '', changes);
    transition = (sub, now) =>
      afterRenewed({ ...sub, definition }, renewed, now, startedAt, policy);
  } catch (e) {
    if (!(isGraphError(e) && e.status === 404)) {
      await release(deps, claimed);
      throw graphRefusal(e, definition.key, 'update the subscription');
    }
    // Graph no longer has it: store the new definition; it is recreated from it at once.
    transition = (sub, now) =>
      afterFailure(
        { ...sub, definition },
        'renew',
        { status: 404, code: e.code, message: e.message },
        now,
        startedAt,
        policy,
      );
  }
  const written = await writeOutcome(deps, claimed, transition);
  if (written === undefined) throw notFound(definition.key);
  if (written.status === 'removed') return finish(deps, 'patched', written);
  return {
    change: 'patched',
    subscription: written,
    action: undefined,
    complete: isComplete(written),
  };
}

function graphRefusal(e: unknown, key: string, what: string): OperationError {
  if (!isGraphError(e)) throw e;
  const g: GraphError = e;
  const transient = g.status === 0 || g.status === 429 || g.status >= 500;
  return new OperationError(
    transient ? 503 : 502,
    'GraphRefused',
    `Graph refused to ${what} for ${key} (${g.status === 0 ? 'no response' : `HTTP ${g.status}`} ${g.code}); nothing was changed`,
  );
}

/** Runs the core's reconcile on the stored row now and reports the state it left. */
async function finish(
  deps: OperationsDeps,
  change: ApplyChange,
  row: StoredSubscription,
): Promise<ApplyResult> {
  const action = await reconcileSubscription(deps, row);
  const fresh =
    (await deps.store.get(row.definition.tenantId, row.definition.key)) ??
    action.subscription ??
    row;
  return { change, subscription: fresh, action, complete: isComplete(fresh) };
}

function isComplete(sub: ManagedSubscription): boolean {
  return sub.status === 'active' && sub.graphSubscriptionId !== undefined;
}

export interface DeleteResult {
  /** True when it is gone from Graph and from the store. */
  readonly deleted: boolean;
  /** When not deleted yet: the row, `deleting`, which the sweep finishes. */
  readonly subscription: StoredSubscription | undefined;
  readonly action: ActionReport | undefined;
}

/**
 * Marks the subscription `deleting` (due now), then deletes it from Graph and the store. Refused
 * (409 Busy) while another worker holds the row's claim: the outcome it writes afterwards (a
 * renewal, say) would set the status back to active and the delete would be lost.
 */
export async function deleteSubscription(
  deps: OperationsDeps,
  key: string,
  tenantId?: string,
): Promise<DeleteResult> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const found = await getByKey(deps, key, tenantId);
    let marked: StoredSubscription = found;
    if (found.status !== 'deleting') {
      const now = deps.clock.now();
      if (claimHeldUntil(found, now, deps.claimTtlMs) !== undefined) throw busy(key);
      // NOTE: conditional on the row read, so no claim was taken since the check above.
      const { etag, ...sub } = found;
      try {
        marked = await deps.store.update(
          { ...sub, status: 'deleting', nextActionAt: now, updatedAt: now },
          etag,
        );
      } catch (e) {
        if (isStoreConflictError(e)) continue;
        if (isStoreNotFoundError(e)) {
          return { deleted: true, subscription: undefined, action: undefined };
        }
        throw e;
      }
    }
    const action = await reconcileSubscription(deps, marked);
    const left = await deps.store.get(marked.definition.tenantId, key);
    return { deleted: left === undefined, subscription: left, action };
  }
  throw new OperationError(
    409,
    'Conflict',
    `The subscription ${key} kept changing while it was deleted; try again`,
  );
}

function keyInUse(key: string, tenantId: string): OperationError {
  return new OperationError(
    409,
    'KeyInUse',
    `The key ${key} is already used in tenant ${tenantId}; keys are unique across tenants`,
  );
}

function busy(key: string): OperationError {
  return new OperationError(
    409,
    'Busy',
    `The subscription ${key} is being worked on (renewed or recreated); try again in a minute`,
  );
}

export interface ResyncAckResult {
  /** False when there was no resync request to acknowledge (nothing changed). */
  readonly acknowledged: boolean;
  readonly subscription: StoredSubscription;
}

/**
 * Clears the resync request shown on the record once the owner has resynced. With
 * `requestedAt`, only that request is cleared: a newer one is kept (409), so an owner never
 * acknowledges a loss it has not seen.
 */
export async function acknowledgeResync(
  deps: OperationsDeps,
  key: string,
  options: { readonly tenantId?: string; readonly requestedAt?: Date } = {},
): Promise<ResyncAckResult> {
  const found = await getByKey(deps, key, options.tenantId);
  const requested = found.resyncRequestedAt;
  if (requested === undefined) return { acknowledged: false, subscription: found };
  if (options.requestedAt !== undefined && options.requestedAt.getTime() !== requested.getTime()) {
    throw new OperationError(
      409,
      'NewerResync',
      `The resync request of ${key} is from ${requested.toISOString()}, not the one acknowledged; resync again and acknowledge that one`,
    );
  }
  const written = await writeOutcome(deps, found, (sub, now) =>
    sub.resyncRequestedAt?.getTime() === requested.getTime()
      ? {
          ...sub,
          resyncRequestedAt: undefined,
          resyncReason: undefined,
          resyncSignalledAt: undefined,
          updatedAt: now,
        }
      : sub,
  );
  if (written === undefined) throw notFound(key);
  if (written.resyncRequestedAt !== undefined) {
    throw new OperationError(
      409,
      'NewerResync',
      `A newer resync request of ${key} arrived meanwhile (${written.resyncRequestedAt.toISOString()}); resync again and acknowledge that one`,
    );
  }
  deps.log.info('resync acknowledged', { tenantId: written.definition.tenantId, key });
  return { acknowledged: true, subscription: written };
}
