import type { QueueClient } from '@azure/storage-queue';
import { z } from 'zod';
import { resourceFamilyOf } from '../shared/graph/lifetimes';
import { decodeResyncMessage } from '../shared/resync/queueResyncPublisher';
import type { ResyncMessage } from '../shared/resync/resyncPublisher';
import type { SubscriptionStore } from '../shared/store/subscriptionStore';
import type { LifecycleEvent, StoredSubscription } from '../shared/subscriptions/model';
import type { SimulatedCall } from '../devkit/graphSimulator';

/**
 * The sandbox's timeline, derived from what really happened rather than from what the script
 * meant to happen: the Graph simulator's record of the calls it answered, the rows in the table,
 * the messages on the resync queue, the sweep summaries and the lifecycle function's answers.
 * `SandboxObserver.observe()` is called after each step; it reads all of them and turns what
 * changed since the last call into timeline entries.
 */

export type TimelineKind =
  /** A definition was stored (applyDefinition). */
  | 'managed'
  /** Graph's validation handshakes that the endpoints answered. */
  | 'handshake'
  /** The app got a token from the simulator's Entra-like endpoint. */
  | 'token'
  | 'created'
  | 'renewed'
  | 'reauthorized'
  /** A renew PATCH answered 404: Graph lost the subscription. */
  | 'renewalNotFound'
  | 'recreated'
  | 'deleted'
  /** A GET of one subscription or a list (the CLI's verify, in --keep mode). */
  | 'graphRead'
  /** The row records a resync request for the owner. */
  | 'resyncRequested'
  /** The resync message arrived on the Storage queue. */
  | 'resyncMessage'
  /** Graph (the simulator) POSTed a lifecycle event; the entry carries the function's answer. */
  | 'lifecycleEvent'
  /** The simulator dropped a subscription without telling anyone. */
  | 'lost'
  /** Something owed that waits (the 10-minute rule), or a removal left to the sweep. */
  | 'waiting'
  /** A sweep that found something due. */
  | 'sweep'
  /** A new encryption certificate version in Key Vault, or a rich subscription's certificate on Graph. */
  | 'certificate'
  /** The operator granted an application permission (the sandbox's scripted grant). */
  | 'granted'
  /** A warning or error the app logged, or a Graph call that failed. */
  | 'warning'
  | 'health';

export interface TimelineEntry {
  /** Simulated time, ISO 8601. */
  readonly at: string;
  /** Simulated minutes since the sandbox's start (T+). */
  readonly minute: number;
  readonly key: string | null;
  readonly resource: string | null;
  readonly graphId: string | null;
  readonly kind: TimelineKind;
  readonly text: string;
}

/** An entry before it is placed on the timeline. */
export interface EntryDraft {
  readonly at: Date;
  readonly key: string | null;
  readonly resource: string | null;
  readonly graphId: string | null;
  readonly kind: TimelineKind;
  readonly text: string;
}

export interface ObserverSources {
  readonly store: SubscriptionStore;
  /** Every call the Graph simulator answered so far (`sim.calls()`). */
  readonly calls: () => readonly SimulatedCall[];
  readonly queue: QueueClient;
  readonly start: Date;
  readonly now: () => Date;
}

const minuteMs = 60_000;

const resyncMessageSchema = z.object({
  type: z.literal('resyncRequested'),
  id: z.string(),
  tenantId: z.string(),
  key: z.string(),
  graphSubscriptionId: z.string().nullable(),
  resource: z.string(),
  reason: z.string(),
  requestedAt: z.string(),
});

/** Reads what happened since its last call and turns it into timeline entries. */
export class SandboxObserver {
  readonly timeline: TimelineEntry[] = [];
  /** Every Graph call seen, in order. */
  readonly calls: SimulatedCall[] = [];
  /** Every resync message seen on the queue, in order of arrival. */
  readonly messages: ResyncMessage[] = [];
  /** Every Graph id each key has had. */
  readonly idsByKey = new Map<string, Set<string>>();
  private rows = new Map<string, StoredSubscription>();
  private readonly lastIdByKey = new Map<string, string>();
  private readonly keyById = new Map<string, string>();
  private readonly messageIds = new Set<string>();
  private callsSeen = 0;

  constructor(private readonly sources: ObserverSources) {}

