import {
  startGraphSimulator,
  type FaultedCall,
  type FaultRule,
  type GraphSimulator,
  type SimulatedCall,
  type SimulatorTls,
} from '../../devkit/graphSimulator';
import { SeededRandom } from './seededRandom';
import type { SimulatedClock } from './simulatedClock';

/**
 * Graph's side of the chaos run: the simulator with the run's faults, and what the run learns
 * from it after every tick (which subscriptions appeared and disappeared and why, duplicates, call
 * and fault counts). The same code runs in the simulator's own thread (`graphThread.ts`) or, for
 * debugging, in the main thread (`InProcessGraph`); the run sees it through `ChaosGraph`.
 */

/** What the app needs to reach the simulator (app settings and TLS trust). */
export interface GraphConnection {
  readonly graphUrl: string;
  readonly authorityHost: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly tls: { readonly ca: string; readonly cert: string; readonly key: string };
}

export interface GraphSubscriptionFact {
  readonly id: string;
  readonly tenantId: string;
  readonly resource: string;
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
}

/**
 * Why a subscription left Graph: its expiry passed, the run lost it silently or removed it with a
 * `subscriptionRemoved` event, or someone deleted it (the app never should in a chaos run).
 */
export type DisappearanceCause = 'expired' | 'lost' | 'removed' | 'deleted';

export interface Disappearance extends GraphSubscriptionFact {
  readonly cause: DisappearanceCause;
  /** Its last calls on Graph, e.g. "10:25:00 PATCH 503": to follow up an unexpected expiry. */
  readonly lastCalls: readonly string[];
}

export interface GraphObservation {
  readonly nowMs: number;
  readonly live: number;
  readonly appeared: readonly GraphSubscriptionFact[];
  readonly disappeared: readonly Disappearance[];
  /** Live subscriptions that share tenant, resource and change type with an older live one. */
  readonly duplicates: readonly GraphSubscriptionFact[];
  /** Live subscriptions whose `reauthorizationRequired` has gone unanswered for over an hour. */
  readonly reauthorizationUnanswered: readonly {
    readonly id: string;
    readonly tenantId: string;
    readonly resource: string;
    readonly sinceMs: number;
  }[];
}

export interface GraphCounters {
  readonly calls: number;
  readonly creates: number;
  readonly recreations: number;
  readonly renewals: number;
  readonly reauthorizations: number;
  readonly lists: number;
  readonly deletes: number;
  readonly notFound: number;
  readonly forbidden: number;
  readonly conflicts: number;
  /** 429s from the simulator's own throttle (Graph's limits), not injected. */
  readonly throttled: number;
  readonly faults: FaultCounts;
  /** A reauthorize and a renew PATCH for one subscription less than 10 minutes apart. */
  readonly reauthorizeRenewPairs: number;
}

export interface LifecycleItem {
  readonly subscriptionId: string;
  readonly event: 'reauthorizationRequired' | 'subscriptionRemoved' | 'missed';
}

export interface DeliveryResult {
  /** True when every POST was answered 2xx; otherwise Graph delivers the items again. */
  readonly accepted: boolean;
  readonly statuses: readonly number[];
  readonly error?: string;
}

/** The run's view of Graph, wherever the simulator runs. */
export interface ChaosGraph {
  readonly connection: GraphConnection;
  observe(): Promise<GraphObservation>;
  /** Graph drops a subscription without telling anyone (404 on its next touch). */
  lose(id: string): Promise<boolean>;
  setPermission(tenantId: string, granted: boolean): Promise<void>;
  deliver(items: readonly LifecycleItem[]): Promise<DeliveryResult>;
  counters(): Promise<GraphCounters>;
  stop(): Promise<void>;
}

export interface FaultRates {
  /** Share of Graph API requests answered 500, 502, 503 or 504. */
  readonly serverErrors: number;
  /** Share answered 429 with Retry-After. */
  readonly tooManyRequests: number;
  /** Share that never get an answer (see `timeoutAccounting` in simulatedClock.ts). */
  readonly timeouts: number;
}

export const defaultFaultRates: FaultRates = {
  serverErrors: 0.1,
  tooManyRequests: 0.05,
  timeouts: 0.01,
};

/**
 * The fault rules in the order the simulator tries them. A rule is drawn only when the ones before
 * it were not taken, so each probability is conditional: `p / (1 - taken so far)` gives each kind
 * its intended share of all requests.
 */
