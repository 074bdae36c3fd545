import { createSign, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { registerSecret } from './testLogSink';

/**
 * A stand-in for App Service's managed identity endpoint (the one Azure Functions gives the app
 * in `IDENTITY_ENDPOINT`, guarded by the `X-IDENTITY-HEADER` secret in `IDENTITY_HEADER`), as
 * `@azure/identity`'s `ManagedIdentityCredential` calls it:
 * `GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=R[&client_id=C]`
 * (https://learn.microsoft.com/azure/app-service/overview-managed-identity#rest-endpoint-reference).
 *
 * Tokens are JWTs signed RS256 with a key of this stand-in; `publicKey` lets a relying party (the
 * Graph simulator's token endpoint) check them. They carry `aud` = the requested resource, `iss`
 * (`https://sts.windows.net/{tenant}/` for Azure resources, the v2.0 issuer for the token-exchange
 * audience, which is what a federated identity credential names), `tid`, `oid`/`sub` = the
 * identity's object id, `appid` = its client id. Plain HTTP on 127.0.0.1, as App Service's is
 * local; it stops by itself when the process exits (`unref`).
 */

export interface SimulatedManagedIdentity {
  /** What `__clientId` / `GRAPH_MANAGED_IDENTITY_CLIENT_ID` name. */
  readonly clientId: string;
  /** The object (principal) id: `sub` of its tokens, the subject of a federated credential. */
  readonly objectId: string;
}

export interface IdentityEndpointCall {
  readonly resource: string;
  readonly clientId: string | undefined;
  readonly status: number;
}

export interface IdentityEndpoint {
  /** `IDENTITY_ENDPOINT`. */
  readonly endpoint: string;
  /** `IDENTITY_HEADER`. */
  readonly header: string;
  readonly tenantId: string;
  /** The system-assigned identity, used when a request names no client id. */
  readonly systemAssigned: SimulatedManagedIdentity;
  /** A user-assigned identity assigned to the app. */
  readonly userAssigned: SimulatedManagedIdentity;
  /** PEM public key that verifies the tokens this endpoint issues. */
  readonly publicKey: string;
  calls(): readonly IdentityEndpointCall[];
  stop(): Promise<void>;
}

/** The token-exchange audiences a federated identity credential can name, per cloud. */
const tokenExchangeResources = [
  'api://AzureADTokenExchange',
  'api://AzureADTokenExchangeUSGov',
  'api://AzureADTokenExchangeChina',
];

export async function startIdentityEndpoint(options: {
  readonly tenantId: string;
}): Promise<IdentityEndpoint> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const header = randomBytes(24).toString('base64url');
  registerSecret('clientSecret', header);
  const identity = (): SimulatedManagedIdentity => ({
    clientId: randomUUID(),
    objectId: randomUUID(),
  });
  const systemAssigned = identity();
  const userAssigned = identity();
  const calls: IdentityEndpointCall[] = [];

  const issue = (who: SimulatedManagedIdentity, resource: string) => {
    const now = Math.floor(Date.now() / 1000);
    const exchange = tokenExchangeResources.includes(resource.replace(/\/+$/, ''));
    const claims = {
      aud: resource,
      iss: exchange
        ? `https://login.microsoftonline.com/${options.tenantId}/v2.0`
        : `https://sts.windows.net/${options.tenantId}/`,
      iat: now - 60,
      nbf: now - 60,
      exp: now + 3600,
      appid: who.clientId,
      azp: who.clientId,
      idtyp: 'app',
      oid: who.objectId,
      sub: who.objectId,
      tid: options.tenantId,
      uti: randomBytes(12).toString('base64url'),
    };
    const encode = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const unsigned = `${encode({ typ: 'JWT', alg: 'RS256', kid: 'identity-endpoint' })}.${encode(claims)}`;
    const signature = createSign('RSA-SHA256')
      .update(unsigned)
      .sign(privateKey)
      .toString('base64url');
    const token = `${unsigned}.${signature}`;
    registerSecret('accessToken', token);
    return { token, expiresOn: claims.exp };
  };

  const answer = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const send = (status: number, body: Record<string, unknown>) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const resource = url.searchParams.get('resource') ?? '';
    const clientId = url.searchParams.get('client_id') ?? undefined;
    const record = (status: number) => calls.push({ resource, clientId, status });
    if (req.method !== 'GET' || req.headers['x-identity-header'] !== header) {
      record(401);
      send(401, { statusCode: 401, message: 'Unauthorized: missing or wrong X-IDENTITY-HEADER.' });
      return;
    }
    if (url.searchParams.get('api-version') !== '2019-08-01' || resource === '') {
      record(400);
      send(400, { statusCode: 400, message: 'api-version 2019-08-01 and resource are required.' });
      return;
    }
    const who =
      clientId === undefined
        ? systemAssigned
        : [systemAssigned, userAssigned].find((i) => i.clientId === clientId);
    if (who === undefined) {
      record(400);
      send(400, {
        statusCode: 400,
        message: 'No User Assigned or Delegated Managed Identity found for specified ClientId.',
      });
      return;
    }
    const { token, expiresOn } = issue(who, resource);
    record(200);
    send(200, {
      access_token: token,
      expires_on: String(expiresOn),
      resource,
      token_type: 'Bearer',
      client_id: who.clientId,
    });
  };

  const server = createServer(answer);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}/msi/token`,
    header,
    tenantId: options.tenantId,
    systemAssigned,
    userAssigned,
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    calls: () => [...calls],
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
