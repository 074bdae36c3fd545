import { isGraphError } from '../shared/graph/graphError';
import { freshWindows, pacedSweep, settle, throttledCalls } from './sweepPace';
import { since, type Scenario } from './support/context';
import { round } from './support/stats';

/**
 * sweep.vsSequential: the paced sweep's time as a fraction of renewing the same fleet one PATCH
 * at a time, which is what most existing renewal jobs do (a loop over stored ids calling Graph's
 * PATCH and waiting for each answer). The loop uses the app's own Graph client, on the same
 * simulator with the same 50 ms latency and throttle window, and writes nothing to the store.
 *
 * NOTE: one at a time, the 2,000 PATCHes take about two minutes and their time is a sum of
 * equal parts, so the loop renews the first `sample` of the fleet and the sequential time of the
 * whole fleet is that time scaled to 2,000 (the measured part is in the facts).
 */

const minute = 60_000;
const sample = 500;

export const sweepSequentialScenario: Scenario = {
  name: 'sweepSequential',
  summary: 'the same fleet renewed one PATCH at a time',
  async run(ctx) {
    const paced = await pacedSweep(ctx);
    const { fleet } = paced;
    const renewed = fleet.subscriptions.slice(0, sample);
    const phase = await freshWindows(fleet);
    let failed = 0;
    const started = performance.now();
    for (const subscription of renewed) {
      try {
        await fleet.core.graph.update(fleet.tenantId, subscription.graphSubscriptionId ?? '', {
          expirationDateTime: new Date(fleet.clock.now().getTime() + (10_080 - 5) * minute),
        });
      } catch (e) {
        if (!isGraphError(e)) throw e;
        failed++;
      }
    }
    const sampleMs = since(started);
    await settle();
    const sequentialMs = (sampleMs / renewed.length) * fleet.subscriptions.length;
    return {
      figures: [
        {
          name: 'sweep.vsSequential',
          value: round(paced.durationMs / sequentialMs),
          unit: '',
          detail: `paced sweep ${round(paced.durationMs / 1000, 1)} s / one at a time ${round(sequentialMs / 1000, 1)} s (${renewed.length} timed, scaled to ${fleet.subscriptions.length})`,
        },
      ],
      facts: {
        subscriptions: fleet.subscriptions.length,
        timed: renewed.length,
        timedMs: Math.round(sampleMs),
        sequentialMs: Math.round(sequentialMs),
        pacedMs: Math.round(paced.durationMs),
        sequentialFailed: failed,
        sequentialThrottled: throttledCalls(fleet.sim, phase),
        msPerPatch: round(sampleMs / renewed.length, 1),
      },
    };
  },
};
