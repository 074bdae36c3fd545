import type { KnownIssue } from './invariantLedger';

/**
 * Core issues the chaos run found and reported (not fixed here: shared/ belongs to the core).
 * Their cases are printed with their counts but do not fail `npm run chaos` or the test; every
 * other case does. Remove an entry once the core is fixed, and the run is strict about it again.
 */
// NOTE: the one issue found so far (60-minute subscriptions renewed only 3 sweeps before expiry,
// so a crashed sweep, a throttled call and a timeout in a row lapsed some) is fixed: renewals are
// due at least 4 sweep periods before expiry where half the lifetime allows (planRenewals.ts).
export const knownCoreIssues: readonly KnownIssue[] = [];
