import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { loadConfig, type Config } from '../../shared/config';
import { createCredential } from '../../shared/graph/credentials';
import { createGraphSubscriptions } from '../../shared/graph/createGraphSubscriptions';
import {
  QueueResyncPublisher,
  decodeResyncMessage,
} from '../../shared/resync/queueResyncPublisher';
import { resyncMessageFor } from '../../shared/resync/resyncPublisher';
import { TableSubscriptionStore } from '../../shared/store/tableSubscriptionStore';
import { subscriptionTableClient } from '../../shared/store/tableClient';
import { startAzurite, type RunningAzurite } from '../../devkit/azurite';
import { startIdentityEndpoint, type IdentityEndpoint } from '../../devkit/identityEndpoint';
import {
  generateSimulatorTls,
  simulatorCredentialOptions,
  startGraphSimulator,
  type GraphSimulator,
} from '../../devkit/graphSimulator';
import { aSubscription } from '../support/subscriptionMother';

/**
 * The app's two identities against loopback stand-ins of what Azure gives it:
 * - storage over a managed identity: App Service's identity endpoint (`IDENTITY_ENDPOINT`,
 *   `IDENTITY_HEADER`) issues the token, Azurite over HTTPS with OAuth checks it;
 * - Graph over a managed identity as the federated credential of a multi-tenant app
 *   registration: the managed identity's token for `api://AzureADTokenExchange` is the client
 *   assertion that the Graph simulator's token endpoint accepts for the app in any tenant.
 */

const homeTenant = '5d2b4a61-8e0f-4c57-9a6e-0c7e2f3b1a10';
const tenantA = '0a6f7e0e-4b8b-4a39-9a52-3f0a7f1d2c01';
const tenantB = '7c1e0d55-0f3e-4d8e-b0c4-5a2b9e6d4c02';

let identity: IdentityEndpoint;
let azurite: RunningAzurite;
let sim: GraphSimulator;
let certDir: string;
const savedEnv = { ...process.env };
const defaultCas = tls.getCACertificates('default');

function claimsOf(token: string): Record<string, unknown> {
  const part = token.split('.')[1] ?? '';
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
}

beforeAll(async () => {
  const simTls = await generateSimulatorTls();
  identity = await startIdentityEndpoint({ tenantId: homeTenant });
  // NOTE: what App Service sets for the app; MSAL reads them when a token is first asked for.
  process.env.IDENTITY_ENDPOINT = identity.endpoint;
  process.env.IDENTITY_HEADER = identity.header;
  certDir = mkdtempSync(path.join(tmpdir(), 'azurite-oauth-'));
  writeFileSync(path.join(certDir, 'cert.pem'), simTls.cert);
  writeFileSync(path.join(certDir, 'key.pem'), simTls.key);
  azurite = await startAzurite({
    oauthOverHttps: {
      certPath: path.join(certDir, 'cert.pem'),
      keyPath: path.join(certDir, 'key.pem'),
    },
  });
  // NOTE: the storage SDKs take no CA option; the test CA is trusted process-wide instead.
  tls.setDefaultCACertificates([...defaultCas, simTls.ca]);
  sim = await startGraphSimulator({ tls: simTls });
}, 60_000);

afterAll(async () => {
  tls.setDefaultCACertificates(defaultCas);
  process.env = savedEnv;
  await Promise.all([sim.stop(), azurite.stop(), identity.stop()]);
  rmSync(certDir, { recursive: true, force: true });
});

describe('storage over a managed identity', () => {
  function identityConfig(extra: Record<string, string> = {}): Config {
    return loadConfig({
      STORAGE_CONNECTION__tableServiceUri: `https://127.0.0.1:${azurite.tablePort}/devstoreaccount1`,
      STORAGE_CONNECTION__queueServiceUri: `https://127.0.0.1:${azurite.queuePort}/devstoreaccount1`,
      STORAGE_CONNECTION__credential: 'managedidentity',
      STORAGE_CONNECTION__clientId: identity.userAssigned.clientId,
      SUBSCRIPTIONS_TABLE: `mi${Date.now().toString(36)}`,
      RESYNC_QUEUE: 'resync-over-identity',
      ...extra,
    });
  }

  test('when the state account is reached by its managed identity, then the table and the queue work with its tokens', async () => {
    const config = identityConfig();
    const store = TableSubscriptionStore.fromConfig(config.storage);
    const publisher = QueueResyncPublisher.fromConfig(config.storage);
    const sub = { ...aSubscription(), resyncRequestedAt: new Date(), resyncReason: 'missed' };

    await store.create(sub);
    const read = await store.get(sub.definition.tenantId, sub.definition.key);
    await publisher.publish(resyncMessageFor(sub));
    const received = await publisher.queue.receiveMessages({ numberOfMessages: 1 });

    expect(read?.definition).toEqual(sub.definition);
    expect(decodeResyncMessage(received.receivedMessageItems[0]?.messageText ?? '')).toEqual(
      expect.objectContaining({ key: sub.definition.key }),
    );
    const storageCalls = identity.calls().filter((c) => c.resource.includes('storage'));
    expect(storageCalls.length).toBeGreaterThan(0);
    expect(storageCalls).toEqual(
      storageCalls.map(() => ({
        resource: 'https://storage.azure.com',
        clientId: identity.userAssigned.clientId,
        status: 200,
      })),
    );
  });

  test('when the token is not for storage, then Azurite refuses it (the check is real)', async () => {
    const config = identityConfig();
    const graphToken: TokenCredential = {
      getToken: (): Promise<AccessToken> =>
        Promise.resolve({
          token: sim.issueToken(homeTenant),
          expiresOnTimestamp: Date.now() + 3_600_000,
        }),
    };
    const client = subscriptionTableClient(config.storage.connection, config.storage.table, {
      credential: graphToken,
    });

    await expect(client.createTable()).rejects.toMatchObject({ statusCode: 403 });
  });
});

