import { Worker } from 'node:worker_threads';
import type { SimulatorTls } from '../../devkit/graphSimulator';
import {
  connectionOf,
  startObservedSimulator,
  type ChaosGraph,
  type DeliveryResult,
  type FaultRates,
  type GraphConnection,
  type GraphCounters,
  type GraphObservation,
  type LifecycleItem,
} from './graphSide';
import type { GraphReply, GraphRequest, GraphRequestBody, GraphThreadData } from './graphThread';
import { chaosModule } from './moduleLoader';
import type { SimulatedClock } from './simulatedClock';

export interface ChaosGraphOptions {
  readonly clock: SimulatedClock;
  /** Seed of the fault draws. */
  readonly seed: number;
  readonly rates: FaultRates;
  /** The simulator's certificate (its CA is what the app must trust). */
  readonly tls: SimulatorTls;
  /** Run the simulator in a worker thread (default) or in this thread. */
  readonly thread?: boolean;
}

/** Starts the Graph simulator for a chaos run, in its own thread unless told otherwise. */
export async function startChaosGraph(options: ChaosGraphOptions): Promise<ChaosGraph> {
  return options.thread === false ? startInProcess(options) : ThreadGraph.start(options);
}

async function startInProcess(options: ChaosGraphOptions): Promise<ChaosGraph> {
  const { sim, observer } = await startObservedSimulator(options);
  return {
    connection: connectionOf(sim),
    observe: () => Promise.resolve(observer.observe()),
    lose: (id) => Promise.resolve(observer.lose(id)),
    setPermission: (tenantId, granted) => {
      observer.setPermission(tenantId, granted);
      return Promise.resolve();
    },
    deliver: (items) => observer.deliver(items),
    counters: () => Promise.resolve(observer.counters()),
    stop: () => sim.stop(),
  };
}

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };

/**
 * The main thread's side of `graphThread.ts`. Under ts-jest the thread cannot load TypeScript by
 * itself, so it is started through a small loader that transpiles on require (as the lifecycle
 * handler's child process does in devkit/lifecycleServer.ts).
 */
class ThreadGraph implements ChaosGraph {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private failure: Error | undefined;

  private constructor(
    private readonly worker: Worker,
    readonly connection: GraphConnection,
  ) {}

  static async start(options: ChaosGraphOptions): Promise<ThreadGraph> {
    const data: GraphThreadData = {
      clockBuffer: options.clock.buffer,
      seed: options.seed,
      rates: options.rates,
      tls: options.tls,
    };
    const worker = spawnGraphThread(data);
    const connection = await new Promise<GraphConnection>((resolve, reject) => {
      const onMessage = (message: GraphReply) => {
        if ('ready' in message) {
          worker.off('error', reject);
          resolve(message.ready);
        }
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
      worker.once('exit', (code) => {
        reject(new Error(`The Graph simulator thread exited (${code}) before it was ready`));
      });
    });
    const graph = new ThreadGraph(worker, connection);
    worker.on('message', (message: GraphReply) => {
      graph.settle(message);
    });
    const fail = (error: Error) => {
      graph.failure = error;
      for (const p of graph.pending.values()) p.reject(error);
      graph.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      fail(new Error(`The Graph simulator thread exited (${code})`));
    });
    return graph;
  }

  observe(): Promise<GraphObservation> {
    return this.call({ method: 'observe' }) as Promise<GraphObservation>;
  }

  lose(subscriptionId: string): Promise<boolean> {
    return this.call({ method: 'lose', subscriptionId }) as Promise<boolean>;
  }

  async setPermission(tenantId: string, granted: boolean): Promise<void> {
    await this.call({ method: 'setPermission', tenantId, granted });
  }

  deliver(items: readonly LifecycleItem[]): Promise<DeliveryResult> {
    return this.call({ method: 'deliver', items }) as Promise<DeliveryResult>;
  }

  counters(): Promise<GraphCounters> {
    return this.call({ method: 'counters' }) as Promise<GraphCounters>;
  }

  async stop(): Promise<void> {
    try {
      await this.call({ method: 'stop' });
    } finally {
      await this.worker.terminate();
    }
  }

  private call(body: GraphRequestBody): Promise<unknown> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const request: GraphRequest = { ...body, id };
      this.worker.postMessage(request);
    });
  }

  private settle(message: GraphReply): void {
    if ('ready' in message) return;
    const pending = this.pending.get(message.id);
    if (pending === undefined) return;
    this.pending.delete(message.id);
    if (message.ok) pending.resolve(message.value);
    else pending.reject(new Error(`Graph simulator thread: ${message.error}`));
  }
}

function spawnGraphThread(data: GraphThreadData): Worker {
  const entry = chaosModule('graphThread');
  return entry.script === undefined
    ? new Worker(entry.file, { workerData: data })
    : new Worker(entry.script, { eval: true, workerData: data });
}
