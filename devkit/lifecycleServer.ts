import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as https from 'node:https';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import {
  HttpRequest,
  HttpResponse,
  InvocationContext,
  type HttpResponseInit,
  type LogLevel,
} from '@azure/functions';
import { parseLogLine } from '../shared/logger';
import { recordLogLine } from './testLogSink';

/**
 * Serves an Azure Functions HTTP handler over loopback HTTPS, the way the Functions host would:
 * the function key (`?code=`) is checked, each Node request becomes a real `HttpRequest` (method,
 * URL with its query, headers, body) and is given to the handler with a real
 * `InvocationContext`, and the `HttpResponseInit` it returns is written back through the
 * library's `HttpResponse` (so `jsonBody` gets its `application/json` as in the host).
 *
 * Two ways to run it:
 * - `serveHandler(tls, handler)`: in this process, any handler (e.g. `lifecycleHandler(h.deps)`).
 * - `startLifecycleHandlerProcess(...)`: the production export `lifecycleNotifications` in a
 *   child Node process whose environment holds the app settings, so the composition root builds
 *   everything from them, as in Azure. The Graph simulator's CA is trusted through
 *   NODE_EXTRA_CA_CERTS, which Node reads only at process start (hence the child process).
 */

export type FunctionsHttpHandler = (
  request: HttpRequest,
  context: InvocationContext,
) => Promise<HttpResponseInit>;

export interface HandlerLogLine {
  readonly level: LogLevel;
  readonly message: string;
  /** Everything logged, serialised: to check that no secret appears anywhere. */
  readonly text: string;
  readonly properties: Readonly<Record<string, unknown>> | undefined;
}

export interface ServedHandler {
  /** `https://127.0.0.1:PORT` */
  readonly origin: string;
  /** The URL to give Graph: `https://127.0.0.1:PORT/api/lifecycle?code=KEY`. */
  readonly url: string;
  /** Requests that reached the handler (key accepted). */
  readonly invocations: number;
  readonly logs: readonly HandlerLogLine[];
  stop(): Promise<void>;
}

export const testFunctionKey = 'test-key';
const route = '/api/lifecycle';

/** A real InvocationContext whose log lines go to `onLog` (e.g. `(l) => logs.push(l)`). */
export function capturingContext(onLog: (line: HandlerLogLine) => void): InvocationContext {
  return new InvocationContext({
    functionName: 'lifecycleNotifications',
    logHandler: (level, ...args) => {
      onLog(toLogLine(level, args));
    },
  });
}

function toLogLine(level: LogLevel, args: readonly unknown[]): HandlerLogLine {
  const [first] = args;
  // NOTE: the app logs one string per line, `message {json}` (shared/logger.ts formatLogLine).
  const line = args.length === 1 && typeof first === 'string' ? parseLogLine(first) : undefined;
  const [message, properties] = line === undefined ? args : [line.message, line.properties];
  return {
    level,
    message: typeof message === 'string' ? message : JSON.stringify(message),
    text: JSON.stringify(args),
    properties:
      typeof properties === 'object' && properties !== null
        ? (properties as Record<string, unknown>)
        : undefined,
  };
}

/** The Node request as the Functions host hands it over: a real `HttpRequest`. */
async function toHttpRequest(req: IncomingMessage, origin: string): Promise<HttpRequest> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const body = Buffer.concat(chunks);
  return new HttpRequest({
    method: req.method ?? 'POST',
    url: `${origin}${req.url ?? '/'}`,
    headers,
    ...(body.length === 0 ? {} : { body: { bytes: body } }),
  });
}

async function writeResponse(res: ServerResponse, init: HttpResponseInit): Promise<void> {
  const response = new HttpResponse(init);
  const body = Buffer.from(await response.arrayBuffer());
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  res.writeHead(response.status, { ...headers, 'content-length': String(body.length) });
  res.end(body);
}

