import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { healthSummary, summarizeFleet } from '../shared/operations/health';
import { TableSweepRecords } from '../shared/store/sweepRecords';
import { subscriptionTableClient } from '../shared/store/tableClient';
import { since, type Scenario } from './support/context';
import { percentile, round } from './support/stats';
import { largeTable, largeTableSize } from './storeReads';

/**
 * health.readsPerCall and health.p99Ms: the cheap health routes (`/api/health/summary`,
 * `/api/live`) at 100,000 stored subscriptions (the table storeReads seeds). The sweep's fleet
 * count is taken once (a full read, as each recorded sweep does it, timed as a fact) and kept
 * beside the sweep's summary; then the health summary is read `calls` times through a table
 * client that counts the HTTP requests it sends. Latency is Azurite's on loopback: the figure
 * shows that the answer does not grow with the fleet, not what Azure Tables answers in.
 */

const calls = 300;

export const healthScenario: Scenario = {
  name: 'health',
  summary: '100,000 stored subscriptions: table requests and latency of one health summary read',
  async run(ctx) {
    const table = await largeTable(ctx);
    const { core, clock } = table;

    const countStarted = performance.now();
    const fleet = await summarizeFleet({ store: core.store, clock }, core.config.sweep.periodMs);
    const fleetCountMs = since(countStarted);
    ctx.progress(`fleet counted: ${fleet.total} subscriptions in ${Math.round(fleetCountMs)} ms`);

    const client = subscriptionTableClient(
      core.config.storage.connection,
      core.config.storage.table,
    );
    let requests = 0;
    const counter: PipelinePolicy = {
      name: 'countHealthRequests',
      sendRequest: (request, next) => {
        requests++;
        return next(request);
      },
    };
    client.pipeline.addPolicy(counter);
    const records = new TableSweepRecords(client);
    const now = clock.now().toISOString();
    await records.record(
      {
        startedAt: now,
        finishedAt: now,
        durationMs: 0,
        dryRun: false,
        due: 0,
        counts: {},
        failures: [],
        failureCount: 0,
        invalidRows: 0,
        unexpectedErrors: 0,
      },
      fleet,
    );
    // NOTE: one read first, so that the table-exists check of the records' first use is not
    // counted against the calls measured.
    await healthSummary({ sweepRecords: records, clock, config: core.config });

    requests = 0;
    const samples: number[] = [];
    let total = 0;
    for (let i = 0; i < calls; i++) {
      const started = performance.now();
      const view = await healthSummary({ sweepRecords: records, clock, config: core.config });
      samples.push(since(started));
      total = view.fleet?.total ?? 0;
    }
    return {
      figures: [
        {
          name: 'health.readsPerCall',
          value: round(requests / calls),
          unit: '',
          target: { comparison: 'equal', value: 1 },
          detail: `${requests} table requests for ${calls} health summary reads`,
          condition: {
            holds: total === largeTableSize,
            description: `the summary counts all ${largeTableSize}`,
          },
        },
        {
          name: 'health.p99Ms',
          value: round(percentile(samples, 99), 1),
          unit: 'ms',
          target: { comparison: 'atMost', value: 50 },
          detail: `p99 of ${calls} reads, Azurite on loopback`,
        },
      ],
      facts: {
        stored: largeTableSize,
        summaryTotal: total,
        calls,
        requests,
        p50Ms: round(percentile(samples, 50), 2),
        fleetCountMs: Math.round(fleetCountMs),
      },
    };
  },
};