export function faultRules(rates: FaultRates): FaultRule[] {
  const wanted: Array<{ share: number; rule: Omit<FaultRule, 'probability'> }> = [
    // NOTE: a dropped connection stands for a request that never gets an answer: the run's
    // clock counts the caller's whole budget as spent (timeoutAccounting), at no real cost.
    { share: rates.timeouts, rule: { kind: 'reset' } },
    // NOTE: Retry-After 0.2 s and 0.5 s fit in a call's budget and are retried inside the call;
    // 3 s does not, so the core schedules the retry itself (docs/graph-rules.md#limits-and-throttling).
    { share: rates.tooManyRequests * 0.4, rule: { status: 429, retryAfterSeconds: 0.2 } },
    { share: rates.tooManyRequests * 0.3, rule: { status: 429, retryAfterSeconds: 0.5 } },
    { share: rates.tooManyRequests * 0.3, rule: { status: 429, retryAfterSeconds: 3 } },
    { share: rates.serverErrors * 0.4, rule: { status: 500 } },
    { share: rates.serverErrors * 0.2, rule: { status: 502 } },
    { share: rates.serverErrors * 0.15, rule: { status: 503, retryAfterSeconds: 0.5 } },
    { share: rates.serverErrors * 0.15, rule: { status: 503 } },
    { share: rates.serverErrors * 0.1, rule: { status: 504 } },
  ];
  const rules: FaultRule[] = [];
  let taken = 0;
  for (const { share, rule } of wanted) {
    if (share <= 0) continue;
    rules.push({ ...rule, probability: Math.min(1, share / (1 - taken)) });
    taken += share;
  }
  return rules;
}

export interface FaultCounts {
  readonly serverErrors: number;
  readonly tooManyRequests: number;
  /** Connections dropped, the caller's whole budget counted as spent (see timeoutAccounting). */
  readonly timeouts: number;
}

/**
 * The faults the simulator injected: counted by kind, and noted per subscription so that an
 * unexpected expiry can be shown with what its last calls met.
 */
export class FaultLog {
  private readonly tally = { serverErrors: 0, tooManyRequests: 0, timeouts: 0 };
  private readonly notes = new Map<string, string[]>();

  /** The simulator's `onFault` hook. */
  readonly onFault = (rule: FaultRule, call: FaultedCall): void => {
    const kind = rule.kind ?? 'status';
    if (kind === 'reset' || kind === 'timeout') this.tally.timeouts++;
    else if (rule.status === 429) this.tally.tooManyRequests++;
    else this.tally.serverErrors++;
    if (call.subscriptionId === undefined) return;
    const what =
      kind === 'status'
        ? `${rule.status ?? ''}${rule.retryAfterSeconds === undefined ? '' : ` Retry-After ${rule.retryAfterSeconds}`}`
        : 'timeout';
    const notes = this.notes.get(call.subscriptionId) ?? [];
    notes.push(what);
    this.notes.set(call.subscriptionId, notes);
  };

  counts(): FaultCounts {
    return { ...this.tally };
  }

  /** The oldest fault not yet taken for this subscription. */
  take(subscriptionId: string): string | undefined {
    return this.notes.get(subscriptionId)?.shift();
  }
}

const hour = 3_600_000;
const historyLength = 8;
const reauthorizeSpacingMs = 10 * 60_000;

/** Keeps the run's books on one simulator (in whichever thread it runs). */
export class GraphObserver {
  private live = new Map<string, GraphSubscriptionFact>();
  private readonly taken = new Map<string, 'lost' | 'removed'>();
  private readonly resourcesSeen = new Set<string>();
  private readonly duplicatesSeen = new Set<string>();
  private readonly lastRenewal = new Map<string, number>();
  private readonly lastReauthorize = new Map<string, number>();
  private readonly history = new Map<string, string[]>();
  private counts = {
    calls: 0,
    creates: 0,
    recreations: 0,
    renewals: 0,
    reauthorizations: 0,
    lists: 0,
    deletes: 0,
    notFound: 0,
    forbidden: 0,
    conflicts: 0,
    tooManyRequestsSeen: 0,
    reauthorizeRenewPairs: 0,
  };

  constructor(
    private readonly sim: GraphSimulator,
    private readonly clock: SimulatedClock,
    private readonly faults: FaultLog,
  ) {}