  /** The rows as last observed, by key. */
  get currentRows(): ReadonlyMap<string, StoredSubscription> {
    return this.rows;
  }

  /** Simulated time as `T+h:mm` from the start. */
  offset(at: Date): string {
    return formatOffset(at.getTime() - this.sources.start.getTime());
  }

  /**
   * Reads rows, Graph calls and queue messages; returns the new entries (with `extra`, the
   * step's own facts such as a sweep summary) in time order, and adds them to `timeline`.
   */
  async observe(extra: readonly EntryDraft[] = []): Promise<TimelineEntry[]> {
    const now = this.sources.now();
    const after = await readAllRows(this.sources.store);
    for (const [key, row] of after) {
      const id = row.graphSubscriptionId;
      if (id === undefined) continue;
      this.keyById.set(id, key);
      const ids = this.idsByKey.get(key) ?? new Set<string>();
      ids.add(id);
      this.idsByKey.set(key, ids);
    }
    const all = this.sources.calls();
    const fresh = all.slice(this.callsSeen);
    this.callsSeen = all.length;
    this.calls.push(...fresh);

    const drafts: EntryDraft[] = [...extra];
    for (const call of fresh) {
      const draft = this.fromCall(call, after);
      if (draft !== undefined) drafts.push(draft);
    }
    drafts.push(...this.fromRows(after, now));
    drafts.push(...(await this.fromQueue(now)));

    this.rows = after;
    for (const [key, row] of after) {
      if (row.graphSubscriptionId !== undefined) this.lastIdByKey.set(key, row.graphSubscriptionId);
    }
    // NOTE: a stable sort; drafts of one instant keep the order they were made in.
    const entries = drafts
      .map((d, i) => ({ d, i }))
      .sort((a, b) => a.d.at.getTime() - b.d.at.getTime() || a.i - b.i)
      .map(({ d }) => this.toEntry(d));
    this.timeline.push(...entries);
    return entries;
  }

  /** An entry placed on the timeline now, without reading anything (e.g. the final health). */
  add(draft: EntryDraft): TimelineEntry {
    const entry = this.toEntry(draft);
    this.timeline.push(entry);
    return entry;
  }

  keyOf(graphId: string): string | undefined {
    return this.keyById.get(graphId);
  }

  private toEntry(d: EntryDraft): TimelineEntry {
    return {
      at: d.at.toISOString(),
      minute: Math.floor((d.at.getTime() - this.sources.start.getTime()) / minuteMs),
      key: d.key,
      resource: d.resource,
      graphId: d.graphId,
      kind: d.kind,
      text: d.text,
    };
  }

