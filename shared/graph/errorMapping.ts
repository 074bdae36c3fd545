import type { PipelineRequest, PipelineResponse } from '@azure/core-rest-pipeline';
import { GraphError, localGraphErrorCodes } from './graphError';
import { errorPayloadSchema, type InnerErrorPayload } from './payloads';

/**
 * Turns what went wrong into one `GraphError` (docs/graph-rules.md#errors). The code comes from
 * Graph's body (the innermost `innerError.code` when there is one, being the most specific),
 * never from message text; messages are kept for people and scrubbed of URL query strings,
 * which may hold a function key.
 */

const statusCodeNames: Readonly<Record<number, string>> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'Conflict',
  429: 'TooManyRequests',
  500: 'InternalServerError',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout',
};

const maxGraphMessageLength = 300;

export function graphErrorFromResponse(
  response: PipelineResponse,
  retryAfterMs: number | undefined,
): GraphError {
  const body = parseErrorBody(response.bodyAsText);
  const inner = innerErrors(body?.innerError);
  const innermostCode = inner
    .map((e) => e.code)
    .filter((c): c is string => c !== undefined && c !== '')
    .pop();
  const code =
    innermostCode ??
    (body?.code !== undefined && body.code !== '' ? body.code : undefined) ??
    statusCodeNames[response.status] ??
    `Http${response.status}`;
  const requestId =
    inner.map((e) => e['request-id']).find((id) => id !== undefined && id !== '') ??
    response.headers.get('request-id') ??
    undefined;
  const graphMessage =
    body?.message !== undefined && body.message !== ''
      ? `: ${scrub(body.message).slice(0, maxGraphMessageLength)}`
      : '';
  return new GraphError({
    status: response.status,
    code,
    message: `Graph ${describe(response.request)} failed with ${response.status} ${code}${graphMessage}`,
    requestId,
    retryAfterMs,
  });
}

export function networkError(
  request: PipelineRequest,
  cause: unknown,
  retryAfterMs: number | undefined,
): GraphError {
  const detail = errorCodeOf(cause);
  return new GraphError({
    status: 0,
    code: localGraphErrorCodes.network,
    message: `Graph ${describe(request)} failed: network error${detail === undefined ? '' : ` (${detail})`}`,
    retryAfterMs,
    cause,
  });
}

export function timeoutError(request: PipelineRequest, timeoutMs: number): GraphError {
  return new GraphError({
    status: 0,
    code: localGraphErrorCodes.timeout,
    message: `Graph ${describe(request)} timed out after ${timeoutMs} ms`,
  });
}

export function abortedError(request: PipelineRequest, reason: unknown): GraphError {
  return new GraphError({
    status: 0,
    code: localGraphErrorCodes.aborted,
    message: `Graph ${describe(request)} was aborted`,
    cause: reason,
  });
}

export function invalidResponseError(
  response: PipelineResponse,
  problem: string,
  cause?: unknown,
): GraphError {
  return new GraphError({
    status: response.status,
    code: localGraphErrorCodes.invalidResponse,
    message: `Graph ${describe(response.request)} returned ${response.status} with an unexpected body: ${problem}`,
    requestId: response.headers.get('request-id') ?? undefined,
    cause,
  });
}

/** `PATCH /v1.0/subscriptions/{id}`: no host, no query. */
export function describe(request: PipelineRequest): string {
  return `${request.method} ${pathOf(request.url)}`;
}

export function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return '(invalid url)';
  }
}

/** A system error code (`ECONNRESET`) or RestError code, never a message that may echo data. */
export function errorCodeOf(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
  }
  return undefined;
}

function parseErrorBody(text: string | null | undefined) {
  if (text === undefined || text === null || text.trim() === '') return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = errorPayloadSchema.safeParse(json);
  return parsed.success ? parsed.data.error : undefined;
}

function innerErrors(first: InnerErrorPayload | undefined): InnerErrorPayload[] {
  const chain: InnerErrorPayload[] = [];
  // NOTE: bounded, in case a hostile or buggy body nests without end.
  for (let e = first; e !== undefined && chain.length < 10; e = e.innerError) chain.push(e);
  return chain;
}

function scrub(message: string): string {
  return message.replace(/(https?:\/\/[^\s?"']+)\?[^\s"']*/gi, '$1?***');
}