  observe(): GraphObservation {
    this.tally(this.sim.calls());
    this.sim.resetCalls();
    const nowMs = this.clock.nowMs();
    const current = new Map<string, GraphSubscriptionFact>();
    const appeared: GraphSubscriptionFact[] = [];
    const byResource = new Map<string, GraphSubscriptionFact[]>();
    const reauthorizationUnanswered: GraphObservation['reauthorizationUnanswered'][number][] = [];
    for (const s of this.sim.subscriptions()) {
      const fact: GraphSubscriptionFact = {
        id: s.id,
        tenantId: s.tenantId,
        resource: s.resource,
        createdAtMs: s.createdAt.getTime(),
        expiresAtMs: s.expirationDateTime.getTime(),
      };
      current.set(s.id, fact);
      if (!this.live.has(s.id)) {
        appeared.push(fact);
        const resourceKey = identityOf(s.tenantId, s.resource, s.changeType);
        if (this.resourcesSeen.has(resourceKey)) this.counts.recreations++;
        this.resourcesSeen.add(resourceKey);
      }
      const identity = identityOf(s.tenantId, s.resource, s.changeType);
      const same = byResource.get(identity) ?? [];
      same.push(fact);
      byResource.set(identity, same);
      if (
        s.reauthorizationRequiredAt !== null &&
        nowMs - s.reauthorizationRequiredAt.getTime() > hour
      ) {
        reauthorizationUnanswered.push({
          id: s.id,
          tenantId: s.tenantId,
          resource: s.resource,
          sinceMs: s.reauthorizationRequiredAt.getTime(),
        });
      }
    }
    const disappeared: Disappearance[] = [];
    for (const [id, before] of this.live) {
      if (current.has(id)) continue;
      disappeared.push({
        ...before,
        ...this.departure(id, before, nowMs),
        lastCalls: this.history.get(id) ?? [],
      });
      this.history.delete(id);
    }
    const duplicates: GraphSubscriptionFact[] = [];
    for (const same of byResource.values()) {
      if (same.length < 2) continue;
      same.sort((a, b) => a.createdAtMs - b.createdAtMs);
      for (const extra of same.slice(1)) {
        if (this.duplicatesSeen.has(extra.id)) continue;
        this.duplicatesSeen.add(extra.id);
        duplicates.push(extra);
      }
    }
    this.live = current;
    return {
      nowMs,
      live: current.size,
      appeared,
      disappeared,
      duplicates,
      reauthorizationUnanswered,
    };
  }

  lose(id: string): boolean {
    if (!this.live.has(id)) return false;
    try {
      this.sim.loseSubscription(id);
    } catch {
      // Already gone on Graph (expired since the last observation): nothing to lose.
      return false;
    }
    this.taken.set(id, 'lost');
    return true;
  }

  setPermission(tenantId: string, granted: boolean): void {
    if (granted) this.sim.restorePermission(tenantId);
    else this.sim.revokePermission(tenantId);
  }

  async deliver(items: readonly LifecycleItem[]): Promise<DeliveryResult> {
    for (const item of items) {
      // NOTE: only a live one is removed by the event; one that expired meanwhile stays expired.
      if (item.event === 'subscriptionRemoved' && this.isLiveNow(item.subscriptionId)) {
        this.taken.set(item.subscriptionId, 'removed');
      }
    }
    try {
      const results = await this.sim.sendLifecycleEvents(
        items.map((i) => ({ subscriptionId: i.subscriptionId, event: i.event })),
      );
      const statuses = results.map((r) => r.status);
      return { accepted: statuses.every((s) => s >= 200 && s < 300), statuses };
    } catch (e) {
      return { accepted: false, statuses: [], error: e instanceof Error ? e.message : String(e) };
    }
  }

  private isLiveNow(id: string): boolean {
    const known = this.live.get(id);
    if (known === undefined || this.taken.has(id)) return false;
    return this.sim.subscriptions(known.tenantId).some((s) => s.id === id);
  }

  counters(): GraphCounters {
    this.tally(this.sim.calls());
    this.sim.resetCalls();
    const c = this.counts;
    return {
      calls: c.calls,
      creates: c.creates,
      recreations: c.recreations,
      renewals: c.renewals,
      reauthorizations: c.reauthorizations,
      lists: c.lists,
      deletes: c.deletes,
      notFound: c.notFound,
      forbidden: c.forbidden,
      conflicts: c.conflicts,
      throttled: Math.max(0, c.tooManyRequestsSeen - this.faults.counts().tooManyRequests),
      faults: this.faults.counts(),
      reauthorizeRenewPairs: c.reauthorizeRenewPairs,
    };
  }

