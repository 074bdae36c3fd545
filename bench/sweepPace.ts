import { runSweep, type SweepSummary } from '../shared/renewal/sweep';
import type { ManagedSubscription } from '../shared/subscriptions/model';
import { graphThrottleLimits, type GraphSimulator } from '../devkit/graphSimulator';
import type { TestClock } from '../devkit/testClock';
import {
  benchClock,
  buildBenchCore,
  startBenchSimulator,
  type BenchCore,
} from './support/benchCore';
import { since, type BenchContext, type Scenario } from './support/context';
import { benchDefinition, benchKey, benchTenantId, createOnGraph, seedRows } from './support/fleet';
import { round } from './support/stats';

/**
 * sweep.paceRatio and sweep.throttled: 2,000 due subscriptions in one tenant, renewed by the
 * production sweep (runSweep over the app's core, Azurite, the Graph simulator over HTTPS) with
 * 50 ms of Graph latency and the simulator's write window scaled down (same 500 writes per
 * tenant per window, shorter window; the pacer is given the same window). The rate achieved
 * over the per-tenant limit says how close to Graph's limit a large fleet is renewed; the 429s
 * say whether it stayed under.
 */

export const singleTenantFleetSize = 2000;
export const sweepLatencyMs = 50;

export interface SingleTenantFleet {
  readonly sim: GraphSimulator;
  readonly clock: TestClock;
  readonly core: BenchCore;
  readonly tenantId: string;
  readonly windowMs: number;
  readonly subscriptions: readonly ManagedSubscription[];
}

export interface PacedSweep {
  readonly fleet: SingleTenantFleet;
  readonly durationMs: number;
  readonly renewed: number;
  readonly throttled: number;
  readonly summary: SweepSummary;
  readonly timeline: PatchTimeline;
  /** From the start of the sweep to its first PATCH, and from its last PATCH to its end. */
  readonly startupMs: number;
  readonly tailMs: number;
  /** When the 429s came, from the first PATCH (ms). */
  readonly throttledAtMs: readonly number[];
}

/**
 * Starts every throttle window of the simulator afresh and forgets its recorded calls; returns
 * when the next phase starts on the simulator's clock.
 */
export async function freshWindows(fleet: SingleTenantFleet): Promise<Date> {
  // NOTE: the simulator records a call when its answer has been written, which can be just
  // after the client has it; let the last ones land before the record is cleared.
  await settle();
  fleet.clock.advance(fleet.windowMs + 1);
  fleet.sim.resetCalls();
  return fleet.clock.now();
}

export function settle(ms = 250): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** 429s answered to requests that arrived from `since` on (simulator clock). */
export function throttledCalls(sim: GraphSimulator, since = new Date(0)): number {
  return sim.calls().filter((c) => c.status === 429 && c.at >= since).length;
}

export interface PatchTimeline {
  /** PATCH calls that reached the simulator (throttled ones included). */
  readonly patches: number;
  /** From the first PATCH to the last, on the simulator's clock. */
  readonly spanMs: number;
  readonly perSecond: number;
  readonly firstAt: number | undefined;
  readonly lastAt: number | undefined;
}

/** When the PATCHes reached the simulator: where a sweep spent its time. */
export function patchTimeline(sim: GraphSimulator, tenantId?: string): PatchTimeline {
  const times = sim
    .calls()
    .filter((c) => c.kind === 'update' && (tenantId === undefined || c.tenantId === tenantId))
    .map((c) => c.at.getTime());
  if (times.length === 0) {
    return { patches: 0, spanMs: 0, perSecond: 0, firstAt: undefined, lastAt: undefined };
  }
  const firstAt = Math.min(...times);
  const lastAt = Math.max(...times);
  const spanMs = lastAt - firstAt;
  return {
    patches: times.length,
    spanMs,
    perSecond: spanMs > 0 ? round(((times.length - 1) / spanMs) * 1000, 1) : 0,
    firstAt,
    lastAt,
  };
}

