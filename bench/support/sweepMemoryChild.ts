/**
 * The sweep process of `sweep.peakRssMb`: the production sweep (runSweep over coreDependencies,
 * the Azure Tables store, the Graph client over HTTPS) and nothing else, so that its resident
 * memory is the sweep's own: the simulator and Azurite run in other processes. Settings come in
 * `BENCH_SWEEP_CHILD` (JSON) as app settings; the simulator's CA is trusted through
 * NODE_EXTRA_CA_CERTS, as in the parent (trust.ts). The answer is one JSON line.
 */
import { readFileSync } from 'node:fs';
import { systemClock, type Clock } from '../../shared/clock';
import { coreDependencies } from '../../shared/composition';
import { loadConfig } from '../../shared/config';
import { createGraphSubscriptions } from '../../shared/graph/createGraphSubscriptions';
import { runSweep, type SweepSummary } from '../../shared/renewal/sweep';
import { TableSubscriptionStore } from '../../shared/store/tableSubscriptionStore';

export interface SweepChildSettings {
  /** App settings, as an operator would set them. */
  readonly env: Readonly<Record<string, string>>;
  /** The parent's clock minus real time, so both agree on what is due. */
  readonly clockOffsetMs: number;
  readonly sampleEveryMs: number;
}

export interface RssSample {
  /** Subscriptions handled so far. */
  readonly done: number;
  readonly rssMb: number;
  readonly heapUsedMb: number;
}

export interface SweepChildAnswer {
  /** The kernel's high-water mark of this process (VmHWM), or the sampled peak without it. */
  readonly peakRssMb: number;
  readonly peakFrom: 'VmHWM' | 'samples';
  readonly peakSampledRssMb: number;
  readonly startRssMb: number;
  /** Heap in use after a full collection, before and after the sweep: what it keeps. */
  readonly liveHeapBeforeMb: number | undefined;
  readonly liveHeapAfterMb: number | undefined;
  readonly samples: readonly RssSample[];
  readonly due: number;
  readonly counts: SweepSummary['counts'];
  readonly failureCount: number;
  readonly unexpectedErrors: number;
  readonly durationMs: number;
}

const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

/**
 * Peak RSS of this process as the kernel counts it, between samples too (Linux).
 * NOTE: not `process.resourceUsage().maxRSS`: Linux carries that over from the parent across
 * fork and exec, so a child of a large parent reports the parent's peak.
 */
function highWaterMarkBytes(): number | undefined {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const kb = /^VmHWM:\s+(\d+)\s+kB$/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/** Heap in use after a full collection (the parent starts this process with --expose-gc). */
function liveHeapMb(): number | undefined {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect === undefined) return undefined;
  collect();
  return mb(process.memoryUsage().heapUsed);
}

async function main(): Promise<void> {
  const text = process.env.BENCH_SWEEP_CHILD;
  if (text === undefined) throw new Error('BENCH_SWEEP_CHILD is not set');
  const settings = JSON.parse(text) as SweepChildSettings;
  const clock: Clock = {
    now: () => new Date(Date.now() + settings.clockOffsetMs),
    sleep: (ms, signal) => systemClock.sleep(ms, signal),
  };
  const config = loadConfig(settings.env);
  const store = TableSubscriptionStore.fromConfig(config.storage, { createTable: false });
  const graph = createGraphSubscriptions(config, {
    clock,
    retry: { timeoutMs: config.graphTimeoutMs },
  });
  // NOTE: production pacing (Graph's 20-second window), as the timer function would run.
  const deps = coreDependencies({ config, clock, store, graph });

  const liveHeapBeforeMb = liveHeapMb();
  let done = 0;
  const samples: RssSample[] = [];
  let peak = 0;
  const sample = () => {
    const usage = process.memoryUsage();
    peak = Math.max(peak, usage.rss);
    samples.push({ done, rssMb: mb(usage.rss), heapUsedMb: mb(usage.heapUsed) });
  };
  sample();
  const startRssMb = samples[0]!.rssMb;
  const timer = setInterval(sample, settings.sampleEveryMs);
  const started = performance.now();
  const summary = await runSweep(deps, {
    ...deps.sweepOptions,
    onProgress: (n) => {
      done = n;
    },
  });
  const durationMs = performance.now() - started;
  clearInterval(timer);
  sample();
  // NOTE: the high-water mark is read before the full collection below, which takes memory too.
  const highWater = highWaterMarkBytes();
  const liveHeapAfterMb = liveHeapMb();
  const answer: SweepChildAnswer = {
    peakRssMb: mb(highWater ?? peak),
    peakFrom: highWater === undefined ? 'samples' : 'VmHWM',
    peakSampledRssMb: mb(peak),
    startRssMb,
    liveHeapBeforeMb,
    liveHeapAfterMb,
    samples,
    due: summary.due,
    counts: summary.counts,
    failureCount: summary.failureCount,
    unexpectedErrors: summary.unexpectedErrors,
    durationMs,
  };
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}

main().then(
  () => {
    // NOTE: keep-alive sockets and token timers would keep the process up; the answer is out.
    process.exit(0);
  },
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
