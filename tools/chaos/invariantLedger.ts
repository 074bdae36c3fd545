import type { ResyncMessage } from '../../shared/resync/resyncPublisher';
import type { StoredSubscription, SubscriptionDefinition } from '../../shared/subscriptions/model';
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
  | 'deletedByApp'
  | 'orphans'
  | 'lapsedBeyondDrift';

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
  /**
   * The longest a silent drop may go unnoticed: one drift period plus the two sweep periods it
   * may take to reach the tenant and recreate. A drop whose tenant's check was cut short by a
   * crash within this bound is exempt (counted apart).
   */
  readonly silentDropBoundMs: number;
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

/** A subscription Graph dropped without telling anyone, and when a new one took its place. */
interface SilentDrop {
  readonly member: FleetMember;
  readonly atMs: number;
  recoveredAtMs?: number;
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
  /** What the owner wants now: the fleet's definition, or the one an admin operation stored. */
  private readonly wanted = new Map<string, SubscriptionDefinition[]>();
  /** Graph deletions the owner asked for (a delete, or a change Graph applies by recreating). */
  private readonly ownerDeletions = new Map<string, number>();
  /** Keys the owner deleted and has not applied again yet: their row may be missing. */
  private readonly ownerDeleted = new Set<string>();
  /** The Graph id each row pointed at after the last tick. */
  private readonly rowGraphIds = new Map<string, string | undefined>();
  private readonly drops: SilentDrop[] = [];
  private orphansDeletedByApp = 0;
  private exemptDrops = 0;
  private exemptDropsByCrash = 0;
  /** When a drift check that a crash cut short left each tenant unchecked. */
  private readonly cutShortChecks: { readonly tenantId: string; readonly atMs: number }[] = [];
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

  /**
   * An admin operation stores `definition` for the member (it may not have: a crash, a race);
   * the row is then expected to hold the old or the new one, whichever it shows next.
   * `replacesOnGraph`: Graph applies it by a delete and a create.
   */
  onOwnerChange(
    member: FleetMember,
    definition: SubscriptionDefinition,
    replacesOnGraph: boolean,
  ): void {
    const key = memberKey(member);
    this.wanted.set(key, [...this.wantedOf(member), definition]);
    if (replacesOnGraph) this.ownerDeletions.set(key, (this.ownerDeletions.get(key) ?? 0) + 1);
  }

  /** The owner deleted the member's subscription (or tried to). */
  onOwnerDelete(member: FleetMember, atMs: number): void {
    const key = memberKey(member);
    this.ownerDeleted.add(key);
    // NOTE: a loss before the owner's delete is the owner's to resync from: the subscription
    // they apply again starts afresh (no resync request), and no one is owed a replacement.
    this.pendingLosses.delete(key);
    for (const drop of this.drops) {
      if (drop.member === member && drop.recoveredAtMs === undefined) drop.recoveredAtMs = atMs;
    }
    this.ownerDeletions.set(key, (this.ownerDeletions.get(key) ?? 0) + 1);
  }

  /** The delete was never stored (a crash first): the row stays wanted. */
  onOwnerDeleteUndone(member: FleetMember): void {
    this.ownerDeleted.delete(memberKey(member));
  }

  /** The owner applied the member again after deleting it: a new row and clientState. */
  onOwnerReapplied(member: FleetMember, row: StoredSubscription): void {
    const key = memberKey(member);
    this.ownerDeleted.delete(key);
    this.wanted.set(key, [row.definition]);
    this.clientStates.set(key, row.clientState);
  }

  isOwnerDeleted(member: FleetMember): boolean {
    return this.ownerDeleted.has(memberKey(member));
  }

  wantedOf(member: FleetMember): readonly SubscriptionDefinition[] {
    return this.wanted.get(memberKey(member)) ?? [member.definition];
  }

  /** Graph dropped the member's subscription silently at `atMs`. */
  onSilentDrop(member: FleetMember, atMs: number): void {
    this.drops.push({ member, atMs });
  }

