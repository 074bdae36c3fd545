import type { DriftReport } from '../shared/operations/verify';
import type { SubscriptionStatus, SubscriptionView } from '../shared/subscriptions/model';
import { formatPairs, formatTable, formatTime, plural, type Cell } from './textTable';

/** Subscription views as text: a table for many, a block for one. Input is always a view. */

export function subscriptionTable(views: readonly SubscriptionView[], now: Date): string {
  if (views.length === 0) return 'No managed subscriptions.';
  const table = formatTable(
    ['KEY', 'TENANT', 'STATUS', 'EXPIRES', 'RESOURCE', 'LAST ERROR', 'RESYNC'],
    views.map((v) => [
      v.key,
      v.tenantId,
      v.status,
      formatTime(v.expirationDateTime, now),
      v.resource,
      v.lastError === null ? null : errorCode(v.lastError),
      v.resyncRequestedAt === null ? null : `requested (${v.resyncReason ?? 'no reason'})`,
    ]),
  );
  return `${table}\n\n${plural(views.length, 'subscription')} (${statusCounts(views)})`;
}

export function statusCounts(views: readonly { readonly status: SubscriptionStatus }[]): string {
  const counts = new Map<string, number>();
  for (const v of views) counts.set(v.status, (counts.get(v.status) ?? 0) + 1);
  return [...counts].map(([status, n]) => `${n} ${status}`).join(', ');
}

export function subscriptionDetails(view: SubscriptionView, now: Date): string {
  const pairs: [string, Cell][] = [
    ['key', view.key],
    ['tenantId', view.tenantId],
    ['status', view.status],
    ['resource', view.resource],
    ['changeType', view.changeType],
    ['notificationUrl', view.notificationUrl],
    ['lifecycleNotificationUrl', view.lifecycleNotificationUrl],
    ['includeResourceData', view.includeResourceData],
    ['encryptionCertificateId', view.encryptionCertificateId],
    ['latestSupportedTlsVersion', view.latestSupportedTlsVersion],
    ['lifetimeMinutes', view.lifetimeMinutes],
    // NOTE: rarely set (Universal Print, filtered alerts, rich notifications): shown when set.
    ...(view.notificationQueryOptions === null
      ? []
      : [['notificationQueryOptions', view.notificationQueryOptions] as [string, Cell]]),
    ...(view.notificationUrlAppId === null
      ? []
      : [['notificationUrlAppId', view.notificationUrlAppId] as [string, Cell]]),
    ['graphSubscriptionId', view.graphSubscriptionId],
    ['expirationDateTime', formatTime(view.expirationDateTime, now)],
    ['nextActionAt', formatTime(view.nextActionAt, now)],
    ['failureCount', view.failureCount],
    ['lastError', view.lastError === null ? null : lastErrorText(view.lastError, now)],
    ['generation', view.generation],
    [
      'resyncRequestedAt',
      view.resyncRequestedAt === null
        ? null
        : `${view.resyncRequestedAt} (${view.resyncReason ?? 'no reason'}); acknowledge with graph-subs resync-ack ${view.key} --requested-at ${view.resyncRequestedAt}`,
    ],
    ['createdAt', view.createdAt],
    ['updatedAt', view.updatedAt],
  ];
  return formatPairs(pairs);
}

type ErrorFacts = NonNullable<SubscriptionView['lastError']>;

function errorCode(e: { readonly code: string; readonly status: number | null }): string {
  return e.status === null ? e.code : `${e.code} (HTTP ${e.status})`;
}

export function lastErrorText(e: ErrorFacts, now: Date): string {
  const permissions =
    e.requiredPermissions === null || e.requiredPermissions.length === 0
      ? ''
      : `; needs ${e.requiredPermissions.join(' or ')}`;
  return `${errorCode(e)} ${formatTime(e.at, now)}: ${e.message}${permissions}`;
}

export const driftStateText: Readonly<Record<DriftReport['state'], string>> = {
  inSync: 'in sync: Graph has it as we do',
  drifted: "drifted: Graph's copy differs",
  missingOnGraph: 'missing on Graph (404): the next sweep that touches it recreates it',
  notOnGraph: 'not on Graph yet (pending or removed): the sweep creates it',
  error: 'Graph could not be asked',
};

/** A drift report as text: its state and, when drifted, one line per difference. */
export function driftText(report: DriftReport): string {
  const lines = [`${report.key}: ${driftLine(report)}`];
  for (const d of report.differences) {
    lines.push(`  ${d.field}: ours ${diffValue(d.ours)}, Graph ${diffValue(d.graph)}`);
  }
  return lines.join('\n');
}

export function driftLine(report: DriftReport): string {
  const error =
    report.error === null
      ? ''
      : ` (${report.error.code}${report.error.status === null ? '' : `, HTTP ${report.error.status}`})`;
  return `${driftStateText[report.state]}${error}`;
}

function diffValue(v: string | boolean | null): string {
  if (v === null) return '(none)';
  return typeof v === 'boolean' ? String(v) : v;
}

/** Drift that makes `verify` (and `show --verify`) exit 1. */
export function isDriftProblem(report: DriftReport): boolean {
  return (
    report.state === 'drifted' || report.state === 'missingOnGraph' || report.state === 'error'
  );
}
