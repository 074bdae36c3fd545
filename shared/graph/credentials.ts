import { rootCertificates } from 'node:tls';
import {
  ClientCertificateCredential,
  ClientSecretCredential,
  DefaultAzureCredential,
  type ClientSecretCredentialOptions,
  type TokenCredential,
} from '@azure/identity';
import { ConfigError, type Config, type GraphCloud } from '../config';
import { cloudEndpointsFor } from './clouds';

/**
 * Builds the app's `TokenCredential` from configuration (docs/architecture.md#graph-client,
 * docs/graph-rules.md#tokens). Nothing here logs or echoes a secret.
 */

export type CredentialKind = 'clientSecret' | 'clientCertificate' | 'defaultAzureCredential';

/**
 * Extra options passed through to the credential, e.g. TLS trust for a test authority
 * (`simulatorCredentialOptions(sim)`). They override our defaults, except that other tenants
 * stay allowed.
 */
export type CredentialExtraOptions = ClientSecretCredentialOptions;

/** Which credential `createCredential` builds for this identity configuration. */
export function credentialKindFor(identity: Config['identity']): CredentialKind {
  if (identity.clientSecret !== undefined) return 'clientSecret';
  if (identity.clientCertificatePath !== undefined) return 'clientCertificate';
  return 'defaultAzureCredential';
}

/**
 * ClientSecretCredential when a secret is configured, ClientCertificateCredential when a
 * certificate path is, else DefaultAzureCredential (managed identity in Azure; AZURE_CLIENT_ID
 * selects a user-assigned identity). Every request names its tenant, so any tenant is allowed
 * (`additionallyAllowedTenants: ['*']`); the authority is the configured one or the cloud's.
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
  switch (credentialKindFor(identity)) {
    case 'clientSecret':
      return new ClientSecretCredential(
        required(identity.tenantId, 'AZURE_TENANT_ID'),
        required(identity.clientId, 'AZURE_CLIENT_ID'),
        required(identity.clientSecret, 'AZURE_CLIENT_SECRET'),
        options,
      );
    case 'clientCertificate':
      return new ClientCertificateCredential(
        required(identity.tenantId, 'AZURE_TENANT_ID'),
        required(identity.clientId, 'AZURE_CLIENT_ID'),
        {
          certificatePath: required(
            identity.clientCertificatePath,
            'AZURE_CLIENT_CERTIFICATE_PATH',
          ),
        },
        options,
      );
    case 'defaultAzureCredential':
      return new DefaultAzureCredential({
        ...options,
        ...(identity.clientId === undefined ? {} : { managedIdentityClientId: identity.clientId }),
        ...(identity.tenantId === undefined ? {} : { tenantId: identity.tenantId }),
      });
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
