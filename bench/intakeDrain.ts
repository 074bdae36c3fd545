import { HttpRequest, InvocationContext } from '@azure/functions';
import { lifecycleIntakeHandler } from '../functions/lifecycleIntake';
import { lifecycleHandler } from '../functions/lifecycleNotifications';
import type { AppDependencies } from '../shared/composition';
import { graphThrottleLimits } from '../devkit/graphSimulator';
import { benchClock, buildBenchCore, startBenchSimulator } from './support/benchCore';
import { since, type Scenario } from './support/context';
import {
  benchDefinition,
  benchKey,
  benchTenantId,
  createOnGraph,
  mapLimit,
  reauthorizationRequiredBody,
  seedRows,
} from './support/fleet';
import { round } from './support/stats';

/**
 * intake.drainSeconds: a token-expiry storm. 10,000 subscriptions across 5 tenants, none due for
 * renewal, each get a `reauthorizationRequired`, delivered as 100 lifecycle POSTs of 100 items
 * (5 at a time) to the production handler; the queue trigger's handler
 * (`lifecycleIntakeHandler(deps)`) then takes the intake queue (Azurite) 16 messages at a time,
 * as the Functions host does by default
 * (https://learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue#host-json).
 * Time from the first POST to the last answered reauthorize, on Graph's real 20 s window with
 * 50 ms of Graph latency. Every item must be acted on (one reauthorize 204 per subscription) with
 * no 429: the pace is the app's reauthorize pacer, under Graph's 4,000 reauthorize calls per app
 * and 1,000 per app and tenant in 20 s (https://learn.microsoft.com/graph/throttling-limits),
 * which the simulator enforces. `intake.drainLimitRatio` is the rate achieved over the per-app
 * limit: the closer to 1 (never over), the less a storm waits.
 */

const subscriptionsTotal = 10_000;
const tenants = 5;
const itemsPerPost = 100;
const postsInFlight = 5;
const messagesInFlight = 16;
const graphLatencyMs = 50;
const windowMs = 20_000;

async function post(deps: AppDependencies, body: string): Promise<number> {
  const response = await lifecycleHandler(deps)(
    new HttpRequest({
      method: 'POST',
      url: 'https://keeper.example.com/api/lifecycle?code=function-key',
      headers: { 'content-type': 'application/json' },
      body: { string: body },
    }),
    new InvocationContext({ functionName: 'lifecycleNotifications', logHandler: () => {} }),
  );
  return response.status ?? 200;
}

/** The queue trigger as the host runs it: up to `messagesInFlight` messages at once. */
async function runQueueTrigger(deps: AppDependencies): Promise<{ messages: number }> {
  const intake = deps.intake;
  if (intake === undefined) throw new Error('no intake queue');
  const handler = lifecycleIntakeHandler(deps);
  let messages = 0;
  for (;;) {
    const batch = await intake.receive(32, 300);
    if (batch.length === 0) return { messages };
    await mapLimit(batch, messagesInFlight, async (message) => {
      await handler(
        message.body,
        new InvocationContext({ functionName: 'lifecycleIntake', logHandler: () => {} }),
      );
      await intake.remove(message);
      messages++;
    });
  }
}

