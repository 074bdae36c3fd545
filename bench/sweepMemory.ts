import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { simulatorAppSettings } from '../devkit/appHarness';
import { addScheduled, largeTable, largeTableSize, unclaimedEvery } from './storeReads';
import { benchLifecycleUrl } from './support/benchCore';
import { since, type Scenario } from './support/context';
import type { SweepChildAnswer, SweepChildSettings } from './support/sweepMemoryChild';
import { round } from './support/stats';

/**
 * sweep.peakRssMb: peak resident memory of the production sweep over 100,000 due subscriptions
 * in Azurite, run in a process of its own (the simulator and Azurite are other processes) and
 * read from the kernel's high-water mark of that process (VmHWM).
 *
 * The table is the one of store.readsPerDue plus 1,000 more scheduled subscriptions: 101,000
 * stored, 100,000 due once the clock is two hours on. Every due row is read, validated and
 * decided by the sweep; one in 50 is acted on in full (claimed, created on the simulator over
 * HTTPS, outcome written), the others carry an unexpired claim of another instance (two
 * overlapping sweeps), which the sweep leaves alone without a write.
 * NOTE: acting on all 100,000 would take Azurite about ten minutes on two cores (each action is
 * two entity-group transactions on a 200,000-entity table); reading and deciding all of them
 * while acting on 2,000 keeps the run short and still shows whether memory grows with the fleet
 * (the RSS samples against the count handled are in the facts).
 */

const hour = 60 * 60_000;

export const sweepMemoryScenario: Scenario = {
  name: 'sweepMemory',
  summary: 'peak RSS of a sweep (own process) over 100,000 due subscriptions in Azurite',
  async run(ctx) {
    const table = await largeTable(ctx);
    const started = performance.now();
    const added = await addScheduled(table, 1000);
    ctx.progress(
      `1000 more scheduled subscriptions (${added} entities) in ${Math.round(since(started))} ms`,
    );
    // Two hours on, the scheduled subscriptions are due; their claims still hold.
    table.clock.advance(2 * hour);
    const settings: SweepChildSettings = {
      env: {
        STORAGE_CONNECTION: table.storageConnection,
        SUBSCRIPTIONS_TABLE: table.core.config.storage.table,
        ...simulatorAppSettings(table.sim),
        LIFECYCLE_NOTIFICATION_URL: benchLifecycleUrl,
      },
      clockOffsetMs: table.clock.now().getTime() - Date.now(),
      sampleEveryMs: 100,
    };
    const childStarted = performance.now();
    const answer = await runChild(settings);
    const childMs = since(childStarted);

    const acted = Object.entries(answer.counts)
      .filter(([action]) => action !== 'wait')
      .reduce((n, [, outcomes]) => n + (outcomes.succeeded ?? 0) + (outcomes.failed ?? 0), 0);
    const at = (fraction: number) =>
      answer.samples.find((s) => s.done >= fraction * answer.due)?.rssMb ?? Number.NaN;
    return {
      figures: [
        {
          name: 'sweep.peakRssMb',
          value: round(answer.peakRssMb, 1),
          unit: 'MB',
          target: { comparison: 'below', value: 256 },
          detail: `peak RSS of the sweep process over ${answer.due} due (${acted} acted on, the rest claimed by another instance)`,
        },
      ],
      facts: {
        stored: largeTableSize + 1000,
        due: answer.due,
        acted,
        actedEvery: unclaimedEvery,
        skippedClaimed: answer.counts.wait?.skipped ?? 0,
        failed: answer.failureCount,
        unexpectedErrors: answer.unexpectedErrors,
        peakFrom: answer.peakFrom,
        peakSampledRssMb: answer.peakSampledRssMb,
        sweepMs: Math.round(answer.durationMs),
        childMs: Math.round(childMs),
        rssAtStartMb: answer.startRssMb,
        liveHeapBeforeMb: answer.liveHeapBeforeMb ?? 'n/a',
        liveHeapAfterMb: answer.liveHeapAfterMb ?? 'n/a',
        rssAt10PercentMb: at(0.1),
        rssAt50PercentMb: at(0.5),
        rssAt90PercentMb: at(0.9),
        maxHeapUsedMb: Math.max(...answer.samples.map((s) => s.heapUsedMb)),
      },
    };
  },
};

function runChild(settings: SweepChildSettings): Promise<SweepChildAnswer> {
  // NOTE: --expose-gc only lets the child measure its live heap before and after the sweep; the
  // sweep itself runs with the default collector settings.
  const childScript = path.join(__dirname, 'support', 'sweepMemoryChild.js');
  const child = spawn(process.execPath, ['--expose-gc', childScript], {
    env: {
      PATH: process.env.PATH ?? '',
      NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS ?? '',
      BENCH_SWEEP_CHILD: JSON.stringify(settings),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) {
        reject(new Error(`sweep process exited with ${code}: ${stderr.slice(-2000)}`));
        return;
      }
      const line = stdout.trim().split('\n').pop() ?? '';
      resolve(JSON.parse(line) as SweepChildAnswer);
    });
  });
}
