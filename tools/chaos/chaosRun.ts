import { createDefaultHttpClient } from '@azure/core-rest-pipeline';
import { loadConfig, type Config } from '../../shared/config';
import { createGraphSubscriptions } from '../../shared/graph/createGraphSubscriptions';
import { runSweep, type SweepSummary } from '../../shared/renewal/sweep';
import { InMemoryResyncPublisher } from '../../devkit/inMemoryRecords';
import { InMemorySubscriptionStore } from '../../devkit/inMemorySubscriptionStore';
import type { StoredSubscription } from '../../shared/subscriptions/model';
import { newManagedSubscription } from '../../shared/subscriptions/newSubscription';
import { simulatorCredentialOptions, type SimulatorTls } from '../../devkit/graphSimulator';
import { serveHandler, type ServedHandler } from '../../devkit/lifecycleServer';
import {
  AppInstance,
  InstanceContext,
  InstanceCrashedError,
  type FunctionsHttpHandler,
  type LogLine,
} from './appInstance';
import {
  buildFleet,
  chaosTenantId,
  memberKey,
  resourceMix,
  type FleetMember,
  type LifecycleEventName,
  type ResourceKind,
} from './chaosFleet';
import { startChaosGraph } from './chaosGraph';
import { replayCommand } from './chaosProcess';
import {
  defaultFaultRates,
  type ChaosGraph,
  type FaultRates,
  type GraphConnection,
  type GraphCounters,
  type LifecycleItem,
} from './graphSide';
import {
  failingCount,
  InvariantLedger,
  withKnownIssues,
  type InvariantResult,
  type KnownIssue,
  type RevocationWindow,
} from './invariantLedger';
import { SeededRandom } from './seededRandom';
import { drainIntake } from '../../shared/lifecycle/intake';
import { runDriftCheck } from '../../shared/drift/driftCheck';
import { OperationError } from '../../shared/operations/errors';
import {
  applyDefinition,
  deleteSubscription,
} from '../../shared/operations/subscriptionOperations';
import type { SubscriptionDefinition } from '../../shared/subscriptions/model';
import { InMemoryLifecycleIntake } from '../../devkit/inMemoryLifecycleIntake';
import { CallClock, SimulatedClock, timeoutAccounting } from './simulatedClock';

/**
 * The chaos run of issue 9: simulated days of the app's real core (sweep, reconcile, lifecycle
 * endpoint, composition) against the Graph simulator over HTTPS, under injected Graph faults,
 * lifecycle events, silent losses, a permission revocation and crashes between store writes,
 * with the invariants checked after every tick of the sweep's schedule.
 *
 * Parts: the in-memory store (with the stores' `beforeWrite` crash hook; Azurite would take hours
 * for the run's writes), the Graph simulator in its own thread reached over HTTPS with real tokens
 * (@azure/identity), the lifecycle function served over loopback HTTPS so Graph's lifecycle
 * POSTs really arrive over HTTP, and one simulated clock shared by both threads.
 */

export interface ChaosRates {
  /** Lifecycle events and silent losses per simulated day, for a fleet of up to 1,000. */
  readonly reauthorizationRequired: number;
  readonly subscriptionRemoved: number;
  readonly missed: number;
  readonly lost: number;
  /** Crashes per simulated day, whatever the fleet. */
  readonly crashes: number;
  /** Share of sweeps that a second instance runs at the same time. */
  readonly overlap: number;
  /**
   * Admin operations per simulated day, for a fleet of up to 1,000: a notification URL change
   * (PATCHed), a changeType change (deleted and created), or a delete applied again later; each
   * runs through the admin API's operations while the sweep, the drift check and lifecycle
   * events run in the same process.
   */
  readonly adminOperations: number;
  /** Extra silent drops per simulated day of 29-day resources (drive roots, users, groups). */
  readonly longLivedLost: number;
  /** Crashes per simulated day right after Graph answered a create, before the row write. */
  readonly crashesAfterCreate: number;
}

export const defaultChaosRates: ChaosRates = {
  reauthorizationRequired: 60,
  subscriptionRemoved: 8,
  missed: 8,
  lost: 8,
  crashes: 6,
  overlap: 0.1,
  adminOperations: 48,
  longLivedLost: 4,
  crashesAfterCreate: 3,
};

