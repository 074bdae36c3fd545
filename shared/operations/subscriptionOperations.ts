import {
  isCertificateRefusedError,
  withCurrentCertificate,
} from '../certificates/definitionCertificate';
import type { AppDependencies } from '../composition';
import { isDue } from '../renewal/planRenewals';
import { reconcileSubscription, writeOutcome, type ActionReport } from '../renewal/reconcile';
import {
  isKeyInUseError,
  isStoreNotFoundError,
  withConflictRetry,
  type SubscriptionStore,
} from '../store/subscriptionStore';
import type {
  ManagedSubscription,
  StoredSubscription,
  SubscriptionDefinition,
} from '../subscriptions/model';
import { subscriptionKeyPattern, tenantIdPattern } from '../subscriptions/model';
import { newManagedSubscription } from '../subscriptions/newSubscription';
import {
  appliedDefinitionOf,
  diffDefinitions,
  pendingGraphChange,
} from '../subscriptions/wantedState';
import { notFound, OperationError } from './errors';

/**
 * What operators do to managed subscriptions (admin API and CLI): put a definition under
 * management, change it, delete it, acknowledge a resync. An operation stores the wanted state
 * and lets the reconciler (shared/renewal) act on the row once; it never claims a row or calls
 * Graph itself, so an operation, a sweep and a lifecycle notification meet at one claim.
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
  /** Changed while not on Graph (pending, removed), or only locally (lifetime): stored. */
  | 'updated'
  /** notificationUrl or certificate changed: to be PATCHed on Graph (which also renews it). */
  | 'patched'
  /** resource, changeType, lifecycle URL, resource data or TLS changed: deleted and created. */
  | 'recreated';

export interface ApplyResult {
  readonly change: ApplyChange;
  readonly subscription: StoredSubscription;
  /** The Graph step done at once, if any; a failed one stays wanted for the sweep to retry. */
  readonly action: ActionReport | undefined;
  /** True when the subscription is on Graph with this definition (nothing left for the sweep). */
  readonly complete: boolean;
}

export { diffDefinitions, type DefinitionDiff } from '../subscriptions/wantedState';

/**
 * Puts `definition` under management, idempotently: stores it as the wanted state (a new row,
 * or the row's definition with its revision raised, conditionally on the row read), then
 * reconciles that row once within a time budget and reports. The reconciler is the only code
 * that claims the row and calls Graph: it PATCHes what Graph can PATCH and deletes-then-creates
 * the rest. A change Graph refuses for now stays wanted and the sweep retries it; the answer
 * says so (`complete: false`, the action's outcome).
 */
