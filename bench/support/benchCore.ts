import type { TableClient } from '@azure/data-tables';
import { coreDependencies, type AppDependencies } from '../../shared/composition';
import { loadConfig, type Config } from '../../shared/config';
import { createGraphSubscriptions } from '../../shared/graph/createGraphSubscriptions';
import type { GraphSubscriptions } from '../../shared/graph/graphSubscriptions';
import type { RetrySettings } from '../../shared/graph/retryPolicy';
import { QueueLifecycleIntake } from '../../shared/lifecycle/intakeQueue';
import { subscriptionTableClient } from '../../shared/store/tableClient';
import { TableSubscriptionStore } from '../../shared/store/tableSubscriptionStore';
import { simulatorAppSettings, uniqueTableName } from '../../devkit/appHarness';
import {
  startGraphSimulator,
  type GraphSimulator,
  type GraphSimulatorOptions,
} from '../../devkit/graphSimulator';
import { TestClock } from '../../devkit/testClock';
import { trustedSimulatorTls } from './trust';

/**
 * The app's real core wired to the Graph simulator (HTTPS, tokens through @azure/identity from
 * the app settings) and to Azurite, as devkit/appHarness.ts does it: `loadConfig` from
 * settings, `createGraphSubscriptions`, `coreDependencies`. Only the clock, the table name and
 * (per run) the pace window differ from the composition root; the simulator's CA is trusted
 * through NODE_EXTRA_CA_CERTS (see trust.ts), so the Graph client gets no TLS options at all.
 */

/** The lifecycle URL the benchmark's subscriptions carry (never called: not on loopback). */
export const benchLifecycleUrl = 'https://keeper.example.com/api/lifecycle?code=bench-key';
/** Not on loopback, so the simulator accepts it without a validation handshake. */
export const benchNotificationUrl = 'https://hooks.example.com/api/notify';

/**
 * Real time plus an offset. Set-up moves it forward (to start the simulator's throttle windows
 * afresh); measured runs never do, so sleeps, pacing and Graph latency are all real.
 */
export function benchClock(): TestClock {
  return new TestClock(new Date(), 'real');
}

/** A simulator on `clock`, serving the certificate this process trusts. */
export async function startBenchSimulator(
  clock: TestClock,
  options: Omit<GraphSimulatorOptions, 'now' | 'tls'> = {},
): Promise<GraphSimulator> {
  const tls = trustedSimulatorTls();
  if (tls === undefined) {
    throw new Error('run the benchmark through bench/run.ts, which trusts the simulator CA');
  }
  return startGraphSimulator({ ...options, tls, now: () => clock.now() });
}

export interface BenchCore {
  readonly config: Config;
  readonly client: TableClient;
  readonly store: TableSubscriptionStore;
  readonly graph: GraphSubscriptions;
  /** Fresh dependencies (a fresh pacer) on the same store and Graph client. */
  deps(options?: { readonly paceWindowMs?: number }): AppDependencies;
  /** Another Graph client from the same settings, e.g. with retries off. */
  graphWith(retry: Partial<RetrySettings>): GraphSubscriptions;
}

export interface BenchCoreOptions {
  readonly sim: GraphSimulator;
  readonly clock: TestClock;
  readonly storageConnection: string;
  readonly table?: string;
  /** Extra app settings. */
  readonly env?: Readonly<Record<string, string>>;
  readonly retry?: Partial<RetrySettings>;
}

export function buildBenchCore(options: BenchCoreOptions): BenchCore {
  const { sim, clock } = options;
  const config = loadConfig({
    STORAGE_CONNECTION: options.storageConnection,
    SUBSCRIPTIONS_TABLE: options.table ?? uniqueTableName(),
    LIFECYCLE_QUEUE: `li-${uniqueTableName().toLowerCase()}`,
    ...simulatorAppSettings(sim),
    LIFECYCLE_NOTIFICATION_URL: benchLifecycleUrl,
    ...options.env,
  });
  const client = subscriptionTableClient(config.storage.connection, config.storage.table);
  const store = new TableSubscriptionStore(client);
  // NOTE: as the composition root builds it: the credential comes from the app settings
  // (simulatorAppSettings: authority host, instance discovery off, client secret).
  const graphWith = (retry: Partial<RetrySettings>): GraphSubscriptions =>
    createGraphSubscriptions(config, {
      clock,
      retry: { timeoutMs: config.graphTimeoutMs, ...retry },
    });
  const graph = graphWith(options.retry ?? {});
  const intake = QueueLifecycleIntake.fromConfig(config.storage);
  return {
    config,
    client,
    store,
    graph,
    graphWith,
    deps: (o = {}) =>
      coreDependencies({
        config,
        clock,
        store,
        graph,
        intake,
        ...(o.paceWindowMs === undefined ? {} : { paceWindowMs: o.paceWindowMs }),
      }),
  };
}