export interface ChaosOptions {
  readonly days: number;
  readonly subscriptions: number;
  readonly tenants: number;
  readonly seed: number;
  readonly rates?: Partial<ChaosRates>;
  readonly faults?: Partial<FaultRates>;
  /** The simulator's certificate (generateSimulatorTls()). */
  readonly tls: SimulatorTls;
  /**
   * How the app trusts the simulator's CA. 'process': NODE_EXTRA_CA_CERTS holds it (set before
   * this process started, see chaosProcess.ts), so the Graph client and the credential are built
   * exactly as in production. 'client': through the Graph client's trustedCaCertificates and the
   * credential's TLS options, as the test harness does; slower (every request names ~140 CAs).
   */
  readonly trust: 'process' | 'client';
  /** Run the Graph simulator in its own thread (default true). */
  readonly graphThread?: boolean;
  /** GRAPH_TIMEOUT_MS of the run (default: the app's default, 30 s). */
  readonly graphTimeoutMs?: number;
  /**
   * What-if for a proposed core change, not an app setting: plan renewals as if the sweep ran
   * every this many ms (the renewal lead is max(a quarter of the lifetime, two sweep periods)),
   * while it still runs every SWEEP_SCHEDULE period.
   */
  readonly planningSweepPeriodMs?: number;
  /** Reported core issues: their cases are counted and printed but do not fail the run. */
  readonly knownIssues?: readonly KnownIssue[];
  /** Called at the end of each simulated day. */
  readonly onDay?: (progress: DayProgress) => void;
}

export interface DayProgress {
  readonly day: number;
  readonly days: number;
  readonly renewals: number;
  readonly recreations: number;
  readonly events: number;
  readonly faults: number;
  readonly crashes: number;
  /** Invariant breaches so far (lapses, duplicates, lost; the others are counted at the end). */
  readonly breaches: number;
  readonly wallMs: number;
}

export interface ChaosTotals {
  readonly simulatedDays: number;
  readonly ticks: number;
  readonly sweeps: number;
  readonly overlappingSweeps: number;
  readonly renewals: number;
  readonly recreations: number;
  readonly reauthorizations: number;
  readonly creates: number;
  readonly graphCalls: number;
  readonly events: Readonly<Record<LifecycleEventName, number>>;
  readonly silentLosses: number;
  readonly lifecycleRedeliveries: number;
  readonly lifecycleGivenUp: number;
  readonly faults: GraphCounters['faults'];
  readonly faultsInjected: number;
  readonly throttled: number;
  readonly crashes: number;
  readonly crashesAfterCreate: number;
  readonly restarts: number;
  readonly adminOperations: Readonly<Record<AdminOperation, number>>;
  readonly driftChecks: number;
  readonly resyncMessages: number;
  readonly repeatedResyncMessages: number;
  readonly wallMs: number;
}

export interface ChaosReport {
  readonly options: {
    readonly days: number;
    readonly subscriptions: number;
    readonly tenants: number;
    readonly seed: number;
  };
  readonly ok: boolean;
  readonly invariants: readonly InvariantResult[];
  readonly totals: ChaosTotals;
  /** Figures to read a run by; not promises. */
  readonly facts: Readonly<Record<string, string | number>>;
  readonly revocation: { readonly tenantId: string; readonly from: string; readonly to: string };
  readonly mix: readonly { readonly label: string; readonly count: number }[];
  readonly replay: string;
  readonly setup: string;
}

const minute = 60_000;
const hour = 60 * minute;
const day = 24 * hour;
/** Graph redelivers a lifecycle notification for up to 4 hours (docs/graph-rules.md#lifecycle-notifications). */
const redeliveryWindowMs = 4 * hour;
/** The last hours get no new events, losses or crashes, so every one has its chance. */
const quietMs = 3 * hour;
const runStart = new Date('2026-03-02T00:00:00.000Z');
/**
 * GRAPH_TIMEOUT_MS: the app's default. A request that never gets an answer costs no real time
 * here (see timeoutAccounting), so the run need not shorten it.
 */
export const defaultGraphTimeoutMs = 30_000;

type AdminOperation = 'patch' | 'recreate' | 'delete' | 'reapply';

/** A notification URL an owner moves to and back (both this app's hooks). */
const otherNotificationUrl = 'https://hooks.example.com/api/notify-b';
/** Resources whose changeType an owner narrows and widens again (Graph recreates for it). */
const narrowable: ReadonlySet<ResourceKind> = new Set(['mail', 'events']);
/** The 29-day resources: renewal weeks away, so only the drift check finds a silent drop. */
const longLived: ReadonlySet<ResourceKind> = new Set(['driveRoot', 'user', 'group']);

