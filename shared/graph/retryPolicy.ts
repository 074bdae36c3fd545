import {
  isRestError,
  type PipelinePolicy,
  type PipelineRequest,
  type PipelineResponse,
  type SendRequest,
} from '@azure/core-rest-pipeline';
import type { Clock } from '../clock';
import { isGraphError, type GraphError } from './graphError';
import {
  abortedError,
  errorCodeOf,
  graphErrorFromResponse,
  networkError,
  pathOf,
  timeoutError,
} from './errorMapping';

/**
 * The one retry policy of the Graph client (docs/architecture.md#graph-client, docs/graph-rules.md#limits-and-throttling and docs/graph-rules.md#errors).
 *
 * NOTE: core-rest-pipeline's own retry policies sleep on real timers and cannot take a Clock,
 * so this is a custom PipelinePolicy: tests inject a fake clock and never wait. It is also the
 * one place where a final failure becomes a `GraphError`, since only it knows the attempts,
 * the deadline and the retry hint.
 */

/** core-rest-pipeline's signal type (no `reason`), without importing its transitive package. */
type AbortSignalLike = NonNullable<PipelineRequest['abortSignal']>;

export interface RetrySettings {
  /** Retries after the first attempt. */
  readonly maxRetries: number;
  /** Backoff base: the n-th retry waits up to `baseDelayMs * 2^n` (full jitter). */
  readonly baseDelayMs: number;
  /** Cap on one backoff delay. Retry-After is obeyed as sent, within the call's deadline. */
  readonly maxDelayMs: number;
  /** Budget of one call, attempts and waits included, unless `GraphCallOptions.timeoutMs`. */
  readonly timeoutMs: number;
}

export const defaultRetrySettings: RetrySettings = Object.freeze({
  maxRetries: 4,
  baseDelayMs: 1000,
  maxDelayMs: 30_000,
  timeoutMs: 30_000,
});

/** What one attempt produced, as far as retrying is concerned. */
export type AttemptOutcome =
  | { readonly kind: 'response'; readonly status: number; readonly retryAfterMs?: number }
  | { readonly kind: 'networkError'; readonly retryable: boolean };

export type RetryDecision =
  | { readonly retry: true; readonly delayMs: number; readonly basis: 'retryAfter' | 'backoff' }
  | {
      readonly retry: false;
      /** For a retryable failure we stop retrying: when the caller may try again. */
      readonly retryAfterMs: number | undefined;
    };

/** Throttling and overload: Graph may say how long to wait (docs/graph-rules.md#limits-and-throttling and docs/graph-rules.md#errors). */
const retryAfterStatuses = new Set([429, 503, 504]);
/** 5xx that no retry can fix. */
const permanentServerStatuses = new Set([501, 505]);

export function isRetryableStatus(status: number): boolean {
  if (retryAfterStatuses.has(status)) return true;
  return status >= 500 && status <= 599 && !permanentServerStatuses.has(status);
}

/**
 * Pure decision for one outcome. `retriesSoFar` counts retries already made; `remainingMs` is
 * what is left of the call's budget. 4xx (other than 429) are never retried.
 */
export function decideRetry(
  outcome: AttemptOutcome,
  state: { readonly retriesSoFar: number; readonly remainingMs: number },
  settings: RetrySettings,
  random: () => number,
): RetryDecision {
  const retryable =
    outcome.kind === 'response' ? isRetryableStatus(outcome.status) : outcome.retryable;
  if (!retryable) return { retry: false, retryAfterMs: undefined };

  const ceiling = Math.min(settings.maxDelayMs, settings.baseDelayMs * 2 ** state.retriesSoFar);
  const retryAfterMs =
    outcome.kind === 'response' && retryAfterStatuses.has(outcome.status)
      ? outcome.retryAfterMs
      : undefined;
  // NOTE: the hint is the un-jittered ceiling, so a caller never comes back sooner than needed.
  const hintMs = retryAfterMs ?? ceiling;
  if (state.retriesSoFar >= settings.maxRetries) return { retry: false, retryAfterMs: hintMs };

  const delayMs =
    retryAfterMs ?? Math.floor(Math.min(Math.max(random(), 0), 1 - Number.EPSILON) * ceiling);
  // NOTE: a wait that would outlast the call's budget is not started; the caller schedules it.
  if (delayMs >= state.remainingMs) return { retry: false, retryAfterMs: hintMs };
  return { retry: true, delayMs, basis: retryAfterMs === undefined ? 'backoff' : 'retryAfter' };
}

