import { randomUUID } from 'node:crypto';
import type { TableClient, TransactionAction } from '@azure/data-tables';
import type { GraphSubscriptions } from '../../shared/graph/graphSubscriptions';
import {
  toGraphIndexRow,
  toRegistryRow,
  toSubscriptionRow,
} from '../../shared/store/subscriptionEntity';
import { createTableIfMissing } from '../../shared/store/tableClient';
import type { ManagedSubscription, SubscriptionDefinition } from '../../shared/subscriptions/model';
import { newClientState, newManagedSubscription } from '../../shared/subscriptions/newSubscription';
import type { GraphSimulator } from '../../devkit/graphSimulator';
import type { TestClock } from '../../devkit/testClock';
import { benchLifecycleUrl, benchNotificationUrl } from './benchCore';

/**
 * Fleets of subscriptions for the benchmarks: definitions, their Graph side (created on the
 * simulator through the app's own Graph client) and their rows (written straight into the table
 * with the store's own entity mapping, 100 entities per entity-group transaction, because
 * `store.create` one by one would make seeding 100,000 rows the slowest part of the run).
 */

const minute = 60_000;

/** A tenant id (GUID, lower case) per index; the same index gives the same tenant. */
export function benchTenantId(index: number): string {
  return `b3c4a000-0000-4000-8000-${index.toString(16).padStart(12, '0')}`;
}

/** An Outlook messages subscription (10,080-minute maximum) on a mailbox of its own. */
export function benchDefinition(tenantId: string, key: string): SubscriptionDefinition {
  return {
    key,
    tenantId,
    resource: `users/${randomUUID()}/messages`,
    changeType: 'created,updated',
    notificationUrl: benchNotificationUrl,
    lifecycleNotificationUrl: benchLifecycleUrl,
    includeResourceData: false,
  };
}

export function benchKey(prefix: string, index: number): string {
  return `${prefix}-${String(index).padStart(6, '0')}`;
}

/** Runs `work` over `items` with at most `limit` at a time; results in input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) {
      results[i] = await work(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/**
 * Puts subscriptions on the simulator through the app's Graph client (which also warms its
 * token cache), `perWindow` at a time, moving the shared clock one throttle window forward after
 * each group so that set-up is never throttled. Latency is off meanwhile and restored after.
 * Returns active subscriptions, due at `dueAt`, expiring in 24 h: inside the last quarter of
 * the 10,080-minute lifetime, so the planner renews them.
 */
export async function createOnGraph(
  setup: {
    readonly sim: GraphSimulator;
    readonly graph: GraphSubscriptions;
    readonly clock: TestClock;
    readonly windowMs: number;
    readonly perWindow: number;
    readonly latencyMs: number;
    /** Lifetime asked of Graph (default 24 hours: inside the last quarter, so renewal is due). */
    readonly expiresInMinutes?: number;
  },
  definitions: readonly SubscriptionDefinition[],
  dueAt: (now: Date) => Date = (now) => new Date(now.getTime() - minute),
): Promise<ManagedSubscription[]> {
  const { sim, graph, clock } = setup;
  sim.setLatency(0);
  const created: ManagedSubscription[] = [];
  try {
    for (let start = 0; start < definitions.length; start += setup.perWindow) {
      const group = definitions.slice(start, start + setup.perWindow);
      const made = await mapLimit(group, 32, async (definition) => {
        const clientState = newClientState();
        const now = clock.now();
        const onGraph = await graph.create(definition.tenantId, {
          resource: definition.resource,
          changeType: definition.changeType,
          notificationUrl: definition.notificationUrl,
          lifecycleNotificationUrl: definition.lifecycleNotificationUrl,
          expirationDateTime: new Date(
            now.getTime() + (setup.expiresInMinutes ?? 24 * 60) * minute,
          ),
          clientState,
        });
        const fresh = newManagedSubscription(definition, now, clientState);
        const active: ManagedSubscription = {
          ...fresh,
          status: 'active',
          graphSubscriptionId: onGraph.id,
          expiresAt: onGraph.expirationDateTime,
          nextActionAt: dueAt(now),
          generation: 1,
        };
        return active;
      });
      created.push(...made);
      clock.advance(setup.windowMs + 1);
    }
  } finally {
    sim.setLatency(setup.latencyMs);
  }
  return created;
}

