import * as net from 'node:net';

/**
 * Tests talk to loopback only: Azurite, the Graph simulator and handlers served on 127.0.0.1.
 * Any other destination is refused here, before a packet leaves, so a test that would reach
 * the internet fails loudly instead of hanging on a closed network.
 */
export function isLoopback(host: string | undefined): boolean {
  if (host === undefined || host === '') return true; // Node defaults to localhost
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return (
    h === 'localhost' ||
    h === '::1' ||
    /^127(\.\d{1,3}){3}$/.test(h) ||
    /^::ffff:127(\.\d{1,3}){3}$/.test(h)
  );
}

type ConnectFn = (this: net.Socket, ...args: unknown[]) => net.Socket;

function hostOf(args: unknown[]): string | undefined {
  const first = args[0];
  if (Array.isArray(first)) return hostOf(first as unknown[]);
  if (typeof first === 'object' && first !== null) {
    const options = first as { host?: string; path?: string };
    if (options.path !== undefined) return 'localhost'; // a local IPC socket
    return options.host;
  }
  if (typeof first === 'number') return typeof args[1] === 'string' ? args[1] : undefined;
  if (typeof first === 'string') return 'localhost'; // a local IPC socket path
  return undefined;
}

// eslint-disable-next-line @typescript-eslint/unbound-method -- re-bound with apply below
const original = net.Socket.prototype.connect as unknown as ConnectFn;
const guarded: ConnectFn = function (this: net.Socket, ...args: unknown[]) {
  const host = hostOf(args);
  if (!isLoopback(host)) {
    throw new Error(`Outbound network refused in tests: ${String(host)} is not loopback`);
  }
  return original.apply(this, args);
};
(net.Socket.prototype as unknown as { connect: ConnectFn }).connect = guarded;
