import { getByKey } from '../../shared/operations/subscriptionOperations';
import { verifySubscription, type DriftReport } from '../../shared/operations/verify';
import { keyArgument, tenantOption, tenantOptionSpec } from '../argumentValues';
import type { Command } from '../command';
import { mapWithConcurrency } from '../concurrency';
import { driftLine, isDriftProblem } from '../subscriptionText';
import { formatTable, plural } from '../textTable';
import { listAll } from './list';

/** GETs by id are limited to 500 per 20 s per tenant; a few at a time stays well under. */
const verifyConcurrency = 4;

export const verifyCommand: Command = {
  spec: {
    name: 'verify',
    summary: "Compare our records with Graph's copies: drift for all, or for one KEY",
    description:
      "Reads Graph's copy of each managed subscription (or of KEY) and reports drift: a\n" +
      'subscription Graph no longer has, or properties that differ (resource, changeType, URLs,\n' +
      'expiry, certificate id, notificationQueryOptions and notificationUrlAppId as applied,\n' +
      'clientState: never shown, only said to differ). Read-only: the\n' +
      'sweep recreates what Graph lost when it next touches it.',
    positionals: [
      { name: 'KEY', required: false, description: 'Only this subscription; all when omitted.' },
    ],
    options: [
      {
        ...tenantOptionSpec,
        description: 'Only this tenant (GUID), or the tenant of KEY.',
      },
    ],
    jsonOutput:
      'an array of drift reports { key, tenantId, graphSubscriptionId,\n' +
      '  state: inSync|drifted|missingOnGraph|notOnGraph|error, differences: [{ field, ours, graph }],\n' +
      '  error: { status, code } | null }.',
    failsWhen:
      'a subscription drifted, is missing on Graph or Graph could not be asked, or no subscription has KEY',
    examples: ['graph-subs verify', 'graph-subs verify mail-alice --json'],
  },
  prepare(args) {
    const key = keyArgument(args, 'verify');
    const tenantId = tenantOption(args, 'verify');
    return async (ctx) => {
      const subs =
        key === undefined
          ? await listAll(ctx.deps.store, { tenantId }, (row) => {
              ctx.io.err(`warning: skipped a row that is not a valid subscription (${row})`);
            })
          : [await getByKey(ctx.deps, key, tenantId)];
      const reports = await mapWithConcurrency(subs, verifyConcurrency, (sub) =>
        verifySubscription(ctx.deps, sub),
      );
      ctx.print(reports, () => verifyText(reports));
      return reports.some(isDriftProblem) ? 1 : 0;
    };
  },
};

function verifyText(reports: readonly DriftReport[]): string {
  if (reports.length === 0) return 'No managed subscriptions.';
  const table = formatTable(
    ['KEY', 'TENANT', 'GRAPH ID', 'STATE'],
    reports.map((r) => [r.key, r.tenantId, r.graphSubscriptionId, driftLine(r)]),
  );
  const details = reports
    .filter((r) => r.differences.length > 0)
    .map((r) =>
      [
        `${r.key}:`,
        ...r.differences.map(
          (d) =>
            `  ${d.field}: ours ${String(d.ours ?? '(none)')}, Graph ${String(d.graph ?? '(none)')}`,
        ),
      ].join('\n'),
    );
  const counts = new Map<string, number>();
  for (const r of reports) counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
  const footer = `${plural(reports.length, 'subscription')} checked: ${[...counts]
    .map(([state, n]) => `${n} ${state}`)
    .join(', ')}`;
  return [table, ...(details.length > 0 ? ['', 'Differences:', ...details] : []), '', footer].join(
    '\n',
  );
}
