import { isGraphError } from '../shared/graph/graphError';
import { graphThrottleLimits } from '../devkit/graphSimulator';
import { freshWindows, pacedSweep, settle, throttledCalls } from './sweepPace';
import { since, type Scenario } from './support/context';
import { mapLimit } from './support/fleet';

/**
 * sweep.unpacedThrottled: the same fleet renewed all at once without pacing, the way a job that
 * fans out over its stored ids does (`Promise.all`, no limiter, no retries), on the same
 * simulator and window: the 429s it meets. Compare with sweep.throttled (paced).
 *
 * NOTE: the fan-out keeps at most `inFlight` requests open: 2,000 TLS connections opened at the
 * same moment against one loopback server time out on the client (a local artefact, not Graph's
 * behaviour). 100 at a time still sends the whole fleet within a second or two, well inside one
 * throttle window, so the count is what an unbounded fan-out would meet.
 */

const minute = 60_000;
const inFlight = 100;

export const sweepUnpacedScenario: Scenario = {
  name: 'sweepUnpaced',
  summary: 'the same fleet renewed all at once, no pacing, retries off',
  async run(ctx) {
    const { fleet, throttled: pacedThrottled } = await pacedSweep(ctx);
    const graph = fleet.core.graphWith({ maxRetries: 0 });
    // NOTE: one read first, so the new client's token is cached before the burst (a GET counts
    // against the read limit, not the write limit).
    await graph.get(fleet.tenantId, fleet.subscriptions[0]?.graphSubscriptionId ?? '');
    const phase = await freshWindows(fleet);
    const started = performance.now();
    const outcomes = await mapLimit(fleet.subscriptions, inFlight, async (subscription) => {
      try {
        await graph.update(fleet.tenantId, subscription.graphSubscriptionId ?? '', {
          expirationDateTime: new Date(fleet.clock.now().getTime() + (10_080 - 5) * minute),
        });
        return 'renewed';
      } catch (e) {
        if (!isGraphError(e)) throw e;
        return e.status === 429 ? 'throttled' : 'failed';
      }
    });
    const elapsedMs = since(started);
    await settle();
    const throttled = throttledCalls(fleet.sim, phase);
    return {
      figures: [
        {
          name: 'sweep.unpacedThrottled',
          value: throttled,
          unit: '429s',
          detail: `of ${fleet.subscriptions.length} PATCHes sent at once (limit ${graphThrottleLimits.writesPerTenant} per window); paced: ${pacedThrottled}`,
        },
      ],
      facts: {
        inFlight,
        renewed: outcomes.filter((o) => o === 'renewed').length,
        throttled: outcomes.filter((o) => o === 'throttled').length,
        otherFailures: outcomes.filter((o) => o === 'failed').length,
        elapsedMs: Math.round(elapsedMs),
      },
    };
  },
};
