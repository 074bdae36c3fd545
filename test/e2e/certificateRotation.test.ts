import { ClientSecretCredential } from '@azure/identity';
import { ReferencedCertificates } from '../../shared/certificates/certificateSource';
import { AzureKeyVaultCertificates } from '../../shared/certificates/keyVaultCertificateReader';
import { planRotation } from '../../shared/certificates/rotation';
import type { AppDependencies } from '../../shared/composition';
import { sweepAndRecord } from '../../shared/operations/sweepOperation';
import { getByKey } from '../../shared/operations/subscriptionOperations';
import { toView } from '../../shared/subscriptions/model';
import { startHarness, type Harness } from '../../devkit/appHarness';
import { simulatorCredentialOptions } from '../../devkit/graphSimulator';
import { startKeyVaultStandIn, type KeyVaultStandIn } from '../../devkit/keyVaultStandIn';
import { aCertificate, type TestCertificate } from '../../devkit/testCertificates';

/**
 * Rotation: a new Key Vault version is rolled onto every subscription using the certificate in
 * one sweep, paced under Graph's write limit (no 429) and without a lapse (same Graph ids, every
 * expiry in the future throughout). The fleet lives in the in-memory store to keep the run
 * modest (on Azurite the same test takes about 100 s on a shared machine); the Key Vault reads
 * and the Azurite path of a certificate change (wanted state, then the PATCH) are covered by certificates.test.ts.
 */

const fleet = 500;
const minute = 60_000;

let h: Harness;
let kv: KeyVaultStandIn;
let deps: AppDependencies;
let first: TestCertificate;
let second: TestCertificate;

beforeAll(async () => {
  first = await aCertificate({ commonName: 'rich v1' });
  second = await aCertificate({ commonName: 'rich v2' });
});

beforeEach(async () => {
  h = await startHarness({ store: 'memory' });
  kv = await startKeyVaultStandIn(h.sim, { tenantId: h.tenantId });
  const credential = new ClientSecretCredential(
    h.tenantId,
    h.sim.clientId,
    h.sim.clientSecret,
    simulatorCredentialOptions(h.sim),
  );
  deps = {
    ...h.deps,
    certificates: new ReferencedCertificates({
      keyVault: new AzureKeyVaultCertificates(credential, kv.clientOptions()),
      settings: {},
      clock: h.clock,
    }),
  };
});

afterEach(async () => {
  await kv.stop();
  await h.stop();
});

test(`when Key Vault gets a new version, then one sweep PATCHes all ${fleet} subscriptions onto it, under the write limit and without a lapse`, async () => {
  const v1 = kv.addVersion('rich-chat', first.pem);
  const source = { keyVault: { vaultUrl: kv.vaultUrl, name: 'rich-chat' } };
  for (let i = 0; i < fleet; i++) {
    await h.manage({
      key: `chat-${i}`,
      resource: `chats/19:chat${i}@thread.v2/messages`,
      includeResourceData: true,
      encryptionCertificateSource: source,
      encryptionCertificate: first.base64Der,
      encryptionCertificateId: `rich-chat/${v1}`,
    });
  }
  await sweepAndRecord(deps, deps.sweepOptions);
  const before = new Map(
    h.sim.subscriptions(h.tenantId).map((s) => [s.id, s.expirationDateTime.getTime()]),
  );
  expect(before.size).toBe(fleet);

  const v2 = kv.addVersion('rich-chat', second.pem);
  h.clock.advanceTo(new Date(h.clock.now().getTime() + 2 * minute));
  h.sim.resetCalls();
  const startedAt = h.clock.now();

  const summary = await sweepAndRecord(deps, deps.sweepOptions);

  const finishedAt = h.clock.now();
  const onGraph = h.sim.subscriptions(h.tenantId);
  expect(summary.counts.rotateCertificate).toEqual({ succeeded: fleet });
  expect(onGraph).toHaveLength(fleet);
  // Same subscriptions (no delete and create), each on the new version.
  expect(new Set(onGraph.map((s) => s.id))).toEqual(new Set(before.keys()));
  expect(onGraph.every((s) => s.encryptionCertificateId === `rich-chat/${v2}`)).toBe(true);
  expect(onGraph.every((s) => s.encryptionCertificate === second.base64Der)).toBe(true);
  // No lapse: every expiry moved forward and is in the future.
  expect(
    onGraph.every(
      (s) =>
        s.expirationDateTime.getTime() >= (before.get(s.id) ?? Infinity) &&
        s.expirationDateTime > finishedAt,
    ),
  ).toBe(true);
  const calls = h.sim.calls().filter((c) => c.kind === 'update');
  expect(calls).toHaveLength(fleet);
  expect(h.sim.calls().filter((c) => c.status === 429)).toEqual([]);
  // One sweep window (the default schedule runs every 5 minutes).
  expect(finishedAt.getTime() - startedAt.getTime()).toBeLessThan(5 * minute);
  // The view says which certificate each subscription uses.
  expect(toView(await getByKey(deps, 'chat-7')).encryptionCertificateId).toBe(`rich-chat/${v2}`);
  // Key Vault was read once for the whole fleet in this sweep.
  expect(kv.requests().filter((r) => r.status === 200)).toHaveLength(2);
}, 240_000);

describe('planRotation', () => {
  test('when the certificate in use nears its expiry and there is nothing newer, then nothing moves and it is reported once', async () => {
    const now = new Date('2027-12-28T00:00:00Z');
    const row = await h.manage({
      key: 'expiring',
      resource: 'chats/19:x@thread.v2/messages',
      includeResourceData: true,
      encryptionCertificateSource: { setting: 'PEM' },
      encryptionCertificate: first.base64Der,
      encryptionCertificateId: 'A',
    });
    const resolved = await new ReferencedCertificates({
      settings: { PEM: first.pem },
      clock: h.clock,
    }).resolve({ setting: 'PEM' });
    const same = { ...resolved, id: 'A' };

    const plan = planRotation(
      [row, row],
      new Map([['setting:PEM', same]]),
      now,
      7 * 24 * 60 * minute,
    );

    expect(plan.rotate).toEqual([]);
    expect(plan.expiringWithoutSuccessor).toHaveLength(1);
  });
});