/** Serves `handler` on 127.0.0.1 over HTTPS with `tls` (e.g. the simulator's `sim.tls`). */
export async function serveHandler(
  tls: { readonly cert: string; readonly key: string },
  handler: FunctionsHttpHandler,
  options: {
    readonly onLog?: (line: HandlerLogLine) => void;
    readonly onInvocation?: () => void;
  } = {},
): Promise<ServedHandler> {
  const logs: HandlerLogLine[] = [];
  const onLog = (line: HandlerLogLine) => {
    logs.push(line);
    options.onLog?.(line);
  };
  let invocations = 0;
  let origin = '';
  const server = https.createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    const url = new URL(req.url ?? '/', origin);
    // NOTE: authLevel 'function': the host refuses a wrong key before the function runs.
    if (url.pathname !== route || url.searchParams.get('code') !== testFunctionKey) {
      req.resume();
      res.writeHead(url.pathname === route ? 401 : 404).end();
      return;
    }
    invocations++;
    options.onInvocation?.();
    toHttpRequest(req, origin)
      .then((request) => handler(request, capturingContext(onLog)))
      .then((init) => writeResponse(res, init))
      .catch((e: unknown) => {
        // The host answers 500 when a function throws.
        const line = toLogLine('error', ['handler threw', { error: String(e) }]);
        recordLogLine('served-handler.error', line.text);
        onLog(line);
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('No port from the OS.');
  origin = `https://127.0.0.1:${address.port}`;
  return {
    origin,
    url: `${origin}${route}?code=${testFunctionKey}`,
    get invocations() {
      return invocations;
    },
    logs,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}

// ---- the production handler in a child process ----

export interface HandlerProcessOptions {
  readonly tls: { readonly ca: string; readonly cert: string; readonly key: string };
  /** App settings, exactly as the Functions host would put them in the environment. */
  readonly settings: Readonly<Record<string, string>>;
}

const repoRoot = path.resolve(__dirname, '..');

/**
 * Loads TypeScript sources in the child without a build: each .ts file is transpiled on require
 * (types are checked by `tsc` over the repository, not here).
 */
const childBootstrap = `
const fs = require('node:fs');
const ts = require('typescript');
require.extensions['.ts'] = (module, filename) => {
  const source = fs.readFileSync(filename, 'utf8');
  const { outputText } = ts.transpileModule(source, {
    fileName: filename,
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
      inlineSourceMap: true,
    },
  });
  module._compile(outputText, filename);
};
require('./devkit/networkGuard.ts');
require('./devkit/lifecycleServer.ts').runLifecycleHandlerChild();
`;

interface ChildMessage {
  readonly listening?: string;
  readonly log?: HandlerLogLine;
  readonly invocation?: true;
}

/**
 * Starts the production `lifecycleNotifications` export in a child process that serves it over
 * loopback HTTPS. The child's environment is `settings` plus NODE_EXTRA_CA_CERTS (the
 * simulator's CA) and nothing else of this process's environment.
 */
export async function startLifecycleHandlerProcess(
  options: HandlerProcessOptions,
): Promise<ServedHandler> {
  const dir = mkdtempSync(path.join(tmpdir(), 'lifecycle-handler-'));
  const caFile = path.join(dir, 'ca.pem');
  const tlsFile = path.join(dir, 'tls.json');
  writeFileSync(caFile, options.tls.ca);
  writeFileSync(tlsFile, JSON.stringify({ cert: options.tls.cert, key: options.tls.key }));
  const child = spawn(process.execPath, ['-e', childBootstrap], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH ?? '',
      NODE_EXTRA_CA_CERTS: caFile,
      LIFECYCLE_TEST_TLS_FILE: tlsFile,
      ...options.settings,
    },
    // NOTE: the IPC channel lets the child end itself when this process goes away unannounced.
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const { stdout, stderr: errors } = child;
  if (stdout === null || errors === null) throw new Error('The handler process has no pipes.');
  const logs: HandlerLogLine[] = [];
  let invocations = 0;
  let stderr = '';
  errors.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
    recordLogLine('lifecycle-child.stderr', chunk.toString('utf8'));
  });
  const listening = new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: stdout });
    lines.on('line', (line) => {
      let message: ChildMessage;
      try {
        message = JSON.parse(line) as ChildMessage;
      } catch {
        // The library's own console output in test mode.
        recordLogLine('lifecycle-child.stdout', line);
        return;
      }
      if (message.listening !== undefined) resolve(message.listening);
      if (message.log !== undefined) {
        logs.push(message.log);
        recordLogLine(`lifecycle-child.${message.log.level}`, message.log.text);
      }
      if (message.invocation === true) invocations++;
    });
    child.once('exit', (code) => {
      reject(new Error(`The handler process exited (${String(code)}) before listening: ${stderr}`));
    });
  });
  let origin: string;
  try {
    origin = await listening;
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    origin,
    url: `${origin}${route}?code=${testFunctionKey}`,
    get invocations() {
      return invocations;
    },
    logs,
    stop: () => stopChild(child, dir),
  };
}

function stopChild(child: ChildProcess, dir: string): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      rmSync(dir, { recursive: true, force: true });
      resolve();
    };
    if (child.exitCode !== null || child.signalCode !== null) {
      done();
      return;
    }
    child.once('exit', done);
    child.kill('SIGTERM');
  });
}

/**
 * The child's side: serve the production export; report the origin, each invocation and each
 * log line on stdout (a pipe, written synchronously, before the answer goes out).
 */
export function runLifecycleHandlerChild(): void {
  const tlsFile = process.env.LIFECYCLE_TEST_TLS_FILE;
  if (tlsFile === undefined) throw new Error('LIFECYCLE_TEST_TLS_FILE is not set');
  const tls = JSON.parse(readFileSync(tlsFile, 'utf8')) as { cert: string; key: string };
  // NOTE: required here, not imported at the top: only the child loads the production export.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const production = require('../functions/lifecycleNotifications') as {
    lifecycleNotifications: FunctionsHttpHandler;
  };
  const send = (message: ChildMessage) => {
    process.stdout.write(`${JSON.stringify(message)}\n`);
  };
  void serveHandler(tls, production.lifecycleNotifications, {
    onLog: (log) => {
      send({ log });
    },
    onInvocation: () => {
      send({ invocation: true });
    },
  }).then((served) => {
    send({ listening: served.origin });
    const stop = () => {
      void served.stop().then(() => process.exit(0));
    };
    process.once('SIGTERM', stop);
    process.once('disconnect', stop);
  });
}
