import { drainIntake, type DrainSummary } from '../lifecycle/intake';
import type { LifecycleIntakeQueue } from '../lifecycle/intakeQueue';
import type { Logger } from '../logger';
import type { ReconcileDeps } from '../renewal/reconcile';
import { runSweep, type SweepOptions, type SweepSummary } from '../renewal/sweep';
import type { SweepRecords } from '../store/sweepRecords';

/**
 * One sweep run, recorded for health (dry runs are not recorded). Used by the timer and CLI.
 * It first drains the lifecycle intake queue, so events accepted while the queue trigger was
 * stopped are acted on, and one sweep after a 202 completes every event it carried.
 */
export async function sweepAndRecord(
  deps: ReconcileDeps & {
    readonly sweepRecords: SweepRecords;
    readonly log: Logger;
    readonly intake?: LifecycleIntakeQueue | undefined;
  },
  options: SweepOptions,
): Promise<SweepSummary> {
  if (options.dryRun !== true && deps.intake !== undefined) {
    try {
      const drained: DrainSummary = await drainIntake(deps);
      if (drained.messages + drained.failed + drained.poisoned > 0) {
        deps.log.info('lifecycle intake queue drained', { ...drained });
      }
    } catch (e) {
      // NOTE: the queue stays as it is (the trigger or the next sweep takes it); renewals go on.
      deps.log.error('lifecycle intake queue could not be drained', {
        error: e instanceof Error ? e.name : 'unknown',
      });
    }
  }
  const summary = await runSweep(deps, options);
  if (!summary.dryRun) {
    try {
      await deps.sweepRecords.record(summary);
    } catch (e) {
      // NOTE: the sweep's work is done and on the rows; only the health record is missing.
      deps.log.error('sweep summary could not be recorded', {
        error: e instanceof Error ? e.name : 'unknown',
      });
    }
  }
  return summary;
}
