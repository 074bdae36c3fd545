import { createHash, timingSafeEqual } from 'node:crypto';
import { withoutDeploymentMarker } from '../drift/deploymentMarker';
import type { GraphSubscription } from '../graph/graphSubscriptions';
import { withoutQuery, type ManagedSubscription, type SubscriptionDefinition } from './model';

/**
 * Comparisons of subscription properties that more than one flow needs: the lifecycle endpoint,
 * adoption after a 409, the drift check and definition changes.
 */

/**
 * A clientState against ours, in constant time, also when lengths differ (digests have a fixed
 * length). A missing one never matches.
 */
export function sameSecret(given: string | null | undefined, expected: string): boolean {
  if (given === undefined || given === null) return false;
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** Graph's changeType as a set: order, case, spaces and repeats do not matter. */
export function sameChangeTypes(a: string, b: string): boolean {
  return changeTypeSet(a) === changeTypeSet(b);
}

function changeTypeSet(value: string): string {
  return [...new Set(value.split(',').map((v) => v.trim().toLowerCase()))].sort().join(',');
}

/**
 * Our record against Graph's copy, compared the way Graph writes values, so an unchanged
 * subscription never shows false drift: resource paths with or without a leading slash (and in
 * any case), an empty `encryptionCertificateId` and an absent one, expiries with seven
 * fractional digits (parsed to the millisecond; a minute of tolerance for clocks and rounding),
 * and the deployment marker this app adds to the lifecycle URL. `graph-subs verify` and the drift
 * check both use it. A list answer has no clientState (null): it is then not compared.
 */
export function differencesFromGraph(
  sub: ManagedSubscription,
  g: GraphSubscription,
): DriftDifference[] {
  const d = sub.definition;
  const out: DriftDifference[] = [];
  const add = (field: string, ours: string | boolean | null, graph: string | boolean | null) =>
    out.push({ field, ours, graph });

  if (normalizedResource(d.resource) !== normalizedResource(g.resource)) {
    add('resource', d.resource, g.resource);
  }
  if (!sameChangeTypes(d.changeType, g.changeType)) {
    add('changeType', d.changeType, g.changeType);
  }
  if (!sameUrl(d.notificationUrl, g.notificationUrl)) {
    add('notificationUrl', hidden(d.notificationUrl), hidden(g.notificationUrl));
  }
  if (!sameUrl(d.lifecycleNotificationUrl, g.lifecycleNotificationUrl)) {
    add(
      'lifecycleNotificationUrl',
      hidden(d.lifecycleNotificationUrl),
      hidden(g.lifecycleNotificationUrl),
    );
  }
  if (d.includeResourceData !== g.includeResourceData) {
    add('includeResourceData', d.includeResourceData, g.includeResourceData);
  }
  if (emptyAsNull(d.encryptionCertificateId) !== emptyAsNull(g.encryptionCertificateId)) {
    add(
      'encryptionCertificateId',
      emptyAsNull(d.encryptionCertificateId),
      emptyAsNull(g.encryptionCertificateId),
    );
  }
  const graphTls = emptyAsNull(g.latestSupportedTlsVersion);
  if (
    d.latestSupportedTlsVersion !== undefined &&
    graphTls !== null &&
    d.latestSupportedTlsVersion !== graphTls
  ) {
    add('latestSupportedTlsVersion', d.latestSupportedTlsVersion, graphTls);
  }
  const ours = sub.expiresAt;
  if (
    ours === undefined ||
    Math.abs(ours.getTime() - g.expirationDateTime.getTime()) > expiryToleranceMs
  ) {
    add('expirationDateTime', ours?.toISOString() ?? null, g.expirationDateTime.toISOString());
  }
  // NOTE: compared in constant time and never shown; Graph omits it from list answers.
  if (emptyAsNull(g.clientState) !== null && !sameSecret(g.clientState, sub.clientState)) {
    add('clientState', '(hidden)', '(hidden, different)');
  }
  return out;
}

/**
 * The definition fields Graph cannot PATCH and the app applies by recreating
 * (`notificationQueryOptions`, `notificationUrlAppId`), as applied against Graph's copy: a wanted
 * change not yet applied is the planner's to report, not drift. Unset on both sides is equal;
 * app ids are GUIDs, compared without case.
 */
export function appliedOptionDifferences(
  applied: SubscriptionDefinition,
  g: GraphSubscription,
): DriftDifference[] {
  const out: DriftDifference[] = [];
  const ours = emptyAsNull(applied.notificationQueryOptions);
  const graph = emptyAsNull(g.notificationQueryOptions);
  if (ours !== graph) out.push({ field: 'notificationQueryOptions', ours, graph });
  const ourApp = emptyAsNull(applied.notificationUrlAppId);
  const graphApp = emptyAsNull(g.notificationUrlAppId);
  if (ourApp?.toLowerCase() !== graphApp?.toLowerCase()) {
    out.push({ field: 'notificationUrlAppId', ours: ourApp, graph: graphApp });
  }
  return out;
}

/** A field that differs between our record and Graph's copy. */
export interface DriftDifference {
  readonly field: string;
  /** Our value (URLs with query values hidden; secrets never shown). */
  readonly ours: string | boolean | null;
  readonly graph: string | boolean | null;
}

/** Expiry differences below this are clock and rounding noise, not drift. */
export const expiryToleranceMs = 60_000;

/** Graph resource paths are relative to the version root; a leading slash and case do not count. */
export function normalizedResource(resource: string): string {
  return resource.trim().replace(/^\/+/, '').toLowerCase();
}

function emptyAsNull(value: string | null | undefined): string | null {
  return value === undefined || value === null || value === '' ? null : value;
}

function sameUrl(ours: string | null | undefined, graph: string | null | undefined): boolean {
  const a = emptyAsNull(ours);
  const b = emptyAsNull(graph);
  if (a === null || b === null) return a === b;
  return withoutDeploymentMarker(a) === withoutDeploymentMarker(b);
}

function hidden(url: string | null | undefined): string | null {
  const value = emptyAsNull(url);
  if (value === null) return null;
  try {
    return withoutQuery(withoutDeploymentMarker(value));
  } catch {
    return '(not a URL)';
  }
}