/** Rows as the store writes them: `sub|`, its `due|` copy and, when on Graph, the `graph|` index. */
function rowsOf(subscription: ManagedSubscription): TransactionAction[] {
  const revision = randomUUID();
  const actions: TransactionAction[] = [
    ['create', toSubscriptionRow(subscription, revision, 'sub')],
    ['create', toSubscriptionRow(subscription, revision, 'due')],
  ];
  if (subscription.graphSubscriptionId !== undefined) {
    actions.push([
      'create',
      toGraphIndexRow(
        subscription.definition.tenantId,
        subscription.graphSubscriptionId,
        subscription.definition.key,
      ),
    ]);
  }
  return actions;
}

/** Azure Tables: at most 100 operations in one entity-group transaction, one partition. */
const maxActionsPerTransaction = 100;

/**
 * Writes the subscriptions' rows (and their tenants' registry rows) in entity-group
 * transactions, up to `concurrency` in flight. Produces what `store.create` would.
 *
 * Give the subscriptions tenant by tenant, tenants in ascending order (as `benchTenantId`
 * numbers them), keys and due times growing. Each tenant's rows are written in RowKey order.
 * NOTE: Azurite keeps each table in one LokiJS collection whose sorted indices are kept by array
 * splices, so a row costs as much as the index entries after its place. In this order most rows
 * land at or near the end: 200,000 entities take about 40 s on two cores instead of 1.5 to 2.5
 * minutes. The rows themselves are the same either way.
 * The subscriptions are consumed as they come; only one tenant's rows are held at a time.
 */
export async function seedRows(
  client: TableClient,
  subscriptions: Iterable<ManagedSubscription>,
  concurrency = 4,
): Promise<{ readonly entities: number; readonly transactions: number }> {
  await createTableIfMissing(client);
  const inFlight = new Set<Promise<void>>();
  const failures: unknown[] = [];
  let entities = 0;
  let transactions = 0;
  const submit = async (batch: TransactionAction[]): Promise<void> => {
    while (inFlight.size >= concurrency) await Promise.race(inFlight);
    if (failures.length > 0) throw failures[0];
    entities += batch.length;
    transactions += 1;
    const sent: Promise<void> = client.submitTransaction(batch).then(
      () => {
        inFlight.delete(sent);
      },
      (e: unknown) => {
        inFlight.delete(sent);
        failures.push(e);
      },
    );
    inFlight.add(sent);
  };
  const flush = async (tenantId: string, rows: TransactionAction[]): Promise<void> => {
    // NOTE: as the store does, the tenant is registered before its first row.
    await client.upsertEntity(toRegistryRow(tenantId), 'Merge');
    entities += 1;
    // NOTE: ordinal order, as Azure Tables and Azurite's indices sort keys.
    rows.sort((a, b) => (rowKeyOf(a) < rowKeyOf(b) ? -1 : rowKeyOf(a) > rowKeyOf(b) ? 1 : 0));
    for (let i = 0; i < rows.length; i += maxActionsPerTransaction) {
      await submit(rows.slice(i, i + maxActionsPerTransaction));
    }
  };
  let tenant: string | undefined;
  let rows: TransactionAction[] = [];
  for (const subscription of subscriptions) {
    const tenantId = subscription.definition.tenantId;
    if (tenant !== undefined && tenantId !== tenant) {
      await flush(tenant, rows);
      rows = [];
    }
    tenant = tenantId;
    rows.push(...rowsOf(subscription));
  }
  if (tenant !== undefined) await flush(tenant, rows);
  await Promise.all(inFlight);
  if (failures.length > 0) throw failures[0];
  return { entities, transactions };
}

function rowKeyOf(action: TransactionAction): string {
  const entity = action[1];
  return entity.rowKey;
}

/**
 * A lifecycle notification collection with one `reauthorizationRequired` per subscription, as
 * Graph POSTs it to the lifecycle URL.
 */
export function reauthorizationRequiredBody(items: readonly ManagedSubscription[]): string {
  return JSON.stringify({
    value: items.map((s) => ({
      subscriptionId: s.graphSubscriptionId,
      subscriptionExpirationDateTime: s.expiresAt?.toISOString(),
      tenantId: s.definition.tenantId,
      clientState: s.clientState,
      lifecycleEvent: 'reauthorizationRequired',
    })),
  });
}
