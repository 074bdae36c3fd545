import { app, InvocationContext, Timer } from '@azure/functions';
import { appDependencies } from '../shared/composition';
import { defaultDriftSchedule, isConfigError, loadConfig } from '../shared/config';
import { runDriftCheck, type DriftRunSummary } from '../shared/drift/driftCheck';
import { invocationLogger } from './support/invocationLogger';

/**
 * Timer: finds what Graph dropped without a lifecycle event, and orphans, within one drift
 * period instead of at the next renewal (docs/drift.md). The schedule is DRIFT_SCHEDULE.
 */
export async function driftCheck(
  timer: Timer,
  context: InvocationContext,
): Promise<DriftRunSummary> {
  const deps = await appDependencies();
  if (timer.isPastDue) context.warn('drift check is running late (past due)');
  const now = deps.clock.now();
  // NOTE: stop starting tenants well inside the host's timeout; the next run takes the rest.
  const budgetMs = Math.min(deps.config.drift.periodMs / 2, 8 * 60_000);
  const summary = await runDriftCheck(
    { ...deps, log: invocationLogger(context) },
    { deadline: new Date(now.getTime() + budgetMs) },
  );
  context.log('drift check finished', summary);
  return summary;
}

/**
 * Read at load without ever throwing: a bad setting must not stop the other functions (or the
 * handshake) from loading. With bad settings the default schedule is used and each run fails
 * with the settings error, naming every bad key.
 */
function driftScheduleAtLoad(): string {
  try {
    return loadConfig().drift.schedule;
  } catch (e) {
    if (isConfigError(e)) return defaultDriftSchedule;
    throw e;
  }
}

app.timer('driftCheck', {
  schedule: driftScheduleAtLoad(),
  runOnStartup: false,
  useMonitor: true,
  handler: driftCheck,
});