export async function applyDefinition(
  deps: OperationsDeps,
  given: SubscriptionDefinition,
): Promise<ApplyResult> {
  const { store, clock } = deps;
  const definition = await definitionWithCertificate(deps, given);
  return withConflictRetry(
    async () => {
      const existing = await findByKey(store, definition.key);
      if (existing === undefined) {
        const fresh = { ...newManagedSubscription(definition, clock.now()), wantedRevision: 1 };
        let created: StoredSubscription;
        try {
          created = await store.create(fresh);
        } catch (e) {
          if (isKeyInUseError(e)) throw keyInUse(definition.key, e.heldByTenant ?? 'another');
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
      return applyChange(deps, existing, definition);
    },
    {
      exhausted: () => {
        throw new OperationError(
          409,
          'Conflict',
          `The subscription ${definition.key} kept changing while it was applied; try again`,
        );
      },
    },
  );
}

/**
 * The certificate the definition uses now (a referenced one resolved: Key Vault's latest version
 * or the app setting's PEM), refused with a 400 naming the definition when it is expired, not yet
 * valid, not RSA or unreadable (docs/rich-notifications.md).
 */
async function definitionWithCertificate(
  deps: OperationsDeps,
  definition: SubscriptionDefinition,
): Promise<SubscriptionDefinition> {
  try {
    return (await withCurrentCertificate(definition, deps.certificates, deps.clock.now()))
      .definition;
  } catch (e) {
    if (isCertificateRefusedError(e)) {
      throw new OperationError(400, 'InvalidCertificate', e.message);
    }
    throw e;
  }
}

async function applyChange(
  deps: OperationsDeps,
  existing: StoredSubscription,
  definition: SubscriptionDefinition,
): Promise<ApplyResult> {
  const { store, clock } = deps;
  const diff = diffDefinitions(existing.definition, definition);
  const changed = diff.recreate.length + diff.patch.length + diff.local.length > 0;
  const now = clock.now();
  if (!changed) {
    // NOTE: `failed` needs a person (a permission, a definition): one who re-applies it has
    // usually just fixed the cause, so it is tried now rather than at the slow retry.
    if (existing.status === 'failed' && !isDue(existing, now)) {
      const { etag, ...rest } = existing;
      const due = await store.update({ ...rest, nextActionAt: now, updatedAt: now }, etag);
      return finish(deps, 'unchanged', due);
    }
    // Re-applying an unchanged definition retries what is due (a failing create, say).
    return isDue(existing, now)
      ? finish(deps, 'unchanged', existing)
      : {
          change: 'unchanged',
          subscription: existing,
          action: undefined,
          complete: isComplete(existing),
        };
  }
  // NOTE: the applied state is written out before the definition changes, so a row that
  // predates it keeps saying what Graph has.
  const applied = appliedDefinitionOf(existing);
  const onGraph =
    applied === undefined ? undefined : diffDefinitions(applied.definition, definition);
  const change: ApplyChange =
    onGraph === undefined
      ? 'updated'
      : onGraph.recreate.length > 0
        ? 'recreated'
        : onGraph.patch.length > 0
          ? 'patched'
          : 'updated';
  const { etag, ...rest } = existing;
  const wanted = await store.update(
    {
      ...rest,
      definition,
      wantedRevision: (existing.wantedRevision ?? 0) + 1,
      applied,
      // A Graph step is owed now; a local change (lifetime) waits for the next renewal.
      nextActionAt: change === 'updated' && applied !== undefined ? existing.nextActionAt : now,
      updatedAt: now,
    },
    etag,
  );
  if (change === 'updated' && applied !== undefined) {
    return {
      change,
      subscription: wanted,
      action: undefined,
      complete: isComplete(wanted),
    };
  }
  return finish(deps, change, wanted);
}

/**
 * Reconciles the stored row once, within the claim TTL (so the call never outlives the claim it
 * takes), and reports the state it left. What is not done by then stays due for the sweep.
 */
async function finish(
  deps: OperationsDeps,
  change: ApplyChange,
  row: StoredSubscription,
): Promise<ApplyResult> {
  const action = await reconcileSubscription(deps, row, {
    signal: AbortSignal.timeout(deps.claimTtlMs),
  });
  const fresh =
    (await deps.store.get(row.definition.tenantId, row.definition.key)) ??
    action.subscription ??
    row;
  return { change, subscription: fresh, action, complete: isComplete(fresh) };
}

/** On Graph, active, with the wanted definition. */
function isComplete(sub: ManagedSubscription): boolean {
  return (
    sub.status === 'active' &&
    sub.graphSubscriptionId !== undefined &&
    pendingGraphChange(sub) === undefined
  );
}

export interface DeleteResult {
  /** True when it is gone from Graph and from the store. */
  readonly deleted: boolean;
  /** When not deleted yet: the row, `deleting`, which the sweep finishes. */
  readonly subscription: StoredSubscription | undefined;
  readonly action: ActionReport | undefined;
}

/**
 * Stores the wanted state "gone" (`deleting`, due now; conditional on the row read), then
 * reconciles the row once within the claim TTL: the reconciler deletes it on Graph and from the
 * store. While another operation holds the row's claim, the delete is still stored and that
 * operation's outcome keeps it (`deleting` is kept by every outcome write); the sweep finishes it.
 */
export async function deleteSubscription(
  deps: OperationsDeps,
  key: string,
  tenantId?: string,
): Promise<DeleteResult> {
  return withConflictRetry(
    async () => {
      const found = await getByKey(deps, key, tenantId);
      let marked: StoredSubscription = found;
      if (found.status !== 'deleting') {
        const now = deps.clock.now();
        const { etag, ...sub } = found;
        try {
          marked = await deps.store.update(
            { ...sub, status: 'deleting', nextActionAt: now, updatedAt: now },
            etag,
          );
        } catch (e) {
          if (isStoreNotFoundError(e)) {
            return { deleted: true, subscription: undefined, action: undefined };
          }
          throw e;
        }
      }
      const action = await reconcileSubscription(deps, marked, {
        signal: AbortSignal.timeout(deps.claimTtlMs),
      });
      const left = await deps.store.get(marked.definition.tenantId, key);
      return { deleted: left === undefined, subscription: left, action };
    },
    {
      exhausted: () => {
        throw new OperationError(
          409,
          'Conflict',
          `The subscription ${key} kept changing while it was deleted; try again`,
        );
      },
    },
  );
}

function keyInUse(key: string, tenantId: string): OperationError {
  return new OperationError(
    409,
    'KeyInUse',
    `The key ${key} is already used in tenant ${tenantId}; keys are unique across tenants`,
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
