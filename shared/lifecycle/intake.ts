import type { ReconcileDeps } from '../renewal/reconcile';
import { actOnIntake, noIntakeCounts, type IntakeResult } from './handleLifecycleNotifications';
import { intakeMessageSchema, maxDequeueCount, type LifecycleIntakeQueue } from './intakeQueue';
import { refusedByValidationTokens, type ValidationTokenChecker } from './validationTokens';

/**
 * The two consumers of the intake queue: the `lifecycleIntake` queue trigger (one message per
 * invocation, the host's retries and poison queue) and the sweep's drain (whatever the trigger
 * has not taken, so an event is never lost while the trigger is stopped, and one
 * `graph-subs sweep` after a 202 completes every event it carried).
 */

export class InvalidIntakeMessageError extends Error {
  constructor(reason: string) {
    super(`Not a lifecycle intake message: ${reason}`);
    this.name = 'InvalidIntakeMessageError';
  }
}

/**
 * Acts on one message. Throws when it is not an intake message (it goes to the poison queue) or
 * when the store or Graph failed in a way a retry may fix.
 */
export async function handleIntakeMessage(
  deps: ReconcileDeps & { readonly validationTokens?: ValidationTokenChecker | undefined },
  body: unknown,
): Promise<IntakeResult> {
  const parsed = intakeMessageSchema.safeParse(typeof body === 'string' ? parseText(body) : body);
  if (!parsed.success) {
    throw new InvalidIntakeMessageError(parsed.error.issues[0]?.message ?? 'invalid');
  }
  if (await refusedByValidationTokens(deps, parsed.data)) {
    return refusedCollection(parsed.data.items.length);
  }
  return actOnIntake(deps, parsed.data.items, parsed.data.unknownBudget);
}

/** A collection whose validation tokens failed: nothing looked up, nothing done. */
function refusedCollection(items: number): IntakeResult {
  return { received: items, recorded: 0, ...noIntakeCounts, refused: items, actions: [] };
}

function parseText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export interface DrainSummary {
  /** Messages acted on and deleted. */
  readonly messages: number;
  /** Messages that failed and stay on the queue (visible again after the timeout). */
  readonly failed: number;
  /** Messages moved to the poison queue. */
  readonly poisoned: number;
  /** Lifecycle items the drained messages carried. */
  readonly items: number;
}

export interface DrainOptions {
  /** Stop after this many messages (default 1,000). */
  readonly maxMessages?: number;
  /** How long a taken message stays invisible to the trigger (default 300 s). */
  readonly visibilitySeconds?: number;
}

/** Acts on what the intake queue holds now, message by message, until it is empty. */
export async function drainIntake(
  deps: ReconcileDeps & {
    readonly intake?: LifecycleIntakeQueue | undefined;
    readonly validationTokens?: ValidationTokenChecker | undefined;
  },
  options: DrainOptions = {},
): Promise<DrainSummary> {
  const { intake, log } = deps;
  const summary = { messages: 0, failed: 0, poisoned: 0, items: 0 };
  if (intake === undefined) return summary;
  const limit = options.maxMessages ?? 1000;
  const taken = new Set<string>();
  while (summary.messages + summary.failed + summary.poisoned < limit) {
    const batch = await intake.receive(
      Math.min(32, limit - summary.messages - summary.failed - summary.poisoned),
      options.visibilitySeconds ?? 300,
    );
    // NOTE: a message seen again within one drain failed before; it waits for the next run.
    const fresh = batch.filter((m) => !taken.has(m.messageId));
    if (fresh.length === 0) break;
    for (const message of fresh) {
      taken.add(message.messageId);
      if (message.dequeueCount > maxDequeueCount) {
        await intake.poison(message);
        summary.poisoned++;
        log.error('lifecycle intake message failed too often; moved to the poison queue', {
          dequeueCount: message.dequeueCount,
        });
        continue;
      }
      try {
        const result = await handleIntakeMessage(deps, message.body);
        await intake.remove(message);
        summary.messages++;
        summary.items += result.received;
      } catch (e) {
        summary.failed++;
        log.warn('lifecycle intake message failed; retried later', {
          dequeueCount: message.dequeueCount,
          error: e instanceof Error ? e.name : 'unknown',
        });
      }
    }
  }
  return summary;
}
