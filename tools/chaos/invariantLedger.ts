import type { ResyncMessage } from '../../shared/resync/resyncPublisher';
import type { StoredSubscription } from '../../shared/subscriptions/model';
import { memberKey, type FleetMember, type ResourceKind } from './chaosFleet';
import type { GraphObservation } from './graphSide';

/**
 * The chaos run's books: what Graph, the store and the owner's queue showed after every tick,
 * checked against the promises of issue 9. Pure bookkeeping, no I/O: the run feeds it
 * observations and reads the counts.
 */

export type InvariantName =
  | 'lapses'
  | 'duplicates'
  | 'lost'
  | 'unsignalled'
  | 'failedOutsideRevocation'
  | 'failedNotRecovered'
  | 'deletedByApp';

export interface InvariantResult {
  readonly name: InvariantName;
  readonly description: string;
  /** Every case seen. */
  readonly count: number;
  /** The cases by the resource kind of their subscription. */
  readonly byKind: Readonly<Partial<Record<ResourceKind, number>>>;
  /** What the rule leaves out, counted apart (e.g. expiries while permission was revoked). */
  readonly exempt?: { readonly count: number; readonly why: string };
  /** Cases of a known core issue (see knownIssues.ts): printed, not failing the run. */
  readonly known?: { readonly count: number; readonly reason: string };
  /** The first few cases, for a person to follow up. */
  readonly examples: readonly string[];
}

/** A reported core issue: its cases on these resources do not fail the run. */
export interface KnownIssue {
  readonly invariant: InvariantName;
  readonly resources: readonly ResourceKind[];
  readonly reason: string;
}

/** Cases that fail the run: all, less those of a known issue. */
export function failingCount(result: InvariantResult): number {
  return result.count - (result.known?.count ?? 0);
}

export function withKnownIssues(
  results: readonly InvariantResult[],
  known: readonly KnownIssue[],
): InvariantResult[] {
  return results.map((r) => {
    const issue = known.find((k) => k.invariant === r.name);
    if (issue === undefined) return r;
    const count = issue.resources.reduce((n, kind) => n + (r.byKind[kind] ?? 0), 0);
    return count === 0 ? r : { ...r, known: { count, reason: issue.reason } };
  });
}

export interface RevocationWindow {
  readonly tenantId: string;
  readonly revokedAtMs: number;
  readonly restoredAtMs: number;
}

export interface LedgerPolicy {
  /** A lapse within this long after the restore is the restore's, not the app's. */
  readonly restoreGraceMs: number;
  /** A `failed` subscription must be `active` again within this long after the restore. */
  readonly recoveryMs: number;
}

type ExpectationKind =
  'subscriptionRemoved' | 'missed' | 'recreatedAfterNotFound' | 'recreatedAfterExpiry';

interface Expectation {
  readonly member: FleetMember;
  readonly kind: ExpectationKind;
  /** The event (or the loss): a resync message must be requested at or after it. */
  readonly atMs: number;
  /** When the app could first act on it: the event's delivery, or the recreation seen. */
  readonly openedAtMs: number;
}

interface PendingLoss {
  readonly kind: 'recreatedAfterNotFound' | 'recreatedAfterExpiry';
  readonly atMs: number;
}

const maxExamples = 5;
const hour = 3_600_000;

export class InvariantLedger {
  private readonly members = new Map<string, FleetMember>();
  private readonly byResource = new Map<string, FleetMember>();
  private readonly clientStates = new Map<string, string>();
  private readonly liveIds = new Map<string, Set<string>>();
  private readonly pendingLosses = new Map<string, PendingLoss[]>();
  private open: Expectation[] = [];
  private readonly latestRequest = new Map<string, number>();
  private readonly messageIds = new Set<string>();
  private readonly examples = new Map<InvariantName, string[]>();

  /** Cases per invariant, by resource kind. */
  private readonly cases = new Map<InvariantName, Map<ResourceKind, number>>();
  private exemptLapses = 0;
  private readonly lostKeys = new Set<string>();
  private readonly unsignalled = new Map<ExpectationKind, number>();
  private readonly failedOutside = new Set<string>();
  private readonly everFailed = new Set<string>();
  private readonly recovered = new Set<string>();
  private readonly stuckFailed = new Set<string>();
  private readonly unansweredReauthorizations = new Set<string>();
  private readonly unansweredExamples: string[] = [];
  private satisfied = 0;
  private maxSignalDelayMs = 0;
  messages = 0;
  repeatedMessages = 0;