  private fromCall(
    call: SimulatedCall,
    after: ReadonlyMap<string, StoredSubscription>,
  ): EntryDraft | undefined {
    const base = { at: call.at, key: null, resource: null, graphId: null };
    if (call.kind === 'token') {
      return call.status === 200
        ? {
            ...base,
            kind: 'token',
            text: "app token issued by the simulator's Entra endpoint (client credentials through @azure/identity)",
          }
        : { ...base, kind: 'warning', text: `token endpoint answered ${call.status}` };
    }
    if (call.kind === 'other') {
      // The OpenID configuration MSAL reads before its first token request.
      return call.status < 400
        ? undefined
        : { ...base, kind: 'warning', text: `${call.method} ${call.path} answered ${call.status}` };
    }
    const id = call.subscriptionId;
    const key = id === undefined ? undefined : this.keyById.get(id);
    const row = key === undefined ? undefined : (after.get(key) ?? this.rows.get(key));
    const before = key === undefined ? undefined : this.rows.get(key);
    const on = {
      at: call.at,
      key: key ?? null,
      resource: row?.definition.resource ?? null,
      graphId: id ?? null,
    };
    const expiry = (): string => {
      const expiresAt = row?.graphSubscriptionId === id ? row?.expiresAt : undefined;
      if (expiresAt === undefined) return '';
      const ahead = expiresAt.getTime() - call.at.getTime();
      // NOTE: a T+ time helps only for what expires within the run; days are clearer as days.
      return ahead < 48 * 60 * minuteMs
        ? `, expires at ${this.offset(expiresAt)} (in ${formatDuration(ahead)})`
        : `, expires in ${formatDuration(ahead)}`;
    };
    const shortId = id === undefined ? '' : short(id);

    if (call.kind === 'create' && call.status === 201) {
      const generation = row?.graphSubscriptionId === id ? (row?.generation ?? 1) : 1;
      if (generation > 1 && key !== undefined) {
        const old = this.lastIdByKey.get(key);
        return {
          ...on,
          kind: 'recreated',
          text: `recreated on Graph as ${shortId}${old === undefined ? '' : ` (replaces ${short(old)})`}, generation ${generation}${expiry()}`,
        };
      }
      return { ...on, kind: 'created', text: `created on Graph as ${shortId}${expiry()}` };
    }
    if (call.kind === 'update' && call.status === 200) {
      const alsoReauthorizes =
        before?.status === 'reauthorizationRequired' ? '; the PATCH also reauthorizes' : '';
      return { ...on, kind: 'renewed', text: `renewed (PATCH)${expiry()}${alsoReauthorizes}` };
    }
    if (call.kind === 'update' && call.status === 404) {
      return {
        ...on,
        kind: 'renewalNotFound',
        text: `renewal (PATCH) answered 404: Graph no longer has ${shortId}`,
      };
    }
    if (call.kind === 'reauthorize' && call.status === 204) {
      return {
        ...on,
        kind: 'reauthorized',
        text: 'reauthorized (POST .../reauthorize); the expiry stays',
      };
    }
    if (call.kind === 'delete' && (call.status === 204 || call.status === 404)) {
      return { ...on, kind: 'deleted', text: `deleted on Graph (${call.status})` };
    }
    if ((call.kind === 'get' || call.kind === 'list') && call.status === 200) {
      return {
        ...on,
        kind: 'graphRead',
        text: call.kind === 'get' ? `read from Graph (GET ${shortId})` : 'listed on Graph',
      };
    }
    return {
      ...on,
      kind: 'warning',
      text: `Graph answered ${call.status === 0 ? 'nothing' : call.status} to ${call.method} ${call.kind}${shortId === '' ? '' : ` of ${shortId}`}`,
    };
  }

  private fromRows(after: ReadonlyMap<string, StoredSubscription>, now: Date): EntryDraft[] {
    const drafts: EntryDraft[] = [];
    for (const [key, row] of after) {
      const before = this.rows.get(key);
      const on = {
        key,
        resource: row.definition.resource,
        graphId: row.graphSubscriptionId ?? null,
      };
      if (before === undefined) {
        const d = row.definition;
        drafts.push({
          ...on,
          at: row.createdAt,
          kind: 'managed',
          text: `put under management (changeType ${d.changeType}${d.lifetimeMinutes === undefined ? '' : `, lifetime ${d.lifetimeMinutes} min`})`,
        });
      }
      const requested = row.resyncRequestedAt;
      if (requested !== undefined && before?.resyncRequestedAt?.getTime() !== requested.getTime()) {
        drafts.push({
          ...on,
          at: requested,
          kind: 'resyncRequested',
          text: `resync requested on the record (reason: ${row.resyncReason ?? 'unknown'})`,
        });
      }
      const changed =
        before?.status !== row.status ||
        before.nextActionAt.getTime() !== row.nextActionAt.getTime();
      if (changed && row.status === 'reauthorizationRequired' && row.nextActionAt > now) {
        drafts.push({
          ...on,
          at: now,
          kind: 'waiting',
          text: `reauthorization owed; waits until ${this.offset(row.nextActionAt)}: no reauthorize within 10 minutes of a renewal`,
        });
      }
      if (changed && (row.status === 'removed' || row.status === 'pending')) {
        drafts.push({
          ...on,
          at: now,
          kind: 'waiting',
          text: `${row.status}: not on Graph yet; the next sweep creates it`,
        });
      }
      if (changed && (row.status === 'failing' || row.status === 'failed')) {
        const e = row.lastError;
        drafts.push({
          ...on,
          at: now,
          kind: 'warning',
          text: `status ${row.status}${e === undefined ? '' : `: ${e.code} ${e.message}`}`,
        });
      }
    }
    for (const [key, row] of this.rows) {
      if (!after.has(key)) {
        drafts.push({
          key,
          resource: row.definition.resource,
          graphId: row.graphSubscriptionId ?? null,
          at: now,
          kind: 'deleted',
          text: 'no longer managed (its row is gone)',
        });
      }
    }
    return drafts;
  }

