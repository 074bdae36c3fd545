import type { Config } from '../config';
import type { Clock } from '../clock';
import type { DriftRecords } from '../drift/driftRecords';
import { driftHealth, type DriftHealth } from '../drift/driftHealth';
import type { SweepSummary } from '../renewal/sweep';
import type { SubscriptionStore } from '../store/subscriptionStore';
import type { SweepRecords } from '../store/sweepRecords';
import {
  subscriptionStatuses,
  type ManagedSubscription,
  type SubscriptionStatus,
} from '../subscriptions/model';

/**
 * The health view (`GET /api/health`, `graph-subs status`): healthy when every subscription is
 * alive and the last sweep is recent and clean. Built from one pass over the stored
 * subscriptions (a page of 1,000 at a time) and the last sweep's record.
 */

export interface HealthProblemSubscription {
  readonly tenantId: string;
  readonly key: string;
  readonly resource: string;
  readonly status: SubscriptionStatus;
  /** Why it counts as a problem: failing, failed, lapsed or stuck. */
  readonly problem: 'failing' | 'failed' | 'lapsed' | 'stuck';
  readonly expirationDateTime: string | null;
  readonly lastError: {
    readonly code: string;
    readonly message: string;
    readonly status: number | null;
    readonly at: string;
  } | null;
  /** For a 401/403: the Graph permissions the resource needs. */
  readonly requiredPermissions: readonly string[] | null;
}

export interface HealthView {
  readonly healthy: boolean;
  readonly checkedAt: string;
  /** Why it is not healthy; empty when it is. */
  readonly reasons: readonly string[];
  readonly total: number;
  readonly counts: Readonly<Record<SubscriptionStatus, number>>;
  readonly soonestExpiry: {
    readonly tenantId: string;
    readonly key: string;
    readonly expirationDateTime: string;
  } | null;
  /** At most `maxProblemsListed`, failed first; `problemCount` has them all. */
  readonly problems: readonly HealthProblemSubscription[];
  readonly problemCount: number;
  /** Subscription rows that exist but cannot be read (corrupted): never swept, never served. */
  readonly unreadableRows: number;
  readonly resyncsPending: number;
  readonly lastSweep: SweepSummary | null;
  /** The drift check (shared/drift/driftHealth.ts); null when no drift records are wired. */
  readonly drift: DriftHealth | null;
}

export const maxProblemsListed = 50;

export interface HealthDeps {
  readonly store: SubscriptionStore;
  readonly sweepRecords: SweepRecords;
  readonly clock: Clock;
  readonly config: Pick<Config, 'sweep'> & Partial<Pick<Config, 'drift'>>;
  readonly driftRecords?: DriftRecords;
}

export async function healthReport(deps: HealthDeps): Promise<HealthView> {
  const now = deps.clock.now();
  const t = now.getTime();
  const period = deps.config.sweep.periodMs;
  const counts = Object.fromEntries(subscriptionStatuses.map((s) => [s, 0])) as Record<
    SubscriptionStatus,
    number
  >;
  const problems: HealthProblemSubscription[] = [];
  let problemCount = 0;
  let total = 0;
  let resyncsPending = 0;
  let withoutLifecycleUrl = 0;
  let unreadableRows = 0;
  let soonest: ManagedSubscription | undefined;

  let continuationToken: string | undefined;
  do {
    const page = await deps.store.list({
      pageSize: 1000,
      continuationToken,
      onInvalid: () => {
        unreadableRows++;
      },
    });
    for (const sub of page.items) {
      total++;
      counts[sub.status]++;
      if (sub.resyncRequestedAt !== undefined) resyncsPending++;
      if (sub.definition.lifecycleNotificationUrl === undefined && sub.status !== 'deleting') {
        withoutLifecycleUrl++;
      }
      if (
        sub.expiresAt !== undefined &&
        sub.status !== 'deleting' &&
        (soonest?.expiresAt === undefined || sub.expiresAt < soonest.expiresAt)
      ) {
        soonest = sub;
      }
      const problem = problemOf(sub, t, period);
      if (problem !== undefined) {
        problemCount++;
        problems.push(problemView(sub, problem));
      }
    }
    continuationToken = page.continuationToken;
  } while (continuationToken !== undefined);

  const lastSweep = (await deps.sweepRecords.last()) ?? null;
  const reasons: string[] = [];
  if (problemCount > 0) {
    reasons.push(`${problemCount} subscription(s) not alive (failing, failed, lapsed or stuck)`);
  }
  // NOTE: without a lifecycle URL Graph sends no lifecycle event, so a removal is noticed only at
  // the next renewal (https://learn.microsoft.com/graph/change-notifications-lifecycle-events).
  if (withoutLifecycleUrl > 0) {
    reasons.push(
      `${withoutLifecycleUrl} subscription(s) have no lifecycle URL: Graph sends them no lifecycle event, so a removal is noticed only at the next renewal`,
    );
  }
  // NOTE: a row that cannot be read is never renewed: it is a problem even when nothing else is.
  if (unreadableRows > 0) {
    reasons.push(
      `${unreadableRows} stored subscription row(s) cannot be read (wrong types or missing fields): GET /api/subscriptions/{key} names the problem, DELETE removes the row`,
    );
  }
  if (lastSweep === null) {
    if (total > 0 || unreadableRows > 0) reasons.push('no sweep has been recorded yet');
  } else {
    reasons.push(...sweepReasons(lastSweep, t, period));
  }
  const drift =
    deps.driftRecords === undefined || deps.config.drift === undefined
      ? undefined
      : await driftHealth(
          deps.driftRecords,
          await deps.store.tenants(),
          deps.config.drift.periodMs,
          now,
        );
  reasons.push(...(drift?.reasons ?? []));
  const rank: Record<HealthProblemSubscription['problem'], number> = {
    failed: 0,
    lapsed: 1,
    failing: 2,
    stuck: 3,
  };
  problems.sort((a, b) => rank[a.problem] - rank[b.problem]);
  return {
    healthy: reasons.length === 0,
    checkedAt: now.toISOString(),
    reasons,
    total,
    counts,
    soonestExpiry:
      soonest?.expiresAt === undefined
        ? null
        : {
            tenantId: soonest.definition.tenantId,
            key: soonest.definition.key,
            expirationDateTime: soonest.expiresAt.toISOString(),
          },
    problems: problems.slice(0, maxProblemsListed),
    problemCount,
    unreadableRows,
    resyncsPending,
    lastSweep,
    drift: drift?.view ?? null,
  };
}

