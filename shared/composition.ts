import { randomUUID } from 'node:crypto';
import { ReferencedCertificates, type CertificateSource } from './certificates/certificateSource';
import {
  AzureKeyVaultCertificates,
  keyVaultCredentialFor,
} from './certificates/keyVaultCertificateReader';
import {
  JwksValidationTokens,
  validationTokenOptionsFor,
  type ValidationTokenChecker,
} from './lifecycle/validationTokens';
import { systemClock, type Clock } from './clock';
import { loadConfig, type Config } from './config';
import { tenantRefusalFor } from './graph/credentials';
import { markingGraphSubscriptions } from './drift/deploymentMarker';
import { TableDriftRecords, type DriftRecords } from './drift/driftRecords';
import { ListPacer } from './drift/listPacer';
import { checkDefinition } from './graph/definitionChecks';
import { createGraphSubscriptions } from './graph/createGraphSubscriptions';
import type { GraphSubscriptions } from './graph/graphSubscriptions';
import { maxLifetimeFor } from './graph/lifetimes';
import { requiredPermissionsFor } from './graph/permissions';
import type { LifecycleDeps } from './lifecycle/handleLifecycleNotifications';
import { silentLogger, type Logger } from './logger';
import { defaultOutcomeTimings, type OutcomePolicy } from './renewal/outcomes';
import type { SweepOptions } from './renewal/sweep';
import { WritePacer, type PaceLimits } from './renewal/writePacer';
import type { SubscriptionStore } from './store/subscriptionStore';
import { TableSubscriptionStore } from './store/tableSubscriptionStore';
import { QueueResyncPublisher } from './resync/queueResyncPublisher';
import { QueueLifecycleIntake, type LifecycleIntakeQueue } from './lifecycle/intakeQueue';
import type { ResyncPublisher } from './resync/resyncPublisher';
import { TableSweepRecords, type SweepRecords } from './store/sweepRecords';

/**
 * The composition root: builds the app's dependencies once per worker, lazily, on the first
 * invocation that needs them (never on the validation handshake path). Tests do not call it;
 * they build their dependencies as literals with `coreDependencies`.
 */

export interface AppDependencies extends LifecycleDeps {
  readonly config: Config;
  readonly sweepOptions: SweepOptions;
  /** Where the outcome of each sweep is kept for `health`. */
  readonly sweepRecords: SweepRecords;
  /** When each tenant was last checked for drift, for `health` (shared/drift/). */
  readonly driftRecords: DriftRecords;
  readonly listPacer: ListPacer;
  readonly deploymentId: string;
  /** Referenced encryption certificates (Key Vault, app settings); none: references refused. */
  readonly certificates?: CertificateSource | undefined;
  /** Checks the validationTokens of rich lifecycle notification collections. */
  readonly validationTokens?: ValidationTokenChecker | undefined;
}

/** The parts that differ between production, tests, the sandbox and benchmarks. */
export interface CoreParts {
  readonly config: Config;
  readonly store: SubscriptionStore;
  readonly graph: GraphSubscriptions;
  readonly clock: Clock;
  /** The owner's resync queue. Default: none (resync requests stay on the rows only). */
  readonly resync?: ResyncPublisher;
  /** Default: in the state account (STORAGE_CONNECTION), beside the subscriptions. */
  readonly sweepRecords?: SweepRecords;
  /** Overrides of Graph's subscription limits, e.g. a scaled window in benchmarks. */
  readonly paceWindowMs?: number;
  readonly instanceId?: string;
  readonly inlineBudgetMs?: number;
  /** The lifecycle intake queue. Default: none (the lifecycle endpoint answers 503). */
  readonly intake?: LifecycleIntakeQueue;
  /** Default: in the state account (STORAGE_CONNECTION), beside the subscriptions. */
  readonly driftRecords?: DriftRecords;
  /** Referenced encryption certificates. Default: app settings only, no Key Vault. */
  readonly certificates?: CertificateSource;
  /** Default: the cloud's identity platform keys and issuers (or their settings). */
  readonly validationTokens?: ValidationTokenChecker;
}

/** Graph's subscription API limits (docs/graph-rules.md#limits-and-throttling) with the configured share of writes. */
export function paceLimitsFor(config: Config, windowMs = 20_000): PaceLimits {
  return {
    windowMs,
    write: {
      perTenant: { limit: 500, budget: config.sweep.tenantWritesPer20s / 500 },
      perApp: { limit: 2000, budget: config.sweep.appWritesPer20s / 2000 },
    },
    reauthorize: {
      perTenant: { limit: 1000, budget: 0.9 },
      perApp: { limit: 4000, budget: 0.9 },
    },
  };
}

