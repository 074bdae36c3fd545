import { randomBytes } from 'node:crypto';
import { odata, TableClient, type TableEntity } from '@azure/data-tables';
import {
  isInvalidRowError,
  keyReservationPartitionKey,
  registryPartitionKey,
} from '../../shared/store/subscriptionEntity';
import type { InvalidRow } from '../../shared/store/subscriptionStore';
import { subscriptionTableClient } from '../../shared/store/tableClient';
import { TableSubscriptionStore } from '../../shared/store/tableSubscriptionStore';
import { withWriteFaults, type StoreFaults } from '../../devkit/storeFaults';
import {
  collect,
  describeSubscriptionStoreContract,
  failureOf,
  FaultSwitch,
  InjectedFault,
} from '../support/storeContract';
import {
  aGraphSubscriptionId,
  aSubscription,
  aTenantId,
  minutesAfter,
  referenceTime,
} from '../support/subscriptionMother';

/**
 * TableSubscriptionStore on Azurite: the shared contract, then what only a table shows (row
 * layout, reads counted, rows written by someone else). Every store gets a table of its own, named
 * with this file's random prefix, so test files and tests never see each other's rows.
 */

const connection = process.env.AZURITE_CONNECTION_STRING ?? '';
const tablePrefix = `subs${randomBytes(4).toString('hex')}`;
let tables = 0;

function aTable(): TableClient {
  tables += 1;
  return subscriptionTableClient(connection, `${tablePrefix}n${tables}`);
}

function aStore(options: { faults?: StoreFaults } = {}): {
  store: TableSubscriptionStore;
  table: TableClient;
} {
  const table = aTable();
  const client = options.faults === undefined ? table : withWriteFaults(table, options.faults);
  return { store: new TableSubscriptionStore(client), table };
}

/** An entity's own properties, without what the service adds (etag, timestamp) and `names`. */
function without(entity: Record<string, unknown>, ...names: string[]): Record<string, unknown> {
  const dropped = new Set(['etag', 'timestamp', ...names]);
  return Object.fromEntries(Object.entries(entity).filter(([name]) => !dropped.has(name)));
}

async function rowKeysIn(table: TableClient, partitionKey: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const e of table.listEntities({
    queryOptions: { filter: odata`PartitionKey eq ${partitionKey}` },
  })) {
    keys.push(e.rowKey ?? '');
  }
  return keys;
}

describeSubscriptionStoreContract('TableSubscriptionStore on Azurite', ({ faults }) =>
  Promise.resolve(aStore({ faults }).store),
);

