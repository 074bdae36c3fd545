import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import * as https from 'node:https';
import type { SimulatorTls } from './types';

/**
 * A loopback HTTPS endpoint for the simulator to call: validation handshakes and lifecycle
 * notifications. By default it answers a handshake correctly (200, text/plain, the decoded
 * token) and anything else with 202; `answer` overrides that per request.
 */

export interface ReceivedRequest {
  readonly method: string;
  /** Path and query as received (the token still encoded). */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The decoded `validationToken` query parameter, if any. */
  readonly validationToken: string | null;
}

export interface ReceiverAnswer {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** An answer, or 'hang' to never answer (until the receiver stops). */
export type ReceiverHandler = (request: ReceivedRequest) => ReceiverAnswer | 'hang';

export interface WebhookReceiver {
  /** `https://127.0.0.1:PORT` */
  readonly origin: string;
  readonly requests: readonly ReceivedRequest[];
  setHandler(handler: ReceiverHandler): void;
  stop(): Promise<void>;
}

export const correctReceiverHandler: ReceiverHandler = (request) =>
  request.validationToken !== null
    ? {
        status: 200,
        headers: { 'Content-Type': 'text/plain; charset=utf-8' },
        body: request.validationToken,
      }
    : { status: 202 };

export async function startWebhookReceiver(
  tls: SimulatorTls,
  handler: ReceiverHandler = correctReceiverHandler,
): Promise<WebhookReceiver> {
  const requests: ReceivedRequest[] = [];
  let current = handler;
  const server = https.createServer(
    { cert: tls.cert, key: tls.key },
    (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const url = req.url ?? '/';
        const request: ReceivedRequest = {
          method: req.method ?? 'GET',
          url,
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          validationToken: new URL(url, 'https://127.0.0.1').searchParams.get('validationToken'),
        };
        requests.push(request);
        const answer = current(request);
        if (answer === 'hang') return;
        res.writeHead(answer.status, answer.headers);
        res.end(answer.body);
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('No port from the OS.');
  return {
    origin: `https://127.0.0.1:${address.port}`,
    requests,
    setHandler(next) {
      current = next;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