  private async fromQueue(now: Date): Promise<EntryDraft[]> {
    // NOTE: peeking leaves the messages for whoever reads the queue next (--keep); it sees the
    // first 32 only, far more than the sandbox's scenario sends.
    const peeked = await this.sources.queue.peekMessages({ numberOfMessages: 32 });
    const drafts: EntryDraft[] = [];
    for (const item of peeked.peekedMessageItems) {
      if (this.messageIds.has(item.messageId)) continue;
      this.messageIds.add(item.messageId);
      const parsed = resyncMessageSchema.safeParse(decodeMessage(item.messageText));
      if (!parsed.success) {
        drafts.push({
          at: now,
          key: null,
          resource: null,
          graphId: null,
          kind: 'warning',
          text: `a message on ${this.sources.queue.name} is not a resync message`,
        });
        continue;
      }
      const message = parsed.data;
      this.messages.push(message);
      drafts.push({
        at: now,
        key: message.key,
        resource: message.resource,
        graphId: message.graphSubscriptionId,
        kind: 'resyncMessage',
        text: `resync message on queue ${this.sources.queue.name}: reason ${message.reason}, Graph id ${message.graphSubscriptionId === null ? 'none' : short(message.graphSubscriptionId)}`,
      });
    }
    return drafts;
  }
}

function decodeMessage(text: string): unknown {
  try {
    return decodeResyncMessage(text);
  } catch (e) {
    if (e instanceof SyntaxError) return undefined;
    throw e;
  }
}

async function readAllRows(store: SubscriptionStore): Promise<Map<string, StoredSubscription>> {
  const rows = new Map<string, StoredSubscription>();
  let continuationToken: string | undefined;
  do {
    const page = await store.list({ pageSize: 1000, continuationToken });
    for (const row of page.items) rows.set(row.definition.key, row);
    continuationToken = page.continuationToken;
  } while (continuationToken !== undefined);
  return rows;
}

// ---- checking that each scripted event was handled ----

/** Something the script made Graph do to a subscription. */
export interface ScriptedEvent {
  readonly kind: LifecycleEvent | 'lost';
  readonly key: string;
  /** The Graph id it was about. */
  readonly graphId: string | undefined;
  readonly at: Date;
  /** The lifecycle function's answer (lifecycle events only). */
  readonly answerStatus?: number;
}

export interface HandledEvent {
  readonly kind: LifecycleEvent | 'lost';
  readonly key: string;
  readonly graphId: string | null;
  /** Simulated time, ISO 8601. */
  readonly at: string;
  readonly handled: boolean;
  /** How it was handled (with simulated times), or what is missing. */
  readonly how: string;
}

/** The queue function acts right after Graph's POST is answered: within seconds of the event. */
const queueWindowMs = 10_000;

/**
 * Whether the app handled `event`, judged from the facts only: the Graph calls the simulator
 * answered, the resync messages on the queue and the final rows.
 */
