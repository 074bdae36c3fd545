import { AsyncLocalStorage } from 'node:async_hooks';
import { isRestError, type HttpClient } from '@azure/core-rest-pipeline';
import type { Clock } from '../../shared/clock';
import { systemClock } from '../../shared/clock';

/**
 * The chaos run's one source of time: simulated milliseconds kept in shared memory, so the app's
 * core (main thread) and the Graph simulator (its own thread) read the same instant.
 *
 * - Time stands still unless something moves it: the run advances it from tick to tick, and a
 *   `sleep` (the write pacer's) moves it to the sleeper's wake time instead of waiting, as
 *   `TestClock` does. Graph calls wait on a time of their own (`CallClock`).
 * - `withRealSleep()` reads the same time but sleeps for real: for the lifecycle endpoint, whose
 *   inline budget races real HTTPS calls (an instant budget would always be spent first).
 */
export class SimulatedClock implements Clock {
  private readonly cell: BigInt64Array;

  constructor(
    readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(8),
    start?: Date,
  ) {
    this.cell = new BigInt64Array(buffer);
    if (start !== undefined) Atomics.store(this.cell, 0, BigInt(start.getTime()));
  }

  now(): Date {
    return new Date(this.nowMs());
  }

  nowMs(): number {
    return Number(Atomics.load(this.cell, 0));
  }

  /** Moves time forward to `ms` (never back). Safe from any thread. */
  advanceTo(ms: number): void {
    const target = BigInt(Math.ceil(ms));
    for (;;) {
      const current = Atomics.load(this.cell, 0);
      if (current >= target) return;
      if (Atomics.compareExchange(this.cell, 0, current, target) === current) return;
    }
  }

  advanceBy(ms: number): void {
    this.advanceTo(this.nowMs() + ms);
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    const wake = this.nowMs() + Math.max(0, ms);
    // NOTE: one macrotask, so that I/O and other sleepers run in between, as they would.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (signal?.aborted === true) throw signal.reason;
    this.advanceTo(wake);
  }

  /** The same time, with sleeps that wait real milliseconds. */
  withRealSleep(): Clock {
    return { now: () => this.now(), sleep: (ms, signal) => systemClock.sleep(ms, signal) };
  }
}

interface CallTime {
  ms: number;
}

/**
 * The Graph client's clock in a chaos run: each Graph call (see `within`) keeps its own time,
 * starting at the run's time when the call starts and moved only by that call's own waits
 * (Retry-After, backoff, a timeout). Concurrent calls then use up their own budgets only, as
 * calls running side by side in real time do; with one shared clock, every wait of one call
 * would count against the budget of every other call in flight.
 */
export class CallClock implements Clock {
  private readonly storage = new AsyncLocalStorage<CallTime>();

  constructor(private readonly run: SimulatedClock) {}

  now(): Date {
    return new Date(this.storage.getStore()?.ms ?? this.run.nowMs());
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    const call = this.storage.getStore();
    if (call === undefined) return this.run.sleep(ms, signal);
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (signal?.aborted === true) throw signal.reason;
    call.ms += Math.max(0, ms);
  }

  /** Moves the current call's time on by `ms` (nothing outside a call). */
  spend(ms: number): void {
    const call = this.storage.getStore();
    if (call !== undefined) call.ms += ms;
  }

  /** Runs one Graph call with a time of its own, starting now. */
  within<T>(work: () => Promise<T>): Promise<T> {
    return this.storage.run({ ms: this.run.nowMs() }, work);
  }

  /** A time of its own for a call made of several steps (the pages of a list). */
  scope(): <T>(work: () => Promise<T>) => Promise<T> {
    const call: CallTime = { ms: this.run.nowMs() };
    return (work) => this.storage.run(call, work);
  }
}

/**
 * The app's own HTTP client with one addition for the chaos run: a connection the simulator drops
 * (its 'reset' fault, the run's stand-in for a request that never gets an answer) counts as the
 * call's whole budget spent, as a request held until the client's own timer fires would, but
 * without waiting for it in real time. The retry policy then sees its deadline passed and gives
 * up, as after a timeout, and the core gets a status-0 GraphError as after one (its code is
 * NetworkError, not Timeout; the core does not tell the two apart).
 */
export function timeoutAccounting(
  inner: HttpClient,
  clock: CallClock,
  budgetMs: number,
): HttpClient {
  return {
    async sendRequest(request) {
      try {
        return await inner.sendRequest(request);
      } catch (e) {
        if (isRestError(e) && e.code === 'ECONNRESET') clock.spend(budgetMs);
        throw e;
      }
    },
  };
}