  constructor(
    members: readonly FleetMember[],
    private readonly revocation: RevocationWindow,
    private readonly policy: LedgerPolicy,
  ) {
    for (const m of members) {
      this.members.set(memberKey(m), m);
      this.byResource.set(resourceKeyOf(m.definition.tenantId, m.definition.resource), m);
    }
  }

  /** The clientState each row was stored with: it must never change. */
  rememberClientState(member: FleetMember, clientState: string): void {
    this.clientStates.set(memberKey(member), clientState);
  }

  /** Graph ids live for this member at the last observation. */
  liveGraphIds(member: FleetMember): ReadonlySet<string> {
    return this.liveIds.get(memberKey(member)) ?? new Set();
  }

  memberOfResource(tenantId: string, resource: string): FleetMember | undefined {
    return this.byResource.get(resourceKeyOf(tenantId, resource));
  }

  onObservation(o: GraphObservation): void {
    for (const gone of o.disappeared) {
      const member = this.memberOfResource(gone.tenantId, gone.resource);
      if (member === undefined) continue;
      const key = memberKey(member);
      this.liveIds.get(key)?.delete(gone.id);
      if (gone.cause === 'expired') {
        const where = `${member.definition.key} (${member.mix.label}) ${gone.id} expired at ${iso(gone.expiresAtMs)}; its last calls: ${gone.lastCalls.join(', ') || 'none'}`;
        if (this.exempt(gone.tenantId, gone.expiresAtMs)) this.exemptLapses++;
        else this.count('lapses', member, where);
        this.addPendingLoss(key, { kind: 'recreatedAfterExpiry', atMs: gone.expiresAtMs });
      } else if (gone.cause === 'lost') {
        this.addPendingLoss(key, { kind: 'recreatedAfterNotFound', atMs: gone.expiresAtMs });
      } else if (gone.cause === 'deleted') {
        this.count(
          'deletedByApp',
          member,
          `${member.definition.key} ${gone.id} at ${iso(o.nowMs)}`,
        );
      }
    }
    for (const fact of o.appeared) {
      const member = this.memberOfResource(fact.tenantId, fact.resource);
      if (member === undefined) continue;
      const key = memberKey(member);
      let ids = this.liveIds.get(key);
      if (ids === undefined) {
        ids = new Set();
        this.liveIds.set(key, ids);
      }
      ids.add(fact.id);
      // A new subscription for a key whose previous one was lost or expired: a 404 recreation.
      const losses = this.pendingLosses.get(key) ?? [];
      const before = losses.filter((l) => l.atMs <= fact.createdAtMs);
      if (before.length > 0) {
        for (const l of before) {
          this.open.push({ member, kind: l.kind, atMs: l.atMs, openedAtMs: o.nowMs });
        }
        this.pendingLosses.set(
          key,
          losses.filter((l) => l.atMs > fact.createdAtMs),
        );
      }
    }
    for (const extra of o.duplicates) {
      const member = this.memberOfResource(extra.tenantId, extra.resource);
      if (member !== undefined)
        this.count('duplicates', member, `${member.definition.key} ${extra.id}`);
    }
    for (const pending of o.reauthorizationUnanswered) {
      // NOTE: a request made while (or just before) access was gone waits for the restore.
      const r = this.revocation;
      const duringRevocation =
        pending.tenantId.toLowerCase() === r.tenantId &&
        pending.sinceMs + hour >= r.revokedAtMs &&
        pending.sinceMs <= r.restoredAtMs + this.policy.recoveryMs;
      if (duringRevocation || this.unansweredReauthorizations.has(pending.id)) continue;
      this.unansweredReauthorizations.add(pending.id);
      const member = this.memberOfResource(pending.tenantId, pending.resource);
      if (this.unansweredExamples.length < maxExamples) {
        this.unansweredExamples.push(
          `${member?.definition.key ?? pending.resource} ${pending.id} since ${iso(pending.sinceMs)}`,
        );
      }
    }
  }