/** The fleet and its paced sweep, once per run (the sequential and unpaced runs compare to it). */
export function pacedSweep(ctx: BenchContext): Promise<PacedSweep> {
  return ctx.once('sweepPace', async () => {
    const windowMs = ctx.options.paceWindowMs;
    const clock = benchClock();
    const sim = await startBenchSimulator(clock, {
      throttling: { windowMs },
      latencyMs: sweepLatencyMs,
    });
    ctx.onClose(() => sim.stop());
    const core = buildBenchCore({ sim, clock, storageConnection: await ctx.storageConnection() });
    ctx.onClose(() => core.client.deleteTable());
    const tenantId = benchTenantId(1);

    let started = performance.now();
    const definitions = Array.from({ length: singleTenantFleetSize }, (_, i) =>
      benchDefinition(tenantId, benchKey('pace', i)),
    );
    const subscriptions = await createOnGraph(
      { sim, graph: core.graph, clock, windowMs, perWindow: 450, latencyMs: sweepLatencyMs },
      definitions,
    );
    await seedRows(core.client, subscriptions);
    ctx.progress(
      `${singleTenantFleetSize} subscriptions on the simulator and in Azurite in ${Math.round(since(started))} ms`,
    );
    const fleet: SingleTenantFleet = { sim, clock, core, tenantId, windowMs, subscriptions };

    const phase = await freshWindows(fleet);
    const deps = core.deps({ paceWindowMs: windowMs });
    started = performance.now();
    const startedAt = clock.now().getTime();
    const summary = await runSweep(deps, deps.sweepOptions);
    const durationMs = since(started);
    const endedAt = clock.now().getTime();
    await settle();
    const throttled = throttledCalls(sim, phase);
    const timeline = patchTimeline(sim);
    const throttledAtMs = sim
      .calls()
      .filter((c) => c.status === 429 && c.at >= phase)
      .map((c) => c.at.getTime() - (timeline.firstAt ?? 0));
    return {
      fleet,
      throttledAtMs,
      durationMs,
      renewed: summary.counts.renew?.succeeded ?? 0,
      throttled,
      summary,
      timeline,
      startupMs: (timeline.firstAt ?? startedAt) - startedAt,
      tailMs: endedAt - (timeline.lastAt ?? endedAt),
    };
  });
}

export const sweepPaceScenario: Scenario = {
  name: 'sweepPace',
  summary: '2,000 due subscriptions in one tenant, scaled write window, 50 ms Graph latency',
  async run(ctx) {
    const run = await pacedSweep(ctx);
    const windowMs = run.fleet.windowMs;
    const limitPerSecond = graphThrottleLimits.writesPerTenant / (windowMs / 1000);
    const ratePerSecond = run.renewed / (run.durationMs / 1000);
    return {
      figures: [
        {
          name: 'sweep.paceRatio',
          value: round(ratePerSecond / limitPerSecond),
          unit: '',
          target: { comparison: 'atLeast', value: 0.9 },
          detail: `${round(ratePerSecond, 1)} renewals/s over Graph's ${limitPerSecond}/s per tenant (window ${windowMs / 1000} s)`,
        },
        {
          name: 'sweep.throttled',
          value: run.throttled,
          unit: '429s',
          target: { comparison: 'equal', value: 0 },
          detail: `429s the simulator answered during the paced sweep`,
        },
      ],
      facts: {
        due: run.summary.due,
        renewed: run.renewed,
        failed: run.summary.failureCount,
        unexpectedErrors: run.summary.unexpectedErrors,
        sweepMs: Math.round(run.durationMs),
        firstPatchAfterMs: run.startupMs,
        afterLastPatchMs: run.tailMs,
        patchesPerSecond: run.timeline.perSecond,
        // NOTE: the pacer's steady rate; above it, the sweep's own speed was the limit.
        pacerPerSecond: round(
          run.fleet.core.config.sweep.tenantWritesPer20s / (windowMs / 1000),
          1,
        ),
        throttledAtMs: run.throttledAtMs.slice(0, 10).join(' '),
        windowMs,
        latencyMs: sweepLatencyMs,
        concurrencyPerTenant: run.fleet.core.config.sweep.concurrencyPerTenant,
        tenantWritesPer20s: run.fleet.core.config.sweep.tenantWritesPer20s,
      },
    };
  },
};
