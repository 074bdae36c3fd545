import { randomUUID } from 'node:crypto';
import { isRestError } from '@azure/core-rest-pipeline';
import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';
import { z } from 'zod';
import type { Config } from '../config';
import {
  subscriptionKeyPattern,
  tenantIdPattern,
  type ManagedSubscription,
  type StoredSubscription,
  type SubscriptionStatus,
} from '../subscriptions/model';
import {
  assertStorable,
  copySubscription,
  graphSubscriptionIdPattern,
  InvalidRowError,
  isStorableKey,
  keyReservationPartitionKey,
  listPageSize,
  readKeyReservationRow,
  staleKeyReservationMs,
  toKeyReservationRow,
  readGraphIndexRow,
  readRegistryRow,
  readSubscriptionRow,
  registryPartitionKey,
  revisionPattern,
  rowKeyRanges,
  rowKeys,
  toGraphIndexRow,
  toRegistryRow,
  toSubscriptionRow,
} from './subscriptionEntity';
import {
  claimedState,
  type ClaimRequest,
  StoreError,
  type InvalidRow,
  type ListDueOptions,
  type ListOptions,
  type SubscriptionPage,
  type SubscriptionStore,
  type UnreadableRemoval,
} from './subscriptionStore';
import { createTableIfMissing, statusOf, subscriptionTableClient } from './tableClient';

/**
 * `SubscriptionStore` on Azure Table Storage (docs/architecture.md#state-on-the-row).
 *
 * Rows. PartitionKey is the tenant id, so every row of one subscription shares a partition and
 * every state change is one entity-group transaction (atomic: a crash leaves the old state or the
 * new one, never an index pointing at a wrong row).
 * - `sub|{key}`: the subscription. Definition fields flat with Graph's names, dates as DateTime,
 *   lastError / pendingEvent / claim as flat properties, plus `revision` (below). Mapping and
 *   validation live in subscriptionEntity.ts.
 * - `due|{nextActionAt ISO, 24 chars}|{key}|{revision}`: a FULL COPY of the sub row. A sweep reads
 *   `RowKey ge 'due|' and RowKey le 'due|{before}|~'` per tenant and gets every due subscription
 *   with one entity read (a pointer row would cost a second read per subscription: 2.0 per due
 *   instead of ~1.0).
 * - `graph|{graphSubscriptionId}`: `{ key }`, so a lifecycle notification with a tenant finds its
 *   subscription with two point reads. An index whose sub row no longer has that Graph id is
 *   treated as not found.
 * - Partition `~registry`, RowKey `tenant|{tenantId}`: the tenants. Upserted BEFORE a tenant's
 *   first subscription row (not in the transaction: another partition), so a crash between the two
 *   leaves only an empty tenant, which costs one empty range query per sweep.
 *
 * Concurrency token (`StoredSubscription.etag`, opaque): base64url of
 * `[revision, nextActionAt ISO, graphSubscriptionId | null]`. Every write gives the subscription a
 * new random `revision`, stored in both rows and in the due RowKey. The condition of every update,
 * claim and delete is the first action of its transaction: DELETE of the old due row
 * `due|{old nextActionAt}|{key}|{old revision}`. That row exists exactly while the state the caller
 * read is current, so a lost race is a 404 inside the transaction, which rolls the whole
 * transaction back; it becomes `StoreError` `conflict`, or `StoreError` `notFound` when a point read shows
 * the sub row gone. Nothing is overwritten blindly.
 * Why not the service ETag: the due row moves on nearly every write (a sweep reschedules), so the
 * row that holds the condition is also the row the transaction deletes, and @azure/data-tables 13.3
 * `submitTransaction` drops the options of a delete action (If-Match is always `*`). The revision in
 * the RowKey makes "this row still exists" the equivalent of "its ETag still matches", and a read
 * from the due row and one from the sub row yield the same token, so a due subscription is updated
 * without re-reading it. (Rows edited by hand without a new revision are not detected.)
 *
 * A state change is: [delete old due (the condition), replace sub, create new due, and when the
 * Graph id changes: delete old graph index, create new one]. Create is [create sub (409 when the
 * key exists), create due, create graph index (409 when another subscription in the tenant has
 * that Graph id)]. 409 and 412 mean another writer won: `StoreError` `conflict`.
 *
 * Reads: rows that fail validation are reported through `onInvalid` and skipped by `listDue` and
 * `list`, never rewritten; `get` throws `InvalidRowError` for the one row it was asked for. Filters
 * are built with the `odata` tag only. `metrics` counts entities returned and round trips, so a
 * benchmark can measure reads per due subscription. (Crash-safety tests wrap the `TableClient`,
 * devkit/storeFaults.ts, to fail between the writes of one state change.)
 */

