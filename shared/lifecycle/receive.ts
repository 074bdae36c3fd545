import { appDependencies, type AppDependencies } from '../composition';
import type { Logger } from '../logger';
import {
  actWithinBudget,
  lifecycleResult,
  recordLifecycleNotifications,
  settleAfterAbortMs,
  type RecordedEvents,
} from './handleLifecycleNotifications';
import { parseLifecycleBody } from './lifecyclePayload';
import { readBodyCapped } from './readBody';

/**
 * The lifecycle endpoint after the handshake: checks the request, records and acts on each event,
 * and always answers within Graph's 3 seconds (docs/graph-rules.md#delivery-deadlines): 202 once every event is on
 * record, whatever Graph did inline; 4xx for a request that is not a lifecycle notification
 * (nothing changes); 503 only when an event could not be recorded, so Graph retries.
 */

export interface LifecycleRequest {
  readonly contentType: string | null;
  readonly contentLength: string | null;
  readonly body: ReadableStream<Uint8Array> | null;
}

export interface LifecycleResponse {
  readonly status: number;
  readonly body: Readonly<Record<string, unknown>>;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Time kept back from Graph's 3 s beyond the inline budget: for aborted actions to settle
 * (`settleAfterAbortMs`) and for writing the answer.
 */
const answerReserveMs = 300 + settleAfterAbortMs;

export async function receiveLifecycleNotifications(
  request: LifecycleRequest,
  log: Logger,
  deps?: AppDependencies,
): Promise<LifecycleResponse> {
  if (!isJson(request.contentType)) {
    return { status: 415, body: { error: 'Content-Type must be application/json.' } };
  }
  let app: AppDependencies;
  try {
    app = deps ?? (await appDependencies());
  } catch (e) {
    log.error('lifecycle endpoint could not start its dependencies', {
      error: e instanceof Error ? e.name : 'unknown',
    });
    return unavailable('The service cannot record events now; retry.');
  }
  // NOTE: Graph's 3 seconds run from the request, so reading the body and recording count too.
  const startedAt = app.clock.now().getTime();
  const elapsed = () => app.clock.now().getTime() - startedAt;
  const body = await readBodyCapped(
    request.body,
    request.contentLength,
    app.config.lifecycle.maxBodyBytes,
  );
  if (!body.ok) {
    return body.reason === 'tooLarge'
      ? {
          status: 413,
          body: { error: `Body is larger than ${app.config.lifecycle.maxBodyBytes} bytes.` },
        }
      : { status: 400, body: { error: 'Body is not valid UTF-8.' } };
  }
  let json: unknown;
  try {
    json = JSON.parse(body.text);
  } catch {
    return { status: 400, body: { error: 'Body is not valid JSON.' } };
  }
  const parsed = parseLifecycleBody(json);
  if (!parsed.ok) return { status: 400, body: { error: parsed.message } };
  // NOTE: an unusable item is logged and left out; the rest is answered (issue #20).
  for (const s of parsed.skipped) log.warn('lifecycle item skipped', { ...s });

  const core = { ...app, log };
  // Recording decides the answer: it must be done before the deadline, or Graph delivers again.
  const deadlineMs = app.inlineBudgetMs + answerReserveMs;
  const recording = recordLifecycleNotifications(core, parsed.notifications);
  const controller = new AbortController();
  const late = app.clock.sleep(Math.max(0, deadlineMs - elapsed()), controller.signal).then(
    () => 'late' as const,
    () => 'aborted' as const,
  );
  const recorded: RecordedEvents | 'late' | 'aborted' = await Promise.race([recording, late]);
  controller.abort();
  if (recorded === 'late' || recorded === 'aborted') {
    // NOTE: recording itself is stuck (storage slow): say so, and Graph delivers again.
    log.error('lifecycle events not recorded within the deadline', { ms: deadlineMs });
    recording.catch(() => undefined);
    return unavailable('Events could not be recorded in time; retry.');
  }
  // What is on record is acted on with what is left of the budget; the sweep does the rest.
  const actions = await actWithinBudget(
    core,
    recorded.subscriptions,
    app.inlineBudgetMs - elapsed(),
  );
  const result = lifecycleResult(recorded, actions);
  if (result.notRecorded > 0) {
    return unavailable(`${result.notRecorded} event(s) could not be recorded; retry.`);
  }
  return {
    status: 202,
    body: {
      received: result.received,
      recorded: result.recorded,
      ignored: result.ignored,
      completed: result.completed,
      deferred: result.deferred,
    },
  };
}

function unavailable(message: string): LifecycleResponse {
  return { status: 503, body: { error: message }, headers: { 'Retry-After': '5' } };
}

function isJson(contentType: string | null): boolean {
  if (contentType === null) return false;
  const mediaType = contentType.split(';')[0]?.trim().toLowerCase();
  return mediaType === 'application/json' || (mediaType?.endsWith('+json') ?? false);
}