export const intakeDrainScenario: Scenario = {
  name: 'intakeDrain',
  summary: '10,000 reauthorizationRequired across 5 tenants: queued, then acted on under the limit',
  async run(ctx) {
    const clock = benchClock();
    const sim = await startBenchSimulator(clock, { latencyMs: graphLatencyMs });
    ctx.onClose(() => sim.stop());
    const core = buildBenchCore({ sim, clock, storageConnection: await ctx.storageConnection() });
    ctx.onClose(() => core.client.deleteTable());

    const started = performance.now();
    // NOTE: tenant by tenant, as seedRows wants them; creates interleave tenants below.
    const definitions = Array.from({ length: subscriptionsTotal }, (_, i) => {
      const tenant = Math.floor((i * tenants) / subscriptionsTotal);
      return benchDefinition(benchTenantId(500 + tenant), benchKey('storm', i));
    });
    const perTenant = subscriptionsTotal / tenants;
    const interleaved = Array.from(
      { length: subscriptionsTotal },
      (_, i) => definitions[(i % tenants) * perTenant + Math.floor(i / tenants)]!,
    );
    // Six days of the 7-day Outlook maximum, renewal not due for days: each event is answered
    // by a reauthorize, not a renewal PATCH.
    const created = await createOnGraph(
      {
        sim,
        graph: core.graph,
        clock,
        windowMs,
        perWindow: 1800,
        latencyMs: graphLatencyMs,
        expiresInMinutes: 6 * 24 * 60,
      },
      interleaved,
      (now) => new Date(now.getTime() + 4 * 24 * 60 * 60_000),
    );
    const byKey = new Map(created.map((s) => [s.definition.key, s]));
    const subscriptions = definitions.map((d) => byKey.get(d.key)!);
    await seedRows(core.client, subscriptions);
    ctx.progress(
      `${subscriptions.length} subscriptions on the simulator and in Azurite in ${Math.round(since(started))} ms`,
    );
    clock.advance(windowMs + 1);
    sim.resetCalls();

    const posts = subscriptionsTotal / itemsPerPost;
    // Each POST carries items of every tenant, as one lifecycle URL serves them all.
    const bodies = Array.from({ length: posts }, (_, p) =>
      reauthorizationRequiredBody(
        Array.from({ length: itemsPerPost }, (_, k) => subscriptions[k * posts + p]!),
      ),
    );
    const deps = core.deps();
    const stormStarted = performance.now();
    const statuses = await mapLimit(bodies, postsInFlight, (body) => post(deps, body));
    const acceptedMs = since(stormStarted);
    const { messages } = await runQueueTrigger(deps);
    // NOTE: whatever an action left undone is on its row: one sweep finishes it, as in production.
    const drainedMs = since(stormStarted);

    const calls = sim.calls().filter((c) => c.kind !== 'token' && c.kind !== 'other');
    const reauthorized = new Set(
      calls
        .filter((c) => c.kind === 'reauthorize' && c.status === 204)
        .map((c) => c.subscriptionId),
    );
    const throttled = calls.filter((c) => c.status === 429).length;
    const patches = calls.filter((c) => c.kind === 'update').length;
    const non202 = statuses.filter((s) => s !== 202).length;
    const seconds = drainedMs / 1000;
    const limitPerSecond = graphThrottleLimits.reauthorizePerApp / (windowMs / 1000);
    const ratePerSecond = reauthorized.size / seconds;
    const allActed = reauthorized.size === subscriptionsTotal && non202 === 0;
    return {
      figures: [
        {
          name: 'intake.drainSeconds',
          value: round(seconds, 1),
          unit: 's',
          condition: {
            holds: allActed && throttled === 0,
            description: 'every item acted on, 0 429s',
          },
          detail: `${reauthorized.size} of ${subscriptionsTotal} reauthorized, ${throttled} 429s; ${posts} POSTs answered in ${round(acceptedMs / 1000, 1)} s`,
        },
        {
          name: 'intake.drainLimitRatio',
          value: round(ratePerSecond / limitPerSecond, 2),
          unit: '',
          target: { comparison: 'atMost', value: 1 },
          condition: { holds: throttled === 0, description: '0 429s' },
          detail: `${round(ratePerSecond, 1)} reauthorize/s over Graph's ${limitPerSecond}/s per app (window ${windowMs / 1000} s)`,
        },
      ],
      facts: {
        subscriptions: subscriptionsTotal,
        tenants,
        posts,
        itemsPerPost,
        postsInFlight,
        messagesInFlight,
        messages,
        graphLatencyMs,
        windowMs,
        acceptedSeconds: round(acceptedMs / 1000, 2),
        reauthorized: reauthorized.size,
        renewPatches: patches,
        throttled,
        answers: non202 === 0 ? `${posts}x202` : `${non202} not 202`,
      },
    };
  },
};