interface PendingDelivery {
  readonly items: LifecycleItem[];
  readonly firstAtMs: number;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const wallStart = performance.now();
  const rates: ChaosRates = { ...defaultChaosRates, ...options.rates };
  const faultRates: FaultRates = { ...defaultFaultRates, ...options.faults };
  const random = new SeededRandom(options.seed);
  const schedule = random.fork('schedule');
  const clock = new SimulatedClock(undefined, runStart);
  const graph = await startChaosGraph({
    clock,
    seed: random.fork('graph-faults').seed,
    rates: faultRates,
    tls: options.tls,
    thread: options.graphThread ?? true,
  });
  const context = new InstanceContext();
  const store = new InMemorySubscriptionStore({ faults: context.storeFaults() });
  const queue = new InMemoryResyncPublisher();
  const intake = new InMemoryLifecycleIntake(() => clock.now().getTime());
  const logs: LogLine[] = [];
  const instances: AppInstance[] = [];
  const lifecycleAnswers = { refusedByLiveInstance: 0 };
  const dispatcher = random.fork('dispatch');

  // The lifecycle URL every subscription carries: the function on one of the live workers.
  const dispatch: FunctionsHttpHandler = async (request, invocation) => {
    const live = instances.filter((i) => !i.dead);
    // NOTE: the handshake needs no dependency and the host answers it on any worker.
    if (request.query.has('validationToken')) {
      return (live[0] ?? instances[0] ?? fail('no instance')).lifecycle(request, invocation);
    }
    if (live.length === 0) return { status: 503, headers: { 'Retry-After': '5' } };
    const instance = dispatcher.pick(live);
    const response = await context.run(instance, () => instance.lifecycle(request, invocation));
    // A worker that died while answering sends nothing; the host's 500 stands for that.
    if (instance.dead) throw new InstanceCrashedError(instance.instanceId);
    if ((response.status ?? 200) >= 500) lifecycleAnswers.refusedByLiveInstance++;
    // The queue trigger fires right after on the same worker (a crash leaves the rest queued
    // for the next worker's drain).
    if (response.status === 202) {
      await context.run(instance, () => drainIntake(instance.deps)).catch(() => undefined);
    }
    return response;
  };
  let served: ServedHandler | undefined;
  try {
    served = await serveHandler(options.tls, dispatch);
    return await simulate({
      options,
      rates,
      random,
      schedule,
      clock,
      graph,
      context,
      store,
      queue,
      intake,
      logs,
      instances,
      served,
      lifecycleAnswers,
      wallStart,
    });
  } finally {
    await served?.stop();
    await graph.stop();
  }
}

interface RunParts {
  readonly options: ChaosOptions;
  readonly rates: ChaosRates;
  readonly random: SeededRandom;
  readonly schedule: SeededRandom;
  readonly clock: SimulatedClock;
  readonly graph: ChaosGraph;
  readonly context: InstanceContext;
  readonly store: InMemorySubscriptionStore;
  readonly queue: InMemoryResyncPublisher;
  readonly intake: InMemoryLifecycleIntake;
  readonly logs: LogLine[];
  readonly instances: AppInstance[];
  readonly served: ServedHandler;
  readonly lifecycleAnswers: { refusedByLiveInstance: number };
  readonly wallStart: number;
}

