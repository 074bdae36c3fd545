import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { CertificateClientOptions } from '@azure/keyvault-certificates';
import type { GraphSimulator } from './graphSimulator';

/**
 * A loopback HTTPS stand-in for Key Vault's certificate endpoints, reached by the real
 * `@azure/keyvault-certificates` client: the bearer challenge (401 with `WWW-Authenticate`
 * naming the simulator's authority), then `GET /certificates/{name}/` (latest version) and
 * `GET /certificates/{name}/{version}`. Tokens come from the Graph simulator's token endpoint
 * and must be issued for `https://vault.azure.net`.
 * REST shapes: https://learn.microsoft.com/rest/api/keyvault/certificates/get-certificate/get-certificate
 */

export interface KeyVaultStandIn {
  /** The vault URL definitions name, https://127.0.0.1:PORT. */
  readonly vaultUrl: string;
  /** Adds a version (PEM or DER) as the latest; returns its version id. */
  addVersion(name: string, certificate: string | Uint8Array): string;
  /** Requests served, for assertions (method, path, status). */
  requests(): readonly { method: string; path: string; status: number }[];
  /** Options the real CertificateClient needs to reach the stand-in. */
  clientOptions(): CertificateClientOptions;
  stop(): Promise<void>;
}

const vaultResource = 'https://vault.azure.net';

interface Version {
  readonly version: string;
  readonly der: Buffer;
  readonly created: number;
}

export async function startKeyVaultStandIn(
  sim: Pick<GraphSimulator, 'tls' | 'authorityHost'>,
  options: { readonly tenantId: string },
): Promise<KeyVaultStandIn> {
  const certificates = new Map<string, Version[]>();
  const served: { method: string; path: string; status: number }[] = [];
  const sockets = new Set<Socket>();
  let vaultUrl = '';

  const answer = (
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) => {
    served.push({ method: req.method ?? '', path: (req.url ?? '').split('?')[0] ?? '', status });
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', vaultUrl);
    const auth = req.headers.authorization ?? '';
    if (!auth.startsWith('Bearer ')) {
      answer(
        req,
        res,
        401,
        {
          error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer token.' },
        },
        {
          'www-authenticate': `Bearer authorization="${sim.authorityHost}/${options.tenantId}", resource="${vaultResource}"`,
        },
      );
      return;
    }
    if (audienceOf(auth.slice('Bearer '.length)) !== vaultResource) {
      answer(req, res, 401, {
        error: { code: 'Unauthorized', message: 'AKV10022: Invalid audience.' },
      });
      return;
    }
    const [collection, name, version, ...rest] = url.pathname.split('/').filter((p) => p !== '');
    if (
      req.method !== 'GET' ||
      collection !== 'certificates' ||
      name === undefined ||
      rest.length
    ) {
      answer(req, res, 400, { error: { code: 'BadParameter', message: 'Not supported.' } });
      return;
    }
    const versions = certificates.get(name.toLowerCase()) ?? [];
    const found =
      version === undefined ? versions.at(-1) : versions.find((v) => v.version === version);
    if (found === undefined) {
      answer(req, res, 404, {
        error: {
          code: 'CertificateNotFound',
          message: `A certificate with (name/id) ${name} was not found in this key vault.`,
        },
      });
      return;
    }
    answer(req, res, 200, bundle(vaultUrl, name, found));
  };

  const server = https.createServer({ key: sim.tls.key, cert: sim.tls.cert }, handle);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => {
    server.listen(0, '127.0.0.1', resolve);
  });
  // NOTE: never keeps a test process alive.
  server.unref();
  vaultUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    vaultUrl,
    addVersion(name, certificate) {
      const der =
        typeof certificate === 'string'
          ? new X509Certificate(certificate).raw
          : Buffer.from(certificate);
      const version = randomBytes(16).toString('hex');
      const list = certificates.get(name.toLowerCase()) ?? [];
      list.push({ version, der, created: Math.floor(Date.now() / 1000) });
      certificates.set(name.toLowerCase(), list);
      return version;
    },
    requests: () => [...served],
    clientOptions: () => ({
      disableChallengeResourceVerification: true,
      tlsOptions: { ca: sim.tls.ca },
      retryOptions: { maxRetries: 0 },
    }),
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}

function bundle(vaultUrl: string, name: string, v: Version): Record<string, unknown> {
  const x509 = new X509Certificate(v.der);
  const seconds = (text: string) => Math.floor(new Date(text).getTime() / 1000);
  const base = `${vaultUrl}/certificates/${name}/${v.version}`;
  return {
    id: base,
    kid: `${vaultUrl}/keys/${name}/${v.version}`,
    sid: `${vaultUrl}/secrets/${name}/${v.version}`,
    x5t: createHash('sha1').update(v.der).digest('base64url'),
    cer: v.der.toString('base64'),
    attributes: {
      enabled: true,
      nbf: seconds(x509.validFrom),
      exp: seconds(x509.validTo),
      created: v.created,
      updated: v.created,
      recoveryLevel: 'Recoverable+Purgeable',
    },
  };
}

function audienceOf(token: string): unknown {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    return (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { aud?: unknown })
      .aud;
  } catch {
    return undefined;
  }
}