export function checkHandled(event: ScriptedEvent, observer: SandboxObserver): HandledEvent {
  const result = (handled: boolean, how: string): HandledEvent => ({
    kind: event.kind,
    key: event.key,
    graphId: event.graphId ?? null,
    at: event.at.toISOString(),
    handled,
    how,
  });
  const graphId = event.graphId;
  if (graphId === undefined)
    return result(false, 'the subscription was not on Graph to begin with');
  if (event.kind !== 'lost' && event.answerStatus !== 202) {
    return result(
      false,
      `the lifecycle function answered ${event.answerStatus ?? 'nothing'}, not 202`,
    );
  }
  const t = event.at.getTime();
  const row = observer.currentRows.get(event.key);
  const when = (at: Date) =>
    `${at.getTime() - t <= queueWindowMs && event.kind !== 'lost' ? 'by the queue function, ' : 'by the sweep, '}at ${observer.offset(at)}`;
  const message = (reason: string, from: number) =>
    observer.messages.find(
      (m) => m.key === event.key && m.reason === reason && Date.parse(m.requestedAt) >= from,
    );
  const recreation = (from: number) =>
    observer.calls.find(
      (c) =>
        c.kind === 'create' &&
        c.status === 201 &&
        c.at.getTime() >= from &&
        c.subscriptionId !== undefined &&
        c.subscriptionId !== graphId &&
        (observer.idsByKey.get(event.key)?.has(c.subscriptionId) ?? false),
    );
  const alive =
    row !== undefined &&
    row.status === 'active' &&
    row.graphSubscriptionId !== undefined &&
    row.pendingEvent === undefined;
  const stateNote = row === undefined ? 'its row is gone' : `it is ${row.status}`;

  switch (event.kind) {
    case 'reauthorizationRequired': {
      const answer = observer.calls.find(
        (c) =>
          c.subscriptionId === graphId &&
          c.at.getTime() >= t &&
          ((c.kind === 'reauthorize' && c.status === 204) ||
            (c.kind === 'update' && c.status === 200)),
      );
      if (answer === undefined) return result(false, 'no reauthorize or renew call followed');
      if (!alive) return result(false, `reauthorized, but ${stateNote}`);
      const how =
        answer.kind === 'reauthorize' ? 'reauthorized' : 'renewed (the PATCH reauthorizes)';
      return result(true, `${how} ${when(answer.at)}`);
    }
    case 'subscriptionRemoved': {
      const created = recreation(t);
      if (created === undefined) return result(false, 'not recreated on Graph');
      const sent = message('subscriptionRemoved', t);
      if (sent === undefined) return result(false, 'no resync message (subscriptionRemoved)');
      if (!alive) return result(false, `recreated, but ${stateNote}`);
      return result(
        true,
        `recreated as ${short(created.subscriptionId ?? '')} ${when(created.at)}; resync message sent (subscriptionRemoved)`,
      );
    }
    case 'missed': {
      const sent = message('missed', t);
      if (sent === undefined) return result(false, 'no resync message (missed)');
      if (!alive) return result(false, `resync requested, but ${stateNote}`);
      return result(true, `resync message sent (missed) ${when(new Date(sent.requestedAt))}`);
    }
    case 'lost': {
      const notFound = observer.calls.find(
        (c) =>
          c.subscriptionId === graphId &&
          c.at.getTime() >= t &&
          c.status === 404 &&
          (c.kind === 'update' || c.kind === 'reauthorize'),
      );
      if (notFound === undefined) return result(false, 'the loss was never noticed (no 404)');
      const created = recreation(notFound.at.getTime());
      if (created === undefined) return result(false, 'noticed (404), but not recreated');
      const sent = message('notFound', notFound.at.getTime());
      if (sent === undefined) return result(false, 'recreated, but no resync message (notFound)');
      if (!alive) return result(false, `recreated, but ${stateNote}`);
      return result(
        true,
        `noticed at ${observer.offset(notFound.at)} (404 on renewal), recreated as ${short(created.subscriptionId ?? '')}; resync message sent (notFound)`,
      );
    }
  }
}

// ---- formatting ----

export function short(graphId: string): string {
  return graphId.slice(0, 8);
}

/** `T+2:05` */
export function formatOffset(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  const sign = minutes < 0 ? '-' : '+';
  const m = Math.abs(minutes);
  return `T${sign}${Math.floor(m / 60)}:${String(m % 60).padStart(2, '0')}`;
}

/** `55 min`, `2 h 05 min`, `6 days 23 h`. */
export function formatDuration(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 120) return `${minutes} min`;
  if (minutes < 48 * 60) {
    return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
  }
  const days = Math.floor(minutes / 1440);
  return `${days} days ${Math.floor((minutes % 1440) / 60)} h`;
}

/** The resource's family as the app's lifetime table names it (`presence`, `driveItem`). */
export function familyOf(resource: string | null): string {
  return resource === null ? '' : resourceFamilyOf(resource).family;
}

/** One readable line: `T+0:40  presence-ada       presence      renewed (PATCH), ...`. */
export function formatEntry(entry: TimelineEntry, start: Date, keyWidth: number): string {
  const offset = formatOffset(Date.parse(entry.at) - start.getTime()).padEnd(8);
  const key = (entry.key ?? '-').padEnd(keyWidth);
  const family = familyOf(entry.resource).padEnd(12);
  return `${offset}${key}  ${family}  ${entry.text}`;
}