async function simulate(p: RunParts): Promise<ChaosReport> {
  const { options, rates, random, schedule, clock, graph, context, store, queue, instances } = p;
  const { intake } = p;
  const config = appConfig(
    graph.connection,
    p.served.url,
    options.graphTimeoutMs ?? defaultGraphTimeoutMs,
  );
  const periodMs = config.sweep.periodMs;
  const startMs = clock.nowMs();
  const totalTicks = Math.max(1, Math.round((options.days * day) / periodMs));
  const endMs = startMs + totalTicks * periodMs;
  const ticksPerDay = day / periodMs;
  const scale = Math.max(1, options.subscriptions / 1000);

  const fleet = buildFleet(
    {
      subscriptions: options.subscriptions,
      tenants: options.tenants,
      notificationUrl: 'https://hooks.example.com/api/notify',
      lifecycleNotificationUrl: p.served.url,
    },
    random.fork('fleet'),
  );
  const revocation = revocationWindow(options, startMs, endMs, periodMs);
  const ledger = new InvariantLedger(fleet, revocation, {
    restoreGraceMs: 2 * periodMs,
    recoveryMs: 2 * hour,
    // NOTE: the next check finds a drop, and the sweeps recreate what it could not; a check a
    // crash cut short leaves its tenants to the next one (exempt, counted apart).
    silentDropBoundMs: config.drift.periodMs + 2 * periodMs,
  });
  const driftTicks = Math.max(1, Math.round(config.drift.periodMs / periodMs));
  // NOTE: owners put their subscriptions under management over the first hour rather than all
  // at one instant, as they would; it also spreads the first creates' validation handshakes.
  const onboardingTicks = Math.min(12, totalTicks);
  const registered: FleetMember[] = [];
  const register = async (tick: number) => {
    for (const [i, member] of fleet.entries()) {
      if (i % onboardingTicks !== tick) continue;
      const row = await store.create(newManagedSubscription(member.definition, clock.now()));
      ledger.rememberClientState(member, row.clientState);
      registered.push(member);
    }
  };

  // ---- the workers ----
  let generation = 0;
  let restarts = 0;
  let crashes = 0;
  let crashesAfterCreate = 0;
  let driftChecks = 0;
  const adminCounts: Record<AdminOperation, number> = {
    patch: 0,
    recreate: 0,
    delete: 0,
    reapply: 0,
  };
  const adminDraw = random.fork('admin');
  /** Members the owner deleted, to apply again once the row is gone. */
  const toReapply = new Set<FleetMember>();
  const jitter = random.fork('retry-jitter');
  const graphClock = new CallClock(clock);
  const newInstance = (slot: number): AppInstance => {
    generation++;
    // NOTE: built as the composition root builds it (buildAppDependencies), on the run's clock.
    const graphClient = createGraphSubscriptions(config, {
      clock: graphClock,
      retry: { timeoutMs: config.graphTimeoutMs },
      random: () => jitter.next(),
      httpClient: timeoutAccounting(createDefaultHttpClient(), graphClock, config.graphTimeoutMs),
      ...(options.trust === 'client'
        ? {
            credentialOptions: simulatorCredentialOptions({
              authorityHost: graph.connection.authorityHost,
              tls: { ...options.tls },
            }),
            trustedCaCertificates: options.tls.ca,
          }
        : {}),
    });
    return new AppInstance(`chaos-worker-${slot}-${generation}`, {
      config,
      clock,
      store,
      graph: graphClient,
      graphClock,
      queue,
      intake,
      onLog: (line) => {
        if (line.level === 'error' && !line.afterCrash) p.logs.push(line);
      },
      onCrash: (instance) => {
        crashes++;
        if (instance.crashPoint?.startsWith('after Graph created') === true) crashesAfterCreate++;
      },
      planningSweepPeriodMs: options.planningSweepPeriodMs,
    });
  };
  instances.push(newInstance(0), newInstance(1));

  // ---- the tick loop ----
  const crashSchedule = random.fork('crashes');
  const overlapDraw = random.fork('overlap');
  let deliveries: PendingDelivery[] = [];
  let sweeps = 0;
  let overlapping = 0;
  let unexpectedInLiveInstances = 0;
  let invalidRows = 0;
  let redeliveries = 0;
  let givenUp = 0;
  let silentLosses = 0;
  const events: Record<LifecycleEventName, number> = {
    reauthorizationRequired: 0,
    subscriptionRemoved: 0,
    missed: 0,
  };
  let rows = new Map<string, StoredSubscription | undefined>();
  let messagesRead = 0;
  let revoked = false;
  let restored = false;
  let lastCounters: GraphCounters | undefined;

  const sweepOn = async (instance: AppInstance, onProgress?: (done: number) => void) => {
    sweeps++;
    let summary: SweepSummary;
    try {
      // NOTE: as sweepAndRecord does: what the intake queue still holds first.
      await context.run(instance, () => drainIntake(instance.deps)).catch(() => undefined);
      summary = await context.run(instance, () =>
        runSweep(instance.deps, {
          ...instance.deps.sweepOptions,
          signal: instance.controller.signal,
          ...(onProgress === undefined ? {} : { onProgress }),
        }),
      );
    } catch (e) {
      if (instance.dead) return;
      throw e;
    }
    if (!instance.dead) {
      unexpectedInLiveInstances += summary.unexpectedErrors;
      invalidRows += summary.invalidRows;
    }
  };

  const deliver = async (batch: PendingDelivery[]): Promise<void> => {
    const items = batch.flatMap((d) => d.items);
    if (items.length === 0) return;
    const result = await graph.deliver(items);
    if (result.accepted) return;
    const nowMs = clock.nowMs();
    for (const d of batch) {
      if (nowMs - d.firstAtMs > redeliveryWindowMs) givenUp += d.items.length;
      else deliveries.push(d);
    }
  };

  /** Runs `work` on `instance` as one invocation; a crash of the worker ends it quietly. */
  const invocation = async (instance: AppInstance, work: () => Promise<unknown>) => {
    try {
      await context.run(instance, work);
    } catch (e) {
      if (instance.dead) return;
      throw e;
    }
  };

  /** One admin operation, through the code the admin API runs (shared/operations). */
  const adminOperation = async (instance: AppInstance, member: FleetMember): Promise<void> => {
    if (toReapply.has(member) || ledger.isOwnerDeleted(member)) return;
    const wanted = ledger.wantedOf(member);
    const current = wanted[wanted.length - 1] ?? member.definition;
    const op: AdminOperation = adminDraw.chance(0.2)
      ? 'delete'
      : narrowable.has(member.mix.kind) && adminDraw.chance(0.5)
        ? 'recreate'
        : 'patch';
    adminCounts[op]++;
    if (op === 'delete') {
      ledger.onOwnerDelete(member, clock.nowMs());
      toReapply.add(member);
      await invocation(instance, () =>
        deleteSubscription(instance.deps, member.definition.key, member.definition.tenantId),
      );
      return;
    }
    const next: SubscriptionDefinition =
      op === 'patch'
        ? {
            ...current,
            notificationUrl:
              current.notificationUrl === otherNotificationUrl
                ? member.definition.notificationUrl
                : otherNotificationUrl,
          }
        : {
            ...current,
            changeType:
              current.changeType === member.definition.changeType
                ? 'created,updated'
                : member.definition.changeType,
          };
    ledger.onOwnerChange(member, next, op === 'recreate');
    await invocation(instance, () => applyDefinition(instance.deps, next)).catch((e: unknown) => {
      // NOTE: a 409 (the row is being deleted, or kept changing) is an answer, not a fault.
      if (!(e instanceof OperationError)) throw e;
    });
  };

  /** Applies again what the owner deleted, once the row is gone. */
  const reapply = async (instance: AppInstance, member: FleetMember): Promise<void> => {
    const { tenantId, key } = member.definition;
    const row = await store.get(tenantId, key);
    if (row !== undefined && row.status !== 'deleting') {
      // The delete was never stored (the worker crashed first): nothing to apply again.
      toReapply.delete(member);
      ledger.onOwnerDeleteUndone(member);
      return;
    }
    if (row !== undefined) return;
    adminCounts.reapply++;
    const wanted = ledger.wantedOf(member);
    const definition = wanted[wanted.length - 1] ?? member.definition;
    await invocation(instance, () => applyDefinition(instance.deps, definition));
    const applied = await store.get(tenantId, key);
    if (applied !== undefined) {
      toReapply.delete(member);
      ledger.onOwnerReapplied(member, applied);
    }
  };

  for (let tick = 0; tick < totalTicks; tick++) {
    const tickAt = startMs + tick * periodMs;
    clock.advanceTo(tickAt);
    const nowMs = clock.nowMs();
    // Workers that crashed come back as fresh instances: new id, new clients, same store.
    for (let slot = 0; slot < instances.length; slot++) {
      if (instances[slot]?.dead === true) {
        instances[slot] = newInstance(slot);
        restarts++;
      }
    }
    if (!revoked && nowMs >= revocation.revokedAtMs) {
      await graph.setPermission(revocation.tenantId, false);
      revoked = true;
    }
    if (!restored && nowMs >= revocation.restoredAtMs) {
      await graph.setPermission(revocation.tenantId, true);
      restored = true;
    }

    if (tick < onboardingTicks) await register(tick);
    const quiet = nowMs >= endMs - quietMs;
    const batch: PendingDelivery = { items: [], firstAtMs: nowMs };
    if (!quiet) {
      const perTick = (perDay: number) => schedule.poisson((perDay * scale) / ticksPerDay);
      for (const event of ['reauthorizationRequired', 'subscriptionRemoved', 'missed'] as const) {
        for (let n = perTick(rates[event]); n > 0; n--) {
          const target = pickTarget(schedule, fleet, ledger, rows, (m) =>
            m.mix.events.includes(event),
          );
          if (target === undefined) continue;
          batch.items.push({ subscriptionId: target.graphId, event });
          events[event]++;
          if (event !== 'reauthorizationRequired') ledger.onEventSent(target.member, event, nowMs);
        }
      }
      const lose = async (eligible: (m: FleetMember) => boolean) => {
        const target = pickTarget(schedule, fleet, ledger, rows, eligible);
        if (target !== undefined && (await graph.lose(target.graphId))) {
          silentLosses++;
          ledger.onSilentDrop(target.member, nowMs);
        }
      };
      for (let n = perTick(rates.lost); n > 0; n--) await lose(() => true);
      for (let n = perTick(rates.longLivedLost); n > 0; n--) {
        await lose((m) => longLived.has(m.mix.kind));
      }
      for (let n = crashSchedule.poisson(rates.crashesAfterCreate / ticksPerDay); n > 0; n--) {
        crashSchedule.pick(instances).crashAfterCreate = true;
      }
      for (let n = crashSchedule.poisson(rates.crashes / ticksPerDay); n > 0; n--) {
        const victim = crashSchedule.pick(instances);
        victim.crashAfterWrites ??= crashSchedule.int(1, 30);
      }
    }

    // The sweep on the worker that holds the timer, sometimes a second one on the other worker
    // (a slot swap, a scale-out), and Graph's lifecycle POSTs, all at once.
    const primary = schedule.int(0, instances.length - 1);
    const overlap = !quiet && overlapDraw.chance(rates.overlap);
    const startOverlapAt = overlapDraw.int(0, 8);
    const startDeliveryAt = overlapDraw.int(0, 8);
    const pending = deliveries;
    deliveries = [];
    if (pending.length > 0) redeliveries += pending.reduce((n, d) => n + d.items.length, 0);
    const toDeliver = batch.items.length > 0 ? [...pending, batch] : pending;
    const started: Promise<void>[] = [];
    let overlapStarted = !overlap;
    let deliveryStarted = toDeliver.length === 0;
    // Admin operations and the drift check, started while the sweep runs (one process).
    const others: { at: number; start: () => Promise<void> }[] = [];
    const anyLive = () => {
      const live = instances.filter((i) => !i.dead);
      return live.length === 0 ? undefined : adminDraw.pick(live);
    };
    if (!quiet) {
      for (let n = adminDraw.poisson((rates.adminOperations * scale) / ticksPerDay); n > 0; n--) {
        if (registered.length === 0) break;
        const member = adminDraw.pick(registered);
        others.push({
          at: adminDraw.int(0, 8),
          start: async () => {
            const instance = anyLive();
            if (instance !== undefined) await adminOperation(instance, member);
          },
        });
      }
    }
    for (const member of [...toReapply]) {
      others.push({
        at: adminDraw.int(0, 8),
        start: async () => {
          const instance = anyLive();
          if (instance !== undefined) await reapply(instance, member);
        },
      });
    }
    if (tick % driftTicks === driftTicks - 1) {
      driftChecks++;
      others.push({
        at: adminDraw.int(0, 8),
        start: async () => {
          const instance = anyLive();
          const startedAtMs = clock.nowMs();
          const tenants = new Set(registered.map((m) => m.definition.tenantId.toLowerCase()));
          if (instance === undefined) {
            // Both workers crashed before the timer fired: this period's check never ran.
            ledger.onDriftCheckCutShort(tenants, startedAtMs);
            return;
          }
          await invocation(instance, () =>
            runDriftCheck(instance.deps, { signal: instance.controller.signal }),
          );
          if (!instance.dead) return;
          // The worker crashed during the check: the tenants it had not recorded wait a period.
          const checked = new Set(
            (await instance.deps.driftRecords.all())
              .filter((r) => r.error === null && Date.parse(r.checkedAt) >= startedAtMs)
              .map((r) => r.tenantId.toLowerCase()),
          );
          ledger.onDriftCheckCutShort(
            [...tenants].filter((t) => !checked.has(t)),
            startedAtMs,
          );
        },
      });
    }
    const startOthers = (done: number) => {
      for (const other of others.filter((o) => done >= o.at)) {
        others.splice(others.indexOf(other), 1);
        started.push(other.start());
      }
      if (!overlapStarted && done >= startOverlapAt) {
        overlapStarted = true;
        overlapping++;
        const other = instances[(primary + 1) % instances.length];
        if (other !== undefined) started.push(sweepOn(other));
      }
      if (!deliveryStarted && done >= startDeliveryAt) {
        deliveryStarted = true;
        started.push(deliver(toDeliver));
      }
    };
    startOthers(0);
    const first = instances[primary];
    if (first !== undefined) await sweepOn(first, startOthers);
    startOthers(Number.POSITIVE_INFINITY);
    await Promise.all(started);

    // ---- the books, after every tick ----
    ledger.onObservation(await graph.observe());
    rows = new Map();
    for (const member of registered) {
      rows.set(
        memberKey(member),
        await store.get(member.definition.tenantId, member.definition.key),
      );
    }
    ledger.onRows(clock.nowMs(), rows);
    ledger.onMessages(queue.messages.slice(messagesRead));
    messagesRead = queue.messages.length;
    ledger.settle(clock.nowMs());

    if ((tick + 1) % ticksPerDay === 0 || tick === totalTicks - 1) {
      lastCounters = await graph.counters();
      const breaches = ledger
        .results()
        .filter((r) => r.name === 'lapses' || r.name === 'duplicates' || r.name === 'lost')
        .reduce((n, r) => n + r.count, 0);
      options.onDay?.({
        day: Math.ceil((tick + 1) / ticksPerDay),
        days: Math.ceil(totalTicks / ticksPerDay),
        renewals: lastCounters.renewals,
        recreations: lastCounters.recreations,
        events: events.reauthorizationRequired + events.subscriptionRemoved + events.missed,
        faults: faultsOf(lastCounters),
        crashes,
        breaches,
        wallMs: performance.now() - p.wallStart,
      });
    }
  }

  const endedAtMs = clock.nowMs();
  ledger.finish(endedAtMs);
  const counters = lastCounters ?? (await graph.counters());
  const invariants = withKnownIssues(ledger.results(), options.knownIssues ?? []);
  const facts = ledger.facts();
  const wallMs = performance.now() - p.wallStart;
  const report: ChaosReport = {
    options: {
      days: options.days,
      subscriptions: options.subscriptions,
      tenants: options.tenants,
      seed: options.seed,
    },
    ok: invariants.every((r) => failingCount(r) === 0),
    invariants,
    totals: {
      simulatedDays: (totalTicks * periodMs) / day,
      ticks: totalTicks,
      sweeps,
      overlappingSweeps: overlapping,
      renewals: counters.renewals,
      recreations: counters.recreations,
      reauthorizations: counters.reauthorizations,
      creates: counters.creates,
      graphCalls: counters.calls,
      events,
      silentLosses,
      lifecycleRedeliveries: redeliveries,
      lifecycleGivenUp: givenUp,
      faults: counters.faults,
      faultsInjected: faultsOf(counters),
      throttled: counters.throttled,
      crashes,
      crashesAfterCreate,
      restarts,
      adminOperations: adminCounts,
      driftChecks,
      resyncMessages: ledger.messages,
      repeatedResyncMessages: ledger.repeatedMessages,
      wallMs,
    },
    facts: {
      'resync messages answering an event': facts.signalled,
      'longest wait for a resync message (min)': Math.round(facts.maxSignalDelayMs / minute),
      'failed in the revoked tenant': facts.failedInRevokedTenant,
      'of those active again after the restore': facts.recoveredAfterRestore,
      'silent losses not yet noticed (no renewal due yet)': facts.lossesNotYetNoticed,
      'lapsed minutes per silent drop (max / mean; replaced / of all)': `${facts.lapsedMinutesMax} / ${facts.lapsedMinutesMean}; ${facts.lapsedMinutes.length} / ${facts.silentDrops}`,
      'silent drops replaced within one drift period (+2 sweeps)': facts.withinOneDriftPeriod,
      'silent drops whose tenant a crashed drift check left unchecked': facts.dropsExemptByCrash,
      'orphans on Graph deleted by the app (drift check)': facts.orphansDeletedByApp,
      'reauthorizationRequired unanswered after 1 h (outside the revocation)':
        facts.unansweredExamples.length === 0
          ? facts.unansweredReauthorizations
          : `${facts.unansweredReauthorizations} (e.g. ${facts.unansweredExamples.join('; ')})`,
      'reauthorize and renew PATCH less than 10 min apart': counters.reauthorizeRenewPairs,
      'Graph 404 / 403 / 409 answers': `${counters.notFound} / ${counters.forbidden} / ${counters.conflicts}`,
      'unexpected errors in live instances (sweep)': unexpectedInLiveInstances,
      'error log lines from live instances': p.logs.length,
      'invalid rows skipped by sweeps': invalidRows,
      'lifecycle POSTs refused by a live instance': p.lifecycleAnswers.refusedByLiveInstance,
    },
    revocation: {
      tenantId: revocation.tenantId,
      from: new Date(revocation.revokedAtMs).toISOString(),
      to: new Date(revocation.restoredAtMs).toISOString(),
    },
    mix: resourceMix.map((m) => ({
      label: `${m.label} (${m.lifetimeMinutes ?? m.maxMinutes} min)`,
      count: fleet.filter((f) => f.mix.kind === m.kind).length,
    })),
    replay: '',
    setup: [
      'store: in memory (InMemorySubscriptionStore, crashes through its beforeWrite hook)',
      `Graph: the simulator over HTTPS${options.graphThread === false ? '' : ' in its own thread'}, tokens through @azure/identity`,
      `CA trust: ${options.trust === 'process' ? 'NODE_EXTRA_CA_CERTS (the production wiring)' : 'trustedCaCertificates'}`,
      'lifecycle: the lifecycle function over loopback HTTPS',
    ].join('; '),
  };
  return { ...report, replay: replayCommand(report.options) };
}

