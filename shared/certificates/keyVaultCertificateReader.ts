import { ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import { isRestError } from '@azure/core-rest-pipeline';
import { CertificateClient, type CertificateClientOptions } from '@azure/keyvault-certificates';
import type { Config, GraphCloud } from '../config';
import { createCredential } from '../graph/credentials';
import { CertificateUnavailableError, type KeyVaultCertificateReader } from './certificateSource';

/**
 * Key Vault through `@azure/keyvault-certificates` and the app's credential (its managed
 * identity in Azure). Reading a certificate's public part needs the "Key Vault Reader" role
 * (which never reads a secret's value, so not the private key), or the certificates/get
 * permission (https://learn.microsoft.com/azure/key-vault/general/rbac-guide).
 */
export class AzureKeyVaultCertificates implements KeyVaultCertificateReader {
  private readonly clients = new Map<string, CertificateClient>();

  constructor(
    private readonly credential: TokenCredential,
    private readonly clientOptions: CertificateClientOptions = {},
  ) {}

  async latest(vaultUrl: string, name: string): Promise<{ der: Uint8Array; version: string }> {
    let certificate;
    try {
      certificate = await this.client(vaultUrl).getCertificate(name);
    } catch (e) {
      if (isRestError(e) && e.statusCode !== undefined && e.statusCode < 500) {
        const why =
          e.statusCode === 404
            ? 'was not found'
            : e.statusCode === 401 || e.statusCode === 403
              ? 'cannot be read by the app (grant its identity Key Vault Reader)'
              : `was refused (HTTP ${e.statusCode})`;
        throw new CertificateUnavailableError(`Key Vault certificate ${name} ${why}`);
      }
      throw e;
    }
    const version = certificate.properties.version;
    if (certificate.cer === undefined || version === undefined) {
      throw new CertificateUnavailableError(`Key Vault certificate ${name} has no public part yet`);
    }
    if (certificate.properties.enabled === false) {
      throw new CertificateUnavailableError(`Key Vault certificate ${name} is disabled`);
    }
    return { der: certificate.cer, version };
  }

  private client(vaultUrl: string): CertificateClient {
    const key = vaultUrl.replace(/\/+$/, '').toLowerCase();
    let client = this.clients.get(key);
    if (client === undefined) {
      client = new CertificateClient(vaultUrl, this.credential, this.clientOptions);
      this.clients.set(key, client);
    }
    return client;
  }
}

/**
 * The identity Key Vault is read with. With a managed identity in play (GRAPH_CREDENTIAL
 * managedIdentity or managedIdentityFederation) it is that identity, the one the deployment grants
 * Key Vault Reader; with an app registration's secret or certificate, that app registration in
 * its home tenant (GRAPH_TENANT_ID), which then needs the role itself.
 */
export function keyVaultCredentialFor(
  identity: Config['identity'],
  cloud: GraphCloud,
): TokenCredential {
  if (
    identity.credential === 'managedIdentity' ||
    identity.credential === 'managedIdentityFederation'
  ) {
    return identity.managedIdentityClientId === undefined
      ? new ManagedIdentityCredential()
      : new ManagedIdentityCredential({ clientId: identity.managedIdentityClientId });
  }
  return createCredential(identity, cloud);
}
