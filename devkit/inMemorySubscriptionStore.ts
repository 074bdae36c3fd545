import type {
  ManagedSubscription,
  StoredSubscription,
  SubscriptionStatus,
} from '../shared/subscriptions/model';
import { tenantIdPattern } from '../shared/subscriptions/model';
import {
  assertStorable,
  copySubscription,
  fixedWidthIso,
  listPageSize,
} from '../shared/store/subscriptionEntity';
import {
  claimedState,
  type ClaimRequest,
  StoreError,
  type ListDueOptions,
  type ListOptions,
  type SubscriptionPage,
  type SubscriptionStore,
  type UnreadableRemoval,
} from '../shared/store/subscriptionStore';
// NOTE: type-only, so the fake does not load the Azure SDK.
import type { StoreFaults } from './storeFaults';

/**
 * `SubscriptionStore` in memory, for core tests, benchmarks and the sandbox. Same behaviour as
 * `TableSubscriptionStore` (the shared contract suite runs against both): every write changes the
 * ETag, writes are conditional on it, claims, due order (by `nextActionAt`, then key, within a
 * tenant; tenants in order), Graph-id uniqueness per tenant, a registry written before a tenant's
 * first subscription, and the same `faults.beforeWrite` steps. Deterministic: ETags count writes.
 *
 * What is stored and handed out is always a copy, so callers cannot change stored state in place.
 */

export interface InMemorySubscriptionStoreOptions {
  readonly faults?: StoreFaults;
}

interface Entry {
  readonly subscription: ManagedSubscription;
  readonly etag: string;
}

interface ListPosition {
  readonly tenantId: string;
  /** Last key returned in that tenant; the next page starts after it. */
  readonly afterKey?: string;
}

export class InMemorySubscriptionStore implements SubscriptionStore {
  private readonly registry = new Set<string>();
  /** tenant -> key -> entry */
  private readonly partitions = new Map<string, Map<string, Entry>>();
  /** tenant -> Graph subscription id -> key */
  private readonly graphIndexes = new Map<string, Map<string, string>>();
  private writes = 0;
  /** key -> tenant: the key reservations (keys are unique across tenants). */
  private readonly reservations = new Map<string, string>();

  constructor(private readonly options: InMemorySubscriptionStoreOptions = {}) {}

  async create(subscription: ManagedSubscription): Promise<StoredSubscription> {
    assertStorable(subscription);
    const { tenantId, key } = subscription.definition;
    if (!this.registry.has(tenantId)) {
      await this.options.faults?.beforeWrite?.('registry', { tenantId, key });
      this.registry.add(tenantId);
    }
    await this.options.faults?.beforeWrite?.('reservation', { tenantId, key });
    const heldByTenant = this.reservations.get(key);
    if (heldByTenant !== undefined && heldByTenant !== tenantId) {
      throw new StoreError('keyInUse', { tenantId, key, heldByTenant });
    }
    this.reservations.set(key, tenantId);
    await this.options.faults?.beforeWrite?.('transaction', { tenantId, key });
    const graphId = subscription.graphSubscriptionId;
    if (this.partition(tenantId).has(key)) throw new StoreError('conflict', { tenantId, key });
    if (graphId !== undefined && this.graphIndex(tenantId).has(graphId)) {
      throw new StoreError('conflict', { tenantId, key });
    }
    if (graphId !== undefined) this.graphIndex(tenantId).set(graphId, key);
    return this.put(subscription);
  }

  get(tenantId: string, key: string): Promise<StoredSubscription | undefined> {
    const entry = this.partitions.get(tenantId)?.get(key);
    return Promise.resolve(entry === undefined ? undefined : storedOf(entry));
  }

  async findByKey(key: string): Promise<StoredSubscription | undefined> {
    const tenantId = this.reservations.get(key);
    return tenantId === undefined ? undefined : this.get(tenantId, key);
  }

