import { appDependencies, type AppDependencies } from '../composition';
import type { Logger } from '../logger';
import { handleLifecycleNotifications } from './handleLifecycleNotifications';
import { parseLifecycleBody } from './lifecyclePayload';
import { readBodyCapped } from './readBody';

/**
 * The lifecycle endpoint after the handshake: checks the request, records and acts on each event,
 * and always answers within Graph's 3 seconds (graph-facts 5.1): 202 once every event is on
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

/** Time kept back from Graph's 3 s for reading the body and writing the answer. */
const answerReserveMs = 500;

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

  const deadlineMs = app.inlineBudgetMs + answerReserveMs;
  const controller = new AbortController();
  const handled = handleLifecycleNotifications({ ...app, log }, parsed.notifications);
  const late = app.clock.sleep(deadlineMs, controller.signal).then(
    () => 'late' as const,
    () => 'done' as const,
  );
  const result = await Promise.race([handled, late]);
  controller.abort();
  if (result === 'late' || result === 'done') {
    // NOTE: recording itself is stuck (storage slow): say so, and Graph delivers again.
    log.error('lifecycle events not recorded within the deadline', { ms: deadlineMs });
    handled.catch(() => undefined);
    return unavailable('Events could not be recorded in time; retry.');
  }
  if (result.notRecorded > 0) {
    return unavailable(`${result.notRecorded} event(s) could not be recorded; retry.`);
  }
  return {
    status: 202,
    body: {
      received: result.received,
      recorded: result.recorded,
      ignored: result.ignored,
      completed: result.actions.filter((a) => a.outcome === 'succeeded').length,
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
