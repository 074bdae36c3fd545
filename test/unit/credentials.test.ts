import { rootCertificates } from 'node:tls';
import {
  ClientCertificateCredential,
  ClientSecretCredential,
  DefaultAzureCredential,
} from '@azure/identity';
import { isConfigError, type Config } from '../../shared/config';
import {
  createCredential,
  credentialKindFor,
  withExtraTrustedCas,
} from '../../shared/graph/credentials';
import { knownSecret } from '../../devkit/testLogSink';

const none: Config['identity'] = {
  tenantId: undefined,
  clientId: undefined,
  clientSecret: undefined,
  clientCertificatePath: undefined,
  authorityHost: undefined,
  disableInstanceDiscovery: false,
};
const app = {
  ...none,
  tenantId: '11111111-1111-1111-1111-111111111111',
  clientId: '22222222-2222-2222-2222-222222222222',
};

describe('createCredential', () => {
  test('when a client secret is configured, then a ClientSecretCredential is built', () => {
    const identity = { ...app, clientSecret: knownSecret('clientSecret', 'not-a-real-secret') };
    expect(credentialKindFor(identity)).toBe('clientSecret');
    expect(createCredential(identity, 'global')).toBeInstanceOf(ClientSecretCredential);
  });

  test('when a certificate path is configured, then a ClientCertificateCredential is built', () => {
    const identity = { ...app, clientCertificatePath: '/nonexistent/app.pem' };
    expect(credentialKindFor(identity)).toBe('clientCertificate');
    expect(createCredential(identity, 'usgov')).toBeInstanceOf(ClientCertificateCredential);
  });

  test('when neither is configured, then DefaultAzureCredential (managed identity in Azure) is built', () => {
    expect(credentialKindFor(none)).toBe('defaultAzureCredential');
    expect(createCredential({ ...none, clientId: app.clientId }, 'china')).toBeInstanceOf(
      DefaultAzureCredential,
    );
  });

  test('when a secret lacks its tenant, then a ConfigError names AZURE_TENANT_ID and not the secret', () => {
    let thrown: unknown;
    try {
      createCredential(
        { ...app, tenantId: undefined, clientSecret: knownSecret('clientSecret', 'hidden-value') },
        'global',
      );
    } catch (e) {
      thrown = e;
    }
    expect(isConfigError(thrown)).toBe(true);
    if (!isConfigError(thrown)) return;
    expect(thrown.problems.map((p) => p.key)).toEqual(['AZURE_TENANT_ID']);
    expect(thrown.message).not.toContain('hidden-value');
  });
});

describe('withExtraTrustedCas', () => {
  test("when an extra CA is added, then Node's public roots stay trusted too", () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const { ca } = withExtraTrustedCas(pem);
    expect(ca).toHaveLength(rootCertificates.length + 1);
    expect(ca[ca.length - 1]).toBe(pem);
    expect(ca.slice(0, -1)).toEqual([...rootCertificates]);
  });
});