  /** A `missed` or `subscriptionRemoved` event Graph sent (first delivery). */
  onEventSent(member: FleetMember, event: 'missed' | 'subscriptionRemoved', atMs: number): void {
    this.open.push({ member, kind: event, atMs, openedAtMs: atMs });
  }

  onMessages(messages: readonly ResyncMessage[]): void {
    for (const m of messages) {
      this.messages++;
      if (this.messageIds.has(m.id)) this.repeatedMessages++;
      this.messageIds.add(m.id);
      const key = `${m.tenantId}|${m.key}`;
      const at = Date.parse(m.requestedAt);
      if (at > (this.latestRequest.get(key) ?? Number.NEGATIVE_INFINITY)) {
        this.latestRequest.set(key, at);
      }
    }
  }

  /** The row of each member registered so far, as read after the tick (undefined: missing). */
  onRows(nowMs: number, rows: ReadonlyMap<string, StoredSubscription | undefined>): void {
    const { revocation, policy } = this;
    for (const [key, row] of rows) {
      const member = this.members.get(key);
      if (member === undefined) continue;
      const problem =
        row === undefined ? 'row missing' : corruption(member, row, this.clientStates.get(key));
      if (problem !== undefined && !this.lostKeys.has(key)) {
        this.lostKeys.add(key);
        this.count('lost', member, `${member.definition.key}: ${problem}`);
      }
      if (row === undefined) continue;
      const inRevokedTenant = member.definition.tenantId === revocation.tenantId;
      if (row.status === 'failed') {
        if (!inRevokedTenant || nowMs < revocation.revokedAtMs) {
          if (!this.failedOutside.has(key)) {
            this.failedOutside.add(key);
            this.count('failedOutsideRevocation', member, describeFailure(member, row, nowMs));
          }
        } else {
          this.everFailed.add(key);
          if (nowMs > revocation.restoredAtMs + policy.recoveryMs && !this.stuckFailed.has(key)) {
            this.stuckFailed.add(key);
            this.count('failedNotRecovered', member, describeFailure(member, row, nowMs));
          }
        }
      } else if (row.status === 'active' && nowMs >= revocation.restoredAtMs) {
        this.recovered.add(key);
      }
    }
  }

  /** Marks the expectations a resync message now answers. */
  settle(nowMs: number): void {
    this.open = this.open.filter((e) => {
      const latest = this.latestRequest.get(memberKey(e.member));
      // NOTE: a `missed` is collapsed into a resync request the owner has not acknowledged yet
      // (chaos owners never acknowledge), so any earlier message of the subscription covers it.
      const covered =
        e.kind === 'missed' ? latest !== undefined : latest !== undefined && latest >= e.atMs;
      if (!covered) return true;
      this.satisfied++;
      this.maxSignalDelayMs = Math.max(this.maxSignalDelayMs, nowMs - e.openedAtMs);
      return false;
    });
  }

  /** Closes the books: what is still open now was never signalled. */
  finish(nowMs: number): void {
    this.settle(nowMs);
    for (const e of this.open) {
      this.unsignalled.set(e.kind, (this.unsignalled.get(e.kind) ?? 0) + 1);
      this.count(
        'unsignalled',
        e.member,
        `${e.member.definition.key} (${e.member.mix.label}): ${e.kind} at ${iso(e.atMs)}`,
      );
    }
    this.open = [];
    if (nowMs >= this.revocation.restoredAtMs + this.policy.recoveryMs) {
      for (const key of this.everFailed) {
        const member = this.members.get(key);
        if (member === undefined || this.recovered.has(key) || this.stuckFailed.has(key)) continue;
        this.stuckFailed.add(key);
        this.count('failedNotRecovered', member, `${member.definition.key}: not active since`);
      }
    }
  }