describe('TableSubscriptionStore rows', () => {
  test('when a subscription is created, then its partition holds the sub row, a full due copy and the Graph index', async () => {
    const { store, table } = aStore();
    const tenantId = aTenantId();
    const created = await store.create(aSubscription({ tenantId, key: 'orders' }));

    const keys = await rowKeysIn(table, tenantId);

    expect(keys).toEqual([
      expect.stringMatching(
        /^due\|2026-06-03T12:00:00\.123Z\|orders\|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
      ),
      `graph|${created.graphSubscriptionId}`,
      'sub|orders',
    ]);
    const sub = await table.getEntity(tenantId, 'sub|orders');
    const due = await table.getEntity(tenantId, keys[0]!);
    expect(without(due, 'rowKey')).toEqual(without(sub, 'rowKey'));
    expect(await table.getEntity(tenantId, `graph|${created.graphSubscriptionId}`)).toMatchObject({
      key: 'orders',
    });
    expect(await rowKeysIn(table, registryPartitionKey)).toEqual([`tenant|${tenantId}`]);
  });

  test('when an update moves the due time and the Graph id, then the old index rows are gone', async () => {
    const { store, table } = aStore();
    const tenantId = aTenantId();
    const created = await store.create(aSubscription({ tenantId, key: 'orders' }));
    const newGraphId = aGraphSubscriptionId();

    await store.update(
      { ...created, graphSubscriptionId: newGraphId, nextActionAt: minutesAfter(referenceTime, 5) },
      created.etag,
    );

    expect(await rowKeysIn(table, tenantId)).toEqual([
      expect.stringMatching(/^due\|2026-06-01T12:05:00\.123Z\|orders\|/),
      `graph|${newGraphId}`,
      'sub|orders',
    ]);
  });

  test('when an update fails before its transaction, then the rows are exactly those before it', async () => {
    const faults = new FaultSwitch();
    const { store, table } = aStore({ faults });
    const tenantId = aTenantId();
    const created = await store.create(aSubscription({ tenantId }));
    const rowsBefore = await rowKeysIn(table, tenantId);
    faults.failNext('transaction');

    const failure = await failureOf(
      store.update(
        {
          ...created,
          graphSubscriptionId: aGraphSubscriptionId(),
          nextActionAt: minutesAfter(referenceTime, 5),
        },
        created.etag,
      ),
    );

    expect(failure).toBeInstanceOf(InjectedFault);
    expect(await rowKeysIn(table, tenantId)).toEqual(rowsBefore);
  });

  test('when a stale update is rejected by the service, then the transaction leaves no row behind', async () => {
    const { store, table } = aStore();
    const tenantId = aTenantId();
    const created = await store.create(aSubscription({ tenantId }));
    const winner = await store.update({ ...created, failureCount: 1 }, created.etag);
    const rowsAfterWinner = await rowKeysIn(table, tenantId);

    await failureOf(
      store.update(
        {
          ...created,
          graphSubscriptionId: aGraphSubscriptionId(),
          nextActionAt: minutesAfter(referenceTime, 5),
        },
        created.etag,
      ),
    );

    expect(await rowKeysIn(table, tenantId)).toEqual(rowsAfterWinner);
    expect((await store.get(tenantId, created.definition.key))?.etag).toBe(winner.etag);
  });

  test('when a subscription is deleted, then no row of it is left in its partition', async () => {
    const { store, table } = aStore();
    const tenantId = aTenantId();
    const created = await store.create(aSubscription({ tenantId }));

    await store.delete(created);

    expect(await rowKeysIn(table, tenantId)).toEqual([]);
  });

  test('when a subscription is created, then its key is reserved in the fixed partition, and released on delete', async () => {
    const { store, table } = aStore();
    const tenantId = aTenantId();
    const created = await store.create(aSubscription({ tenantId, key: 'reserved' }));

    const reservation = await table.getEntity(keyReservationPartitionKey, 'key|reserved');
    await store.delete(created);

    expect(reservation.tenantId).toBe(tenantId);
    expect(await rowKeysIn(table, keyReservationPartitionKey)).toEqual(['keys|complete']);
  });

  test('when rows were written before keys were reserved, then a lookup by key migrates them once and another tenant is refused', async () => {
    const { store, table } = aStore();
    const [tenantA, tenantB] = [aTenantId(), aTenantId()];
    await store.create(aSubscription({ tenantId: tenantA, key: 'legacy' }));
    await store.create(aSubscription({ tenantId: tenantA, key: 'legacy-two' }));
    // As deployed data looks: no reservation rows, no marker.
    await table.deleteEntity(keyReservationPartitionKey, 'key|legacy');
    await table.deleteEntity(keyReservationPartitionKey, 'key|legacy-two');
    await table.deleteEntity(keyReservationPartitionKey, 'keys|complete');
    const fresh = new TableSubscriptionStore(table);

    const found = await fresh.findByKey('legacy');
    const refused = await failureOf(
      fresh.create(aSubscription({ tenantId: tenantB, key: 'legacy-two' })),
    );

    expect(found?.definition.tenantId).toBe(tenantA);
    expect(refused).toMatchObject({ kind: 'keyInUse', heldByTenant: tenantA });
    expect(await rowKeysIn(table, keyReservationPartitionKey)).toEqual([
      'keys|complete',
      'key|legacy',
      'key|legacy-two',
    ]);
  });

  test('when a reservation of another tenant has no row and is stale, then a create takes it over', async () => {
    const { store, table } = aStore();
    const [tenantA, tenantB] = [aTenantId(), aTenantId()];
    await table.createTable();
    // A create in tenant A that crashed after its reservation, ten minutes ago.
    await table.createEntity({
      partitionKey: keyReservationPartitionKey,
      rowKey: 'key|orphaned',
      tenantId: tenantA,
      reservedAt: minutesAfter(referenceTime, -10),
    });

    const created = await store.create(
      aSubscription({ tenantId: tenantB, key: 'orphaned', createdAt: referenceTime }),
    );

    expect(created.definition.tenantId).toBe(tenantB);
    expect((await table.getEntity(keyReservationPartitionKey, 'key|orphaned')).tenantId).toBe(
      tenantB,
    );
  });

  test('when a reservation of another tenant has no row yet but is young, then a create is refused', async () => {
    const { store, table } = aStore();
    const [tenantA, tenantB] = [aTenantId(), aTenantId()];
    await table.createTable();
    await table.createEntity({
      partitionKey: keyReservationPartitionKey,
      rowKey: 'key|in-flight',
      tenantId: tenantA,
      reservedAt: minutesAfter(referenceTime, -1),
    });

    const refused = await failureOf(
      store.create(
        aSubscription({ tenantId: tenantB, key: 'in-flight', createdAt: referenceTime }),
      ),
    );

    expect(refused).toMatchObject({ kind: 'keyInUse', heldByTenant: tenantA });
    expect(await store.get(tenantB, 'in-flight')).toBeUndefined();
  });

  test('when the table does not exist yet, then the first call creates it and a second store shares it', async () => {
    const table = aTable();
    const first = new TableSubscriptionStore(table);
    const second = new TableSubscriptionStore(table);

    expect(await first.tenants()).toEqual([]);
    const created = await second.create(aSubscription({ tenantId: aTenantId() }));

    expect((await first.get(created.definition.tenantId, created.definition.key))?.etag).toBe(
      created.etag,
    );
  });
});