  async findByGraphId(
    graphSubscriptionId: string,
    tenantId?: string,
  ): Promise<StoredSubscription | undefined> {
    const tenants = tenantId === undefined ? this.sortedTenants() : [tenantId];
    for (const tenant of tenants) {
      const key = this.graphIndexes.get(tenant)?.get(graphSubscriptionId);
      if (key === undefined) continue;
      const found = await this.get(tenant, key);
      if (found?.graphSubscriptionId === graphSubscriptionId) return found;
    }
    return undefined;
  }

  async update(next: ManagedSubscription, etag: string): Promise<StoredSubscription> {
    assertStorable(next);
    const { tenantId, key } = next.definition;
    await this.options.faults?.beforeWrite?.('transaction', { tenantId, key });
    const entry = this.entryFor(tenantId, key, etag);
    const before = entry.subscription.graphSubscriptionId;
    const after = next.graphSubscriptionId;
    if (before !== after) {
      const index = this.graphIndex(tenantId);
      if (after !== undefined && index.has(after))
        throw new StoreError('conflict', { tenantId, key });
      if (before !== undefined) index.delete(before);
      if (after !== undefined) index.set(after, key);
    }
    return this.put(next);
  }

  async claim(current: StoredSubscription, request: ClaimRequest): Promise<StoredSubscription> {
    return this.update(claimedState(current, request), current.etag);
  }

  async delete(current: StoredSubscription, etag?: string): Promise<void> {
    const { tenantId, key } = current.definition;
    await this.options.faults?.beforeWrite?.('transaction', { tenantId, key });
    const entry = this.entryFor(tenantId, key, etag ?? current.etag);
    const graphId = entry.subscription.graphSubscriptionId;
    if (graphId !== undefined) this.graphIndex(tenantId).delete(graphId);
    this.partition(tenantId).delete(key);
    if (this.reservations.get(key) === tenantId) this.reservations.delete(key);
  }

  /** Rows in memory are always readable: there is never an unreadable one to remove. */
  removeUnreadable(): Promise<UnreadableRemoval> {
    return Promise.resolve({ removed: false, graphSubscriptionId: undefined });
  }

  async *listDue(before: Date, options: ListDueOptions = {}): AsyncIterable<StoredSubscription> {
    if (Number.isNaN(before.getTime()))
      throw new StoreError('badInput', {}, 'before must be a valid date');
    const tenants = options.tenantId === undefined ? this.sortedTenants() : [options.tenantId];
    for (const tenantId of tenants) {
      const partition = this.partitions.get(tenantId);
      if (partition === undefined) continue;
      const due = [...partition.values()]
        .filter((e) => e.subscription.nextActionAt <= before)
        .map((e) => ({ key: e.subscription.definition.key, order: dueOrder(e.subscription) }))
        .sort((a, b) => compare(a.order, b.order));
      for (const { key } of due) {
        // NOTE: re-read at yield time, like the table store reading page by page: what a caller
        // changed or deleted meanwhile is seen as it is now.
        const entry = partition.get(key);
        if (entry !== undefined && entry.subscription.nextActionAt <= before) {
          yield storedOf(entry);
        }
        await Promise.resolve();
      }
    }
  }

  list(options: ListOptions = {}): Promise<SubscriptionPage> {
    // NOTE: a bad pageSize or token rejects the promise, as in the table store, not throws.
    return Promise.resolve().then(() => this.pageOf(options));
  }