  results(): InvariantResult[] {
    const breakdown = [...this.unsignalled.entries()].map(([k, n]) => `${k} ${n}`).join(', ');
    const result = (
      name: InvariantName,
      description: string,
      exempt?: InvariantResult['exempt'],
    ): InvariantResult => {
      const byKind = Object.fromEntries(this.cases.get(name) ?? new Map<ResourceKind, number>());
      return {
        name,
        description,
        count: Object.values(byKind).reduce((a, b) => a + b, 0),
        byKind,
        ...(exempt === undefined ? {} : { exempt }),
        examples: this.examples.get(name) ?? [],
      };
    };
    return [
      result(
        'lapses',
        "a wanted subscription's expiry on Graph passed while its tenant had permission",
        {
          count: this.exemptLapses,
          why: 'expired while permission was revoked (or within two sweep periods of the restore)',
        },
      ),
      result('duplicates', 'a second live Graph subscription for one key'),
      result('lost', 'a row missing, or its definition or clientState changed'),
      result(
        'unsignalled',
        `a removal, 404 recreation or missed event with no resync message after it${
          breakdown === '' ? '' : ` (${breakdown})`
        }`,
      ),
      result(
        'failedOutsideRevocation',
        'a subscription failed outside the revoked tenant or before the revocation',
      ),
      result(
        'failedNotRecovered',
        'a failed subscription of the revoked tenant not active again after the restore',
      ),
      result('deletedByApp', 'a wanted Graph subscription deleted before its expiry by the app'),
    ];
  }

  /** Figures that are not promises but help to read a run. */
  facts(): {
    readonly signalled: number;
    readonly maxSignalDelayMs: number;
    readonly failedInRevokedTenant: number;
    readonly recoveredAfterRestore: number;
    readonly unansweredReauthorizations: number;
    readonly unansweredExamples: readonly string[];
    readonly lossesNotYetNoticed: number;
  } {
    let notNoticed = 0;
    for (const losses of this.pendingLosses.values()) notNoticed += losses.length;
    return {
      signalled: this.satisfied,
      maxSignalDelayMs: this.maxSignalDelayMs,
      failedInRevokedTenant: this.everFailed.size,
      recoveredAfterRestore: [...this.everFailed].filter((k) => this.recovered.has(k)).length,
      unansweredReauthorizations: this.unansweredReauthorizations.size,
      unansweredExamples: this.unansweredExamples,
      lossesNotYetNoticed: notNoticed,
    };
  }

  private exempt(tenantId: string, atMs: number): boolean {
    const r = this.revocation;
    return (
      tenantId.toLowerCase() === r.tenantId &&
      atMs >= r.revokedAtMs &&
      atMs <= r.restoredAtMs + this.policy.restoreGraceMs
    );
  }

  private addPendingLoss(key: string, loss: PendingLoss): void {
    const losses = this.pendingLosses.get(key) ?? [];
    losses.push(loss);
    this.pendingLosses.set(key, losses);
  }

  private count(name: InvariantName, member: FleetMember, example: string): void {
    const byKind = this.cases.get(name) ?? new Map<ResourceKind, number>();
    byKind.set(member.mix.kind, (byKind.get(member.mix.kind) ?? 0) + 1);
    this.cases.set(name, byKind);
    const list = this.examples.get(name) ?? [];
    if (list.length < maxExamples) list.push(example);
    this.examples.set(name, list);
  }
}

function resourceKeyOf(tenantId: string, resource: string): string {
  return `${tenantId.toLowerCase()}|${resource.trim().replace(/^\/+/, '').toLowerCase()}`;
}

function corruption(
  member: FleetMember,
  row: StoredSubscription,
  clientState: string | undefined,
): string | undefined {
  const want = member.definition;
  const got = row.definition;
  for (const field of [
    'key',
    'tenantId',
    'resource',
    'changeType',
    'notificationUrl',
    'lifecycleNotificationUrl',
    'includeResourceData',
    'lifetimeMinutes',
  ] as const) {
    if (want[field] !== got[field]) return `definition.${field} changed`;
  }
  if (clientState !== undefined && row.clientState !== clientState) return 'clientState changed';
  if (Number.isNaN(row.nextActionAt.getTime())) return 'nextActionAt is not a date';
  return undefined;
}

function describeFailure(member: FleetMember, row: StoredSubscription, nowMs: number): string {
  const error = row.lastError;
  return `${member.definition.key} (${member.mix.label}) failed at ${iso(nowMs)}: ${
    error === undefined ? 'no error recorded' : `${error.status ?? '-'} ${error.code}`
  }`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