function faultsOf(c: GraphCounters): number {
  const f = c.faults;
  return f.serverErrors + f.tooManyRequests + f.timeouts;
}

/** The app settings of a run: as an operator would set them, pointing at the simulator. */
function appConfig(
  connection: GraphConnection,
  lifecycleUrl: string,
  graphTimeoutMs: number,
): Config {
  return loadConfig({
    // NOTE: not used (the run's store is in memory) but required by the schema.
    STORAGE_CONNECTION: 'UseDevelopmentStorage=true',
    // NOTE: the same six settings devkit/appHarness.ts simulatorAppSettings() gives.
    GRAPH_BASE_URL: connection.graphUrl,
    GRAPH_TENANT_ID: chaosTenantId(0),
    GRAPH_CLIENT_ID: connection.clientId,
    GRAPH_CLIENT_SECRET: connection.clientSecret,
    GRAPH_AUTHORITY_HOST: connection.authorityHost,
    GRAPH_DISABLE_INSTANCE_DISCOVERY: 'true',
    LIFECYCLE_NOTIFICATION_URL: lifecycleUrl,
    GRAPH_TIMEOUT_MS: String(graphTimeoutMs),
  });
}

/** One tenant loses its permission at 40% of the run, for a tenth of it (2 to 24 hours). */
function revocationWindow(
  options: ChaosOptions,
  startMs: number,
  endMs: number,
  periodMs: number,
): RevocationWindow {
  const span = endMs - startMs;
  const at = (ms: number) => startMs + Math.round(ms / periodMs) * periodMs;
  const revokedAtMs = at(span * 0.4);
  const lengthMs = Math.min(24 * hour, Math.max(2 * hour, span * 0.1));
  return {
    tenantId: chaosTenantId(options.tenants > 1 ? 1 : 0),
    revokedAtMs,
    restoredAtMs: at(revokedAtMs - startMs + lengthMs),
  };
}

/**
 * A subscription Graph has and the app knows (its row points at it): lifecycle events and silent
 * losses are about those. Returns undefined when a few draws find none.
 */
function pickTarget(
  random: SeededRandom,
  fleet: readonly FleetMember[],
  ledger: InvariantLedger,
  rows: ReadonlyMap<string, StoredSubscription | undefined>,
  eligible: (member: FleetMember) => boolean,
): { readonly member: FleetMember; readonly graphId: string } | undefined {
  for (let attempt = 0; attempt < 20; attempt++) {
    const member = random.pick(fleet);
    if (!eligible(member)) continue;
    const graphId = rows.get(memberKey(member))?.graphSubscriptionId;
    if (graphId !== undefined && ledger.liveGraphIds(member).has(graphId)) {
      return { member, graphId };
    }
  }
  return undefined;
}

function fail(message: string): never {
  throw new Error(message);
}
