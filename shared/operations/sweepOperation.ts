import { drainIntake, type DrainSummary } from '../lifecycle/intake';
import type { LifecycleIntakeQueue } from '../lifecycle/intakeQueue';
import type { Logger } from '../logger';
import type { ReconcileDeps } from '../renewal/reconcile';
import { runSweep, type SweepOptions, type SweepSummary } from '../renewal/sweep';
import type { SweepRecords } from '../store/sweepRecords';
import { subscriptionStatuses } from '../subscriptions/model';
import { summarizeFleet, type FleetSummary } from './health';

/**
 * One sweep run, recorded for health (dry runs are not recorded). Used by the timer and CLI.
 * It first drains the lifecycle intake queue, so events accepted while the queue trigger was
 * stopped are acted on, and one sweep after a 202 completes every event it carried.
 * After the sweep, the stored subscriptions are counted once (pages of 1,000) and kept beside
 * the sweep's summary, so the cheap health routes answer from one row; then one `sweep summary`
 * log line carries what an operator charts and alerts on (docs/deploy.md).
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
      deps.log.error('lifecycle intake queue could not be drained', { error: errorName(e) });
    }
  }
  const summary = await runSweep(deps, options);
  if (summary.dryRun) return summary;
  let fleet: FleetSummary | undefined;
  try {
    fleet = await summarizeFleet(deps, deps.policy.sweepPeriodMs);
  } catch (e) {
    // NOTE: the health record keeps the previous counts; the sweep itself is done.
    deps.log.error('fleet could not be counted', { error: errorName(e) });
  }
  try {
    await deps.sweepRecords.record(summary, fleet);
  } catch (e) {
    // NOTE: the sweep's work is done and on the rows; only the health record is missing.
    deps.log.error('sweep summary could not be recorded', { error: errorName(e) });
  }
  deps.log.info('sweep summary', sweepMetrics(summary, fleet, deps.clock.now()));
  return summary;
}

function errorName(e: unknown): string {
  return e instanceof Error ? e.name : 'unknown';
}

const succeeded = (summary: SweepSummary, action: string) => summary.counts[action]?.succeeded ?? 0;

/**
 * The run's figures, flat, for log-based metrics: Graph writes by kind, failures, 429s (of the
 * failures listed), and the fleet's counts when they were taken. Counts of the whole fleet are
 * one flat property each (`status_failed`); the expiry horizons are one JSON text.
 */
export function sweepMetrics(
  summary: SweepSummary,
  fleet: FleetSummary | undefined,
  now: Date,
): Record<string, string | number | boolean | null> {
  const oldest =
    fleet?.oldestUnacknowledgedResyncAt == null
      ? null
      : Math.round((now.getTime() - Date.parse(fleet.oldestUnacknowledgedResyncAt)) / 60_000);
  return {
    startedAt: summary.startedAt,
    durationMs: summary.durationMs,
    due: summary.due,
    renewed: succeeded(summary, 'renew'),
    created: succeeded(summary, 'create'),
    reauthorized: succeeded(summary, 'reauthorize'),
    deleted: succeeded(summary, 'delete'),
    failures: summary.failureCount,
    throttled: summary.failures.filter((f) => f.status === 429).length,
    unexpectedErrors: summary.unexpectedErrors,
    invalidRows: summary.invalidRows,
    fleetCounted: fleet !== undefined,
    total: fleet?.total ?? null,
    lapsed: fleet?.lapsed ?? null,
    problems: fleet?.problemCount ?? null,
    resyncsPending: fleet?.resyncsPending ?? null,
    oldestUnacknowledgedResyncMinutes: oldest,
    soonestExpiry: fleet?.soonestExpiry ?? null,
    ...Object.fromEntries(
      subscriptionStatuses.map((status) => [`status_${status}`, fleet?.statuses[status] ?? null]),
    ),
    expiringWithinHours: fleet === undefined ? null : JSON.stringify(fleet.expiringWithinHours),
  };
}
