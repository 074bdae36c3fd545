import { format } from 'node:util';
import { InvocationContext } from '@azure/functions';
import { captureDirectory, recordLogLine } from '../../devkit/testLogSink';

/**
 * Tees every log line of a test file into the run's sink (testLogSink.ts), for the secrets check
 * of the global teardown: `console.*`, direct writes to `process.stdout` and `process.stderr`
 * (the CLI, libraries), and every `InvocationContext` log call (what the functions log, whatever
 * log handler a test gave the context). Nothing is swallowed: each call still does what it did.
 *
 * Registered in jest.config.js `setupFilesAfterEnv`, so that `afterAll` can give the streams back
 * before jest's reporter writes a file's results (in band, that is this process).
 */

type LogMethod = (...args: unknown[]) => void;

/** InvocationContext methods and the level the Functions host logs them at. */
const invocationMethods = {
  log: 'information',
  trace: 'trace',
  debug: 'debug',
  info: 'information',
  warn: 'warning',
  error: 'error',
} as const;

const teed = Symbol.for('graph-subscription-keeper.captureLogs.teed');

type BufferedWrite = (buffer: unknown, type: string, message: string, level?: number) => unknown;

/**
 * Tees jest's console. By default jest gives each test file a BufferedConsole, whose static
 * `write` receives every formatted message; it is wrapped there rather than in `console.log`
 * and friends, because BufferedConsole cuts its stack at `write` to show where a message was
 * logged: a wrapper around `console.log` would become that place. In verbose mode the console
 * writes to process.stdout, which is teed below.
 */
function teeConsole(): void {
  const consoleClass = Object.getPrototypeOf(console) as { constructor?: unknown } | null;
  const ctor = consoleClass?.constructor as
    (Record<string | symbol, unknown> & { name?: string }) | undefined;
  if (ctor === undefined || ctor.name !== 'BufferedConsole' || typeof ctor.write !== 'function') {
    return;
  }
  if (ctor[teed] === true) return;
  ctor[teed] = true;
  const original = ctor.write as BufferedWrite;
  // NOTE: a `function` named like the original, so that the stack is cut at the same place.
  ctor.write = function write(
    this: unknown,
    buffer: unknown,
    type: string,
    message: string,
    level?: number,
  ) {
    recordLogLine(`console.${type}`, message);
    return original.call(this, buffer, type, message, level);
  };
}

/** Serialised as a log pipeline would (JSON), so nested values are scanned too. */
function serialise(args: readonly unknown[]): string {
  try {
    return JSON.stringify(args);
  } catch {
    return format(...args);
  }
}

function teeInvocationContexts(): void {
  const proto = InvocationContext.prototype as unknown as Record<string | symbol, unknown>;
  if (proto[teed] === true) return;
  proto[teed] = true;
  for (const [method, level] of Object.entries(invocationMethods)) {
    const original = proto[method];
    if (typeof original !== 'function') continue;
    const call = original as LogMethod;
    proto[method] = function (this: InvocationContext, ...args: unknown[]) {
      recordLogLine(`invocation.${level}`, serialise(args));
      call.apply(this, args);
    };
  }
}

type Write = NodeJS.WriteStream['write'];

/**
 * Tees a stream's writes, line by line (a write may hold part of a line). Returns what gives the
 * stream its own `write` back and flushes a trailing partial line.
 */
function teeStream(stream: NodeJS.WriteStream, source: string): () => void {
  // eslint-disable-next-line @typescript-eslint/unbound-method -- re-bound with apply below
  const original = stream.write;
  let pending = '';
  const tee = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]): boolean {
    pending += typeof chunk === 'string' ? chunk : textOf(chunk);
    const end = pending.lastIndexOf('\n');
    if (end >= 0) {
      recordLogLine(source, pending.slice(0, end));
      pending = pending.slice(end + 1);
    }
    return (original as (...args: unknown[]) => boolean).apply(this, [chunk, ...rest]);
  };
  stream.write = tee;
  return () => {
    if (stream.write === (tee as Write)) stream.write = original;
    if (pending !== '') recordLogLine(source, pending);
    pending = '';
  };
}

function textOf(chunk: unknown): string {
  if (chunk instanceof Uint8Array) return Buffer.from(chunk).toString('utf8');
  return String(chunk);
}

if (captureDirectory() !== undefined) {
  teeConsole();
  teeInvocationContexts();
  const restore = [teeStream(process.stdout, 'stdout'), teeStream(process.stderr, 'stderr')];
  afterAll(() => {
    for (const r of restore) r();
  });
}
