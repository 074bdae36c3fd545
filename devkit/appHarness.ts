import { randomUUID } from 'node:crypto';
import { coreDependencies, type AppDependencies } from '../shared/composition';
import { loadConfig, type Config } from '../shared/config';
import { createGraphSubscriptions } from '../shared/graph/createGraphSubscriptions';
import type { Logger, LogProperties } from '../shared/logger';
import type { SubscriptionStore } from '../shared/store/subscriptionStore';
import { InMemoryDriftRecords, InMemorySweepRecords } from './inMemoryRecords';
import { InMemorySubscriptionStore } from './inMemorySubscriptionStore';
import { QueueLifecycleIntake } from '../shared/lifecycle/intakeQueue';
import {
  TableSubscriptionStore,
  type TableSubscriptionStoreOptions,
} from '../shared/store/tableSubscriptionStore';
import type { StoredSubscription, SubscriptionDefinition } from '../shared/subscriptions/model';
import { subscriptionDefinitionSchema } from '../shared/subscriptions/model';
import { newManagedSubscription } from '../shared/subscriptions/newSubscription';
import {
  simulatorCredentialOptions,
  startGraphSimulator,
  type GraphSimulator,
  type GraphSimulatorOptions,
} from './graphSimulator';
import { TestClock } from './testClock';
import { recordLogLine, registerSecret } from './testLogSink';

/**
 * The app's real core wired to the Graph simulator (over HTTPS, tokens through @azure/identity
 * from the app settings, as in production) and to Azurite (or the in-memory store), on a test
 * clock. Built from settings exactly as the composition root builds them; only the clock, the
 * trusted test CA and the table name differ.
 */

export interface LogLine {
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
  readonly properties: LogProperties | undefined;
}

export interface Harness {
  readonly sim: GraphSimulator;
  readonly store: SubscriptionStore;
  readonly clock: TestClock;
  readonly config: Config;
  readonly deps: AppDependencies;
  readonly logs: LogLine[];
  /** The tenant whose credentials the app holds; other GUIDs work too (multi-tenant). */
  readonly tenantId: string;
  /** Puts a definition under management (pending, due now) and returns the stored row. */
  manage(
    definition: Partial<SubscriptionDefinition> & { key: string },
  ): Promise<StoredSubscription>;
  /** A fresh copy of a row. */
  read(key: string, tenantId?: string): Promise<StoredSubscription>;
  /** A second app instance on the same store and Graph (another worker, another claim owner). */
  anotherInstance(): AppDependencies;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  readonly store?: 'table' | 'memory';
  readonly clock?: 'instant' | 'real';
  readonly simulator?: Omit<GraphSimulatorOptions, 'now'>;
  /** Extra app settings. */
  readonly env?: Readonly<Record<string, string>>;
  readonly storeOptions?: TableSubscriptionStoreOptions;
}

export const harnessTenant = '84bd8158-6d4d-4958-8b9f-9d6445542f95';

/** Azurite's connection string for this test run (started by the jest global setup). */
export function azuriteConnectionString(): string {
  const connection = process.env.AZURITE_CONNECTION_STRING;
  if (connection === undefined) throw new Error('Azurite is not running (jest globalSetup)');
  return connection;
}

/** The app settings that point the app at the simulator, as an operator would set them. */
export function simulatorAppSettings(
  sim: GraphSimulator,
  tenantId: string = harnessTenant,
): Record<string, string> {
  return {
    GRAPH_BASE_URL: sim.graphUrl,
    GRAPH_TENANT_ID: tenantId,
    GRAPH_CLIENT_ID: sim.clientId,
    GRAPH_CLIENT_SECRET: sim.clientSecret,
    GRAPH_AUTHORITY_HOST: sim.authorityHost,
    GRAPH_DISABLE_INSTANCE_DISCOVERY: 'true',
  };
}

/** A table name no other test uses. */
export function uniqueTableName(): string {
  return `t${randomUUID().replace(/-/g, '').slice(0, 20)}`;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const clock = new TestClock(undefined, options.clock ?? 'instant');
  const sim = await startGraphSimulator({ ...options.simulator, now: () => clock.now() });
  const config = loadConfig({
    STORAGE_CONNECTION: azuriteConnectionString(),
    SUBSCRIPTIONS_TABLE: uniqueTableName(),
    LIFECYCLE_QUEUE: `li-${uniqueTableName().toLowerCase()}`,
    ...simulatorAppSettings(sim),
    LIFECYCLE_NOTIFICATION_URL: 'https://keeper.example.com/api/lifecycle?code=function-key',
    ...options.env,
  });
  const store: SubscriptionStore =
    options.store === 'memory'
      ? new InMemorySubscriptionStore()
      : TableSubscriptionStore.fromConfig(config.storage, options.storeOptions);
  const graph = createGraphSubscriptions(config, {
    clock,
    credentialOptions: simulatorCredentialOptions(sim),
    trustedCaCertificates: sim.tls.ca,
    retry: { timeoutMs: config.graphTimeoutMs },
  });
  const logs: LogLine[] = [];
  const push = (line: LogLine) => {
    logs.push(line);
    // NOTE: also to the run's sink, whose every line the secrets check reads (testLogSink.ts).
    recordLogLine(`harness.${line.level}`, JSON.stringify([line.message, line.properties ?? {}]));
  };
  const log: Logger = {
    info: (message, properties) => {
      push({ level: 'info', message, properties });
    },
    warn: (message, properties) => {
      push({ level: 'warn', message, properties });
    },
    error: (message, properties) => {
      push({ level: 'error', message, properties });
    },
  };
  const intake = QueueLifecycleIntake.fromConfig(config.storage);
  const instance = (): AppDependencies => ({
    ...coreDependencies({
      config,
      clock,
      store,
      graph,
      intake,
      sweepRecords: new InMemorySweepRecords(),
      driftRecords: new InMemoryDriftRecords(),
    }),
    log,
  });
  const deps = instance();

  return {
    sim,
    store,
    clock,
    config,
    deps,
    logs,
    tenantId: harnessTenant,
    async manage(definition) {
      const parsed = subscriptionDefinitionSchema.parse({
        tenantId: harnessTenant,
        resource: `users/${randomUUID()}/messages`,
        changeType: 'created,updated',
        notificationUrl: 'https://hooks.example.com/api/notify',
        lifecycleNotificationUrl: config.lifecycleNotificationUrl,
        ...definition,
      });
      const created = await store.create(newManagedSubscription(parsed, clock.now()));
      registerSecret('clientState', created.clientState);
      return created;
    },
    async read(key, tenantId = harnessTenant) {
      const row = await store.get(tenantId, key);
      if (row === undefined) throw new Error(`no subscription ${key}`);
      return row;
    },
    anotherInstance: instance,
    stop: () => sim.stop(),
  };
}
