import { runDriftCheck } from '../shared/drift/driftCheck';
import { graphListLimits, ListPacer } from '../shared/drift/listPacer';
import { benchClock, buildBenchCore, startBenchSimulator } from './support/benchCore';
import { since, type Scenario } from './support/context';
import { benchDefinition, benchKey, benchTenantId, createOnGraph, seedRows } from './support/fleet';
import { round } from './support/stats';
import { settle, throttledCalls } from './sweepPace';

/**
 * drift.checkSeconds and drift.listLimitRatio: 50 tenants of 200 subscriptions each (on the
 * simulator and in Azurite, in sync), all checked by one production drift check (runDriftCheck
 * over the app's core: Graph list pages of 100, paced, 10 ms of Graph latency). The simulator's
 * list window is scaled down with the same counts (25 per tenant, 40 per app per window) and the
 * list pacer is given the same window; the time at Graph's 20 s window is the measured time
 * scaled back up, and must fit in the hourly drift period. No request may meet a 429.
 */

const tenants = 50;
const perTenant = 200;
const latencyMs = 10;
const driftPeriodSeconds = 3600;

export const driftCheckScenario: Scenario = {
  name: 'driftCheck',
  summary: '50 tenants x 200 subscriptions, one drift check, list limit',
  async run(ctx) {
    const windowMs = ctx.options.paceWindowMs;
    const clock = benchClock();
    const sim = await startBenchSimulator(clock, { throttling: { windowMs }, latencyMs });
    ctx.onClose(() => sim.stop());
    const core = buildBenchCore({ sim, clock, storageConnection: await ctx.storageConnection() });

    let started = performance.now();
    const definitions = Array.from({ length: tenants * perTenant }, (_, i) =>
      benchDefinition(benchTenantId(300 + Math.floor(i / perTenant)), benchKey('drift', i)),
    );
    const subscriptions = await createOnGraph(
      { sim, graph: core.graph, clock, windowMs, perWindow: 1800, latencyMs },
      definitions,
      // Not due: the drift check, not the sweep, is measured.
      (now) => new Date(now.getTime() + 24 * 3_600_000),
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
    const summary = await runDriftCheck(deps);
    const durationMs = since(started);
    await settle();
    const throttled = throttledCalls(sim, startedAt);
    const lists = sim.calls().filter((c) => c.kind === 'list' && c.at >= startedAt).length;
    await core.client.deleteTable();

    const seconds = durationMs / 1000;
    const atGraphWindow = seconds * (graphListLimits.windowMs / windowMs);
    const listsPerWindow = lists / (durationMs / windowMs);
    return {
      figures: [
        {
          name: 'drift.checkSeconds',
          value: round(atGraphWindow, 1),
          unit: 's',
          target: { comparison: 'atMost', value: driftPeriodSeconds },
          detail: `${summary.tenantsChecked} tenants checked in ${round(seconds, 1)} s with a ${windowMs / 1000} s list window, scaled to Graph's 20 s window; the period is ${driftPeriodSeconds} s`,
          condition: {
            holds: throttled === 0 && summary.tenantsChecked === tenants,
            description: 'every tenant checked, no 429',
          },
        },
        {
          name: 'drift.listLimitRatio',
          value: round(listsPerWindow / graphListLimits.perApp),
          unit: '',
          target: { comparison: 'atMost', value: 1 },
          detail: `${round(listsPerWindow, 1)} list requests per window over Graph's ${graphListLimits.perApp} per app (pacer budget ${ListPacer.appRatePerWindow()})`,
        },
      ],
      facts: {
        tenants,
        perTenant,
        tenantsChecked: summary.tenantsChecked,
        listed: summary.listed,
        listRequests: lists,
        throttled,
        gone: summary.gone,
        orphansFound: summary.orphansFound,
        drifted: summary.drifted,
        checkMs: Math.round(durationMs),
        windowMs,
      },
    };
  },
};
