import { AsyncLocalStorage } from 'node:async_hooks';
import { setMaxListeners } from 'node:events';
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { lifecycleHandler } from '../../functions/lifecycleNotifications';
import { coreDependencies, type AppDependencies } from '../../shared/composition';
import type { Config } from '../../shared/config';
import type {
  CreateSubscriptionRequest,
  GraphCallOptions,
  GraphSubscription,
  GraphSubscriptions,
  UpdateSubscriptionRequest,
} from '../../shared/graph/graphSubscriptions';
import type { LifecycleIntakeQueue } from '../../shared/lifecycle/intakeQueue';
import type { Logger, LogProperties } from '../../shared/logger';
import { InMemoryDriftRecords, InMemorySweepRecords } from '../../devkit/inMemoryRecords';
import type { ResyncMessage, ResyncPublisher } from '../../shared/resync/resyncPublisher';
import type { StoreFaults } from '../../devkit/storeFaults';
import type { SubscriptionStore } from '../../shared/store/subscriptionStore';
import type { CallClock, SimulatedClock } from './simulatedClock';

/**
 * One worker of the app in a chaos run: its own dependencies (instance id, write pacer, Graph
 * client with its own token cache), on the shared store, Graph and resync queue. A crash makes it
 * inert at once: its next store write, Graph call or queue send fails, its sweep is aborted, and
 * the run replaces it with a fresh worker ("restart") on the next tick.
 *
 * Which worker is writing is tracked with AsyncLocalStorage, so the store's own `beforeWrite`
 * fault hook (shared by both stores) is where a crash happens: between two store writes.
 */

export class InstanceCrashedError extends Error {
  constructor(readonly instanceId: string) {
    super(`Instance ${instanceId} crashed`);
    this.name = 'InstanceCrashedError';
  }
}

export type FunctionsHttpHandler = (
  request: HttpRequest,
  context: InvocationContext,
) => Promise<HttpResponseInit>;

export interface LogLine {
  readonly instanceId: string;
  /** Logged by a worker that had crashed already (its dying work, not a finding). */
  readonly afterCrash: boolean;
  readonly level: 'warn' | 'error';
  readonly message: string;
  readonly properties: LogProperties | undefined;
}

export class AppInstance {
  dead = false;
  /** Store writes left before this instance crashes (armed by the run); undefined: not armed. */
  crashAfterWrites: number | undefined;
  /** Crash right after Graph answers the next create, before the row records it. */
  crashAfterCreate = false;
  /** Which write it crashed before, e.g. "write 3 (transaction t1-mail-00012)". */
  crashPoint: string | undefined;
  readonly controller = new AbortController();
  /** Dependencies of the sweep: the simulated clock, sleeps are instant. */
  readonly deps: AppDependencies;
  /** The lifecycle function on this worker. */
  readonly lifecycle: FunctionsHttpHandler;
  private writes = 0;
  private readonly onCrash: (instance: AppInstance) => void;

  constructor(
    readonly instanceId: string,
    parts: {
      readonly config: Config;
      readonly clock: SimulatedClock;
      readonly store: SubscriptionStore;
      readonly graph: GraphSubscriptions;
      /** The clock `graph` was built with. */
      readonly graphClock: CallClock;
      readonly queue: ResyncPublisher;
      /** The lifecycle intake queue all workers share. */
      readonly intake?: LifecycleIntakeQueue;
      readonly onLog: (line: LogLine) => void;
      readonly onCrash: (instance: AppInstance) => void;
      readonly planningSweepPeriodMs?: number | undefined;
    },
  ) {
    this.onCrash = parts.onCrash;
    // NOTE: every Graph call of the sweep listens on this signal, many at a time.
    setMaxListeners(0, this.controller.signal);
    const log = instanceLogger(this, parts.onLog);
    const base = coreDependencies({
      config: parts.config,
      clock: parts.clock,
      store: parts.store,
      graph: new InstanceGraph(parts.graph, this, parts.graphClock),
      resync: new InstanceQueue(parts.queue, this),
      sweepRecords: new InMemorySweepRecords(),
      driftRecords: new InMemoryDriftRecords(),
      ...(parts.intake === undefined ? {} : { intake: parts.intake }),
      instanceId,
    });
    // NOTE: a what-if for a proposed core change, never the app's own setting (see ChaosOptions).
    const policy =
      parts.planningSweepPeriodMs === undefined
        ? base.policy
        : { ...base.policy, sweepPeriodMs: parts.planningSweepPeriodMs };
    this.deps = { ...base, policy, log };
    // NOTE: the lifecycle endpoint's inline budget races real HTTPS calls, so its sleeps are
    // real; its pacer and Graph client are the worker's own, as in the app.
    this.lifecycle = lifecycleHandler({ ...base, clock: parts.clock.withRealSleep(), log });
  }

