import { createHash, timingSafeEqual } from 'node:crypto';

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
