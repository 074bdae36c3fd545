import { startAzurite, type RunningAzurite } from '../../devkit/azurite';
import type { Figure } from './figures';

/**
 * What every scenario gets: the run's options, one Azurite (started on first use, in memory, on
 * free loopback ports), set-ups and results shared between scenarios (the paced sweep is the
 * yardstick of the sequential and unpaced runs; the 100,000-subscription table serves the store
 * reads and the memory run), clean-up, and progress lines on stderr.
 */

export interface BenchOptions {
  /** Scaled write window of the single-tenant pace run (Graph: 20,000 ms). */
  readonly paceWindowMs: number;
  /** Write window of the multi-tenant run (Graph: 20,000 ms). */
  readonly multiTenantWindowMs: number;
}

export interface ScenarioOutput {
  readonly figures: readonly Figure[];
  readonly facts: Readonly<Record<string, number | string | boolean>>;
}

export interface Scenario {
  /** The name `--only` takes. */
  readonly name: string;
  readonly summary: string;
  run(ctx: BenchContext): Promise<ScenarioOutput>;
}

export class BenchContext {
  private azuriteStarted: Promise<RunningAzurite> | undefined;
  private readonly shared = new Map<string, Promise<unknown>>();
  private readonly cleanups: (() => Promise<void>)[] = [];
  private scenario = '';

  constructor(readonly options: BenchOptions) {}

  /** Azurite's connection string; started on first call, stopped by `close`. */
  async storageConnection(): Promise<string> {
    this.azuriteStarted ??= startAzurite();
    return (await this.azuriteStarted).connectionString;
  }

  /** One result per key for the whole run, whichever scenario asks first. */
  once<T>(key: string, make: () => Promise<T>): Promise<T> {
    let value = this.shared.get(key) as Promise<T> | undefined;
    if (value === undefined) {
      value = make();
      this.shared.set(key, value);
    }
    return value;
  }

  /** Runs at `close`, last registered first. */
  onClose(cleanup: () => Promise<void>): void {
    this.cleanups.push(cleanup);
  }

  enter(scenario: string): void {
    this.scenario = scenario;
  }

  progress(message: string): void {
    process.stderr.write(`  [${this.scenario}] ${message}\n`);
  }

  async close(): Promise<void> {
    for (const cleanup of this.cleanups.reverse()) {
      try {
        await cleanup();
      } catch (e) {
        process.stderr.write(`clean-up failed: ${e instanceof Error ? e.message : String(e)}\n`);
      }
    }
    this.cleanups.length = 0;
    if (this.azuriteStarted !== undefined) {
      const azurite = await this.azuriteStarted;
      this.azuriteStarted = undefined;
      await azurite.stop();
    }
  }
}

/** Milliseconds since `start` (from `performance.now()`). */
export function since(start: number): number {
  return performance.now() - start;
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