  /** Called by the store before each write this instance makes. */
  beforeWrite(step: string, target: { readonly key: string }): void {
    if (this.dead) throw new InstanceCrashedError(this.instanceId);
    this.writes++;
    if (this.crashAfterWrites === undefined) return;
    this.crashAfterWrites--;
    if (this.crashAfterWrites > 0) return;
    this.crashPoint = `before write ${this.writes} (${step} ${target.key})`;
    this.crash();
    throw new InstanceCrashedError(this.instanceId);
  }

  crash(): void {
    if (this.dead) return;
    this.dead = true;
    this.controller.abort(new InstanceCrashedError(this.instanceId));
    this.onCrash(this);
  }

  alive(): void {
    if (this.dead) throw new InstanceCrashedError(this.instanceId);
  }
}

/** Tracks which instance the current async work belongs to. */
export class InstanceContext {
  private readonly storage = new AsyncLocalStorage<AppInstance>();

  run<T>(instance: AppInstance, work: () => Promise<T>): Promise<T> {
    return this.storage.run(instance, work);
  }

  /** The store's fault hook: the current instance may crash before this write. */
  storeFaults(): StoreFaults {
    return {
      beforeWrite: (step, target) => {
        this.storage.getStore()?.beforeWrite(step, target);
      },
    };
  }
}

/**
 * The worker's Graph client as the core sees it: a dead worker makes no more calls (those already
 * sent may still reach Graph), and each call runs on a time of its own (`CallClock`).
 */
class InstanceGraph implements GraphSubscriptions {
  constructor(
    private readonly inner: GraphSubscriptions,
    private readonly instance: AppInstance,
    private readonly clock: CallClock,
  ) {}

  create(
    tenantId: string,
    request: CreateSubscriptionRequest,
    options?: GraphCallOptions,
  ): Promise<GraphSubscription> {
    return this.call(async () => {
      const created = await this.inner.create(tenantId, request, options);
      if (this.instance.crashAfterCreate) {
        // NOTE: Graph has it; the worker dies before the row can say so (an orphan, unless the
        // next attempt adopts it or the drift check deletes it).
        this.instance.crashAfterCreate = false;
        this.instance.crashPoint = `after Graph created ${created.id}`;
        this.instance.crash();
        throw new InstanceCrashedError(this.instance.instanceId);
      }
      return created;
    });
  }

  get(tenantId: string, id: string, options?: GraphCallOptions): Promise<GraphSubscription> {
    return this.call(() => this.inner.get(tenantId, id, options));
  }

  update(
    tenantId: string,
    id: string,
    changes: UpdateSubscriptionRequest,
    options?: GraphCallOptions,
  ): Promise<GraphSubscription> {
    return this.call(() => this.inner.update(tenantId, id, changes, options));
  }

  reauthorize(tenantId: string, id: string, options?: GraphCallOptions): Promise<void> {
    return this.call(() => this.inner.reauthorize(tenantId, id, options));
  }

  delete(tenantId: string, id: string, options?: GraphCallOptions): Promise<void> {
    return this.call(() => this.inner.delete(tenantId, id, options));
  }

  async *list(tenantId: string, options?: GraphCallOptions): AsyncIterable<GraphSubscription> {
    this.instance.alive();
    const within = this.clock.scope();
    const pages = this.inner.list(tenantId, options)[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = await within(() => pages.next());
        if (next.done === true) return;
        yield next.value;
      }
    } finally {
      await pages.return?.();
    }
  }

  private async call<T>(work: () => Promise<T>): Promise<T> {
    this.instance.alive();
    return this.clock.within(work);
  }
}

/** A dead worker sends nothing to the owner's queue. */
class InstanceQueue implements ResyncPublisher {
  constructor(
    private readonly inner: ResyncPublisher,
    private readonly instance: AppInstance,
  ) {}

  async publish(message: ResyncMessage): Promise<void> {
    this.instance.alive();
    return this.inner.publish(message);
  }
}

function instanceLogger(instance: AppInstance, onLog: (line: LogLine) => void): Logger {
  const line = (level: LogLine['level'], message: string, properties?: LogProperties) => {
    onLog({
      instanceId: instance.instanceId,
      afterCrash: instance.dead,
      level,
      message,
      properties,
    });
  };
  return {
    info: () => undefined,
    warn: (message, properties) => {
      line('warn', message, properties);
    },
    error: (message, properties) => {
      line('error', message, properties);
    },
  };
}
