/**
 * A fresh Node process for `handshake.coldMs`: loads the compiled lifecycle function module (as
 * the Functions worker would load it), answers one validation handshake through its exported
 * handler with a real `HttpRequest`, and prints how long after process start the answer was
 * ready. `performance.now()` counts from the process's time origin, set as Node starts.
 *
 *   node handshakeColdChild.js /path/to/dist-tools/functions/lifecycleNotifications.js TOKEN
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

type Handler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

async function main(): Promise<void> {
  const [modulePath, token] = process.argv.slice(2);
  if (modulePath === undefined || token === undefined) throw new Error('module path and token');
  const loadStartedMs = performance.now();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { lifecycleNotifications } = require(modulePath) as { lifecycleNotifications: Handler };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const functions = require('@azure/functions') as typeof import('@azure/functions');
  const loadedMs = performance.now();
  const url = new URL('https://keeper.example.com/api/lifecycle');
  url.searchParams.set('code', 'function-key');
  url.searchParams.set('validationToken', token);
  const response = await lifecycleNotifications(
    new functions.HttpRequest({ method: 'POST', url: url.toString() }),
    new functions.InvocationContext({ functionName: 'lifecycleNotifications' }),
  );
  const answeredMs = performance.now();
  process.stdout.write(
    `${JSON.stringify({
      answeredMs,
      loadStartedMs,
      loadMs: loadedMs - loadStartedMs,
      status: response.status ?? 200,
      body: typeof response.body === 'string' ? response.body : null,
    })}\n`,
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