describe('TableSubscriptionStore reads per due subscription', () => {
  test('when 30 of 300 stored subscriptions are due, then listDue reads one entity per due subscription plus one per tenant', async () => {
    const { store } = aStore();
    const tenantIds = [aTenantId(), aTenantId()];
    const subscriptions = Array.from({ length: 300 }, (_, i) =>
      aSubscription({
        tenantId: tenantIds[i % 2]!,
        key: `bench-${i}`,
        // Every tenth is due (in the past); the rest are days away.
        nextActionAt: minutesAfter(referenceTime, i % 10 === 0 ? -i : 24 * 60 + i),
      }),
    );
    for (let i = 0; i < subscriptions.length; i += 25) {
      await Promise.all(subscriptions.slice(i, i + 25).map((s) => store.create(s)));
    }
    const before = { ...store.metrics };

    const due = await collect(store.listDue(referenceTime));

    const entitiesRead = store.metrics.entitiesRead - before.entitiesRead;
    expect(due).toHaveLength(30);
    // 30 due rows + 2 registry rows; a pointer index would need 60 + 2.
    expect(entitiesRead).toBe(32);
    expect(entitiesRead / due.length).toBeLessThanOrEqual(1.1);
    expect(store.metrics.requests - before.requests).toBe(3);
  });

  test('when a due subscription is updated with the etag listDue gave, then nothing is read again', async () => {
    const { store } = aStore();
    await store.create(aSubscription({ tenantId: aTenantId(), nextActionAt: referenceTime }));
    const [due] = await collect(store.listDue(referenceTime));
    const before = { ...store.metrics };

    await store.update({ ...due!, nextActionAt: minutesAfter(referenceTime, 60) }, due!.etag);

    expect(store.metrics.entitiesRead).toBe(before.entitiesRead);
    expect(store.metrics.requests).toBe(before.requests + 1);
  });

  test('when a lifecycle notification names the tenant, then the Graph id costs two point reads', async () => {
    const { store } = aStore();
    const created = await store.create(aSubscription({ tenantId: aTenantId() }));
    const before = { ...store.metrics };

    await store.findByGraphId(created.graphSubscriptionId!, created.definition.tenantId);

    expect(store.metrics.entitiesRead - before.entitiesRead).toBe(2);
    expect(store.metrics.requests - before.requests).toBe(2);
  });
});

