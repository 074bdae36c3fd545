import { app, InvocationContext, Timer } from '@azure/functions';
import { appDependencies } from '../shared/composition';
import { sweepScheduleFor } from '../shared/config';
import { sweepAndRecord } from '../shared/operations/sweepOperation';
import type { SweepSummary } from '../shared/renewal/sweep';
import { invocationLogger } from './support/invocationLogger';

/**
 * Timer: keeps every managed subscription alive (renew, recreate, reauthorize, delete).
 * The schedule is SWEEP_SCHEDULE, read without throwing (the default when it is unusable);
 * invalid settings fail each run with one error naming every bad key, and never stop the entry
 * file from loading: the worker would then index no function at all.
 */
export async function sweepSubscriptions(
  timer: Timer,
  context: InvocationContext,
): Promise<SweepSummary> {
  const deps = await appDependencies();
  if (timer.isPastDue) context.warn('sweep is running late (past due)');
  const summary = await sweepAndRecord(
    { ...deps, log: invocationLogger(context) },
    deps.sweepOptions,
  );
  if (summary.unexpectedErrors > 0) {
    // NOTE: failing the invocation makes the run visible as failed in the host's monitoring.
    throw new Error(`sweep finished with ${summary.unexpectedErrors} unexpected error(s)`);
  }
  return summary;
}

app.timer('sweepSubscriptions', {
  schedule: sweepScheduleFor(),
  runOnStartup: false,
  useMonitor: true,
  handler: sweepSubscriptions,
});