function problemOf(
  sub: ManagedSubscription,
  t: number,
  periodMs: number,
): HealthProblemSubscription['problem'] | undefined {
  if (sub.status === 'failed') return 'failed';
  if (sub.status === 'failing') return 'failing';
  if (sub.status === 'deleting') return undefined;
  const waitingSince = t - sub.updatedAt.getTime();
  if (sub.status === 'pending' || sub.status === 'removed') {
    // A fresh one is created by the next sweep at the latest; older than two periods is stuck.
    return waitingSince > 2 * periodMs ? 'stuck' : undefined;
  }
  if (sub.expiresAt === undefined || sub.expiresAt.getTime() <= t) return 'lapsed';
  return undefined;
}

function problemView(
  sub: ManagedSubscription,
  problem: HealthProblemSubscription['problem'],
): HealthProblemSubscription {
  const e = sub.lastError;
  return {
    tenantId: sub.definition.tenantId,
    key: sub.definition.key,
    resource: sub.definition.resource,
    status: sub.status,
    problem,
    expirationDateTime: sub.expiresAt?.toISOString() ?? null,
    lastError:
      e === undefined
        ? null
        : { code: e.code, message: e.message, status: e.status ?? null, at: e.at.toISOString() },
    requiredPermissions: e?.requiredPermissions ?? null,
  };
}

/**
 * The fleet in a few numbers, kept by each recorded sweep beside its summary (one table row), so
 * that the cheap routes (`/api/health/summary`, `/api/live`) read it with one point read however
 * many subscriptions there are. `/api/health` still reads every row for its list of problems.
 */
export interface FleetSummary {
  readonly computedAt: string;
  readonly total: number;
  readonly statuses: Readonly<Record<SubscriptionStatus, number>>;
  /** Not alive although they should be: no expiry, or an expiry in the past. */
  readonly lapsed: number;
  /** Failing, failed, lapsed or stuck (as the full health view counts them). */
  readonly problemCount: number;
  readonly resyncsPending: number;
  /** The oldest resync request the owner has not acknowledged yet. */
  readonly oldestUnacknowledgedResyncAt: string | null;
  readonly soonestExpiry: string | null;
  /** Subscriptions expiring within each horizon (cumulative). */
  readonly expiringWithinHours: readonly { readonly hours: number; readonly count: number }[];
}

export const expiryHorizonsHours = [1, 6, 24, 72, 168] as const;

/** Counts over the stored subscriptions; pure, fed one page at a time. */
export class FleetCounter {
  private total = 0;
  private lapsed = 0;
  private problemCount = 0;
  private resyncsPending = 0;
  private oldestResync: number | undefined;
  private soonest: number | undefined;
  private readonly statuses = Object.fromEntries(subscriptionStatuses.map((s) => [s, 0])) as Record<
    SubscriptionStatus,
    number
  >;
  private readonly within = expiryHorizonsHours.map(() => 0);