describe('TableSubscriptionStore with rows it did not write', () => {
  const secret = 'garbage-client-state-0f9e';

  async function withGarbage() {
    const { store, table } = aStore();
    const tenantId = aTenantId();
    const good = await store.create(
      aSubscription({ tenantId, key: 'good', nextActionAt: minutesAfter(referenceTime, -1) }),
    );
    // The good row's properties, as a starting point for rows that are wrong in one way.
    const goodRow = without(await table.getEntity(tenantId, 'sub|good'));
    const garbage: TableEntity[] = [
      // Half a row: most properties missing.
      { partitionKey: tenantId, rowKey: 'sub|broken', key: 'broken', clientState: secret },
      // A due row with a status we do not know.
      {
        ...goodRow,
        partitionKey: tenantId,
        rowKey: 'due|2026-06-01T11:00:00.000Z|zombie|r1',
        key: 'zombie',
        status: 'zombie',
        clientState: secret,
      },
      // A sub row whose RowKey does not match its key.
      { ...goodRow, partitionKey: tenantId, rowKey: 'sub|alias' },
    ];
    for (const row of garbage) await table.createEntity(row);
    await table.createEntity({
      partitionKey: registryPartitionKey,
      rowKey: 'tenant|not-a-guid',
      tenantId: 'not-a-guid',
    });
    return { store, table, tenantId, good };
  }

  test('when a due row fails validation, then listDue reports it through onInvalid and skips it', async () => {
    const { store, tenantId } = await withGarbage();
    const problems: InvalidRow[] = [];

    const due = await collect(store.listDue(referenceTime, { onInvalid: (p) => problems.push(p) }));

    expect(due.map((s) => s.definition.key)).toEqual(['good']);
    expect(problems.map((p) => [p.partitionKey, p.rowKey])).toEqual([
      [tenantId, 'due|2026-06-01T11:00:00.000Z|zombie|r1'],
      [registryPartitionKey, 'tenant|not-a-guid'],
    ]);
    expect(problems[0]?.reason).toMatch(/status/);
  });

  test('when sub rows fail validation, then list reports them through onInvalid and skips them', async () => {
    const { store, tenantId } = await withGarbage();
    const problems: InvalidRow[] = [];

    const page = await store.list({ tenantId, onInvalid: (p) => problems.push(p) });

    expect(page.items.map((s) => s.definition.key)).toEqual(['good']);
    expect(problems.map((p) => p.rowKey).sort()).toEqual(['sub|alias', 'sub|broken']);
    expect(problems.find((p) => p.rowKey === 'sub|alias')?.reason).toMatch(/RowKey/);
  });

  test('when a reason is reported, then it names properties but never the clientState value', async () => {
    const { store, tenantId } = await withGarbage();
    const problems: InvalidRow[] = [];

    await collect(store.listDue(referenceTime, { onInvalid: (p) => problems.push(p) }));
    await store.list({ tenantId, onInvalid: (p) => problems.push(p) });

    expect(problems.length).toBeGreaterThan(0);
    for (const problem of problems) expect(problem.reason).not.toContain(secret);
  });

  test('when get meets an invalid row, then it throws InvalidRowError naming the row', async () => {
    const { store, tenantId } = await withGarbage();

    const failure = await failureOf(store.get(tenantId, 'broken'));

    expect(isInvalidRowError(failure)).toBe(true);
    expect(failure).toMatchObject({ problem: { partitionKey: tenantId, rowKey: 'sub|broken' } });
    expect((failure as Error).message).not.toContain(secret);
  });

  test('when invalid rows are read, then they are left exactly as they were', async () => {
    const { store, table, tenantId } = await withGarbage();
    const before = await table.getEntity(tenantId, 'sub|broken');

    await collect(store.listDue(referenceTime, { onInvalid: () => undefined }));
    await store.list({ tenantId, onInvalid: () => undefined });

    expect((await table.getEntity(tenantId, 'sub|broken')).etag).toBe(before.etag);
  });

  test('when the registry holds an invalid tenant row, then tenants leaves it out', async () => {
    const { store, tenantId } = await withGarbage();

    expect(await store.tenants()).toEqual([tenantId]);
  });

  test('when a Graph index points at a subscription with another Graph id, then the id is not found', async () => {
    const { store, table } = aStore();
    const created = await store.create(aSubscription({ tenantId: aTenantId() }));
    const staleId = aGraphSubscriptionId();
    await table.createEntity({
      partitionKey: created.definition.tenantId,
      rowKey: `graph|${staleId}`,
      key: created.definition.key,
    });

    expect(await store.findByGraphId(staleId, created.definition.tenantId)).toBeUndefined();
    expect(await store.findByGraphId(staleId)).toBeUndefined();
  });
});
