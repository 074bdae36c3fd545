import { generate } from 'selfsigned';
import type { SimulatorTls } from './types';

/**
 * A private CA and a server certificate it signed, valid for 127.0.0.1 and localhost. Clients
 * trust `ca`; the simulator serves `cert`/`key`. Key generation costs a few hundred
 * milliseconds, so one pair is made per process and shared by every simulator and receiver.
 */
let cached: Promise<SimulatorTls> | undefined;

export function generateSimulatorTls(): Promise<SimulatorTls> {
  cached ??= createSimulatorTls().catch((e: unknown) => {
    cached = undefined;
    throw e;
  });
  return cached;
}

async function createSimulatorTls(): Promise<SimulatorTls> {
  // NOTE: TLS validity is checked against real time, whatever clock the simulator runs on.
  const notBeforeDate = new Date(Date.now() - 24 * 60 * 60 * 1000);
  const notAfterDate = new Date(Date.now() + 365 * 24 * 60 * 60 * 1000);
  const ca = await generate([{ name: 'commonName', value: 'Graph simulator test CA' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      {
        name: 'keyUsage',
        keyCertSign: true,
        cRLSign: true,
        digitalSignature: true,
        critical: true,
      },
    ],
  });
  const server = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  return { ca: ca.cert, cert: server.cert, key: server.private };
}
