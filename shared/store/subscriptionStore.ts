import type {
  ManagedSubscription,
  StoredSubscription,
  SubscriptionStatus,
} from '../subscriptions/model';
import { claimHeldUntil } from '../subscriptions/claims';

/**
 * The state of every managed subscription (docs/architecture.md#state-on-the-row). Implemented by
 * `TableSubscriptionStore` (Azure Tables) and `InMemorySubscriptionStore` (core tests); one
 * behavioural test suite runs against both.
 *
 * Every write is conditional on the ETag the caller read. A writer that loses a race gets a
 * `StoreError` `conflict`, re-reads and re-decides; nothing is overwritten blindly. A state change of
 * one subscription (its row, its Graph-id index, its due index) is one atomic write.
 */
export interface SubscriptionStore {
  /** Stores a new subscription and its indexes. `StoreError` `conflict` if the key exists. */
  create(subscription: ManagedSubscription): Promise<StoredSubscription>;

  /** By our stable key. */
  get(tenantId: string, key: string): Promise<StoredSubscription | undefined>;

  /**
   * By key alone (keys are unique across tenants): reads the key's reservation, then the row of
   * the tenant it names. Never scans the tenants (rows older than reservations are migrated once).
   */
  findByKey(key: string): Promise<StoredSubscription | undefined>;

  /**
   * By Graph subscription id, for lifecycle notifications: one point read when the tenant is
   * known; without it, a lookup across tenants.
   */
  findByGraphId(
    graphSubscriptionId: string,
    tenantId?: string,
  ): Promise<StoredSubscription | undefined>;

  /**
   * Replaces the subscription if its ETag is still `etag`, moving its indexes with it.
   * `StoreError` `conflict` when another writer got there first; `StoreError` `notFound` when gone.
   * Key and tenant cannot change.
   */
  update(next: ManagedSubscription, etag: string): Promise<StoredSubscription>;

  /**
   * Takes the row for `owner` (one operation) until `until` (an ETag update), before a Graph
   * call. `StoreError` `claimHeld` if any claim is held at `now` (`claimHeldUntil`); an expired claim is
   * taken over. `StoreError` `conflict` if the row changed since it was read.
   */
  claim(current: StoredSubscription, request: ClaimRequest): Promise<StoredSubscription>;

  /** Removes the subscription and its indexes if its ETag is still `etag`. */
  delete(current: StoredSubscription, etag?: string): Promise<void>;

  /**
   * Removes a subscription whose row exists but cannot be read (hand-edited or corrupted): the
   * row, its due and Graph-index rows, and its key's reservation. Returns the Graph id the row
   * still names in a readable form (for the caller to delete on Graph), and whether a row was
   * there at all.
   */
  removeUnreadable(tenantId: string, key: string): Promise<UnreadableRemoval>;

  /**
   * Subscriptions whose `nextActionAt` is at or before `before`, oldest first within a tenant,
   * read through the due index (not a table scan) and streamed page by page.
   * Rows that fail validation are reported through `onInvalid` and skipped.
   */
  listDue(before: Date, options?: ListDueOptions): AsyncIterable<StoredSubscription>;

  /** Every subscription, optionally filtered, a page at a time (for the admin API and CLI). */
  list(options?: ListOptions): Promise<SubscriptionPage>;

  /** Tenants that have (or had) subscriptions. */
  tenants(): Promise<readonly string[]>;
}

export interface ListDueOptions {
  /** Only this tenant. */
  readonly tenantId?: string;
  readonly onInvalid?: (problem: InvalidRow) => void;
}

export interface ListOptions {
  readonly tenantId?: string;
  readonly status?: SubscriptionStatus;
  /** At most this many per page (default 100, at most 1,000). */
  readonly pageSize?: number;
  /** Opaque token from the previous page. */
  readonly continuationToken?: string;
  readonly onInvalid?: (problem: InvalidRow) => void;
}

export interface SubscriptionPage {
  readonly items: readonly StoredSubscription[];
  readonly continuationToken: string | undefined;
}

/** A stored row that failed validation: reported with its keys, skipped, never rewritten. */
export interface UnreadableRemoval {
  readonly removed: boolean;
  readonly graphSubscriptionId: string | undefined;
}

export interface InvalidRow {
  readonly partitionKey: string;
  readonly rowKey: string;
  readonly reason: string;
}