/**
 * Retry-After in milliseconds: delta-seconds (fractional allowed, `2.128`, docs/graph-rules.md#limits-and-throttling) or an
 * HTTP date relative to `now`. Undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | undefined, now: Date): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now.getTime());
}

/** System error codes that mean the certificate is wrong: retrying cannot help. */
function isCertificateError(code: string | undefined): boolean {
  return (
    code !== undefined &&
    /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS/i.test(code)
  );
}

export type GraphLogProperties = Readonly<Record<string, string | number | boolean | undefined>>;

/** Structured log sink; an `InvocationContext` fits. Never given tokens, secrets or clientState. */
export interface GraphLogger {
  info(message: string, properties: GraphLogProperties): void;
  warn(message: string, properties: GraphLogProperties): void;
}

export interface GraphRetryPolicyOptions {
  readonly clock: Clock;
  readonly random: () => number;
  readonly settings?: Partial<RetrySettings>;
  readonly log?: GraphLogger | undefined;
}

export const graphRetryPolicyName = 'graphRetryPolicy';

type Attempt =
  | { readonly kind: 'response'; readonly response: PipelineResponse }
  | { readonly kind: 'error'; readonly error: unknown }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'aborted' };

/**
 * Retries per `decideRetry`, sleeping on the injected clock. The budget is `request.timeout`
 * when set (the client puts `GraphCallOptions.timeoutMs` there), else `settings.timeoutMs`;
 * it covers every attempt and wait. Returns 2xx responses; throws a `GraphError` otherwise.
 *
 * NOTE: the deadline is counted on the clock (so fake-clock waits use it up), and a hanging
 * attempt is cut by a real timer set to what is left: I/O takes real time whatever the clock.
 */
export function graphRetryPolicy(options: GraphRetryPolicyOptions): PipelinePolicy {
  const settings: RetrySettings = { ...defaultRetrySettings, ...options.settings };
  const { clock, random, log } = options;
  return {
    name: graphRetryPolicyName,
    async sendRequest(request: PipelineRequest, next: SendRequest): Promise<PipelineResponse> {
      const budgetMs = request.timeout > 0 ? request.timeout : settings.timeoutMs;
      // NOTE: the HTTP client's own timeout aborts like a caller abort; we keep the two apart.
      request.timeout = 0;
      const callerSignal = request.abortSignal;
      const caller = followAbort(callerSignal);
      const deadline = clock.now().getTime() + budgetMs;
      try {
        for (let retriesSoFar = 0; ; retriesSoFar++) {
          if (caller.signal.aborted) throw abortedError(request, caller.signal.reason);
          const remainingMs = deadline - clock.now().getTime();
          if (remainingMs <= 0) throw timeoutError(request, budgetMs);

          const attempt = await attemptOnce(request, next, caller.signal, remainingMs);
          if (attempt.kind === 'timeout') throw timeoutError(request, budgetMs);
          if (attempt.kind === 'aborted') throw abortedError(request, caller.signal.reason);
          if (attempt.kind === 'error' && isGraphError(attempt.error)) throw attempt.error;
          const status = attempt.kind === 'response' ? attempt.response.status : 0;
          if (attempt.kind === 'response' && status >= 200 && status < 300) {
            return attempt.response;
          }

          const outcome = toOutcome(attempt, clock.now());
          const decision = decideRetry(
            outcome,
            { retriesSoFar, remainingMs: deadline - clock.now().getTime() },
            settings,
            random,
          );
          if (!decision.retry) throw finalError(request, attempt, decision.retryAfterMs);

          log?.warn('Graph call failed; retrying', {
            action: 'graphRetry',
            method: request.method,
            path: pathOf(request.url),
            status,
            code: attempt.kind === 'error' ? errorCodeOf(attempt.error) : undefined,
            attempt: retriesSoFar + 1,
            delayMs: decision.delayMs,
            basis: decision.basis,
          });
          try {
            await clock.sleep(decision.delayMs, caller.signal);
          } catch (e) {
            if (isAborted(caller.signal)) throw abortedError(request, caller.signal.reason);
            throw e;
          }
        }
      } finally {
        caller.dispose();
        request.abortSignal = callerSignal;
      }
    },
  };
}

