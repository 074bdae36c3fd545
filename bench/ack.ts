import { monitorEventLoopDelay } from 'node:perf_hooks';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { lifecycleHandler } from '../functions/lifecycleNotifications';
import type { AppDependencies } from '../shared/composition';
import { QueueLifecycleIntake } from '../shared/lifecycle/intakeQueue';
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
import { percentile, round } from './support/stats';

/**
 * ack.p99Ms: 50 lifecycle POSTs of 100 `reauthorizationRequired` items each, with 1 s of Graph
 * latency: the p99 time from the call of the production handler (`lifecycleHandler(deps)` with a
 * real `HttpRequest` and `InvocationContext`) to its answer, which must be a 202. Every item
 * names a stored subscription alive on the simulator, with its clientState. The endpoint stores
 * each collection on the intake queue (Azurite) in one write and answers; nothing is looked up
 * or acted on before the answer, so the target is 250 ms, well inside Graph's 3 s.
 *
 * Graph delivers lifecycle notifications of many subscriptions in parallel, so the 50 POSTs go
 * 5 at a time (`ack.p99Ms`) and then 25 at a time (`ack.p99Ms.at25`). Five more POSTs, one at a
 * time, show the answer time without concurrent requests (facts `aloneP50Ms` and `aloneMaxMs`).
 */

const posts = 50;
const alonePosts = 5;
const itemsPerPost = 100;
const postsInFlight = 5;
const postsInFlightHigh = 25;
const targetMs = 250;
const graphLatencyMs = 1000;
const tenants = 10;

interface Answer {
  readonly ms: number;
  readonly status: number;
}

/** Calls the handler as the Functions host would, and times it to the answer. */
async function post(
  deps: AppDependencies,
  body: string,
  logLevels: Record<string, number>,
): Promise<Answer> {
  const handler = lifecycleHandler(deps);
  const request = new HttpRequest({
    method: 'POST',
    url: 'https://keeper.example.com/api/lifecycle?code=function-key',
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
    },
    body: { string: body },
  });
  const context = new InvocationContext({
    functionName: 'lifecycleNotifications',
    logHandler: (level) => {
      logLevels[level] = (logLevels[level] ?? 0) + 1;
    },
  });
  const sent = performance.now();
  const response = await handler(request, context);
  return {
    ms: since(sent),
    status: response.status ?? 200,
  };
}

/** Messages the intake queue holds (Storage's approximate count). */
async function countQueued(deps: AppDependencies): Promise<number> {
  const intake = deps.intake;
  return intake instanceof QueueLifecycleIntake ? intake.approximateCount() : 0;
}

function statusCounts(answers: readonly Answer[]): string {
  const counts = new Map<number, number>();
  for (const a of answers) counts.set(a.status, (counts.get(a.status) ?? 0) + 1);
  return [...counts].map(([status, n]) => `${n}x${status}`).join(' ');
}