export function policyFor(config: Config): OutcomePolicy {
  return {
    sweepPeriodMs: config.sweep.periodMs,
    renewalMarginMs: config.sweep.renewalMarginMs,
    maxLifetimeMinutes: (d) =>
      maxLifetimeFor(d.resource, { includeResourceData: d.includeResourceData }).maxMinutes,
    ...defaultOutcomeTimings,
  };
}

/** Wires the core from its parts; the same wiring serves the functions, CLI, tests and benches. */
export function coreDependencies(parts: CoreParts): AppDependencies {
  const { config, clock } = parts;
  return {
    config,
    store: parts.store,
    // NOTE: what this deployment creates carries its marker, so the drift check knows its own.
    graph: markingGraphSubscriptions(parts.graph, config.drift.deploymentId),
    clock,
    resync: parts.resync,
    // NOTE: the table clients connect on first use; parts without a state account pass their own.
    sweepRecords: parts.sweepRecords ?? TableSweepRecords.fromConfig(config.storage),
    driftRecords: parts.driftRecords ?? TableDriftRecords.fromConfig(config.storage),
    listPacer: new ListPacer(clock, parts.paceWindowMs),
    deploymentId: config.drift.deploymentId,
    validationTokens:
      parts.validationTokens ??
      new JwksValidationTokens({ ...validationTokenOptionsFor(config), clock }),
    certificates:
      parts.certificates ??
      new ReferencedCertificates({ settings: config.certificates.pemSettings, clock }),
    policy: policyFor(config),
    pacer: new WritePacer(clock, paceLimitsFor(config, parts.paceWindowMs)),
    log: silentLogger,
    instanceId: parts.instanceId ?? randomUUID(),
    // NOTE: a claim must outlive the Graph call it guards, retries and waits included.
    claimTtlMs: config.graphTimeoutMs + 30_000,
    inlineBudgetMs: parts.inlineBudgetMs ?? config.lifecycle.inlineBudgetMs,
    intake: parts.intake,
    checkDefinition: (sub) => {
      const problems = checkDefinition(
        { ...sub.definition, clientState: sub.clientState },
        {
          cloud: config.graph.cloud,
          defaultLifecycleNotificationUrl: config.lifecycleNotificationUrl,
        },
      ).map((p) => `${p.field}: ${p.message}`);
      // NOTE: rows stored before the credential changed are held to it too, before any Graph call.
      const refusal = tenantRefusalFor(config.identity, sub.definition.tenantId);
      return refusal === undefined ? problems : [...problems, `tenantId: ${refusal}`];
    },
    requiredPermissionsFor: (resource, operation) => requiredPermissionsFor(resource, operation),
    sweepOptions: {
      concurrencyPerTenant: config.sweep.concurrencyPerTenant,
      tenantsInParallel: config.sweep.tenantsInParallel,
    },
  };
}

let built: Promise<AppDependencies> | undefined;

/** The app's dependencies for this worker, built on first use. */
export function appDependencies(): Promise<AppDependencies> {
  built ??= buildAppDependencies().catch((e: unknown) => {
    // NOTE: a failed build (storage unreachable at cold start) is retried on the next call.
    built = undefined;
    throw e;
  });
  return built;
}

function buildAppDependencies(): Promise<AppDependencies> {
  return Promise.resolve(productionDependencies(loadConfig()));
}

/**
 * The production parts for a configuration: Table store, resync queue and sweep records in the
 * STORAGE_CONNECTION account, the Graph client with the configured credential, the system
 * clock. The functions build it from `process.env`; the CLI from its own settings.
 */
export function productionDependencies(
  config: Config,
  options: { readonly log?: Logger; readonly instanceId?: string } = {},
): AppDependencies {
  const clock = systemClock;
  const deps = coreDependencies({
    config,
    clock,
    store: TableSubscriptionStore.fromConfig(config.storage),
    resync: QueueResyncPublisher.fromConfig(config.storage),
    intake: QueueLifecycleIntake.fromConfig(config.storage),
    graph: createGraphSubscriptions(config, {
      clock,
      retry: { timeoutMs: config.graphTimeoutMs },
      ...(options.log === undefined ? {} : { log: options.log }),
    }),
    ...(options.instanceId === undefined ? {} : { instanceId: options.instanceId }),
    certificates: new ReferencedCertificates({
      keyVault: new AzureKeyVaultCertificates(
        keyVaultCredentialFor(config.identity, config.graph.cloud),
      ),
      settings: config.certificates.pemSettings,
      clock,
    }),
  });
  return options.log === undefined ? deps : { ...deps, log: options.log };
}
