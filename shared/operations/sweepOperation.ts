import { rotateCertificates } from '../certificates/rotation';
import type { AppDependencies } from '../composition';
import { runSweep, type SweepOptions, type SweepSummary } from '../renewal/sweep';

/** One sweep run, recorded for health (dry runs are not recorded). Used by the timer and CLI. */
export async function sweepAndRecord(
  deps: AppDependencies,
  options: SweepOptions,
): Promise<SweepSummary> {
  const swept = await runSweep(deps, options);
  const summary = swept.dryRun ? swept : await withCertificateRotation(deps, swept, options);
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

/**
 * Certificate rotation after the renewals, in the same run: subscriptions whose certificate has
 * a newer version are PATCHed onto it (counted under `rotateCertificate`).
 */
async function withCertificateRotation(
  deps: AppDependencies,
  summary: SweepSummary,
  options: SweepOptions,
): Promise<SweepSummary> {
  const rotation = await rotateCertificates(
    deps,
    options.signal === undefined ? {} : { signal: options.signal },
  );
  if (rotation.rotated + rotation.failed === 0) return summary;
  return {
    ...summary,
    counts: {
      ...summary.counts,
      rotateCertificate: {
        ...(rotation.rotated > 0 ? { succeeded: rotation.rotated } : {}),
        ...(rotation.failed > 0 ? { failed: rotation.failed } : {}),
      },
    },
  };
}