  constructor(
    private readonly now: Date,
    private readonly periodMs: number,
  ) {}

  add(sub: ManagedSubscription): void {
    const t = this.now.getTime();
    this.total++;
    this.statuses[sub.status]++;
    const problem = problemOf(sub, t, this.periodMs);
    if (problem !== undefined) this.problemCount++;
    if (problem === 'lapsed') this.lapsed++;
    if (sub.resyncRequestedAt !== undefined) {
      this.resyncsPending++;
      const at = sub.resyncRequestedAt.getTime();
      if (this.oldestResync === undefined || at < this.oldestResync) this.oldestResync = at;
    }
    if (sub.expiresAt !== undefined && sub.status !== 'deleting') {
      const at = sub.expiresAt.getTime();
      if (this.soonest === undefined || at < this.soonest) this.soonest = at;
      expiryHorizonsHours.forEach((hours, i) => {
        if (at > t && at - t <= hours * 3_600_000) this.within[i] = (this.within[i] ?? 0) + 1;
      });
    }
  }

  summary(): FleetSummary {
    const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
    return {
      computedAt: this.now.toISOString(),
      total: this.total,
      statuses: { ...this.statuses },
      lapsed: this.lapsed,
      problemCount: this.problemCount,
      resyncsPending: this.resyncsPending,
      oldestUnacknowledgedResyncAt: iso(this.oldestResync),
      soonestExpiry: iso(this.soonest),
      expiringWithinHours: expiryHorizonsHours.map((hours, i) => ({
        hours,
        count: this.within[i] ?? 0,
      })),
    };
  }
}

/** Reads every stored subscription once (pages of 1,000) into a FleetSummary. */
export async function summarizeFleet(
  deps: Pick<HealthDeps, 'store' | 'clock'>,
  sweepPeriodMs: number,
): Promise<FleetSummary> {
  const counter = new FleetCounter(deps.clock.now(), sweepPeriodMs);
  let continuationToken: string | undefined;
  do {
    const page = await deps.store.list({ pageSize: 1000, continuationToken });
    for (const sub of page.items) counter.add(sub);
    continuationToken = page.continuationToken;
  } while (continuationToken !== undefined);
  return counter.summary();
}

/** What the cheap routes answer: no tenant, key or resource, only counts and times. */
export interface HealthSummaryView {
  readonly healthy: boolean;
  readonly checkedAt: string;
  readonly reasons: readonly string[];
  readonly fleet: FleetSummary | null;
  readonly lastSweep: {
    readonly finishedAt: string;
    readonly failureCount: number;
    readonly unexpectedErrors: number;
  } | null;
}

/** The health of the fleet from the kept record alone: one point read. */
export async function healthSummary(
  deps: Pick<HealthDeps, 'sweepRecords' | 'clock' | 'config'>,
): Promise<HealthSummaryView> {
  const now = deps.clock.now();
  const period = deps.config.sweep.periodMs;
  const kept = await deps.sweepRecords.kept();
  const lastSweep = kept.sweep ?? null;
  const fleet = kept.fleet ?? null;
  const reasons: string[] = [];
  if (lastSweep === null) {
    reasons.push('no sweep has been recorded yet');
  } else {
    reasons.push(...sweepReasons(lastSweep, now.getTime(), period));
  }
  if (fleet !== null && fleet.problemCount > 0) {
    reasons.push(
      `${fleet.problemCount} subscription(s) not alive at the last sweep (failing, failed, lapsed or stuck)`,
    );
  }
  return {
    healthy: reasons.length === 0,
    checkedAt: now.toISOString(),
    reasons,
    fleet,
    lastSweep:
      lastSweep === null
        ? null
        : {
            finishedAt: lastSweep.finishedAt,
            failureCount: lastSweep.failureCount,
            unexpectedErrors: lastSweep.unexpectedErrors,
          },
  };
}

function sweepReasons(lastSweep: SweepSummary, t: number, period: number): string[] {
  const reasons: string[] = [];
  const age = t - Date.parse(lastSweep.finishedAt);
  // NOTE: two periods plus a minute: one late timer run is not an outage, two missed ones are.
  if (age > 2 * period + 60_000) {
    reasons.push(`the last sweep finished ${Math.round(age / 60_000)} minutes ago`);
  }
  if (lastSweep.failureCount > 0 || lastSweep.unexpectedErrors > 0) {
    reasons.push(
      `the last sweep had ${lastSweep.failureCount} failure(s) and ${lastSweep.unexpectedErrors} unexpected error(s)`,
    );
  }
  if (lastSweep.invalidRows > 0) {
    reasons.push(`the last sweep skipped ${lastSweep.invalidRows} row(s) that cannot be read`);
  }
  return reasons;
}
