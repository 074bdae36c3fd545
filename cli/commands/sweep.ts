import { sweepAndRecord } from '../../shared/operations/sweepOperation';
import type { PlannedAction, SweepSummary } from '../../shared/renewal/sweep';
import type { Command, CommandContext } from '../command';
import { hasFlag } from '../commandLine';
import { formatSpan, formatTable, plural } from '../textTable';

/** A sweep shows a progress line (on a terminal) once it has run this long. */
const progressAfterMs = 1000;
const progressEveryMs = 250;

export const sweepCommand: Command = {
  spec: {
    name: 'sweep',
    summary: 'Renew, recreate and reauthorize what is due now; --dry-run says what and why',
    description:
      'Runs one sweep, as the timer does: reads what is due, then renews, recreates,\n' +
      'reauthorizes or deletes each subscription, and records the run for the health view.\n' +
      'With --dry-run nothing is called or changed: it lists what would be renewed, recreated,\n' +
      'reauthorized or deleted, and why. On a terminal, a long sweep shows a progress line on\n' +
      'stderr.',
    positionals: [],
    options: [{ name: 'dry-run', description: 'Decide only: say what would be done and why.' }],
    jsonOutput:
      'the run summary: { startedAt, finishedAt, durationMs, dryRun, due,\n' +
      '  counts: { ACTION: { OUTCOME: n } } (outcomes succeeded, failed, skipped, raced; planned\n' +
      '  with --dry-run), failures, failureCount, invalidRows, unexpectedErrors,\n' +
      '  planned: [{ tenantId, key, action, reason }] (with --dry-run) }.',
    failsWhen: 'an action failed or an unexpected error occurred (the sweep retries what failed)',
    examples: ['graph-subs sweep --dry-run', 'graph-subs sweep --json'],
  },
  prepare(args) {
    const dryRun = hasFlag(args, 'dry-run');
    return async (ctx) => {
      const summary = await sweepAndRecord(ctx.deps, {
        ...ctx.deps.sweepOptions,
        dryRun,
        onProgress: progressReporter(ctx),
      });
      ctx.io.progress?.(undefined);
      const document: SweepSummary =
        summary.planned === undefined
          ? summary
          : { ...summary, planned: summary.planned.map((p) => ({ ...p, reason: reasonOf(p) })) };
      ctx.print(document, () => (dryRun ? dryRunText(document) : summaryText(document)));
      return summary.failureCount > 0 || summary.unexpectedErrors > 0 ? 1 : 0;
    };
  },
};

function progressReporter(ctx: CommandContext): ((done: number) => void) | undefined {
  const progress = ctx.io.progress;
  if (progress === undefined) return undefined;
  const clock = ctx.deps.clock;
  const started = clock.now().getTime();
  let shownAt = 0;
  return (done) => {
    const now = clock.now().getTime();
    if (now - started < progressAfterMs || now - shownAt < progressEveryMs) return;
    shownAt = now;
    progress(`sweeping: ${plural(done, 'subscription')} done, ${formatSpan(now - started)}`);
  };
}

/** The planner's reason, or the one its action implies (reauthorize and delete carry none). */
function reasonOf(p: PlannedAction): string {
  if (p.reason !== undefined) return p.reason;
  if (p.action === 'reauthorize') return 'reauthorizationRequired';
  if (p.action === 'delete') return 'deleting';
  return p.action;
}

const why: Readonly<Record<string, string>> = {
  'create pending': 'stored, not yet created on Graph',
  'create removed': 'Graph removed it; recreate from the stored definition (and request a resync)',
  'create expired': 'it expired on Graph; recreate from the stored definition',
  'renew due': 'a quarter of its lifetime or less remains',
  'renew reauthorizationRequired':
    'Graph asked for reauthorization and it is due for renewal; a renew PATCH does both',
  'reauthorize reauthorizationRequired': 'Graph asked for reauthorization',
  'delete deleting': 'an operator deleted it; delete on Graph, then from the store',
  'patch definitionChanged':
    'its notification URL or certificate changed; PATCH on Graph (which also renews it)',
  'recreate definitionChanged':
    'a field Graph cannot PATCH changed; delete on Graph, then create (and request a resync)',
  'wait reauthorizeSpacing': 'no renew and reauthorize within 10 minutes of each other; later',
  'wait claimed': 'another worker is acting on it',
};

function explain(p: PlannedAction): string {
  const reason = reasonOf(p);
  return `${reason}: ${why[`${p.action} ${reason}`] ?? 'nothing to do yet'}`;
}

function dryRunText(summary: SweepSummary): string {
  const planned = summary.planned ?? [];
  const head = `Dry run: ${plural(summary.due, 'subscription')} due; nothing was called or changed.`;
  if (planned.length === 0) return head;
  const table = formatTable(
    ['KEY', 'TENANT', 'ACTION', 'WHY'],
    planned.map((p) => [p.key, p.tenantId, p.action, explain(p)]),
  );
  return `${head}\n\n${table}${invalidRowsLine(summary)}`;
}

function summaryText(summary: SweepSummary): string {
  const head =
    `Sweep finished in ${formatSpan(summary.durationMs)}: ${plural(summary.due, 'subscription')} due, ` +
    `${plural(summary.failureCount, 'failure')}, ${plural(summary.unexpectedErrors, 'unexpected error')}.`;
  const parts = [head];
  const outcomes = ['succeeded', 'failed', 'skipped', 'raced'] as const;
  const actions = Object.entries(summary.counts);
  if (actions.length > 0) {
    parts.push(
      formatTable(
        ['ACTION', ...outcomes.map((o) => o.toUpperCase())],
        actions.map(([action, counts]) => [action, ...outcomes.map((o) => counts[o] ?? 0)]),
      ),
    );
  }
  if (summary.failures.length > 0) {
    parts.push(
      `Failures (${summary.failureCount}; the sweep retries them):\n` +
        formatTable(
          ['KEY', 'TENANT', 'ACTION', 'HTTP', 'CODE'],
          summary.failures.map((f) => [f.key, f.tenantId, f.action, f.status, f.code]),
        ),
    );
  }
  return parts.join('\n\n') + invalidRowsLine(summary);
}

function invalidRowsLine(summary: SweepSummary): string {
  return summary.invalidRows === 0
    ? ''
    : `\n\n${plural(summary.invalidRows, 'row')} skipped: not valid subscriptions (see the logs).`;
}