  private departure(
    id: string,
    before: GraphSubscriptionFact,
    nowMs: number,
  ): { cause: DisappearanceCause; expiresAtMs: number } {
    const taken = this.taken.get(id);
    if (taken !== undefined) return { cause: taken, expiresAtMs: before.expiresAtMs };
    // NOTE: a renewal since the last observation would have moved the expiry past now (Graph's
    // 45-minute floor), so a subscription gone by itself still has the expiry seen last time.
    return {
      cause: before.expiresAtMs <= nowMs ? 'expired' : 'deleted',
      expiresAtMs: before.expiresAtMs,
    };
  }

  private tally(calls: readonly SimulatedCall[]): void {
    const c = this.counts;
    for (const call of calls) {
      if (call.kind === 'token' || call.kind === 'other') continue;
      c.calls++;
      if (call.subscriptionId !== undefined) {
        const calls = this.history.get(call.subscriptionId) ?? [];
        const note =
          call.status >= 400 || call.status === 0
            ? this.faults.take(call.subscriptionId)
            : undefined;
        calls.push(
          `${call.at.toISOString().slice(11, 23)} ${call.method} ${call.status}${note === undefined ? '' : ` (${note})`}`,
        );
        if (calls.length > historyLength) calls.shift();
        this.history.set(call.subscriptionId, calls);
      }
      if (call.status === 404) c.notFound++;
      else if (call.status === 403) c.forbidden++;
      else if (call.status === 409) c.conflicts++;
      else if (call.status === 429) c.tooManyRequestsSeen++;
      const ok = call.status >= 200 && call.status < 300;
      if (!ok) continue;
      const at = call.at.getTime();
      const id = call.subscriptionId;
      switch (call.kind) {
        case 'create':
          c.creates++;
          break;
        case 'update':
          c.renewals++;
          if (id !== undefined) {
            const reauthorized = this.lastReauthorize.get(id);
            if (reauthorized !== undefined && at - reauthorized < reauthorizeSpacingMs) {
              c.reauthorizeRenewPairs++;
            }
            this.lastRenewal.set(id, at);
          }
          break;
        case 'reauthorize':
          c.reauthorizations++;
          if (id !== undefined) {
            const renewed = this.lastRenewal.get(id);
            if (renewed !== undefined && at - renewed < reauthorizeSpacingMs) {
              c.reauthorizeRenewPairs++;
            }
            this.lastReauthorize.set(id, at);
          }
          break;
        case 'list':
          c.lists++;
          break;
        case 'delete':
          c.deletes++;
          break;
        default:
          break;
      }
    }
  }
}

function identityOf(tenantId: string, resource: string, changeType: string): string {
  const types = changeType
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .sort()
    .join(',');
  return `${tenantId.toLowerCase()}|${resource.trim().replace(/^\/+/, '').toLowerCase()}|${types}`;
}

/**
 * The simulator of a run, with its faults, on the run's clock, and the observer that keeps the
 * books on it. Started in the simulator's thread (graphThread.ts) or in this one (chaosGraph.ts).
 */
export async function startObservedSimulator(options: {
  readonly clock: SimulatedClock;
  readonly seed: number;
  readonly rates: FaultRates;
  readonly tls: SimulatorTls;
}): Promise<{ readonly sim: GraphSimulator; readonly observer: GraphObserver }> {
  const { clock } = options;
  const random = new SeededRandom(options.seed);
  const faults = new FaultLog();
  const sim = await startGraphSimulator({
    now: () => clock.now(),
    random: () => random.next(),
    onFault: faults.onFault,
    tls: options.tls,
  });
  for (const rule of faultRules(options.rates)) sim.injectFault(rule);
  return { sim, observer: new GraphObserver(sim, clock, faults) };
}

export function connectionOf(sim: GraphSimulator): GraphConnection {
  return {
    graphUrl: sim.graphUrl,
    authorityHost: sim.authorityHost,
    clientId: sim.clientId,
    clientSecret: sim.clientSecret,
    tls: sim.tls,
  };
}