/**
 * What a store refuses, as one error with a `kind` (a protocol callers switch on, instead of a
 * class per case or a built-in error type):
 * - `conflict`: another writer changed the row since it was read (or a row with that key or
 *   Graph id exists): re-read and decide again;
 * - `notFound`: the row is gone;
 * - `claimHeld`: a live claim holds the row (`owner`, `until`);
 * - `keyInUse`: the key is reserved by another tenant (`heldByTenant`);
 * - `badInput`: an argument the store cannot use (a page size, a continuation token it did not
 *   issue or issued for another filter, an invalid date).
 */
export type StoreErrorKind = 'conflict' | 'notFound' | 'claimHeld' | 'keyInUse' | 'badInput';

export interface StoreErrorDetails {
  readonly tenantId?: string | undefined;
  readonly key?: string | undefined;
  /** `claimHeld`: the claim's owner and its honoured end. */
  readonly owner?: string | undefined;
  readonly until?: Date | undefined;
  /** `keyInUse`: the tenant the key is reserved for. */
  readonly heldByTenant?: string | undefined;
  readonly cause?: unknown;
}

export class StoreError extends Error {
  readonly tenantId: string | undefined;
  readonly key: string | undefined;
  readonly owner: string | undefined;
  readonly until: Date | undefined;
  readonly heldByTenant: string | undefined;

  constructor(
    readonly kind: StoreErrorKind,
    details: StoreErrorDetails = {},
    message: string = defaultMessage(kind, details),
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'StoreError';
    this.tenantId = details.tenantId;
    this.key = details.key;
    this.owner = details.owner;
    this.until = details.until;
    this.heldByTenant = details.heldByTenant;
  }
}

function defaultMessage(kind: StoreErrorKind, d: StoreErrorDetails): string {
  const what = `Subscription ${d.key ?? '?'} in tenant ${d.tenantId ?? '?'}`;
  switch (kind) {
    case 'conflict':
      return `${what} was changed by another writer`;
    case 'notFound':
      return `${what} does not exist`;
    case 'claimHeld':
      return `${what} is claimed until ${d.until?.toISOString() ?? '?'}`;
    case 'keyInUse':
      return `The key ${d.key ?? '?'} is reserved by tenant ${d.heldByTenant ?? '?'}`;
    case 'badInput':
      return 'The store cannot use this argument';
  }
}

export const isStoreError = (e: unknown, kind?: StoreErrorKind): e is StoreError =>
  e instanceof StoreError && (kind === undefined || e.kind === kind);
export const isStoreConflictError = (e: unknown): e is StoreError => isStoreError(e, 'conflict');
export const isStoreNotFoundError = (e: unknown): e is StoreError => isStoreError(e, 'notFound');
export const isClaimHeldError = (e: unknown): e is StoreError => isStoreError(e, 'claimHeld');
export const isKeyInUseError = (e: unknown): e is StoreError => isStoreError(e, 'keyInUse');

/** A claim: `owner` (unique per operation, `newClaimOwner`) holds the row from `now` to `until`. */
export interface ClaimRequest {
  readonly owner: string;
  readonly now: Date;
  readonly until: Date;
}

/**
 * The claim rule both stores apply before their conditional write: the state `current` becomes
 * when `owner` takes it until `until` (so `until - now` is the claim TTL). `StoreError` `claimHeld` if a
 * claim is held at `now` (see `claimHeldUntil`), whoever its owner. The check uses what the
 * caller read; the store's conditional write makes it hold, since a claim taken since then
 * changed the row and the write conflicts.
 */
export function claimedState(
  current: StoredSubscription,
  { owner, now, until }: ClaimRequest,
): ManagedSubscription {
  const { tenantId, key } = current.definition;
  if (!(until > now))
    throw new StoreError('badInput', { tenantId, key }, 'a claim must end after now');
  const heldUntil = claimHeldUntil(current, now, until.getTime() - now.getTime());
  if (heldUntil !== undefined && current.claim !== undefined) {
    throw new StoreError('claimHeld', {
      tenantId,
      key,
      owner: current.claim.owner,
      until: heldUntil,
    });
  }
  const { etag, ...subscription } = current;
  return { ...subscription, claim: { owner, until }, updatedAt: now };
}

/**
 * The one conflict-retry loop: runs `attempt` again (at most `attempts` times in all, default 3)
 * while it loses a conditional write to another writer (`StoreError` `conflict`; re-reading is
 * the attempt's own business), then returns `exhausted()`, which may throw instead.
 */
export async function withConflictRetry<T>(
  attempt: () => Promise<T>,
  options: { readonly exhausted: () => T; readonly attempts?: number },
): Promise<T> {
  const attempts = options.attempts ?? 3;
  for (let i = 0; i < attempts; i++) {
    try {
      return await attempt();
    } catch (e) {
      if (!isStoreConflictError(e)) throw e;
    }
  }
  return options.exhausted();
}
