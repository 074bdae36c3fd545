import { runSweep, type SweepSummary } from '../shared/renewal/sweep';
import type { ManagedSubscription } from '../shared/subscriptions/model';
import { newManagedSubscription } from '../shared/subscriptions/newSubscription';
import type { GraphSimulator } from '../devkit/graphSimulator';
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
import { sweepLatencyMs } from './sweepPace';

/**
 * store.readsPerDue: 100,000 subscriptions stored in Azurite (50 tenants of 2,000), 1,000 of
 * them due (20 per tenant, alive on the simulator). One production sweep; the table entities it
 * read (the store's own count: every entity returned by a point read or a query page, registry
 * rows included) over the number due. The sweep reads one registry row per tenant and one due
 * row per due subscription, so the figure is 1 + tenants / due when nothing else is read.
 *
 * The same table then serves sweep.peakRssMb (sweepMemory.ts): seeding 100,000 subscriptions is
 * the slowest set-up of the run, so it is done once. The 99,000 not due here are stored but not
 * yet on Graph, scheduled for creation in 30 minutes; most carry a claim of another instance
 * (see sweepMemory.ts). Rows are the store's own: `sub|`, `due|` and, with a Graph id, `graph|`.
 */

export const largeTableSize = 100_000;
export const largeTableTenants = 50;
const duePerTenant = 20;
/** One in this many of the scheduled subscriptions is not claimed by another instance. */
export const unclaimedEvery = 50;
const minute = 60_000;

export interface LargeTable {
  readonly sim: GraphSimulator;
  readonly clock: TestClock;
  readonly core: BenchCore;
  readonly storageConnection: string;
  readonly storedEntities: number;
  readonly seedMs: number;
  /** The store.readsPerDue sweep. */
  readonly readsSweep: {
    readonly summary: SweepSummary;
    readonly entitiesRead: number;
    readonly requests: number;
    readonly sweepMs: number;
  };
  /** When the scheduled subscriptions fall due, and until when their claims hold. */
  readonly scheduledAt: Date;
  readonly claimedUntil: Date;
}

/** A subscription scheduled for creation at `at + n ms`, claimed by another instance or not. */
function scheduled(
  n: number,
  tenant: number,
  now: Date,
  at: Date,
  claimedUntil: Date,
): ManagedSubscription {
  const definition = benchDefinition(benchTenantId(300 + tenant), benchKey('large', n));
  // NOTE: times grow with n, so that seeding writes in index order (see `seedRows`).
  const pending = {
    ...newManagedSubscription(definition, now),
    nextActionAt: new Date(at.getTime() + n),
  };
  return n % unclaimedEvery === 0
    ? pending
    : { ...pending, claim: { owner: 'another-sweep-instance', until: claimedUntil } };
}

export function largeTable(ctx: BenchContext): Promise<LargeTable> {
  return ctx.once('largeTable', async () => {
    const clock = benchClock();
    // NOTE: no throttling: neither figure of this table is about Graph's limits.
    const sim = await startBenchSimulator(clock, { throttling: false, latencyMs: sweepLatencyMs });
    ctx.onClose(() => sim.stop());
    const storageConnection = await ctx.storageConnection();
    const core = buildBenchCore({ sim, clock, storageConnection });
    ctx.onClose(() => core.client.deleteTable());

    const started = performance.now();
    const perTenant = largeTableSize / largeTableTenants;
    const dueDefinitions = Array.from({ length: largeTableTenants * duePerTenant }, (_, i) => {
      const tenant = Math.floor(i / duePerTenant);
      return benchDefinition(
        benchTenantId(300 + tenant),
        benchKey('large', tenant * perTenant + (i % duePerTenant)),
      );
    });
    const due = await createOnGraph(
      { sim, graph: core.graph, clock, windowMs: 0, perWindow: 1000, latencyMs: sweepLatencyMs },
      dueDefinitions,
    );
    const now = clock.now();
    const scheduledAt = new Date(now.getTime() + 30 * minute);
    const claimedUntil = new Date(now.getTime() + 150 * minute);
    function* fleet(): Generator<ManagedSubscription> {
      for (let tenant = 0; tenant < largeTableTenants; tenant++) {
        yield* due.slice(tenant * duePerTenant, (tenant + 1) * duePerTenant);
        for (let j = duePerTenant; j < perTenant; j++) {
          yield scheduled(tenant * perTenant + j, tenant, now, scheduledAt, claimedUntil);
        }
      }
    }
    const seeded = await seedRows(core.client, fleet());
    const seedMs = since(started);
    ctx.progress(
      `${largeTableSize} subscriptions (${seeded.entities} entities, ${due.length} due) in ${Math.round(seedMs)} ms`,
    );

    // NOTE: a 1-second pace window: pacing is not what this sweep is about.
    const deps = core.deps({ paceWindowMs: 1000 });
    const sweepStarted = performance.now();
    const summary = await runSweep(deps, deps.sweepOptions);
    const sweepMs = since(sweepStarted);
    const { entitiesRead, requests } = core.store.metrics;
    return {
      sim,
      clock,
      core,
      storageConnection,
      storedEntities: seeded.entities,
      seedMs,
      readsSweep: { summary, entitiesRead, requests, sweepMs },
      scheduledAt,
      claimedUntil,
    };
  });
}

/**
 * Adds `count` more scheduled subscriptions (20 per tenant), numbered after the first 100,000.
 */
export async function addScheduled(table: LargeTable, count: number): Promise<number> {
  const perTenant = count / largeTableTenants;
  const now = table.clock.now();
  function* more(): Generator<ManagedSubscription> {
    for (let tenant = 0; tenant < largeTableTenants; tenant++) {
      for (let j = 0; j < perTenant; j++) {
        const n = largeTableSize + tenant * perTenant + j;
        yield scheduled(n, tenant, now, table.scheduledAt, table.claimedUntil);
      }
    }
  }
  const seeded = await seedRows(table.core.client, more());
  return seeded.entities;
}

export const storeReadsScenario: Scenario = {
  name: 'storeReads',
  summary: '100,000 stored subscriptions, 1,000 due: table entities read per due subscription',
  async run(ctx) {
    const table = await largeTable(ctx);
    const { summary, entitiesRead, requests, sweepMs } = table.readsSweep;
    return {
      figures: [
        {
          name: 'store.readsPerDue',
          value: round(entitiesRead / summary.due),
          unit: '',
          target: { comparison: 'atMost', value: 1.1 },
          detail: `${entitiesRead} entities read for ${summary.due} due of ${largeTableSize} stored (${largeTableTenants} tenants)`,
        },
      ],
      facts: {
        stored: largeTableSize,
        storedEntities: table.storedEntities,
        tenants: largeTableTenants,
        due: summary.due,
        renewed: summary.counts.renew?.succeeded ?? 0,
        failed: summary.failureCount,
        entitiesRead,
        otherEntitiesRead: entitiesRead - summary.due,
        requests,
        sweepMs: Math.round(sweepMs),
        seedMs: Math.round(table.seedMs),
      },
    };
  },
};
