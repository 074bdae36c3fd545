import { rootCertificates } from 'node:tls';
import {
  ClientAssertionCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
} from '@azure/identity';
import { isConfigError, type Config } from '../../shared/config';
import {
  createCredential,
  credentialKindFor,
  ForeignTenantError,
  tenantRefusalFor,
  tokenExchangeAudiences,
  withExtraTrustedCas,
} from '../../shared/graph/credentials';
import { knownSecret } from '../../devkit/testLogSink';

const none: Config['identity'] = {
  credential: 'managedIdentity',
  credentialChosenBy: 'inferred',
  tenantId: undefined,
  clientId: undefined,
  clientSecret: undefined,
  clientCertificatePath: undefined,
  clientCertificate: undefined,
  managedIdentityClientId: undefined,
  authorityHost: undefined,
  disableInstanceDiscovery: false,
};
const homeTenant = '11111111-1111-1111-1111-111111111111';
const otherTenant = '33333333-3333-3333-3333-333333333333';
const app = {
  ...none,
  tenantId: homeTenant,
  clientId: '22222222-2222-2222-2222-222222222222',
};

describe('createCredential', () => {
  test('when a client secret is configured, then a ClientSecretCredential is built', () => {
    const identity = {
      ...app,
      credential: 'clientSecret' as const,
      clientSecret: knownSecret('clientSecret', 'not-a-real-secret'),
    };
    expect(credentialKindFor(identity)).toBe('clientSecret');
    expect(createCredential(identity, 'global')).toBeInstanceOf(ClientSecretCredential);
  });

  test('when a certificate path is configured, then a ClientCertificateCredential is built', () => {
    const identity = {
      ...app,
      credential: 'clientCertificate' as const,
      clientCertificatePath: '/nonexistent/app.pem',
    };
    expect(createCredential(identity, 'usgov')).toBeInstanceOf(ClientCertificateCredential);
  });

  test('when the federated managed identity is configured, then a ClientAssertionCredential is built', () => {
    const identity = {
      ...app,
      credential: 'managedIdentityFederation' as const,
      managedIdentityClientId: '44444444-4444-4444-4444-444444444444',
    };
    expect(createCredential(identity, 'global')).toBeInstanceOf(ClientAssertionCredential);
  });

  test.each([
    ['global', 'api://AzureADTokenExchange'],
    ['usgov', 'api://AzureADTokenExchangeUSGov'],
    ['usgovdod', 'api://AzureADTokenExchangeUSGov'],
    ['china', 'api://AzureADTokenExchangeChina'],
  ] as const)(
    'when the cloud is %s, then the managed identity token is asked for %s',
    (cloud, audience) => {
      expect(tokenExchangeAudiences[cloud]).toBe(audience);
    },
  );

  test("when a plain managed identity is asked for another tenant's token, then it refuses without calling the endpoint", async () => {
    const credential = createCredential({ ...none, tenantId: homeTenant }, 'global');
    await expect(
      credential.getToken('https://graph.microsoft.com/.default', { tenantId: otherTenant }),
    ).rejects.toBeInstanceOf(ForeignTenantError);
  });

  test('when a secret lacks its tenant, then a ConfigError names GRAPH_TENANT_ID and not the secret', () => {
    let thrown: unknown;
    try {
      createCredential(
        {
          ...app,
          credential: 'clientSecret',
          tenantId: undefined,
          clientSecret: knownSecret('clientSecret', 'hidden-value'),
        },
        'global',
      );
    } catch (e) {
      thrown = e;
    }
    expect(isConfigError(thrown)).toBe(true);
    if (!isConfigError(thrown)) return;
    expect(thrown.problems.map((p) => p.key)).toEqual(['GRAPH_TENANT_ID']);
    expect(thrown.message).not.toContain('hidden-value');
  });
});

describe('tenantRefusalFor', () => {
  test('when the credential is a plain managed identity, then only its home tenant is served', () => {
    const identity = { credential: 'managedIdentity' as const, tenantId: homeTenant };
    expect(tenantRefusalFor(identity, homeTenant.toUpperCase())).toBeUndefined();
    expect(tenantRefusalFor(identity, otherTenant)).toMatch(
      /home tenant.*managedIdentityFederation/,
    );
  });

  test('when the credential is the federated managed identity, then every tenant is served', () => {
    const identity = { credential: 'managedIdentityFederation' as const, tenantId: homeTenant };
    expect(tenantRefusalFor(identity, otherTenant)).toBeUndefined();
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
