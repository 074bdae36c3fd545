import { app, InvocationContext } from '@azure/functions';
import { appDependencies, type AppDependencies } from '../shared/composition';
import { handleIntakeMessage } from '../shared/lifecycle/intake';
import type { IntakeResult } from '../shared/lifecycle/handleLifecycleNotifications';
import { invocationLogger } from './support/invocationLogger';

/**
 * Queue trigger: acts on each lifecycle collection the lifecycle endpoint accepted (lookups,
 * clientState check, reauthorize / renew / recreate / resync). A throw makes the host deliver the
 * message again, and after `maxDequeueCount` tries move it to LIFECYCLE_QUEUE-poison.
 *
 * `lifecycleIntakeHandler(deps)` is the same handler on given dependencies (tests, sandbox).
 */
export function lifecycleIntakeHandler(
  deps?: AppDependencies,
): (message: unknown, context: InvocationContext) => Promise<IntakeResult> {
  return async (message, context) => {
    const core = deps ?? (await appDependencies());
    return handleIntakeMessage({ ...core, log: invocationLogger(context) }, message);
  };
}

export const lifecycleIntake = lifecycleIntakeHandler();

app.storageQueue('lifecycleIntake', {
  // NOTE: the binding reads the queue name from the LIFECYCLE_QUEUE app setting; the
  // STORAGE_CONNECTION prefix also takes the identity-based STORAGE_CONNECTION__queueServiceUri.
  queueName: '%LIFECYCLE_QUEUE%',
  connection: 'STORAGE_CONNECTION',
  handler: lifecycleIntake,
});
