import { ClientSecretCredential } from '@azure/identity';
import {
  ReferencedCertificates,
  type CertificateSource,
} from '../../shared/certificates/certificateSource';
import { AzureKeyVaultCertificates } from '../../shared/certificates/keyVaultCertificateReader';
import type { AppDependencies } from '../../shared/composition';
import { OperationError } from '../../shared/operations/errors';
import { applyDefinition, getByKey } from '../../shared/operations/subscriptionOperations';
import { sweepAndRecord } from '../../shared/operations/sweepOperation';
import { parseDefinitionInput } from '../../shared/operations/definitionInput';
import { toView, type SubscriptionDefinition } from '../../shared/subscriptions/model';
import { startHarness, type Harness } from '../../devkit/appHarness';
import { simulatorCredentialOptions } from '../../devkit/graphSimulator';
import { startKeyVaultStandIn, type KeyVaultStandIn } from '../../devkit/keyVaultStandIn';
import { aCertificate, type TestCertificate } from '../../devkit/testCertificates';

/**
 * Encryption certificates for rich notifications, end to end: a definition names a Key Vault
 * certificate (read by the real @azure/keyvault-certificates client from a loopback stand-in,
 * with a token from the simulator's authority) or an app setting; the app sends Graph the base64
 * DER and an id derived from the version or thumbprint; bad certificates are refused at apply.
 */

const day = 24 * 60 * 60_000;

let h: Harness;
let kv: KeyVaultStandIn;
let good: TestCertificate;

beforeAll(async () => {
  good = await aCertificate();
});

beforeEach(async () => {
  h = await startHarness({ store: 'table' });
  kv = await startKeyVaultStandIn(h.sim, { tenantId: h.tenantId });
});

afterEach(async () => {
  await kv.stop();
  await h.stop();
});

function keyVaultSource(): CertificateSource {
  const credential = new ClientSecretCredential(
    h.tenantId,
    h.sim.clientId,
    h.sim.clientSecret,
    simulatorCredentialOptions(h.sim),
  );
  return new ReferencedCertificates({
    keyVault: new AzureKeyVaultCertificates(credential, kv.clientOptions()),
    settings: { RICH_CERTIFICATE_PEM: good.pem },
    clock: h.clock,
  });
}

function withCertificates(): AppDependencies {
  return { ...h.deps, certificates: keyVaultSource() };
}

function richChat(key: string, fields: Record<string, unknown>): SubscriptionDefinition {
  const input = parseDefinitionInput(
    {
      key,
      tenantId: h.tenantId,
      resource: `chats/${key}/messages`,
      changeType: 'created,updated',
      notificationUrl: 'https://hooks.example.com/api/notify',
      includeResourceData: true,
      ...fields,
    },
    { config: h.config },
  );
  if (!input.ok) throw new Error(JSON.stringify(input.problems));
  return input.definition;
}

function onGraph(id: string | undefined) {
  return h.sim.subscriptions(h.tenantId).find((s) => s.id === id);
}

async function refusal(attempt: Promise<unknown>): Promise<OperationError> {
  const outcome: unknown = await attempt.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(outcome instanceof OperationError)) throw new Error('expected an OperationError');
  return outcome;
}

describe('certificates by reference', () => {
  test('when a definition names a Key Vault certificate, then Graph gets its base64 DER and the id name/version, read through the real SDK client', async () => {
    const version = kv.addVersion('rich-chat', good.pem);
    const deps = withCertificates();

    const result = await applyDefinition(
      deps,
      richChat('kv-chat', {
        encryptionCertificateSource: { keyVault: { vaultUrl: kv.vaultUrl, name: 'rich-chat' } },
      }),
    );

    expect(result.complete).toBe(true);
    const graph = onGraph(result.subscription.graphSubscriptionId);
    expect(graph?.encryptionCertificate).toBe(good.base64Der);
    expect(graph?.encryptionCertificateId).toBe(`rich-chat/${version}`);
    expect(toView(await getByKey(deps, 'kv-chat')).encryptionCertificateId).toBe(
      `rich-chat/${version}`,
    );
    // The SDK answered the bearer challenge, then read the certificate with a vault token.
    expect(kv.requests().map((r) => r.status)).toEqual([401, 200]);
  });

  test('when a definition names an app setting holding the PEM, then Graph gets the certificate with its thumbprint as id', async () => {
    const result = await applyDefinition(
      withCertificates(),
      richChat('setting-chat', {
        encryptionCertificateSource: { setting: 'RICH_CERTIFICATE_PEM' },
      }),
    );

    const graph = onGraph(result.subscription.graphSubscriptionId);
    expect(graph?.encryptionCertificate).toBe(good.base64Der);
    expect(graph?.encryptionCertificateId).toMatch(/^[0-9A-F]{40}$/);
  });

  test('when the Key Vault certificate does not exist, then apply is refused naming the definition and nothing is stored', async () => {
    const error = await refusal(
      applyDefinition(
        withCertificates(),
        richChat('kv-missing', {
          encryptionCertificateSource: { keyVault: { vaultUrl: kv.vaultUrl, name: 'absent' } },
        }),
      ),
    );

    expect(error).toMatchObject({ status: 400, code: 'InvalidCertificate' });
    expect(error.message).toMatch(/^Definition kv-missing: .*absent was not found/);
    expect(await h.store.get(h.tenantId, 'kv-missing')).toBeUndefined();
    expect(h.sim.subscriptions(h.tenantId)).toEqual([]);
  });
});