/** A real AbortSignal that follows the caller's AbortSignalLike (which has no `reason`). */
function followAbort(source: AbortSignalLike | undefined): {
  readonly signal: AbortSignal;
  dispose(): void;
} {
  const controller = new AbortController();
  if (source === undefined) return { signal: controller.signal, dispose: () => undefined };
  const onAbort = () => {
    controller.abort(reasonOf(source));
  };
  if (source.aborted) onAbort();
  else source.addEventListener('abort', onAbort);
  return {
    signal: controller.signal,
    dispose: () => {
      source.removeEventListener('abort', onAbort);
    },
  };
}

async function attemptOnce(
  request: PipelineRequest,
  next: SendRequest,
  callerSignal: AbortSignal,
  remainingMs: number,
): Promise<Attempt> {
  const controller = new AbortController();
  const timer = setTimeout(() => {
    controller.abort(new Error('Graph call timed out'));
  }, remainingMs);
  const onCallerAbort = () => {
    controller.abort(callerSignal.reason);
  };
  callerSignal.addEventListener('abort', onCallerAbort, { once: true });
  request.abortSignal = controller.signal;
  try {
    return { kind: 'response', response: await next(request) };
  } catch (error) {
    if (isAborted(callerSignal)) return { kind: 'aborted' };
    // NOTE: aborted, but not by the caller: our timer cut the attempt.
    if (isAborted(controller.signal)) return { kind: 'timeout' };
    return { kind: 'error', error };
  } finally {
    clearTimeout(timer);
    callerSignal.removeEventListener('abort', onCallerAbort);
  }
}

function toOutcome(
  attempt: Extract<Attempt, { kind: 'response' | 'error' }>,
  now: Date,
): AttemptOutcome {
  if (attempt.kind === 'response') {
    const retryAfterMs = parseRetryAfter(
      attempt.response.headers.get('retry-after') ?? undefined,
      now,
    );
    return retryAfterMs === undefined
      ? { kind: 'response', status: attempt.response.status }
      : { kind: 'response', status: attempt.response.status, retryAfterMs };
  }
  // NOTE: only failures to send or receive are retried; anything else is a bug, not weather.
  const retryable = isRestError(attempt.error) && !isCertificateError(errorCodeOf(attempt.error));
  return { kind: 'networkError', retryable };
}

function finalError(
  request: PipelineRequest,
  attempt: Extract<Attempt, { kind: 'response' | 'error' }>,
  retryAfterMs: number | undefined,
): GraphError {
  return attempt.kind === 'response'
    ? graphErrorFromResponse(attempt.response, retryAfterMs)
    : networkError(request, attempt.error, retryAfterMs);
}

/** Read through a call so TypeScript does not keep an `aborted` check narrowed across awaits. */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

function reasonOf(signal: AbortSignalLike): unknown {
  return 'reason' in signal ? (signal as { reason?: unknown }).reason : undefined;
}