export interface StoreMetrics {
  /** Entities returned by every point read and query page (registry rows included). */
  entitiesRead: number;
  /** Round trips: point reads, query pages, registry writes, transactions (not table creation). */
  requests: number;
}

export interface TableSubscriptionStoreOptions {
  /** Create the table on first use (default true). */
  readonly createTable?: boolean;
}

type Entity = Readonly<Record<string, unknown>>;

const tokenSchema = z.tuple([
  z.string().regex(revisionPattern),
  z.iso.datetime(),
  z.string().regex(graphSubscriptionIdPattern).nullable(),
]);

interface ConcurrencyToken {
  readonly revision: string;
  readonly nextActionAt: Date;
  readonly graphSubscriptionId: string | undefined;
}

function encodeToken(s: ManagedSubscription, revision: string): string {
  const parts: z.input<typeof tokenSchema> = [
    revision,
    s.nextActionAt.toISOString(),
    s.graphSubscriptionId ?? null,
  ];
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

function decodeToken(etag: string): ConcurrencyToken | undefined {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(etag, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const parsed = tokenSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const [revision, nextActionAt, graphSubscriptionId] = parsed.data;
  return {
    revision,
    nextActionAt: new Date(nextActionAt),
    graphSubscriptionId: graphSubscriptionId ?? undefined,
  };
}

const listTokenSchema = z.object({
  t: z.string().regex(tenantIdPattern),
  c: z.string().min(1).optional(),
});
type ListPosition = z.output<typeof listTokenSchema>;

function encodeListToken(position: ListPosition): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

function badListToken(): StoreError {
  return new StoreError('badInput', {}, 'continuationToken was not issued by this store');
}

/**
 * True when the SDK or the service refused a continuation token the caller handed back: the SDK's
 * token format is its own (kept opaque here), so anything it throws before sending a request
 * (not a `RestError`), or a 400 from the service, means the token was not one it issued.
 */
function refusedToken(e: unknown): boolean {
  return !isRestError(e) || statusOf(e) === 400;
}

function decodeListToken(token: string): ListPosition {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    json = undefined;
  }
  const parsed = listTokenSchema.safeParse(json);
  if (!parsed.success) throw badListToken();
  return parsed.data;
}

function stored(subscription: ManagedSubscription, revision: string): StoredSubscription {
  return { ...copySubscription(subscription), etag: encodeToken(subscription, revision) };
}

/**
 * Due rows per page: each tenant swept in parallel holds one page (full copies of its
 * subscriptions), so pages are kept small; the entities read stay the same, only the round
 * trips grow (a service page holds up to 1,000).
 */
const duePageSize = 200;

export class TableSubscriptionStore implements SubscriptionStore {
  readonly metrics: StoreMetrics = { entitiesRead: 0, requests: 0 };
  /** Tenants this instance has registered; the registry write is idempotent, this only saves it. */
  private readonly registered = new Set<string>();
  private tableReady: Promise<void> | undefined;
  private migration: Promise<void> | undefined;

  constructor(
    private readonly client: TableClient,
    private readonly options: TableSubscriptionStoreOptions = {},
  ) {}

  /** The store for the app's settings: a client for STORAGE_CONNECTION, table created on first use. */
  static fromConfig(
    storage: Config['storage'],
    options: TableSubscriptionStoreOptions = {},
  ): TableSubscriptionStore {
    return new TableSubscriptionStore(
      subscriptionTableClient(storage.connection, storage.table),
      options,
    );
  }

  async create(subscription: ManagedSubscription): Promise<StoredSubscription> {
    assertStorable(subscription);
    const { tenantId, key } = subscription.definition;
    await this.ready();
    await this.register(tenantId);
    // NOTE: rows older than reservations are reserved first, so a key they hold is refused here.
    await this.reserveExistingKeys();
    await this.reserveKey(subscription);
    const revision = randomUUID();
    const actions: TransactionAction[] = [
      ['create', toSubscriptionRow(subscription, revision, 'sub')],
      ['create', toSubscriptionRow(subscription, revision, 'due')],
    ];
    if (subscription.graphSubscriptionId !== undefined) {
      actions.push(['create', toGraphIndexRow(tenantId, subscription.graphSubscriptionId, key)]);
    }
    await this.commit(tenantId, key, actions);
    return stored(subscription, revision);
  }

  async get(tenantId: string, key: string): Promise<StoredSubscription | undefined> {
    // NOTE: no row can have another shape of key; answering here keeps odd input out of URLs.
    if (!isStorableKey(tenantId, key)) return undefined;
    await this.ready();
    const entity = await this.pointRead(tenantId, rowKeys.subscription(key));
    if (entity === undefined) return undefined;
    const reading = readSubscriptionRow(entity);
    if (!reading.ok) throw new InvalidRowError(reading.problem);
    return stored(reading.subscription, reading.revision);
  }

  async findByKey(key: string): Promise<StoredSubscription | undefined> {
    if (!subscriptionKeyPattern.test(key)) return undefined;
    await this.ready();
    const reservation = await this.readReservation(key);
    if (reservation !== undefined) return this.get(reservation.tenantId, key);
    await this.reserveExistingKeys();
    // NOTE: a reservation the migration wrote just now is found on the second read.
    const migrated = await this.readReservation(key);
    return migrated === undefined ? undefined : this.get(migrated.tenantId, key);
  }

  async findByGraphId(
    graphSubscriptionId: string,
    tenantId?: string,
  ): Promise<StoredSubscription | undefined> {
    if (!graphSubscriptionIdPattern.test(graphSubscriptionId)) return undefined;
    await this.ready();
    const indexKey = rowKeys.graph(graphSubscriptionId);
    if (tenantId !== undefined) {
      if (!tenantIdPattern.test(tenantId)) return undefined;
      const index = await this.pointRead(tenantId, indexKey);
      return index === undefined
        ? undefined
        : this.followGraphIndex(tenantId, index, graphSubscriptionId);
    }
    // NOTE: without a tenant this scans every partition for one RowKey; lifecycle payloads
    // normally carry the tenant, so this is the rare path.
    for await (const page of this.pages(odata`RowKey eq ${indexKey}`)) {
      for (const index of page) {
        const partition = index.partitionKey;
        if (typeof partition !== 'string' || partition === registryPartitionKey) continue;
        const found = await this.followGraphIndex(partition, index, graphSubscriptionId);
        if (found !== undefined) return found;
      }
    }
    return undefined;
  }

  async update(next: ManagedSubscription, etag: string): Promise<StoredSubscription> {
    assertStorable(next);
    const { tenantId, key } = next.definition;
    await this.ready();
    const token = decodeToken(etag);
    if (token === undefined) throw await this.conflictOrNotFound(tenantId, key, undefined);
    const revision = randomUUID();
    const actions: TransactionAction[] = [
      this.conditionOf(tenantId, key, token),
      ['update', toSubscriptionRow(next, revision, 'sub'), 'Replace'],
      ['create', toSubscriptionRow(next, revision, 'due')],
    ];
    if (token.graphSubscriptionId !== next.graphSubscriptionId) {
      if (token.graphSubscriptionId !== undefined) {
        actions.push([
          'delete',
          { partitionKey: tenantId, rowKey: rowKeys.graph(token.graphSubscriptionId) },
        ]);
      }
      if (next.graphSubscriptionId !== undefined) {
        actions.push(['create', toGraphIndexRow(tenantId, next.graphSubscriptionId, key)]);
      }
    }
    await this.commit(tenantId, key, actions);
    return stored(next, revision);
  }

  async claim(current: StoredSubscription, request: ClaimRequest): Promise<StoredSubscription> {
    return this.update(claimedState(current, request), current.etag);
  }

  async delete(current: StoredSubscription, etag?: string): Promise<void> {
    const { tenantId, key } = current.definition;
    // NOTE: no row has such keys, and they must not reach a RowKey.
    if (!isStorableKey(tenantId, key)) throw new StoreError('notFound', { tenantId, key });
    await this.ready();
    const token = decodeToken(etag ?? current.etag);
    if (token === undefined) throw await this.conflictOrNotFound(tenantId, key, undefined);
    const actions: TransactionAction[] = [
      this.conditionOf(tenantId, key, token),
      ['delete', { partitionKey: tenantId, rowKey: rowKeys.subscription(key) }],
    ];
    if (token.graphSubscriptionId !== undefined) {
      actions.push([
        'delete',
        { partitionKey: tenantId, rowKey: rowKeys.graph(token.graphSubscriptionId) },
      ]);
    }
    await this.commit(tenantId, key, actions);
    await this.releaseKey(tenantId, key);
  }

  async removeUnreadable(tenantId: string, key: string): Promise<UnreadableRemoval> {
    if (!isStorableKey(tenantId, key)) return { removed: false, graphSubscriptionId: undefined };
    await this.ready();
    const entity = await this.pointRead(tenantId, rowKeys.subscription(key));
    if (entity === undefined) return { removed: false, graphSubscriptionId: undefined };
    const named: unknown = entity['graphSubscriptionId'];
    const graphSubscriptionId =
      typeof named === 'string' && graphSubscriptionIdPattern.test(named) ? named : undefined;
    // NOTE: the due row's key holds the row's (unreadable) due time: found by scanning the
    // tenant's due rows for this key, which only an operator's DELETE of a broken row does.
    const rowKeysToDelete = [rowKeys.subscription(key)];
    const dueFilter = odata`PartitionKey eq ${tenantId} and RowKey ge ${rowKeyRanges.due.from} and RowKey lt ${rowKeyRanges.due.below}`;
    for await (const page of this.pages(dueFilter)) {
      for (const due of page) {
        if (typeof due.rowKey === 'string' && due.rowKey.split('|')[2] === key) {
          rowKeysToDelete.push(due.rowKey);
        }
      }
    }
    if (graphSubscriptionId !== undefined) {
      const index = await this.pointRead(tenantId, rowKeys.graph(graphSubscriptionId));
      if (index?.['key'] === key) rowKeysToDelete.push(rowKeys.graph(graphSubscriptionId));
    }
    await this.commit(
      tenantId,
      key,
      rowKeysToDelete.map((rowKey) => ['delete', { partitionKey: tenantId, rowKey }]),
    );
    await this.releaseKey(tenantId, key);
    return { removed: true, graphSubscriptionId };
  }

  async *listDue(before: Date, options: ListDueOptions = {}): AsyncIterable<StoredSubscription> {
    if (Number.isNaN(before.getTime()))
      throw new StoreError('badInput', {}, 'before must be a valid date');
    await this.ready();
    const tenants =
      options.tenantId === undefined
        ? this.registryTenants(undefined, options.onInvalid)
        : [options.tenantId];
    for await (const tenantId of tenants) {
      const filter = odata`PartitionKey eq ${tenantId} and RowKey ge ${rowKeyRanges.due.from} and RowKey le ${rowKeys.dueUpTo(before)}`;
      // NOTE: one page in memory at a time; the caller's work on a page happens before the next
      // page is requested. A row rescheduled meanwhile to a time still before `before` and after
      // the current position can be listed again, with its new state and token.
      for await (const page of this.pages(filter, duePageSize)) {
        for (const entity of page) {
          const reading = readSubscriptionRow(entity);
          if (reading.ok) yield stored(reading.subscription, reading.revision);
          else options.onInvalid?.(reading.problem);
        }
      }
    }
  }

  async list(options: ListOptions = {}): Promise<SubscriptionPage> {
    const pageSize = listPageSize(options.pageSize);
    const start =
      options.continuationToken === undefined
        ? undefined
        : decodeListToken(options.continuationToken);
    if (start !== undefined && options.tenantId !== undefined && start.t !== options.tenantId) {
      throw new StoreError('badInput', {}, 'continuationToken belongs to another tenant filter');
    }
    await this.ready();
    const tenants: AsyncIterator<string> | Iterator<string> =
      options.tenantId === undefined
        ? this.registryTenants(start?.t, options.onInvalid)[Symbol.asyncIterator]()
        : [options.tenantId][Symbol.iterator]();
    const items: StoredSubscription[] = [];
    for (let tenant = await tenants.next(); tenant.done !== true; tenant = await tenants.next()) {
      const tenantId = tenant.value;
      let continuation = start?.t === tenantId ? start.c : undefined;
      do {
        const page = await this.page(
          this.subscriptionsFilter(tenantId, options.status),
          pageSize - items.length,
          continuation,
        );
        for (const entity of page.entities) {
          const reading = readSubscriptionRow(entity);
          if (reading.ok) items.push(stored(reading.subscription, reading.revision));
          else options.onInvalid?.(reading.problem);
        }
        continuation = page.continuationToken;
        if (items.length >= pageSize) {
          if (continuation !== undefined) {
            return { items, continuationToken: encodeListToken({ t: tenantId, c: continuation }) };
          }
          const following = await tenants.next();
          return {
            items,
            continuationToken:
              following.done === true ? undefined : encodeListToken({ t: following.value }),
          };
        }
      } while (continuation !== undefined);
    }
    return { items, continuationToken: undefined };
  }

  async tenants(): Promise<readonly string[]> {
    await this.ready();
    const tenants: string[] = [];
    for await (const tenantId of this.registryTenants(undefined, undefined)) tenants.push(tenantId);
    return tenants;
  }

  // --- reads -------------------------------------------------------------------------------

  private async pointRead(partitionKey: string, rowKey: string): Promise<Entity | undefined> {
    this.metrics.requests += 1;
    try {
      const entity = await this.client.getEntity(partitionKey, rowKey);
      this.metrics.entitiesRead += 1;
      return entity;
    } catch (e) {
      if (statusOf(e) === 404) return undefined;
      throw e;
    }
  }

  /** Every page of a query, one round trip each, counted. */
  private async *pages(filter: string, maxPageSize?: number): AsyncGenerator<readonly Entity[]> {
    const pages = this.client
      .listEntities({ queryOptions: { filter } })
      .byPage(maxPageSize === undefined ? {} : { maxPageSize });
    for (;;) {
      // NOTE: the SDK asks the service only while it holds a continuation token, so a round trip
      // is counted per page returned.
      const next = await pages.next();
      if (next.done === true) return;
      this.metrics.requests += 1;
      this.metrics.entitiesRead += next.value.length;
      yield next.value;
    }
  }

  /** One page of at most `maxPageSize`, from `continuationToken` (the SDK's own token). */
  private async page(
    filter: string,
    maxPageSize: number,
    continuationToken: string | undefined,
  ): Promise<{ entities: readonly Entity[]; continuationToken: string | undefined }> {
    const pages = this.client
      .listEntities({ queryOptions: { filter } })
      .byPage(
        continuationToken === undefined ? { maxPageSize } : { maxPageSize, continuationToken },
      );
    let next: Awaited<ReturnType<typeof pages.next>>;
    try {
      next = await pages.next();
    } catch (e) {
      if (continuationToken !== undefined && refusedToken(e)) throw badListToken();
      throw e;
    }
    if (next.done === true) return { entities: [], continuationToken: undefined };
    this.metrics.requests += 1;
    this.metrics.entitiesRead += next.value.length;
    return { entities: next.value, continuationToken: next.value.continuationToken };
  }

  /** Tenants in the registry from `from` (inclusive) on, in RowKey order, a page at a time. */
  private async *registryTenants(
    from: string | undefined,
    onInvalid: ((problem: InvalidRow) => void) | undefined,
  ): AsyncGenerator<string> {
    const lowest = from === undefined ? rowKeyRanges.tenant.from : rowKeys.tenant(from);
    const filter = odata`PartitionKey eq ${registryPartitionKey} and RowKey ge ${lowest} and RowKey lt ${rowKeyRanges.tenant.below}`;
    for await (const page of this.pages(filter)) {
      for (const entity of page) {
        const reading = readRegistryRow(entity);
        if (reading.ok) yield reading.tenantId;
        else onInvalid?.(reading.problem);
      }
    }
  }

  private subscriptionsFilter(tenantId: string, status: SubscriptionStatus | undefined): string {
    const { from, below } = rowKeyRanges.subscription;
    return status === undefined
      ? odata`PartitionKey eq ${tenantId} and RowKey ge ${from} and RowKey lt ${below}`
      : odata`PartitionKey eq ${tenantId} and RowKey ge ${from} and RowKey lt ${below} and status eq ${status}`;
  }

  private async followGraphIndex(
    tenantId: string,
    index: Entity,
    graphSubscriptionId: string,
  ): Promise<StoredSubscription | undefined> {
    const pointer = readGraphIndexRow(index);
    if (!pointer.ok) return undefined;
    const subscription = await this.get(tenantId, pointer.key);
    // A stale index (Graph id since changed) is as good as none.
    return subscription?.graphSubscriptionId === graphSubscriptionId ? subscription : undefined;
  }

  // --- writes ------------------------------------------------------------------------------

  /** The action that fails (404) unless the state the token was issued for is still current. */
  private conditionOf(tenantId: string, key: string, token: ConcurrencyToken): TransactionAction {
    return [
      'delete',
      { partitionKey: tenantId, rowKey: rowKeys.due(token.nextActionAt, key, token.revision) },
    ];
  }

  /**
   * Reserves the key for the subscription's tenant (conditional insert, 409 when it exists)
   * before the subscription row is written. A reservation of the same tenant is ours (a create
   * that crashed before its row, or a concurrent one, which the row's own insert decides). One
   * of another tenant refuses the key (`keyInUse`), unless that tenant has no such row and the
   * reservation is older than `staleKeyReservationMs` (its create never finished): then it is
   * taken over, conditionally on its ETag.
   */
  private async reserveKey(subscription: ManagedSubscription): Promise<void> {
    const { tenantId, key } = subscription.definition;
    const row = toKeyReservationRow(key, tenantId, subscription.createdAt);
    this.metrics.requests += 1;
    try {
      await this.client.createEntity(row);
      return;
    } catch (e) {
      if (statusOf(e) !== 409) throw e;
    }
    const held = await this.readReservation(key);
    if (held === undefined) throw new StoreError('conflict', { tenantId, key });
    if (held.tenantId === tenantId) return;
    const inUse = new StoreError('keyInUse', { tenantId, key, heldByTenant: held.tenantId });
    const young =
      subscription.createdAt.getTime() - held.reservedAt.getTime() < staleKeyReservationMs;
    if (young || (await this.pointRead(held.tenantId, rowKeys.subscription(key))) !== undefined) {
      throw inUse;
    }
    this.metrics.requests += 1;
    try {
      await this.client.updateEntity(row, 'Replace', { etag: held.etag });
    } catch (e) {
      const status = statusOf(e);
      if (status === 412 || status === 404) throw new StoreError('conflict', { tenantId, key });
      throw e;
    }
  }

  /** Removes the key's reservation if it names `tenantId` (after its row was deleted). */
  private async releaseKey(tenantId: string, key: string): Promise<void> {
    const held = await this.readReservation(key);
    if (held?.tenantId !== tenantId) return;
    this.metrics.requests += 1;
    try {
      await this.client.deleteEntity(keyReservationPartitionKey, rowKeys.keyReservation(key), {
        etag: held.etag,
      });
    } catch (e) {
      // Gone or re-reserved meanwhile: either way not ours to remove any more.
      const status = statusOf(e);
      if (status !== 404 && status !== 412) throw e;
    }
  }

  private async readReservation(
    key: string,
  ): Promise<{ tenantId: string; reservedAt: Date; etag: string } | undefined> {
    const entity = await this.pointRead(keyReservationPartitionKey, rowKeys.keyReservation(key));
    if (entity === undefined) return undefined;
    const reading = readKeyReservationRow(entity);
    const etag = entity.etag;
    return reading === undefined || typeof etag !== 'string' ? undefined : { ...reading, etag };
  }

  /**
   * Migration: rows written before keys were reserved get their reservation (the first tenant in
   * registry order wins a key found in two), then a marker row says it is done, so a lookup by key
   * never scans the tenants again. Run by the first create or missed lookup of a store instance,
   * and only until some instance has written the marker (one point read after that).
   */
  private reserveExistingKeys(): Promise<void> {
    this.migration ??= (async () => {
      const marker = await this.pointRead(
        keyReservationPartitionKey,
        rowKeys.keyReservationsComplete,
      );
      if (marker !== undefined) return;
      for (const tenantId of await this.tenants()) {
        const { from, below } = rowKeyRanges.subscription;
        const filter = odata`PartitionKey eq ${tenantId} and RowKey ge ${from} and RowKey lt ${below}`;
        for await (const page of this.pages(filter)) {
          for (const entity of page) {
            const reading = readSubscriptionRow(entity);
            if (!reading.ok) continue;
            const { definition, createdAt } = reading.subscription;
            await this.insertIfMissing(toKeyReservationRow(definition.key, tenantId, createdAt));
          }
        }
      }
      await this.insertIfMissing({
        partitionKey: keyReservationPartitionKey,
        rowKey: rowKeys.keyReservationsComplete,
      });
    })().catch((e: unknown) => {
      this.migration = undefined;
      throw e;
    });
    return this.migration;
  }

  private async insertIfMissing(entity: { partitionKey: string; rowKey: string }): Promise<void> {
    this.metrics.requests += 1;
    try {
      await this.client.createEntity(entity);
    } catch (e) {
      if (statusOf(e) !== 409) throw e;
    }
  }

  private async register(tenantId: string): Promise<void> {
    if (this.registered.has(tenantId)) return;
    this.metrics.requests += 1;
    await this.client.upsertEntity(toRegistryRow(tenantId), 'Merge');
    this.registered.add(tenantId);
  }

  private async commit(tenantId: string, key: string, actions: TransactionAction[]): Promise<void> {
    this.metrics.requests += 1;
    try {
      await this.client.submitTransaction(actions);
    } catch (e) {
      const status = statusOf(e);
      if (status === 409 || status === 412)
        throw new StoreError('conflict', { tenantId, key, cause: e });
      if (status === 404) throw await this.conflictOrNotFound(tenantId, key, e);
      throw e;
    }
  }

  /** After a failed condition: gone (`StoreError` `notFound`) or changed (`StoreError` `conflict`). */
  private async conflictOrNotFound(tenantId: string, key: string, cause: unknown): Promise<Error> {
    const row = isStorableKey(tenantId, key)
      ? await this.pointRead(tenantId, rowKeys.subscription(key))
      : undefined;
    return row === undefined
      ? new StoreError('notFound', { tenantId, key, cause })
      : new StoreError('conflict', { tenantId, key, cause });
  }

  private ready(): Promise<void> {
    if (this.options.createTable === false) return Promise.resolve();
    // NOTE: one creation per instance; a failed attempt is forgotten so the next call retries.
    this.tableReady ??= createTableIfMissing(this.client).catch((e: unknown) => {
      this.tableReady = undefined;
      throw e;
    });
    return this.tableReady;
  }
}
