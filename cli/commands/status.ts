import { healthReport, type HealthView } from '../../shared/operations/health';
import type { Command } from '../command';
import { formatPairs, formatTable, formatSpan, formatTime, plural } from '../textTable';

export const statusCommand: Command = {
  spec: {
    name: 'status',
    summary: 'The health view: is every subscription alive, and is the sweep running clean?',
    description:
      'Prints the health view that GET /api/health answers: healthy when every subscription is\n' +
      'alive and the last sweep is recent and clean. Lists counts per status, the soonest\n' +
      'expiry, the subscriptions that need attention with their reasons (and the Graph\n' +
      'permission a 403 needs), pending resync requests and the last sweep.',
    positionals: [],
    options: [],
    jsonOutput:
      'the health view { healthy, checkedAt, reasons, total, counts, soonestExpiry, problems,\n' +
      '  problemCount, resyncsPending, lastSweep }.',
    failsWhen: 'it is not healthy',
    examples: ['graph-subs status', 'graph-subs status --json'],
  },
  prepare() {
    return async (ctx) => {
      const health = await healthReport(ctx.deps);
      ctx.print(health, () => statusText(health, ctx.deps.clock.now()));
      return health.healthy ? 0 : 1;
    };
  },
};

function statusText(h: HealthView, now: Date): string {
  const counts = Object.entries(h.counts)
    .filter(([, n]) => n > 0)
    .map(([status, n]) => `${n} ${status}`)
    .join(', ');
  const sweep = h.lastSweep;
  const pairs = formatPairs([
    ['health', h.healthy ? 'HEALTHY' : 'UNHEALTHY'],
    ['subscriptions', h.total === 0 ? '0' : `${h.total} (${counts})`],
    [
      'soonest expiry',
      h.soonestExpiry === null
        ? null
        : `${h.soonestExpiry.key} ${formatTime(h.soonestExpiry.expirationDateTime, now)}`,
    ],
    ['resyncs pending', h.resyncsPending],
    [
      'last sweep',
      sweep === null
        ? 'none recorded'
        : `${formatTime(sweep.finishedAt, now)}, ${sweep.due} due, ` +
          `${plural(sweep.failureCount, 'failure')}, ${plural(sweep.unexpectedErrors, 'unexpected error')}, ` +
          `took ${formatSpan(sweep.durationMs)}`,
    ],
  ]);
  const parts = [pairs];
  if (h.reasons.length > 0) {
    parts.push(['Not healthy because:', ...h.reasons.map((r) => `  - ${r}`)].join('\n'));
  }
  if (h.problems.length > 0) {
    const more =
      h.problemCount > h.problems.length
        ? ` (first ${h.problems.length} of ${h.problemCount})`
        : '';
    parts.push(
      `Needs attention${more}:\n` +
        formatTable(
          ['KEY', 'TENANT', 'STATUS', 'PROBLEM', 'EXPIRES', 'LAST ERROR', 'NEEDS PERMISSION'],
          h.problems.map((p) => [
            p.key,
            p.tenantId,
            p.status,
            p.problem,
            formatTime(p.expirationDateTime, now),
            p.lastError === null
              ? null
              : `${p.lastError.code}${p.lastError.status === null ? '' : ` (HTTP ${p.lastError.status})`}: ${p.lastError.message}`,
            p.requiredPermissions?.join(' or '),
          ]),
        ),
    );
  }
  return parts.join('\n\n');
}
