import type { InvalidRow } from '../store/subscriptionStore';
import type { StoredSubscription } from '../subscriptions/model';
import { decide, type DecisionKind } from './planRenewals';
import {
  reconcileSubscription,
  type ActionOutcome,
  type ActionReport,
  type ReconcileDeps,
} from './reconcile';

/**
 * One sweep run: read what is due (the store streams it through its due index, tenant by
 * tenant), reconcile each subscription, and summarise. Tenants run side by side, each with its
 * own small pool of workers, so the per-tenant write pace of one tenant does not hold up the
 * others while the pacer keeps the app-wide limit. One subscription's failure never stops the
 * others; an unexpected error is counted, logged and the run goes on.
 */

export interface SweepOptions {
  /** Workers per tenant. */
  readonly concurrencyPerTenant: number;
  /** Tenants swept at the same time. */
  readonly tenantsInParallel: number;
  /** Decide only: report what would be done, change nothing, call nothing. */
  readonly dryRun?: boolean;
  readonly signal?: AbortSignal;
  /** Called after each subscription (for a progress line). */
  readonly onProgress?: (done: number) => void;
}

export const defaultSweepOptions: SweepOptions = {
  concurrencyPerTenant: 8,
  tenantsInParallel: 16,
};

export type SummaryAction = DecisionKind | 'adopt';

export interface SweepFailure {
  readonly tenantId: string;
  readonly key: string;
  readonly action: SummaryAction;
  readonly code: string | undefined;
  readonly status: number | undefined;
}

export interface PlannedAction {
  readonly tenantId: string;
  readonly key: string;
  readonly action: DecisionKind;
  readonly reason: string | undefined;
}

export interface SweepSummary {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly dryRun: boolean;
  /** Due subscriptions read. */
  readonly due: number;
  /** counts[action][outcome] */
  readonly counts: Readonly<
    Record<string, Readonly<Partial<Record<ActionOutcome | 'planned', number>>>>
  >;
  /** The first failures (at most `maxFailuresListed`). */
  readonly failures: readonly SweepFailure[];
  readonly failureCount: number;
  /** Rows that failed validation and were skipped. */
  readonly invalidRows: number;
  /** Errors that were not Graph or store outcomes (bugs, outages of the store). */
  readonly unexpectedErrors: number;
  /** With dryRun: what would be done and why. */
  readonly planned?: readonly PlannedAction[];
}

export const maxFailuresListed = 50;

export async function runSweep(
  deps: ReconcileDeps,
  options: SweepOptions = defaultSweepOptions,
): Promise<SweepSummary> {
  const { clock, store, log } = deps;
  const startedAt = clock.now();
  const counts: Record<string, Partial<Record<ActionOutcome | 'planned', number>>> = {};
  const failures: SweepFailure[] = [];
  const planned: PlannedAction[] = [];
  let due = 0;
  let failureCount = 0;
  let invalidRows = 0;
  let unexpectedErrors = 0;
  const dryRun = options.dryRun === true;

  const count = (action: string, outcome: ActionOutcome | 'planned') => {
    const row = (counts[action] ??= {});
    row[outcome] = (row[outcome] ?? 0) + 1;
  };
  const onInvalid = (row: InvalidRow) => {
    invalidRows++;
    log.warn('skipped an invalid row', {
      partitionKey: row.partitionKey,
      rowKey: row.rowKey,
      reason: row.reason,
    });
  };

  const handle = async (sub: StoredSubscription): Promise<void> => {
    due++;
    if (dryRun) {
      const decision = decide(sub, startedAt, deps.policy, { claimTtlMs: deps.claimTtlMs });
      count(decision.kind, 'planned');
      planned.push({
        tenantId: sub.definition.tenantId,
        key: sub.definition.key,
        action: decision.kind,
        reason: 'reason' in decision ? decision.reason : undefined,
      });
      return;
    }
    let result: ActionReport;
    try {
      result = await reconcileSubscription(deps, sub, { signal: options.signal });
    } catch (e) {
      unexpectedErrors++;
      log.error('unexpected error while reconciling', {
        tenantId: sub.definition.tenantId,
        key: sub.definition.key,
        // NOTE: the name only: a message may carry a URL with a key or a SAS.
        error: e instanceof Error ? e.name : 'unknown',
      });
      return;
    }
    count(result.action, result.outcome);
    if (result.outcome === 'failed') {
      failureCount++;
      if (failures.length < maxFailuresListed) {
        failures.push({
          tenantId: result.tenantId,
          key: result.key,
          action: result.action,
          code: result.code,
          status: result.status,
        });
      }
    }
  };

  let done = 0;
  const sweepTenant = async (tenantId: string): Promise<void> => {
    const due = store.listDue(startedAt, { tenantId, onInvalid })[Symbol.asyncIterator]();
    const worker = async () => {
      for (;;) {
        if (options.signal?.aborted === true) return;
        const next = await due.next();
        if (next.done === true) return;
        await handle(next.value);
        options.onProgress?.(++done);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, options.concurrencyPerTenant) }, worker));
  };

  const tenants = [...(await store.tenants())];
  const tenantWorker = async () => {
    for (let tenantId = tenants.shift(); tenantId !== undefined; tenantId = tenants.shift()) {
      try {
        await sweepTenant(tenantId);
      } catch (e) {
        unexpectedErrors++;
        log.error('sweep of a tenant stopped', {
          tenantId,
          // NOTE: the name only: a message may carry a URL with a key or a SAS.
          error: e instanceof Error ? e.name : 'unknown',
        });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.tenantsInParallel) }, tenantWorker));

  const finishedAt = clock.now();
  const summary: SweepSummary = {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - startedAt.getTime(),
    dryRun,
    due,
    counts,
    failures,
    failureCount,
    invalidRows,
    unexpectedErrors,
    ...(dryRun ? { planned } : {}),
  };
  log.info('sweep finished', {
    due,
    failures: failureCount,
    invalidRows,
    unexpectedErrors,
    ms: summary.durationMs,
    dryRun,
  });
  return summary;
}