  /** A drift check started at `atMs` ended in a crash before it checked these tenants. */
  onDriftCheckCutShort(tenantIds: Iterable<string>, atMs: number): void {
    for (const tenantId of tenantIds) {
      this.cutShortChecks.push({ tenantId: tenantId.toLowerCase(), atMs });
    }
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
        // NOTE: since the drop (not the expiry it would have had): the drift check recreates long
        // before that, and the resync it requests must come after the drop.
        const dropped = this.drops.filter((d) => d.member === member && d.atMs <= o.nowMs);
        const atMs = dropped[dropped.length - 1]?.atMs ?? Math.min(gone.expiresAtMs, o.nowMs);
        this.addPendingLoss(key, { kind: 'recreatedAfterNotFound', atMs });
      } else if (gone.cause === 'deleted') {
        const asked = this.ownerDeletions.get(key) ?? 0;
        if (asked > 0) {
          this.ownerDeletions.set(key, asked - 1);
        } else if (this.rowGraphIds.has(key) && this.rowGraphIds.get(key) !== gone.id) {
          // NOTE: no row pointed at it: an orphan (a create whose row write never happened).
          this.orphansDeletedByApp++;
        } else {
          this.count(
            'deletedByApp',
            member,
            `${member.definition.key} ${gone.id} at ${iso(o.nowMs)}`,
          );
        }
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
      for (const drop of this.drops) {
        if (
          drop.member === member &&
          drop.recoveredAtMs === undefined &&
          drop.atMs <= fact.createdAtMs
        ) {
          drop.recoveredAtMs = fact.createdAtMs;
        }
      }
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
      this.rowGraphIds.set(key, row?.graphSubscriptionId);
      if (this.ownerDeleted.has(key)) continue;
      // NOTE: after an admin operation the row holds the old definition or the new one; the
      // one it shows is what the owner wants from then on.
      let problem: string | undefined;
      if (row === undefined) {
        problem = 'row missing';
      } else {
        const clientState = this.clientStates.get(key);
        const wanted = this.wantedOf(member);
        const matching = wanted.find((d) => corruption(d, row, clientState) === undefined);
        if (matching === undefined) {
          problem = corruption(wanted[wanted.length - 1] ?? member.definition, row, clientState);
        } else {
          this.wanted.set(key, [matching]);
        }
      }
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
    for (const [key, ids] of this.liveIds) {
      const member = this.members.get(key);
      if (member === undefined) continue;
      for (const id of ids) {
        if (id === this.rowGraphIds.get(key)) continue;
        this.count('orphans', member, `${member.definition.key} (${member.mix.label}) ${id}`);
      }
    }
    for (const drop of this.drops) {
      const lapsedMs = (drop.recoveredAtMs ?? nowMs) - drop.atMs;
      if (lapsedMs <= this.policy.silentDropBoundMs) continue;
      if (this.exemptDrop(drop)) {
        this.exemptDrops++;
        continue;
      }
      if (this.checkCutShort(drop)) {
        this.exemptDropsByCrash++;
        continue;
      }
      this.count(
        'lapsedBeyondDrift',
        drop.member,
        `${drop.member.definition.key} (${drop.member.mix.label}) dropped at ${iso(drop.atMs)}, ${Math.round(lapsedMs / 60_000)} min without a subscription`,
      );
    }
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
      result('orphans', 'a live Graph subscription at the end that no row points at'),
      result(
        'lapsedBeyondDrift',
        `a silent drop not replaced within one drift period plus two sweeps (${Math.round(this.policy.silentDropBoundMs / 60_000)} min)`,
        {
          count: this.exemptDrops + this.exemptDropsByCrash,
          why: `(${this.exemptDrops} dropped in the revoked tenant while permission was revoked, or just before; ${this.exemptDropsByCrash} whose tenant's drift check was cut short by an injected crash)`,
        },
      ),
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
    readonly silentDrops: number;
    readonly lapsedMinutesMax: number;
    readonly lapsedMinutesMean: number;
    readonly lapsedMinutes: readonly number[];
    readonly orphansDeletedByApp: number;
    readonly withinOneDriftPeriod: number;
    readonly dropsExemptByCrash: number;
  } {
    const lapsed = this.drops
      .filter((d) => d.recoveredAtMs !== undefined)
      .map((d) => Math.round(((d.recoveredAtMs ?? d.atMs) - d.atMs) / 60_000));
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
      silentDrops: this.drops.length,
      lapsedMinutesMax: lapsed.reduce((a, b) => Math.max(a, b), 0),
      lapsedMinutesMean:
        lapsed.length === 0 ? 0 : Math.round(lapsed.reduce((a, b) => a + b, 0) / lapsed.length),
      lapsedMinutes: lapsed,
      orphansDeletedByApp: this.orphansDeletedByApp,
      withinOneDriftPeriod: lapsed.filter((m) => m * 60_000 <= this.policy.silentDropBoundMs)
        .length,
      dropsExemptByCrash: this.exemptDropsByCrash,
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

  /** A drop the app could not repair: its tenant's permission was revoked within the bound. */
  private exemptDrop(drop: SilentDrop): boolean {
    const r = this.revocation;
    return (
      drop.member.definition.tenantId.toLowerCase() === r.tenantId &&
      drop.atMs + this.policy.silentDropBoundMs >= r.revokedAtMs &&
      drop.atMs <= r.restoredAtMs + this.policy.restoreGraceMs
    );
  }

  /**
   * A drop whose tenant a crashed drift check left unchecked within the bound: the next check
   * finds it, a period later.
   */
  private checkCutShort(drop: SilentDrop): boolean {
    const tenantId = drop.member.definition.tenantId.toLowerCase();
    return this.cutShortChecks.some(
      (c) =>
        c.tenantId === tenantId &&
        c.atMs >= drop.atMs &&
        c.atMs <= drop.atMs + this.policy.silentDropBoundMs,
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
  want: SubscriptionDefinition,
  row: StoredSubscription,
  clientState: string | undefined,
): string | undefined {
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
