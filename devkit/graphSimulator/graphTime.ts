/**
 * Graph's date-time text. Responses use seven fractional digits (learn.microsoft.com/graph/api/subscription-post-subscriptions sample:
 * `2016-11-20T18:23:45.9356913Z`); notifications use an offset (docs/graph-rules.md#lifecycle-notifications:
 * `2026-06-03T10:15:00.0000000+00:00`). Both are what a tolerant parser must read.
 */

export function formatGraphDateTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
}

export function formatNotificationDateTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$10000+00:00');
}

const isoPattern = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$/i;

/** An ISO 8601 date-time; without an offset it is UTC (DateTimeOffset in UTC, learn.microsoft.com/graph/api/resources/subscription). */
export function parseGraphDateTime(text: string): Date | undefined {
  const match = isoPattern.exec(text.trim());
  if (match === null) return undefined;
  const [, main, fraction, offset] = match;
  const millis = (fraction ?? '').padEnd(3, '0').slice(0, 3);
  const zone =
    offset === undefined || offset.toUpperCase() === 'Z'
      ? 'Z'
      : offset.replace(/^([+-]\d{2})(\d{2})$/, '$1:$2');
  const ms = Date.parse(`${main ?? ''}.${millis}${zone}`);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}
