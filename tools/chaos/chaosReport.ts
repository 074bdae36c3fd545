import type { ChaosReport, DayProgress } from './chaosRun';
import { failingCount } from './invariantLedger';

/** The run's output for a person: one line per day, then invariants and totals. */

export function formatDay(p: DayProgress): string {
  const width = String(p.days).length;
  return [
    `day ${String(p.day).padStart(width)}/${p.days}`,
    `renewals ${p.renewals}`,
    `recreations ${p.recreations}`,
    `events ${p.events}`,
    `faults ${p.faults}`,
    `crashes ${p.crashes}`,
    `breaches ${p.breaches}`,
    `wall ${seconds(p.wallMs)}`,
  ].join('  ');
}

export function formatReport(r: ChaosReport): string {
  const lines: string[] = [];
  const t = r.totals;
  lines.push('');
  lines.push('Invariants (each must be 0):');
  const nameWidth = Math.max(...r.invariants.map((i) => i.name.length));
  const pad = `  ${''.padEnd(nameWidth)}  ${''.padStart(5)}  `;
  for (const i of r.invariants) {
    const failing = failingCount(i);
    const status = failing > 0 ? 'FAILED' : i.count > 0 ? 'KNOWN ISSUE' : 'ok';
    lines.push(
      `  ${i.name.padEnd(nameWidth)}  ${String(i.count).padStart(5)}  ${status}  ${i.description}`,
    );
    const kinds = Object.entries(i.byKind).map(([kind, n]) => `${kind} ${n}`);
    if (kinds.length > 0) lines.push(`${pad}by resource: ${kinds.join(', ')}`);
    if (i.known !== undefined) {
      lines.push(`${pad}known issue (${i.known.count} of them): ${i.known.reason}`);
    }
    if (i.exempt !== undefined) lines.push(`${pad}exempt: ${i.exempt.count} ${i.exempt.why}`);
    for (const example of i.count > 0 ? i.examples : []) lines.push(`${pad}e.g. ${example}`);
  }
  lines.push('');
  lines.push('Totals:');
  const totals: Array<[string, string | number]> = [
    ['simulated days', round(t.simulatedDays)],
    ['sweep ticks (every 5 min)', t.ticks],
    ['sweeps run (of which overlapping)', `${t.sweeps} (${t.overlappingSweeps})`],
    ['renewals (PATCH 200)', t.renewals],
    ['creates (of which recreations)', `${t.creates} (${t.recreations})`],
    ['reauthorizations (POST reauthorize 204)', t.reauthorizations],
    [
      'lifecycle events sent (reauthorizationRequired / subscriptionRemoved / missed)',
      `${t.events.reauthorizationRequired + t.events.subscriptionRemoved + t.events.missed} (${t.events.reauthorizationRequired} / ${t.events.subscriptionRemoved} / ${t.events.missed})`,
    ],
    [
      'lifecycle items redelivered (given up after 4 h)',
      `${t.lifecycleRedeliveries} (${t.lifecycleGivenUp})`,
    ],
    ['subscriptions lost silently by Graph', t.silentLosses],
    [
      'Graph faults injected (5xx / 429 with Retry-After / timeouts)',
      `${t.faultsInjected} (${t.faults.serverErrors} / ${t.faults.tooManyRequests} / ${t.faults.timeouts})`,
    ],
    ["429s from Graph's own limits", t.throttled],
    ['Graph API calls', t.graphCalls],
    ['crashes (restarts)', `${t.crashes} (${t.restarts})`],
    ["of those right after Graph's create answer, before the row write", t.crashesAfterCreate],
    [
      'admin operations racing the sweep (patch / recreate / delete / apply again)',
      `${t.adminOperations.patch} / ${t.adminOperations.recreate} / ${t.adminOperations.delete} / ${t.adminOperations.reapply}`,
    ],
    ['drift checks (hourly)', t.driftChecks],
    ['resync messages (repeats of one id)', `${t.resyncMessages} (${t.repeatedResyncMessages})`],
    ['wall time', seconds(t.wallMs)],
  ];
  for (const [label, value] of totals) lines.push(`  ${label}: ${value}`);
  lines.push('');
  lines.push('Also seen:');
  for (const [label, value] of Object.entries(r.facts)) lines.push(`  ${label}: ${value}`);
  lines.push('');
  lines.push(
    `Fleet: ${r.options.subscriptions} subscriptions in ${r.options.tenants} tenants: ${r.mix
      .map((m) => `${m.count} ${m.label}`)
      .join(', ')}`,
  );
  lines.push(
    `Permission revoked for ${r.revocation.tenantId} from ${r.revocation.from} to ${r.revocation.to}`,
  );
  lines.push(`Setup: ${r.setup}`);
  lines.push('');
  lines.push(`Seed: ${r.options.seed}`);
  lines.push(
    r.ok
      ? r.invariants.some((i) => i.known !== undefined)
        ? 'All invariants hold, but for the known core issue(s) listed above.'
        : 'All invariants hold.'
      : `Invariants broken. Replay with: ${r.replay}`,
  );
  return lines.join('\n');
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
