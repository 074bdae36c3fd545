import { parentPort, workerData } from 'node:worker_threads';
import type { SimulatorTls } from '../../devkit/graphSimulator';
import {
  connectionOf,
  startObservedSimulator,
  type FaultRates,
  type GraphConnection,
  type LifecycleItem,
} from './graphSide';
import { SimulatedClock } from './simulatedClock';

/**
 * The Graph simulator in a thread of its own (a worker), so that Graph's side of each HTTPS call
 * runs on the second core while the app's side runs on the first. The simulated clock is shared
 * memory; everything else goes through messages (`ThreadGraph` in chaosGraph.ts is the caller).
 */

export interface GraphThreadData {
  readonly clockBuffer: SharedArrayBuffer;
  readonly seed: number;
  readonly rates: FaultRates;
  readonly tls: SimulatorTls;
}

/** What the main thread asks of the simulator thread (`id` pairs a request with its reply). */
export type GraphRequestBody =
  | { readonly method: 'observe' | 'counters' | 'stop' }
  | { readonly method: 'lose'; readonly subscriptionId: string }
  | { readonly method: 'setPermission'; readonly tenantId: string; readonly granted: boolean }
  | { readonly method: 'deliver'; readonly items: readonly LifecycleItem[] };

export type GraphRequest = GraphRequestBody & { readonly id: number };

export type GraphReply =
  | { readonly ready: GraphConnection }
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string };

async function serve(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('graphThread runs as a worker thread only');
  const data = workerData as GraphThreadData;
  const { sim, observer } = await startObservedSimulator({
    clock: new SimulatedClock(data.clockBuffer),
    seed: data.seed,
    rates: data.rates,
    tls: data.tls,
  });

  const answer = async (request: GraphRequest): Promise<unknown> => {
    switch (request.method) {
      case 'observe':
        return observer.observe();
      case 'counters':
        return observer.counters();
      case 'lose':
        return observer.lose(request.subscriptionId);
      case 'setPermission':
        observer.setPermission(request.tenantId, request.granted);
        return undefined;
      case 'deliver':
        return observer.deliver(request.items);
      case 'stop':
        await sim.stop();
        return undefined;
    }
  };
  port.on('message', (request: GraphRequest) => {
    answer(request).then(
      (value) => {
        port.postMessage({ id: request.id, ok: true, value } satisfies GraphReply);
        if (request.method === 'stop') port.close();
      },
      (e: unknown) => {
        const error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
        port.postMessage({ id: request.id, ok: false, error } satisfies GraphReply);
      },
    );
  });
  port.postMessage({ ready: connectionOf(sim) } satisfies GraphReply);
}

// NOTE: a failure to start rejects unhandled, which ends the thread with that error; the caller
// sees it as the worker's 'error' event and stops the run.
if (parentPort !== null) void serve();