describe('Graph over a managed identity as federated credential', () => {
  function federatedConfig(managedIdentityClientId: string): Config {
    return loadConfig({
      STORAGE_CONNECTION: 'UseDevelopmentStorage=true',
      GRAPH_BASE_URL: sim.graphUrl,
      GRAPH_CREDENTIAL: 'managedIdentityFederation',
      GRAPH_TENANT_ID: homeTenant,
      GRAPH_CLIENT_ID: sim.clientId,
      GRAPH_MANAGED_IDENTITY_CLIENT_ID: managedIdentityClientId,
      GRAPH_AUTHORITY_HOST: sim.authorityHost,
      GRAPH_DISABLE_INSTANCE_DISCOVERY: 'true',
    });
  }

  beforeAll(() => {
    sim.addFederatedIdentityCredential({
      issuer: `https://login.microsoftonline.com/${homeTenant}/v2.0`,
      subject: identity.userAssigned.objectId,
      audience: 'api://AzureADTokenExchange',
      publicKey: identity.publicKey,
    });
  });

  test('when tokens are asked for two tenants, then each tenant gets its own token', async () => {
    const config = federatedConfig(identity.userAssigned.clientId);
    const credential = createCredential(
      config.identity,
      config.graph.cloud,
      simulatorCredentialOptions(sim),
    );

    const a = await credential.getToken('https://graph.microsoft.com/.default', {
      tenantId: tenantA,
    });
    const b = await credential.getToken('https://graph.microsoft.com/.default', {
      tenantId: tenantB,
    });

    expect(a?.token).not.toBe(b?.token);
    expect(claimsOf(a?.token ?? '')).toMatchObject({ tid: tenantA, appid: sim.clientId });
    expect(claimsOf(b?.token ?? '')).toMatchObject({ tid: tenantB, appid: sim.clientId });
    expect(identity.calls()).toContainEqual({
      resource: 'api://AzureADTokenExchange',
      clientId: identity.userAssigned.clientId,
      status: 200,
    });
  });

  test("when the app calls Graph for two tenants, then each call carries its own tenant's token", async () => {
    const config = federatedConfig(identity.userAssigned.clientId);
    const graph = createGraphSubscriptions(config, {
      credentialOptions: simulatorCredentialOptions(sim),
      trustedCaCertificates: sim.tls.ca,
    });
    sim.resetCalls();

    const seen: string[] = [];
    for (const tenantId of [tenantA, tenantB, tenantA]) {
      for await (const s of graph.list(tenantId)) seen.push(s.id);
    }

    expect(seen).toEqual([]);
    const apiCalls = sim.calls().filter((c) => c.kind !== 'token' && c.kind !== 'other');
    expect(apiCalls.map((c) => [c.status, c.tenantId])).toEqual([
      [200, tenantA],
      [200, tenantB],
      [200, tenantA],
    ]);
  });

  test('when the managed identity is not the one the app registration trusts, then Entra refuses the assertion', async () => {
    const config = federatedConfig(identity.systemAssigned.clientId);
    const credential = createCredential(
      config.identity,
      config.graph.cloud,
      simulatorCredentialOptions(sim),
    );

    await expect(
      credential.getToken('https://graph.microsoft.com/.default', { tenantId: tenantA }),
    ).rejects.toThrow(/AADSTS70021/);
  });

  test('when a plain managed identity is asked for another tenant, then no token is fetched for it', async () => {
    const config = loadConfig({
      STORAGE_CONNECTION: 'UseDevelopmentStorage=true',
      GRAPH_CREDENTIAL: 'managedIdentity',
      GRAPH_TENANT_ID: homeTenant,
      GRAPH_MANAGED_IDENTITY_CLIENT_ID: identity.userAssigned.clientId,
    });
    const credential = createCredential(config.identity, config.graph.cloud);

    const home = await credential.getToken('https://graph.microsoft.com/.default', {
      tenantId: homeTenant,
    });
    expect(claimsOf(home?.token ?? '')).toMatchObject({ tid: homeTenant });
    await expect(
      credential.getToken('https://graph.microsoft.com/.default', { tenantId: tenantA }),
    ).rejects.toThrow(/home tenant/);
  });
});
