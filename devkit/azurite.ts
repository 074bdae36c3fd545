import { ChildProcess, fork } from 'node:child_process';
import { createServer, connect } from 'node:net';
import * as path from 'node:path';

/** Endpoints of a running Azurite, and a connection string that points at them. */
export interface AzuriteEndpoints {
  readonly blobPort: number;
  readonly queuePort: number;
  readonly tablePort: number;
  readonly connectionString: string;
}

export interface RunningAzurite extends AzuriteEndpoints {
  readonly pid: number;
  stop(): Promise<void>;
}

const host = '127.0.0.1';

/** A port the OS just handed out on loopback; free unless another process takes it first. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port from the OS'));
      });
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}

/**
 * Azurite's documented development account. The key is published by Azurite itself; it is read
 * from the package so that no key is written into this repository.
 */
export function developmentAccount(): { name: string; key: string } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const constants = require('azurite/dist/src/common/utils/constants.js') as {
    EMULATOR_ACCOUNT_NAME: string;
    EMULATOR_ACCOUNT_KEY: Buffer;
  };
  return {
    name: constants.EMULATOR_ACCOUNT_NAME,
    key: constants.EMULATOR_ACCOUNT_KEY.toString('base64'),
  };
}

export function connectionStringFor(
  ports: {
    blobPort: number;
    queuePort: number;
    tablePort: number;
  },
  protocol: 'http' | 'https' = 'http',
): string {
  const { name, key } = developmentAccount();
  return [
    `DefaultEndpointsProtocol=${protocol}`,
    `AccountName=${name}`,
    `AccountKey=${key}`,
    `BlobEndpoint=${protocol}://${host}:${ports.blobPort}/${name}`,
    `QueueEndpoint=${protocol}://${host}:${ports.queuePort}/${name}`,
    `TableEndpoint=${protocol}://${host}:${ports.tablePort}/${name}`,
  ].join(';');
}

export interface AzuriteOptions {
  /**
   * Serve HTTPS with this certificate and key (PEM files) and accept OAuth bearer tokens
   * (`--oauth basic`: issuer, audience and lifetime are checked, not the signature). Azurite
   * accepts tokens over HTTPS only. The connection string then uses https://.
   */
  readonly oauthOverHttps?: { readonly certPath: string; readonly keyPath: string };
}

/**
 * Starts Azurite in memory on free loopback ports, telemetry off. The child is the server itself
 * (not npx), connected over IPC so that it exits on its own when this process goes away.
 */
export async function startAzurite(options: AzuriteOptions = {}): Promise<RunningAzurite> {
  const [blobPort, queuePort, tablePort] = [await freePort(), await freePort(), await freePort()];
  const https = options.oauthOverHttps;
  const httpsArgs =
    https === undefined
      ? []
      : ['--oauth', 'basic', '--cert', https.certPath, '--key', https.keyPath];
  const child: ChildProcess = fork(
    path.join(__dirname, 'azuriteProcess.js'),
    [
      '--silent',
      '--inMemoryPersistence',
      '--disableTelemetry',
      '--skipApiVersionCheck',
      '--loose',
      '--blobHost',
      host,
      '--blobPort',
      String(blobPort),
      '--queueHost',
      host,
      '--queuePort',
      String(queuePort),
      '--tableHost',
      host,
      '--tablePort',
      String(tablePort),
      ...httpsArgs,
    ],
    { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] },
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error('Azurite did not start');
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );

  const deadline = Date.now() + 20_000;
  for (;;) {
    const ready = await Promise.all([blobPort, queuePort, tablePort].map(canConnect));
    if (ready.every(Boolean)) break;
    if (child.exitCode !== null) throw new Error(`Azurite exited with code ${child.exitCode}`);
    if (Date.now() > deadline) {
      child.kill();
      throw new Error('Azurite did not listen within 20 s');
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  return {
    pid,
    blobPort,
    queuePort,
    tablePort,
    connectionString: connectionStringFor(
      { blobPort, queuePort, tablePort },
      https === undefined ? 'http' : 'https',
    ),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        // NOTE: the server process also waits on its IPC channel; closing it lets it exit at once.
        if (child.connected) child.disconnect();
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
