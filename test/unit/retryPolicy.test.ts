import {
  createHttpHeaders,
  createPipelineRequest,
  RestError,
  type PipelineRequest,
  type PipelineResponse,
  type SendRequest,
} from '@azure/core-rest-pipeline';
import type { Clock } from '../../shared/clock';
import { GraphError } from '../../shared/graph/graphError';
import { graphErrorOf } from '../support/graphErrors';
import {
  decideRetry,
  defaultRetrySettings,
  graphRetryPolicy,
  parseRetryAfter,
  type AttemptOutcome,
  type RetryDecision,
  type RetrySettings,
} from '../../shared/graph/retryPolicy';

const start = new Date('2026-06-01T10:00:00.000Z');

/** Time moves only when someone sleeps; every sleep is recorded, none waits. */
function fakeClock() {
  let now = start.getTime();
  const sleeps: number[] = [];
  const clock: Clock = {
    now: () => new Date(now),
    sleep: (ms, signal) => {
      if (signal?.aborted === true) return Promise.reject(signal.reason as Error);
      sleeps.push(ms);
      now += ms;
      return Promise.resolve();
    },
  };
  return { clock, sleeps };
}

const settings: RetrySettings = {
  maxRetries: 4,
  baseDelayMs: 1000,
  maxDelayMs: 30_000,
  timeoutMs: 30_000,
};
const half = () => 0.5;

describe('decideRetry', () => {
  const fresh = { retriesSoFar: 0, remainingMs: 30_000 };
  const rows: readonly [string, AttemptOutcome, typeof fresh, RetryDecision][] = [
    ['200', { kind: 'response', status: 200 }, fresh, { retry: false, retryAfterMs: undefined }],
    ['400', { kind: 'response', status: 400 }, fresh, { retry: false, retryAfterMs: undefined }],
    ['401', { kind: 'response', status: 401 }, fresh, { retry: false, retryAfterMs: undefined }],
    ['403', { kind: 'response', status: 403 }, fresh, { retry: false, retryAfterMs: undefined }],
    ['404', { kind: 'response', status: 404 }, fresh, { retry: false, retryAfterMs: undefined }],
    ['409', { kind: 'response', status: 409 }, fresh, { retry: false, retryAfterMs: undefined }],
    [
      '429 with Retry-After',
      { kind: 'response', status: 429, retryAfterMs: 7000 },
      fresh,
      { retry: true, delayMs: 7000, basis: 'retryAfter' },
    ],
    [
      '429 without Retry-After',
      { kind: 'response', status: 429 },
      fresh,
      { retry: true, delayMs: 500, basis: 'backoff' },
    ],
    [
      '503 with Retry-After',
      { kind: 'response', status: 503, retryAfterMs: 2128 },
      fresh,
      { retry: true, delayMs: 2128, basis: 'retryAfter' },
    ],
    [
      '504 with Retry-After',
      { kind: 'response', status: 504, retryAfterMs: 1000 },
      fresh,
      { retry: true, delayMs: 1000, basis: 'retryAfter' },
    ],
    [
      '500 ignores Retry-After and backs off',
      { kind: 'response', status: 500, retryAfterMs: 9000 },
      fresh,
      { retry: true, delayMs: 500, basis: 'backoff' },
    ],
    [
      '502 on the third retry',
      { kind: 'response', status: 502 },
      { retriesSoFar: 2, remainingMs: 30_000 },
      { retry: true, delayMs: 2000, basis: 'backoff' },
    ],
    ['501', { kind: 'response', status: 501 }, fresh, { retry: false, retryAfterMs: undefined }],
    [
      'network error',
      { kind: 'networkError', retryable: true },
      fresh,
      { retry: true, delayMs: 500, basis: 'backoff' },
    ],
    [
      'certificate error',
      { kind: 'networkError', retryable: false },
      fresh,
      { retry: false, retryAfterMs: undefined },
    ],
    [
      '503 after the last retry',
      { kind: 'response', status: 503, retryAfterMs: 7000 },
      { retriesSoFar: 4, remainingMs: 30_000 },
      { retry: false, retryAfterMs: 7000 },
    ],
    [
      '500 after the last retry',
      { kind: 'response', status: 500 },
      { retriesSoFar: 4, remainingMs: 30_000 },
      { retry: false, retryAfterMs: 16_000 },
    ],
    [
      '500 with a backoff over the cap',
      { kind: 'response', status: 500 },
      { retriesSoFar: 10, remainingMs: 60_000 },
      { retry: false, retryAfterMs: 30_000 },
    ],
    [
      '429 whose wait outlasts the budget',
      { kind: 'response', status: 429, retryAfterMs: 60_000 },
      fresh,
      { retry: false, retryAfterMs: 60_000 },
    ],
  ];

  test.each(rows)('when the outcome is %s, then the decision is as tabled', (_, o, s, expected) => {
    expect(decideRetry(o, s, settings, half)).toEqual(expected);
  });

  test('when the backoff exceeds the cap, then the delay is jittered under the cap', () => {
    const wide = { ...settings, maxRetries: 20 };
    const decision = decideRetry(
      { kind: 'response', status: 500 },
      { retriesSoFar: 10, remainingMs: 60_000 },
      wide,
      () => 0.999,
    );
    expect(decision).toEqual({ retry: true, delayMs: 29_970, basis: 'backoff' });
  });

  test('when random returns 1, then the delay stays below the ceiling', () => {
    const decision = decideRetry(
      { kind: 'networkError', retryable: true },
      { retriesSoFar: 0, remainingMs: 30_000 },
      settings,
      () => 1,
    );
    expect(decision.retry && decision.delayMs).toBe(999);
  });

  test('when the defaults are read, then there are 4 retries and a 30 s budget', () => {
    expect(defaultRetrySettings).toEqual({
      maxRetries: 4,
      baseDelayMs: 1000,
      maxDelayMs: 30_000,
      timeoutMs: 30_000,
    });
  });
});

