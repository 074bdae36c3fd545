import { rootCertificates } from 'node:tls';
import {
  ClientAssertionCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
  ManagedIdentityCredential,
  type AccessToken,
  type ClientSecretCredentialOptions,
  type GetTokenOptions,
  type TokenCredential,
} from '@azure/identity';
import { ConfigError, type Config, type GraphCloud, type GraphCredentialKind } from '../config';
import { cloudEndpointsFor } from './clouds';

/**
 * Builds the app's Graph `TokenCredential` from configuration: exactly the credential
 * GRAPH_CREDENTIAL names (or the settings imply), never a chain that takes whatever it finds.
 * Storage has its own identity (shared/store/tableClient.ts). Nothing here logs or echoes a secret.
 */

export type CredentialKind = GraphCredentialKind;

/**
 * Extra options passed through to the credential, e.g. TLS trust for a test authority
 * (`simulatorCredentialOptions(sim)`). They override our defaults, except that other tenants
 * stay allowed.
 */
export type CredentialExtraOptions = ClientSecretCredentialOptions;

/** Which credential `createCredential` builds for this identity configuration. */
export function credentialKindFor(identity: Config['identity']): CredentialKind {
  return identity.credential;
}

/**
 * The audience of the managed identity's token that an app registration's federated credential
 * accepts, per cloud
 * (https://learn.microsoft.com/entra/workload-id/workload-identity-federation-config-app-trust-managed-identity).
 */
export const tokenExchangeAudiences: Readonly<Record<GraphCloud, string>> = Object.freeze({
  global: 'api://AzureADTokenExchange',
  usgov: 'api://AzureADTokenExchangeUSGov',
  usgovdod: 'api://AzureADTokenExchangeUSGov',
  china: 'api://AzureADTokenExchangeChina',
});

/**
 * Why the configured credential cannot serve a tenant, or undefined when it can. Only a plain
 * managed identity is limited: it gets tokens for its home tenant alone.
 */
export function tenantRefusalFor(
  identity: Pick<Config['identity'], 'credential' | 'tenantId'>,
  tenantId: string,
): string | undefined {
  // NOTE: with no Graph setting at all (Azurite-only development) definitions are still stored;
  // the credential refuses every tenant when the sweep asks for a token.
  if (identity.credential !== 'managedIdentity' || identity.tenantId === undefined)
    return undefined;
  if (identity.tenantId.toLowerCase() === tenantId.toLowerCase()) return undefined;
  return "is not the managed identity's home tenant (GRAPH_TENANT_ID): GRAPH_CREDENTIAL=managedIdentity gets tokens for that tenant only; use managedIdentityFederation with a multi-tenant app registration for other tenants";
}

/** A managed identity was asked for a token of a tenant other than its own. */
export class ForeignTenantError extends Error {
  constructor(readonly tenantId: string) {
    super(
      `A managed identity (GRAPH_CREDENTIAL=managedIdentity) gets tokens only for its home tenant (GRAPH_TENANT_ID), not for ${tenantId}; use managedIdentityFederation with a multi-tenant app registration for other tenants.`,
    );
    this.name = 'ForeignTenantError';
  }
}

/**
 * `ManagedIdentityCredential` ignores `tenantId` and answers with its home tenant's token,
 * which another tenant's Graph then refuses as a missing permission. Refused here instead,
 * with a message that says why.
 */
class HomeTenantOnlyCredential implements TokenCredential {
  constructor(
    private readonly inner: TokenCredential,
    private readonly homeTenantId: string | undefined,
  ) {}

  async getToken(scopes: string | string[], options: GetTokenOptions = {}): Promise<AccessToken> {
    const requested = options.tenantId;
    if (
      requested !== undefined &&
      requested.toLowerCase() !== (this.homeTenantId ?? '').toLowerCase()
    ) {
      throw new ForeignTenantError(requested);
    }
    const { tenantId: _tenantId, ...rest } = options;
    const token = await this.inner.getToken(scopes, rest);
    if (token === null) throw new Error('The managed identity endpoint returned no token');
    return token;
  }
}

/**
 * The credential GRAPH_CREDENTIAL chose. Every request names its tenant, so the app
 * registration's credentials allow any tenant (`additionallyAllowedTenants: ['*']`); the
 * authority is the configured one or the cloud's.
 */
export function createCredential(
  identity: Config['identity'],
  cloud: GraphCloud,
  extra: CredentialExtraOptions = {},
): TokenCredential {
  const options: ClientSecretCredentialOptions = {
    authorityHost: identity.authorityHost ?? cloudEndpointsFor(cloud).authorityHost,
    disableInstanceDiscovery: identity.disableInstanceDiscovery,
    ...extra,
    additionallyAllowedTenants: ['*'],
  };
  const managedIdentity = () =>
    identity.managedIdentityClientId === undefined
      ? new ManagedIdentityCredential()
      : new ManagedIdentityCredential({ clientId: identity.managedIdentityClientId });
  switch (identity.credential) {
    case 'clientSecret':
      return new ClientSecretCredential(
        required(identity.tenantId, 'GRAPH_TENANT_ID'),
        required(identity.clientId, 'GRAPH_CLIENT_ID'),
        required(identity.clientSecret, 'GRAPH_CLIENT_SECRET'),
        options,
      );
    case 'clientCertificate': {
      const tenantId = required(identity.tenantId, 'GRAPH_TENANT_ID');
      const clientId = required(identity.clientId, 'GRAPH_CLIENT_ID');
      return identity.clientCertificate !== undefined
        ? new ClientCertificateCredential(
            tenantId,
            clientId,
            { certificate: identity.clientCertificate },
            options,
          )
        : new ClientCertificateCredential(
            tenantId,
            clientId,
            {
              certificatePath: required(
                identity.clientCertificatePath,
                'GRAPH_CLIENT_CERTIFICATE_PATH',
              ),
            },
            options,
          );
    }
    case 'managedIdentity':
      return new HomeTenantOnlyCredential(managedIdentity(), identity.tenantId);
    case 'managedIdentityFederation': {
      const assertionSource = managedIdentity();
      const assertionScope = `${tokenExchangeAudiences[cloud]}/.default`;
      required(identity.managedIdentityClientId, 'GRAPH_MANAGED_IDENTITY_CLIENT_ID');
      // NOTE: the managed identity's token is the app registration's client assertion; with it
      // Entra issues the app's token for whichever tenant a request names.
      return new ClientAssertionCredential(
        required(identity.tenantId, 'GRAPH_TENANT_ID'),
        required(identity.clientId, 'GRAPH_CLIENT_ID'),
        async () => (await assertionSource.getToken(assertionScope)).token,
        options,
      );
    }
  }
}

/**
 * TLS settings that trust `extraCaCertificates` (PEM) in addition to Node's public roots.
 * NOTE: Node's `ca` option replaces the default roots, so they are added back here; with them
 * real Graph still verifies while a proxy's or the simulator's CA is also trusted.
 */
export function withExtraTrustedCas(extraCaCertificates: string | readonly string[]): {
  readonly ca: string[];
} {
  const extra =
    typeof extraCaCertificates === 'string' ? [extraCaCertificates] : extraCaCertificates;
  return { ca: [...rootCertificates, ...extra] };
}

function required(value: string | undefined, key: string): string {
  if (value === undefined) {
    throw new ConfigError([{ key, message: 'is required for the configured Graph credential' }]);
  }
  return value;
}
