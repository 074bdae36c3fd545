import type { IncomingHttpHeaders } from 'node:http';
import * as https from 'node:https';
import type { GraphSimulator } from './types';

/**
 * Plain HTTPS calls to the simulator for tests that check its wire behaviour (status, headers,
 * body) without a Graph client in between. Node 20's global fetch cannot trust a custom CA
 * without an undici dispatcher, so this uses node:https with `ca`.
 */

export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
  /** The parsed body, or undefined when it is empty or not JSON. */
  readonly json: unknown;
}

export interface RawRequestOptions {
  /** A bearer token; omitted when undefined. */
  readonly token?: string;
  /** Sent as JSON unless a string (sent as is). */
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** A request to `sim.graphUrl + path` (or an absolute URL on the simulator, e.g. a nextLink). */
export function rawRequest(
  sim: Pick<GraphSimulator, 'graphUrl' | 'tls'>,
  method: string,
  pathOrUrl: string,
  options: RawRequestOptions = {},
): Promise<RawResponse> {
  const url = new URL(pathOrUrl, sim.graphUrl);
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`;
  let payload: string | undefined;
  if (options.body !== undefined) {
    payload = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['Content-Type'] ??= 'application/json';
    headers['Content-Length'] = String(Buffer.byteLength(payload));
  }
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, ca: sim.tls.ca, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = text === '' ? undefined : (JSON.parse(text) as unknown);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}