describe('parseRetryAfter', () => {
  test.each([
    ['7', 7000],
    ['2.128', 2128],
    ['0', 0],
    [' 3 ', 3000],
    ['Mon, 01 Jun 2026 10:00:05 GMT', 5000],
    ['Mon, 01 Jun 2026 09:59:00 GMT', 0],
  ] as const)('when Retry-After is %p, then it means %i ms', (value, ms) => {
    expect(parseRetryAfter(value, start)).toBe(ms);
  });

  test.each([undefined, '', '-1', 'soon', '1e3'])(
    'when Retry-After is %p, then it is ignored',
    (value) => {
      expect(parseRetryAfter(value, start)).toBeUndefined();
    },
  );
});

type Step =
  | { readonly status: number; readonly headers?: Record<string, string>; readonly body?: unknown }
  | Error
  | 'hang';

/** Answers each attempt with the next step; records the requests it saw. */
function scripted(steps: readonly Step[]) {
  const seen: PipelineRequest[] = [];
  const next: SendRequest = (request) => {
    seen.push(request);
    const step = steps[seen.length - 1] ?? { status: 200, body: {} };
    if (step === 'hang') {
      return new Promise<PipelineResponse>((_, reject) => {
        request.abortSignal?.addEventListener('abort', () => {
          reject(new Error('aborted'));
        });
      });
    }
    if (step instanceof Error) return Promise.reject(step);
    return Promise.resolve({
      request,
      status: step.status,
      headers: createHttpHeaders(step.headers ?? {}),
      bodyAsText: step.body === undefined ? '' : JSON.stringify(step.body),
    });
  };
  return { next, seen };
}

function request(options: { timeout?: number; abortSignal?: AbortSignal } = {}): PipelineRequest {
  return createPipelineRequest({
    url: 'https://graph.example.test/v1.0/subscriptions/abc?x=1',
    method: 'PATCH',
    ...options,
  });
}

const failureOf = graphErrorOf;

const reset = () => new RestError('socket hang up', { code: 'ECONNRESET' });

