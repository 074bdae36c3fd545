import type {
  ManagedSubscription,
  StoredSubscription,
  SubscriptionStatus,
} from '../subscriptions/model';

/**
 * The state of every managed subscription (docs/architecture.md#state-on-the-row). Implemented by
 * `TableSubscriptionStore` (Azure Tables) and `InMemorySubscriptionStore` (core tests); one
 * behavioural test suite runs against both.
 *
 * Every write is conditional on the ETag the caller read. A writer that loses a race gets a
 * `StoreConflictError`, re-reads and re-decides; nothing is overwritten blindly. A state change of
 * one subscription (its row, its Graph-id index, its due index) is one atomic write.
 */
export interface SubscriptionStore {
  /** Stores a new subscription and its indexes. `StoreConflictError` if the key exists. */
  create(subscription: ManagedSubscription): Promise<StoredSubscription>;

  /** By our stable key. */
  get(tenantId: string, key: string): Promise<StoredSubscription | undefined>;

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
   * `StoreConflictError` when another writer got there first; `StoreNotFoundError` when gone.
   * Key and tenant cannot change.
   */
  update(next: ManagedSubscription, etag: string): Promise<StoredSubscription>;

  /**
   * Takes the row for `owner` until `until` (an ETag update), before a Graph call that creates.
   * `ClaimHeldError` if another owner holds an unexpired claim at `now`; an expired claim is
   * taken over. `StoreConflictError` if the row changed since it was read.
   */
  claim(
    current: StoredSubscription,
    owner: string,
    now: Date,
    until: Date,
  ): Promise<StoredSubscription>;

  /** Removes the subscription and its indexes if its ETag is still `etag`. */
  delete(current: StoredSubscription, etag?: string): Promise<void>;

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
export interface InvalidRow {
  readonly partitionKey: string;
  readonly rowKey: string;
  readonly reason: string;
}

export class StoreConflictError extends Error {
  constructor(
    readonly tenantId: string,
    readonly key: string,
    options?: { cause?: unknown },
  ) {
    super(`Subscription ${key} in tenant ${tenantId} was changed by another writer`, options);
    this.name = 'StoreConflictError';
  }
}

export class StoreNotFoundError extends Error {
  constructor(
    readonly tenantId: string,
    readonly key: string,
    options?: { cause?: unknown },
  ) {
    super(`Subscription ${key} in tenant ${tenantId} does not exist`, options);
    this.name = 'StoreNotFoundError';
  }
}

export class ClaimHeldError extends Error {
  constructor(
    readonly tenantId: string,
    readonly key: string,
    readonly owner: string,
    readonly until: Date,
  ) {
    super(`Subscription ${key} in tenant ${tenantId} is claimed until ${until.toISOString()}`);
    this.name = 'ClaimHeldError';
  }
}

export const isStoreConflictError = (e: unknown): e is StoreConflictError =>
  e instanceof StoreConflictError;
export const isStoreNotFoundError = (e: unknown): e is StoreNotFoundError =>
  e instanceof StoreNotFoundError;
export const isClaimHeldError = (e: unknown): e is ClaimHeldError => e instanceof ClaimHeldError;

/**
 * The claim rule both stores apply before their conditional write: the state `current` becomes
 * when `owner` takes it until `until`. `ClaimHeldError` if another owner's claim is unexpired at
 * `now`. The check uses what the caller read; the store's conditional write makes it hold, since
 * a claim taken since then changed the row and the write conflicts.
 */
export function claimedState(
  current: StoredSubscription,
  owner: string,
  now: Date,
  until: Date,
): ManagedSubscription {
  const { tenantId, key } = current.definition;
  if (!(until > now)) throw new RangeError('a claim must end after now');
  const held = current.claim;
  if (held !== undefined && held.owner !== owner && held.until > now) {
    throw new ClaimHeldError(tenantId, key, held.owner, held.until);
  }
  const { etag, ...subscription } = current;
  return { ...subscription, claim: { owner, until }, updatedAt: now };
}