describe('rotation on the table store', () => {
  test('when Key Vault gets a new version, then the sweep stores it as the wanted definition and the reconciler PATCHes it onto the same Graph subscription', async () => {
    const next = await aCertificate({ commonName: 'rich v2' });
    const first = kv.addVersion('rich-chat', good.pem);
    const deps = withCertificates();
    const created = await applyDefinition(
      deps,
      richChat('kv-rotate', {
        encryptionCertificateSource: { keyVault: { vaultUrl: kv.vaultUrl, name: 'rich-chat' } },
      }),
    );
    const before = await h.read('kv-rotate');
    expect(before.definition.encryptionCertificateId).toBe(`rich-chat/${first}`);

    const second = kv.addVersion('rich-chat', next.pem);
    // NOTE: past the one-minute cache of the certificate read.
    h.clock.advanceTo(new Date(h.clock.now().getTime() + 2 * 60_000));
    h.sim.resetCalls();
    const summary = await sweepAndRecord(deps, deps.sweepOptions);

    expect(summary.counts.rotateCertificate).toEqual({ succeeded: 1 });
    const after = await h.read('kv-rotate');
    // The wanted definition moved (revision raised) and Graph applied it: nothing left pending.
    expect(after.definition.encryptionCertificateId).toBe(`rich-chat/${second}`);
    expect(after.wantedRevision).toBe((before.wantedRevision ?? 0) + 1);
    expect(after.applied?.definition.encryptionCertificateId).toBe(`rich-chat/${second}`);
    expect(after.graphSubscriptionId).toBe(created.subscription.graphSubscriptionId);
    expect(onGraph(after.graphSubscriptionId)).toMatchObject({
      encryptionCertificate: next.base64Der,
      encryptionCertificateId: `rich-chat/${second}`,
    });
    expect(h.sim.calls().filter((c) => c.kind === 'update' && c.status === 200)).toHaveLength(1);
    expect(h.sim.calls().filter((c) => c.kind === 'create' || c.kind === 'delete')).toEqual([]);
  });
});

describe('certificates refused at apply', () => {
  test('when the Key Vault certificate has expired, then apply is refused naming the definition, and Graph is not called', async () => {
    const expired = await aCertificate({
      notBefore: new Date(h.clock.now().getTime() - 60 * day),
      notAfter: new Date(h.clock.now().getTime() - day),
    });
    kv.addVersion('old', expired.pem);

    const error = await refusal(
      applyDefinition(
        withCertificates(),
        richChat('kv-expired', {
          encryptionCertificateSource: { keyVault: { vaultUrl: kv.vaultUrl, name: 'old' } },
        }),
      ),
    );

    expect(error).toMatchObject({ status: 400, code: 'InvalidCertificate' });
    expect(error.message).toMatch(/^Definition kv-expired: .* expired on /);
    expect(h.sim.calls().filter((c) => c.kind === 'create')).toEqual([]);
  });

  test.each([
    [
      'expired',
      () =>
        aCertificate({
          notBefore: new Date(h.clock.now().getTime() - 60 * day),
          notAfter: new Date(h.clock.now().getTime() - day),
        }),
      /expired on/,
    ],
    [
      'not yet valid',
      () => aCertificate({ notBefore: new Date(h.clock.now().getTime() + day) }),
      /is not valid before/,
    ],
  ])(
    'when an inline certificate is %s, then apply is refused naming the definition',
    async (_, make, why) => {
      const certificate = await make();
      const error = await refusal(
        applyDefinition(
          h.deps,
          richChat('inline-bad', {
            encryptionCertificate: certificate.base64Der,
            encryptionCertificateId: 'inline-1',
          }),
        ),
      );
      expect(error.message).toMatch(/^Definition inline-bad: encryptionCertificate /);
      expect(error.message).toMatch(why);
      expect(h.sim.subscriptions(h.tenantId)).toEqual([]);
    },
  );

  test.each([
    ['malformed', () => Promise.resolve('bm90IGEgY2VydGlmaWNhdGU='), /cannot be parsed/],
    ['not base64', () => Promise.resolve('not a certificate!'), /is not a PEM or base64 DER/],
    ['an EC certificate', async () => (await aCertificate({ keyType: 'ec' })).base64Der, /RSA/],
  ])(
    'when an inline certificate is %s, then apply is refused naming the definition and nothing is stored',
    async (_, make, why) => {
      const error = await refusal(
        applyDefinition(
          h.deps,
          richChat('inline-malformed', {
            encryptionCertificate: await make(),
            encryptionCertificateId: 'inline-1',
          }),
        ),
      );
      expect(error).toMatchObject({ status: 400, code: 'InvalidCertificate' });
      expect(error.message).toMatch(/^Definition inline-malformed: encryptionCertificate /);
      expect(error.message).toMatch(why);
      expect(await h.store.get(h.tenantId, 'inline-malformed')).toBeUndefined();
    },
  );

  test('when an inline certificate is valid PEM, then Graph gets it as base64 DER', async () => {
    const result = await applyDefinition(
      h.deps,
      richChat('inline-pem', { encryptionCertificate: good.pem, encryptionCertificateId: 'pem-1' }),
    );
    const graph = onGraph(result.subscription.graphSubscriptionId);
    expect(graph).toMatchObject({
      encryptionCertificate: good.base64Der,
      encryptionCertificateId: 'pem-1',
    });
  });
});
