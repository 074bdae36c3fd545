import type { Logger } from '../logger';
import type { ReconcileDeps } from '../renewal/reconcile';
import { runSweep, type SweepOptions, type SweepSummary } from '../renewal/sweep';
import type { SweepRecords } from '../store/sweepRecords';

/** One sweep run, recorded for health (dry runs are not recorded). Used by the timer and CLI. */
export async function sweepAndRecord(
  deps: ReconcileDeps & { readonly sweepRecords: SweepRecords; readonly log: Logger },
  options: SweepOptions,
): Promise<SweepSummary> {
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