  private pageOf(options: ListOptions): SubscriptionPage {
    const pageSize = listPageSize(options.pageSize);
    const start =
      options.continuationToken === undefined
        ? undefined
        : decodeListToken(options.continuationToken);
    if (
      start !== undefined &&
      options.tenantId !== undefined &&
      start.tenantId !== options.tenantId
    ) {
      throw new StoreError('badInput', {}, 'continuationToken belongs to another tenant filter');
    }
    const tenants = (
      options.tenantId === undefined ? this.sortedTenants() : [options.tenantId]
    ).filter((t) => start === undefined || t >= start.tenantId);
    const items: StoredSubscription[] = [];
    for (const [i, tenantId] of tenants.entries()) {
      const afterKey = start?.tenantId === tenantId ? start.afterKey : undefined;
      const keys = this.matchingKeys(tenantId, options.status, afterKey);
      for (const [j, key] of keys.entries()) {
        const entry = this.partitions.get(tenantId)?.get(key);
        if (entry !== undefined) items.push(storedOf(entry));
        if (items.length < pageSize) continue;
        const nextTenant = tenants[i + 1];
        const continuationToken =
          j + 1 < keys.length
            ? encodeListToken({ tenantId, afterKey: key })
            : nextTenant === undefined
              ? undefined
              : encodeListToken({ tenantId: nextTenant });
        return { items, continuationToken };
      }
    }
    return { items, continuationToken: undefined };
  }

  tenants(): Promise<readonly string[]> {
    return Promise.resolve(this.sortedTenants());
  }

  private matchingKeys(
    tenantId: string,
    status: SubscriptionStatus | undefined,
    afterKey: string | undefined,
  ): string[] {
    const partition = this.partitions.get(tenantId);
    if (partition === undefined) return [];
    return [...partition.values()]
      .filter((e) => status === undefined || e.subscription.status === status)
      .map((e) => e.subscription.definition.key)
      .filter((k) => afterKey === undefined || k > afterKey)
      .sort(compare);
  }

  /** The entry `etag` was issued for: `StoreError` `notFound` when gone, conflict when changed. */
  private entryFor(tenantId: string, key: string, etag: string): Entry {
    const entry = this.partitions.get(tenantId)?.get(key);
    if (entry === undefined) throw new StoreError('notFound', { tenantId, key });
    if (entry.etag !== etag) throw new StoreError('conflict', { tenantId, key });
    return entry;
  }

  private put(subscription: ManagedSubscription): StoredSubscription {
    this.writes += 1;
    const entry: Entry = {
      subscription: copySubscription(subscription),
      etag: `W/"mem-${this.writes}"`,
    };
    this.partition(subscription.definition.tenantId).set(subscription.definition.key, entry);
    return storedOf(entry);
  }

  private partition(tenantId: string): Map<string, Entry> {
    let partition = this.partitions.get(tenantId);
    if (partition === undefined) {
      partition = new Map();
      this.partitions.set(tenantId, partition);
    }
    return partition;
  }

  private graphIndex(tenantId: string): Map<string, string> {
    let index = this.graphIndexes.get(tenantId);
    if (index === undefined) {
      index = new Map();
      this.graphIndexes.set(tenantId, index);
    }
    return index;
  }

  private sortedTenants(): string[] {
    return [...this.registry].sort(compare);
  }
}

function storedOf(entry: Entry): StoredSubscription {
  return { ...copySubscription(entry.subscription), etag: entry.etag };
}

/** The table store's due order: the due RowKey sorts by ISO time, then key. */
function dueOrder(s: ManagedSubscription): string {
  return `${fixedWidthIso(s.nextActionAt)}|${s.definition.key}`;
}

/** Ordinal order, as Azure Tables sorts keys (not locale order). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function encodeListToken(position: ListPosition): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

function decodeListToken(token: string): ListPosition {
  try {
    const value: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (typeof value === 'object' && value !== null && 'tenantId' in value) {
      const { tenantId } = value;
      const afterKey = 'afterKey' in value ? value.afterKey : undefined;
      if (
        typeof tenantId === 'string' &&
        tenantIdPattern.test(tenantId) &&
        (afterKey === undefined || typeof afterKey === 'string')
      ) {
        return afterKey === undefined ? { tenantId } : { tenantId, afterKey };
      }
    }
  } catch {
    // Falls through to the error below: not JSON, so not ours.
  }
  throw new StoreError('badInput', {}, 'continuationToken was not issued by this store');
}
