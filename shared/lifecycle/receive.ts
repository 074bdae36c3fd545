import { appDependencies, type AppDependencies } from '../composition';
import type { Logger } from '../logger';
import type { IntakeItem } from './intakeQueue';
import { parseLifecycleBody } from './lifecyclePayload';
import { readBodyCapped } from './readBody';

/**
 * The lifecycle endpoint after the handshake: accept in one write (docs/lifecycle.md). It checks
 * the request's size and shape, stores the collection on the intake queue in one durable write
 * and answers 202; the `lifecycleIntake` queue trigger acts on it right after. No table is read
 * or written here, so the answer does not depend on how many items a collection holds.
 * 4xx: not a lifecycle notification (nothing stored). 503 with Retry-After: the queue could not
 * take it (nothing stored), so Graph delivers again.
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
    return unavailable('The service cannot accept events now; retry.');
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
  // NOTE: an unusable item is logged and left out; the rest is answered (issue #20).
  for (const s of parsed.skipped) log.warn('lifecycle item skipped', { ...s });

  const items: IntakeItem[] = [];
  for (const n of parsed.notifications) {
    // NOTE: an item with a changeType is a change notification, not a lifecycle event: not ours.
    if (n.lifecycleEvent === undefined) continue;
    items.push({
      subscriptionId: n.subscriptionId,
      tenantId: n.tenantId ?? null,
      clientState: n.clientState ?? null,
      lifecycleEvent: n.lifecycleEvent,
    });
  }
  const received = parsed.notifications.length;
  if (items.length === 0) return { status: 202, body: { received, queued: 0 } };
  if (app.intake === undefined) {
    log.error('lifecycle endpoint has no intake queue');
    return unavailable('The service cannot accept events now; retry.');
  }
  // NOTE: Graph wants an answer within 3 seconds; a queue write that takes longer is abandoned
  // (and what it stored taken back) and answered 503, so Graph delivers again. Wall-clock time:
  // the deadline is the network's, not the app clock's.
  const abortSignal = AbortSignal.timeout(Math.max(1, app.inlineBudgetMs));
  try {
    const messages = await app.intake.accept(
      { v: 1, acceptedAt: app.clock.now().toISOString(), items },
      { abortSignal },
    );
    log.info('lifecycle collection queued', { received, queued: items.length, messages });
    return { status: 202, body: { received, queued: items.length } };
  } catch (e) {
    log.error('lifecycle collection could not be queued', {
      received,
      error: e instanceof Error ? e.name : 'unknown',
    });
    return unavailable('Events could not be stored; retry.');
  }
}

function unavailable(message: string): LifecycleResponse {
  return { status: 503, body: { error: message }, headers: { 'Retry-After': '5' } };
}

function isJson(contentType: string | null): boolean {
  if (contentType === null) return false;
  const mediaType = contentType.split(';')[0]?.trim().toLowerCase();
  return mediaType === 'application/json' || (mediaType?.endsWith('+json') ?? false);
}
