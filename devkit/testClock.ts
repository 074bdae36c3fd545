import type { Clock } from '../shared/clock';
import { systemClock } from '../shared/clock';

/**
 * A clock for tests: real time plus an offset that tests move forward with `advance`.
 * - `sleep: 'instant'` (default): a sleep moves the offset instead of waiting, so retries,
 *   Retry-After and pacing cost no real time; concurrent sleepers each wake at their own time.
 * - `sleep: 'real'`: sleeps wait for real (for budgets that must pass in real time).
 */
export class TestClock implements Clock {
  private offsetMs: number;
  readonly sleeps: number[] = [];

  constructor(
    start: Date = new Date('2026-11-22T12:00:00.000Z'),
    private readonly mode: 'instant' | 'real' = 'instant',
  ) {
    this.offsetMs = start.getTime() - Date.now();
  }

  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }

  advance(ms: number): void {
    this.offsetMs += ms;
  }

  advanceTo(when: Date): void {
    const ahead = when.getTime() - this.now().getTime();
    if (ahead > 0) this.offsetMs += ahead;
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    if (this.mode === 'real') return systemClock.sleep(ms, signal);
    const wake = this.now().getTime() + Math.max(0, ms);
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (signal?.aborted === true) throw signal.reason;
    this.advanceTo(new Date(wake));
  }
}