describe('graphRetryPolicy', () => {
  function policyWith(overrides: Partial<RetrySettings> = {}) {
    const { clock, sleeps } = fakeClock();
    const policy = graphRetryPolicy({
      clock,
      random: half,
      settings: { ...settings, ...overrides },
    });
    return { policy, sleeps };
  }

  test('when a 429 says Retry-After 7 once, then the clock is asked for one 7,000 ms sleep', async () => {
    const { policy, sleeps } = policyWith();
    const { next, seen } = scripted([{ status: 429, headers: { 'Retry-After': '7' } }]);
    const response = await policy.sendRequest(request(), next);
    expect(response.status).toBe(200);
    expect(sleeps).toEqual([7000]);
    expect(seen).toHaveLength(2);
  });

  test('when a 503 says Retry-After 2.128, then the sleep is 2,128 ms', async () => {
    const { policy, sleeps } = policyWith();
    const { next } = scripted([{ status: 503, headers: { 'Retry-After': '2.128' } }]);
    await policy.sendRequest(request(), next);
    expect(sleeps).toEqual([2128]);
  });

  test('when 500s never stop, then 4 jittered backoffs are slept and the error carries a retry hint', async () => {
    const { policy, sleeps } = policyWith();
    const body = { error: { code: 'generalException', message: 'boom' } };
    const { next, seen } = scripted(Array.from({ length: 10 }, () => ({ status: 500, body })));
    const error = await failureOf(policy.sendRequest(request(), next));
    expect(seen).toHaveLength(5);
    expect(sleeps).toEqual([500, 1000, 2000, 4000]);
    expect(error.status).toBe(500);
    expect(error.code).toBe('generalException');
    expect(error.retryAfterMs).toBe(16_000);
  });

  test('when 503s with Retry-After never stop, then the final error carries that Retry-After', async () => {
    const { policy } = policyWith({ maxRetries: 1 });
    const step = { status: 503, headers: { 'Retry-After': '3' } };
    const { next } = scripted([step, step]);
    const error = await failureOf(policy.sendRequest(request(), next));
    expect(error.status).toBe(503);
    expect(error.code).toBe('ServiceUnavailable');
    expect(error.retryAfterMs).toBe(3000);
  });

  test.each([400, 401, 403, 404, 409])(
    'when Graph answers %i, then there is one attempt and no sleep',
    async (status) => {
      const { policy, sleeps } = policyWith();
      const { next, seen } = scripted([{ status }]);
      const error = await failureOf(policy.sendRequest(request(), next));
      expect(error.status).toBe(status);
      expect(error.retryAfterMs).toBeUndefined();
      expect(seen).toHaveLength(1);
      expect(sleeps).toEqual([]);
    },
  );

  test('when the connection is reset once, then the call is retried and succeeds', async () => {
    const { policy, sleeps } = policyWith();
    const { next, seen } = scripted([reset()]);
    const response = await policy.sendRequest(request(), next);
    expect(response.status).toBe(200);
    expect(seen).toHaveLength(2);
    expect(sleeps).toEqual([500]);
  });

  test('when every attempt is reset, then a NetworkError with status 0 and a hint is thrown', async () => {
    const { policy } = policyWith({ maxRetries: 2 });
    const { next } = scripted([reset(), reset(), reset()]);
    const error = await failureOf(policy.sendRequest(request(), next));
    expect(error.status).toBe(0);
    expect(error.code).toBe('NetworkError');
    expect(error.message).toContain('ECONNRESET');
    expect(error.retryAfterMs).toBe(4000);
  });

  test('when the certificate is not trusted, then there is no retry', async () => {
    const { policy, sleeps } = policyWith();
    const { next, seen } = scripted([
      new RestError('self-signed certificate', { code: 'SELF_SIGNED_CERT_IN_CHAIN' }),
    ]);
    const error = await failureOf(policy.sendRequest(request(), next));
    expect(error.code).toBe('NetworkError');
    expect(seen).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  test('when Retry-After outlasts the budget, then no sleep starts and the hint is returned', async () => {
    const { policy, sleeps } = policyWith({ timeoutMs: 10_000 });
    const { next, seen } = scripted([{ status: 429, headers: { 'Retry-After': '60' } }]);
    const error = await failureOf(policy.sendRequest(request(), next));
    expect(error.status).toBe(429);
    expect(error.code).toBe('TooManyRequests');
    expect(error.retryAfterMs).toBe(60_000);
    expect(seen).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  test('when waits use up the budget, then the last 429 is thrown with its hint instead of another wait', async () => {
    const { policy, sleeps } = policyWith({ timeoutMs: 5000 });
    const step = { status: 429, headers: { 'Retry-After': '2.5' } };
    const { next, seen } = scripted([step, step, step]);
    const error = await failureOf(policy.sendRequest(request(), next));
    expect(sleeps).toEqual([2500]);
    expect(seen).toHaveLength(2);
    expect(error.status).toBe(429);
    expect(error.retryAfterMs).toBe(2500);
  });

  test('when an attempt hangs past the per-call timeout, then a Timeout GraphError with status 0 is thrown', async () => {
    const { policy } = policyWith();
    const { next } = scripted(['hang']);
    const error = await failureOf(policy.sendRequest(request({ timeout: 20 }), next));
    expect(error.status).toBe(0);
    expect(error.code).toBe('Timeout');
  });

  test('when the caller has aborted, then no attempt is made and the error is Aborted', async () => {
    const { policy } = policyWith();
    const controller = new AbortController();
    controller.abort(new Error('shutting down'));
    const { next, seen } = scripted([]);
    const error = await failureOf(
      policy.sendRequest(request({ abortSignal: controller.signal }), next),
    );
    expect(error.code).toBe('Aborted');
    expect(error.status).toBe(0);
    expect(seen).toHaveLength(0);
  });

  test('when the caller aborts during an attempt, then the error is Aborted, not Timeout', async () => {
    const { policy } = policyWith();
    const controller = new AbortController();
    const { next } = scripted(['hang']);
    const pending = failureOf(
      policy.sendRequest(request({ abortSignal: controller.signal }), next),
    );
    controller.abort(new Error('shutting down'));
    const error = await pending;
    expect(error.code).toBe('Aborted');
  });

  test('when an inner policy throws a GraphError, then it passes through without retry', async () => {
    const { policy, sleeps } = policyWith();
    const tokenFailure = new GraphError({
      status: 401,
      code: 'TokenAcquisitionFailed',
      message: 'no',
    });
    const { next, seen } = scripted([tokenFailure]);
    const error = await failureOf(policy.sendRequest(request(), next));
    expect(error).toBe(tokenFailure);
    expect(seen).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  test('when Retry-After is an HTTP date, then the sleep is measured from the clock', async () => {
    const { policy, sleeps } = policyWith();
    const { next } = scripted([
      { status: 503, headers: { 'Retry-After': 'Mon, 01 Jun 2026 10:00:04 GMT' } },
    ]);
    await policy.sendRequest(request(), next);
    expect(sleeps).toEqual([4000]);
  });
});