export const ackScenario: Scenario = {
  name: 'ack',
  summary: '50 lifecycle POSTs x 100 items, 5 and 25 at a time, 1 s Graph latency: time to 202',
  async run(ctx) {
    const clock = benchClock();
    const sim = await startBenchSimulator(clock, { latencyMs: graphLatencyMs });
    ctx.onClose(() => sim.stop());
    const core = buildBenchCore({ sim, clock, storageConnection: await ctx.storageConnection() });
    ctx.onClose(() => core.client.deleteTable());

    let started = performance.now();
    const total = (posts + alonePosts) * itemsPerPost;
    const definitions = Array.from({ length: total }, (_, i) => {
      const tenant = Math.floor((i * tenants) / total);
      return benchDefinition(benchTenantId(400 + tenant), benchKey('ack', i));
    });
    const subscriptions = await createOnGraph(
      {
        sim,
        graph: core.graph,
        clock,
        windowMs: 20_000,
        perWindow: 450,
        latencyMs: graphLatencyMs,
      },
      definitions,
    );
    await seedRows(core.client, subscriptions);
    ctx.progress(
      `${subscriptions.length} subscriptions on the simulator and in Azurite in ${Math.round(since(started))} ms`,
    );
    clock.advance(20_001);
    sim.resetCalls();

    // Each POST carries items of every tenant, as one lifecycle URL serves them all.
    const count = posts + alonePosts;
    const bodies = Array.from({ length: count }, (_, p) =>
      reauthorizationRequiredBody(
        Array.from({ length: itemsPerPost }, (_, k) => subscriptions[k * count + p]!),
      ),
    );
    const deps = core.deps();
    const logLevels: Record<string, number> = {};
    // One at a time first, while nothing else runs.
    const alone: Answer[] = [];
    // How late timers fire meanwhile: the handler's budget and deadline are timers too.
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    for (const body of bodies.slice(posts)) alone.push(await post(deps, body, logLevels));
    loopDelay.disable();
    // NOTE: what the lone POSTs left to finish after their answers settles before the main run.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    started = performance.now();
    const answers = await mapLimit(bodies.slice(0, posts), postsInFlight, (body) =>
      post(deps, body, logLevels),
    );
    const concurrentMs = since(started);
    const answersHigh = await mapLimit(bodies.slice(0, posts), postsInFlightHigh, (body) =>
      post(deps, body, logLevels),
    );
    // NOTE: nothing is acted on before the answer: no Graph call at all during the POSTs.
    const graphCallsDuringPosts = sim.calls().filter((c) => c.kind !== 'token').length;
    const queued = deps.intake === undefined ? 0 : await countQueued(deps);

    const times = answers.map((a) => a.ms);
    const timesHigh = answersHigh.map((a) => a.ms);
    const non202 = answers.filter((a) => a.status !== 202).length;
    const non202High = answersHigh.filter((a) => a.status !== 202).length;
    return {
      figures: [
        {
          name: 'ack.p99Ms',
          value: round(percentile(times, 99), 1),
          unit: 'ms',
          target: { comparison: 'below', value: targetMs },
          condition: { holds: non202 === 0, description: 'every answer 202' },
          detail: `p99 of ${posts} POSTs, ${postsInFlight} at a time; answers: ${statusCounts(answers)}`,
        },
        {
          name: 'ack.p99Ms.at25',
          value: round(percentile(timesHigh, 99), 1),
          unit: 'ms',
          target: { comparison: 'below', value: targetMs },
          condition: { holds: non202High === 0, description: 'every answer 202' },
          detail: `p99 of ${posts} POSTs, ${postsInFlightHigh} at a time; answers: ${statusCounts(answersHigh)}`,
        },
      ],
      facts: {
        posts,
        itemsPerPost,
        postsInFlight,
        graphLatencyMs,
        postsInFlightHigh,
        p50MsAt25: round(percentile(timesHigh, 50), 1),
        maxMsAt25: round(Math.max(...timesHigh), 1),
        answersAt25: statusCounts(answersHigh),
        queuedMessages: queued,
        graphCallsDuringPosts,
        p50Ms: round(percentile(times, 50), 1),
        maxMs: round(Math.max(...times), 1),
        answers: statusCounts(answers),
        aloneP50Ms: round(
          percentile(
            alone.map((a) => a.ms),
            50,
          ),
          1,
        ),
        aloneMaxMs: round(Math.max(...alone.map((a) => a.ms)), 1),
        aloneAnswers: statusCounts(alone),
        aloneEventLoopDelayP99Ms: round(loopDelay.percentile(99) / 1e6, 1),
        aloneEventLoopDelayMaxMs: round(loopDelay.max / 1e6, 1),
        concurrentMs: Math.round(concurrentMs),
        loggedWarnings: logLevels.warning ?? 0,
        loggedErrors: logLevels.error ?? 0,
      },
    };
  },
};
