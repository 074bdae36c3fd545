import { randomUUID } from 'node:crypto';
import {
  HttpRequest,
  HttpResponse,
  InvocationContext,
  type HttpResponseInit,
  type LogLevel,
} from '@azure/functions';

/**
 * Calls an HTTP function handler as the Functions host does: a real `HttpRequest` (method, URL
 * with its query and the function key, headers, body, route parameters) and a real
 * `InvocationContext` whose log lines are kept, and reads the answer through the library's
 * `HttpResponse` (so `jsonBody` is serialised as the host serialises it).
 */

export type HttpHandler = (
  request: HttpRequest,
  context: InvocationContext,
) => Promise<HttpResponseInit>;

/** The function key every test request carries in its URL: it must never come back. */
export const urlFunctionKey = 'key-from-the-request-url';

export interface HttpCall {
  readonly method: string;
  /** Path and query, e.g. `/api/subscriptions?status=active`; `?code=` is added. */
  readonly path: string;
  /** Route parameters as the host passes them. */
  readonly params?: Readonly<Record<string, string>>;
  /** Sent as JSON with `Content-Type: application/json`. */
  readonly json?: unknown;
  /** Sent as is, with `contentType` when given. */
  readonly raw?: { readonly text: string; readonly contentType?: string };
}

export interface LoggedLine {
  readonly level: LogLevel;
  readonly args: readonly unknown[];
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  /** The parsed JSON body (undefined when there is none). */
  readonly body: unknown;
  readonly text: string;
  readonly logs: readonly LoggedLine[];
  readonly invocationId: string;
}

export async function invokeHttp(
  handler: HttpHandler,
  call: HttpCall,
  functionName = 'function',
): Promise<HttpAnswer> {
  const url = new URL(`https://keeper.example.com${call.path}`);
  url.searchParams.set('code', urlFunctionKey);
  const headers: Record<string, string> = {};
  let body: { string: string } | undefined;
  if (call.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = { string: JSON.stringify(call.json) };
  } else if (call.raw !== undefined) {
    if (call.raw.contentType !== undefined) headers['content-type'] = call.raw.contentType;
    body = { string: call.raw.text };
  }
  const request = new HttpRequest({
    method: call.method,
    url: url.toString(),
    headers,
    params: { ...call.params },
    ...(body === undefined ? {} : { body }),
  });
  const logs: LoggedLine[] = [];
  const invocationId = randomUUID();
  const context = new InvocationContext({
    functionName,
    invocationId,
    logHandler: (level, ...args) => {
      logs.push({ level, args });
    },
  });
  const response = new HttpResponse(await handler(request, context));
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text === '' ? undefined : (JSON.parse(text) as unknown),
    text,
    logs,
    invocationId,
  };
}
