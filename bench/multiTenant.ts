import { runSweep } from '../shared/renewal/sweep';
import { graphThrottleLimits } from '../devkit/graphSimulator';
import { benchClock, buildBenchCore, startBenchSimulator } from './support/benchCore';
import { since, type Scenario } from './support/context';
import { benchDefinition, benchKey, benchTenantId, createOnGraph, seedRows } from './support/fleet';
import { round } from './support/stats';
import { patchTimeline, settle, sweepLatencyMs, throttledCalls } from './sweepPace';

/**
 * sweep.multiTenantRatio: 10 tenants of 500 due subscriptions each, renewed by one production
 * sweep with its default settings (tenants in parallel, per-tenant and app-wide pacing), 50 ms
 * of Graph latency. The overall rate over Graph's per-app write limit (2,000 per window, all
 * tenants) says whether a multi-tenant fleet is renewed as fast as the app may.
 */

const tenants = 10;
const perTenant = 500;

export const multiTenantScenario: Scenario = {
  name: 'multiTenant',
  summary: '10 tenants x 500 due subscriptions, one sweep, per-app write limit',
  async run(ctx) {
    const windowMs = ctx.options.multiTenantWindowMs;
    const clock = benchClock();
    const sim = await startBenchSimulator(clock, {
      throttling: { windowMs },
      latencyMs: sweepLatencyMs,
    });
    ctx.onClose(() => sim.stop());
    const core = buildBenchCore({ sim, clock, storageConnection: await ctx.storageConnection() });

    let started = performance.now();
    // Tenant by tenant, as `seedRows` wants them.
    const definitions = Array.from({ length: tenants * perTenant }, (_, i) =>
      benchDefinition(benchTenantId(100 + Math.floor(i / perTenant)), benchKey('multi', i)),
    );
    const subscriptions = await createOnGraph(
      { sim, graph: core.graph, clock, windowMs, perWindow: 450, latencyMs: sweepLatencyMs },
      definitions,
    );
    await seedRows(core.client, subscriptions);
    ctx.progress(
      `${definitions.length} subscriptions on the simulator and in Azurite in ${Math.round(since(started))} ms`,
    );

    await settle();
    clock.advance(windowMs + 1);
    sim.resetCalls();
    const deps = core.deps({ paceWindowMs: windowMs });
    started = performance.now();
    const startedAt = clock.now();
    const summary = await runSweep(deps, deps.sweepOptions);
    const durationMs = since(started);
    await settle();
    const throttled = throttledCalls(sim, startedAt);
    // When each tenant's renewals reached Graph: shows how many tenants were being renewed at once.
    const tenantSpans = Array.from({ length: tenants }, (_, t) => {
      const line = patchTimeline(sim, benchTenantId(100 + t));
      const from = ((line.firstAt ?? 0) - startedAt.getTime()) / 1000;
      const to = ((line.lastAt ?? 0) - startedAt.getTime()) / 1000;
      return `${from.toFixed(0)}-${to.toFixed(0)}`;
    });
    await core.client.deleteTable();

    const renewed = summary.counts.renew?.succeeded ?? 0;
    const ratePerSecond = renewed / (durationMs / 1000);
    const appLimitPerSecond = graphThrottleLimits.writesPerApp / (windowMs / 1000);
    return {
      figures: [
        {
          name: 'sweep.multiTenantRatio',
          value: round(ratePerSecond / appLimitPerSecond),
          unit: '',
          target: { comparison: 'atLeast', value: 0.9 },
          detail: `${round(ratePerSecond, 1)} renewals/s over Graph's ${appLimitPerSecond}/s per app (window ${windowMs / 1000} s)`,
        },
      ],
      facts: {
        tenants,
        perTenant,
        renewed,
        failed: summary.failureCount,
        unexpectedErrors: summary.unexpectedErrors,
        throttled,
        sweepMs: Math.round(durationMs),
        windowMs,
        tenantsInParallel: core.config.sweep.tenantsInParallel,
        concurrencyPerTenant: core.config.sweep.concurrencyPerTenant,
        appWritesPer20s: core.config.sweep.appWritesPer20s,
        tenantPatchSpansS: tenantSpans.join(' '),
      },
    };
  },
};
