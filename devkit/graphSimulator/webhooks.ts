import * as http from 'node:http';
import * as https from 'node:https';
import { randomBytes, randomUUID } from 'node:crypto';

/**
 * Graph's outbound side: the validation handshake (docs/graph-rules.md#validation-handshake) and lifecycle
 * notification POSTs (docs/graph-rules.md#lifecycle-notifications). Only loopback endpoints are ever contacted; tests run on a
 * network that refuses anything else, so a non-loopback endpoint is taken to be valid without a
 * request (see `isLoopbackHost`).
 */

/** 127.0.0.0/8, localhost and ::1: the only hosts the simulator sends requests to. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return (
    h === 'localhost' ||
    h === '::1' ||
    /^127(\.\d{1,3}){3}$/.test(h) ||
    /^::ffff:127(\.\d{1,3}){3}$/.test(h)
  );
}

/** What Graph's handshake answer failures look like (docs/graph-rules.md#validation-handshake, docs/graph-rules.md#errors). */
export const validationMessages = {
  notOk:
    'Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.',
  mismatch:
    'Subscription validation request failed. Response must exactly match validationToken query parameter.',
  timedOut: 'Subscription validation request timed out.',
} as const;

export type HandshakeOutcome =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly code: 'ValidationError' | 'InvalidRequest';
      readonly message: string;
    };

export interface OutboundOptions {
  /** The simulator's CA: loopback HTTPS receivers serve a certificate it signed. */
  readonly ca: string;
  readonly timeoutMs: number;
  /** Aborted when the simulator stops. */
  readonly signal: AbortSignal;
}

export interface OutboundResponse {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: string;
}

export class OutboundTimeoutError extends Error {
  constructor(url: string, timeoutMs: number) {
    super(`No answer from ${url} within ${timeoutMs} ms.`);
    this.name = 'OutboundTimeoutError';
  }
}

/** Largest answer read from an endpoint; a validation answer is a short token. */
const maxResponseBytes = 1024 * 1024;

/**
 * An opaque token with characters that need URL encoding ('+', '/', '=', ' ', ':'), so an
 * endpoint that echoes the encoded form fails as it would against Graph.
 */
export function newValidationToken(): string {
  const nonce = randomBytes(24).toString('base64');
  return `Validation: Testing client application reachability for subscription Request-Id: ${randomUUID()} Nonce: ${nonce}+/=`;
}

/**
 * `url` with `validationToken` appended as Graph does it: form encoding ('+' for space, '%2B'
 * for '+'), any existing query kept as it is (e.g. an Azure Functions `?code=`).
 */
export function validationUrl(url: string, token: string): string {
  const withoutFragment = url.split('#')[0] ?? url;
  const encoded = new URLSearchParams({ validationToken: token }).toString();
  const separator = withoutFragment.includes('?') ? '&' : '?';
  return `${withoutFragment}${separator}${encoded}`;
}

/** POSTs `body` to a loopback URL and reads the answer; rejects on network errors and timeout. */
export function postToLoopback(
  url: string,
  body: string,
  contentType: string,
  options: OutboundOptions,
): Promise<OutboundResponse> {
  const target = new URL(url);
  if (!isLoopbackHost(target.hostname)) {
    return Promise.reject(new Error(`${target.hostname} is not a loopback host.`));
  }
  return new Promise<OutboundResponse>((resolve, reject) => {
    const requestOptions: https.RequestOptions = {
      method: 'POST',
      headers: {
        'Content-Type': contentType,
        'Content-Length': Buffer.byteLength(body),
        'User-Agent': 'Graph-Simulator-Webhooks/1.0',
      },
      // NOTE: a fresh connection per request, closed after it, so nothing outlives stop().
      agent: false,
      signal: options.signal,
    };
    const onResponse = (res: http.IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxResponseBytes) {
          req.destroy(
            new Error(`The answer from ${url} is larger than ${maxResponseBytes} bytes.`),
          );
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({
          status: res.statusCode ?? 0,
          contentType: res.headers['content-type'],
          body: Buffer.concat(chunks).toString('utf8'),
        });
      });
      res.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    };
    const req =
      target.protocol === 'https:'
        ? https.request(target, { ...requestOptions, ca: options.ca }, onResponse)
        : http.request(target, requestOptions, onResponse);
    const timer = setTimeout(() => {
      req.destroy(new OutboundTimeoutError(url, options.timeoutMs));
    }, options.timeoutMs);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end(body);
  });
}

/**
 * One validation request (docs/graph-rules.md#validation-handshake): POST `{url}?validationToken=...` with
 * `text/plain; charset=utf-8`; the endpoint must answer 200, `text/plain`, and exactly the
 * decoded token, in time. Non-loopback hosts are not contacted and count as valid.
 */
export async function validateEndpoint(
  url: string,
  options: OutboundOptions,
): Promise<HandshakeOutcome> {
  if (!isLoopbackHost(new URL(url).hostname)) return { ok: true };
  const token = newValidationToken();
  let answer: OutboundResponse;
  try {
    answer = await postToLoopback(
      validationUrl(url, token),
      '',
      'text/plain; charset=utf-8',
      options,
    );
  } catch (e: unknown) {
    if (e instanceof OutboundTimeoutError) {
      return { ok: false, code: 'InvalidRequest', message: validationMessages.timedOut };
    }
    return { ok: false, code: 'ValidationError', message: validationMessages.notOk };
  }
  if (answer.status !== 200) {
    return { ok: false, code: 'ValidationError', message: validationMessages.notOk };
  }
  const plainText = /^text\/plain\s*(;|$)/i.test(answer.contentType ?? '');
  if (!plainText || answer.body !== token) {
    return { ok: false, code: 'ValidationError', message: validationMessages.mismatch };
  }
  return { ok: true };
}
