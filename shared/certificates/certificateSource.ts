import type { Clock } from '../clock';
import { describeReference, referenceKey, type CertificateReference } from './certificateReference';
import { readDer, readPublicCertificate, type PublicCertificate } from './publicCertificate';

/**
 * Resolves a certificate reference to the public certificate to send Graph now, with the
 * `encryptionCertificateId` the owning application uses to pick the private key:
 * - Key Vault: `<certificate name>/<version>` (the version Key Vault gave the certificate; the
 *   private key is the secret of the same name and version);
 * - app setting: the certificate's SHA-1 thumbprint (upper-case hex).
 */

export interface ResolvedCertificate extends PublicCertificate {
  /** The `encryptionCertificateId` to send Graph (at most 128 characters). */
  readonly id: string;
  /** Key Vault's version, when it came from Key Vault. */
  readonly version: string | undefined;
}

/** The port: where referenced certificates are read. */
export interface CertificateSource {
  /** Throws `CertificateUnavailableError` when the certificate cannot be read. */
  resolve(reference: CertificateReference): Promise<ResolvedCertificate>;
}

/** Reads the latest version of a Key Vault certificate (its public part only). */
export interface KeyVaultCertificateReader {
  latest(
    vaultUrl: string,
    name: string,
  ): Promise<{ readonly der: Uint8Array; readonly version: string }>;
}

/** A certificate that could not be read (missing, access denied, not a certificate). */
export class CertificateUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateUnavailableError';
  }
}

export function isCertificateUnavailableError(e: unknown): e is CertificateUnavailableError {
  return e instanceof CertificateUnavailableError;
}

/** Graph's limit on encryptionCertificateId. */
export const maxCertificateIdLength = 128;

/** `<name>/<version>`, the name shortened when both would pass Graph's 128 characters. */
export function keyVaultCertificateId(name: string, version: string): string {
  const room = maxCertificateIdLength - version.length - 1;
  return `${name.slice(0, Math.max(1, room))}/${version}`;
}

export interface ReferencedCertificatesOptions {
  readonly keyVault?: KeyVaultCertificateReader | undefined;
  /** App settings holding a PEM certificate, by name (collected by loadConfig). */
  readonly settings: Readonly<Record<string, string>>;
  readonly clock: Clock;
  /**
   * How long one read serves: a new Key Vault version is seen at most this late. Reads of the
   * many subscriptions sharing a certificate during one sweep cost one Key Vault call.
   */
  readonly cacheMs?: number;
}

export class ReferencedCertificates implements CertificateSource {
  private readonly cache = new Map<
    string,
    { readonly until: number; readonly value: Promise<ResolvedCertificate> }
  >();

  constructor(private readonly options: ReferencedCertificatesOptions) {}

  resolve(reference: CertificateReference): Promise<ResolvedCertificate> {
    const key = referenceKey(reference);
    const now = this.options.clock.now().getTime();
    const hit = this.cache.get(key);
    if (hit !== undefined && hit.until > now) return hit.value;
    const value = this.read(reference);
    this.cache.set(key, { until: now + (this.options.cacheMs ?? 60_000), value });
    // NOTE: a failed read is not kept: the next caller tries again.
    value.catch(() => {
      if (this.cache.get(key)?.value === value) this.cache.delete(key);
    });
    return value;
  }

  private async read(reference: CertificateReference): Promise<ResolvedCertificate> {
    if ('setting' in reference) {
      const text = this.options.settings[reference.setting];
      if (text === undefined) {
        throw new CertificateUnavailableError(
          `app setting ${reference.setting} does not hold a PEM certificate (-----BEGIN CERTIFICATE-----)`,
        );
      }
      const read = readPublicCertificate(text);
      if (!read.ok) {
        throw new CertificateUnavailableError(`${describeReference(reference)} ${read.problem}`);
      }
      return { ...read.certificate, id: read.certificate.thumbprint, version: undefined };
    }
    const reader = this.options.keyVault;
    if (reader === undefined) {
      throw new CertificateUnavailableError('Key Vault certificates are not available here');
    }
    const { vaultUrl, name } = reference.keyVault;
    const latest = await reader.latest(vaultUrl, name);
    const read = readDer(latest.der);
    if (!read.ok) {
      throw new CertificateUnavailableError(`${describeReference(reference)} ${read.problem}`);
    }
    return {
      ...read.certificate,
      id: keyVaultCertificateId(name, latest.version),
      version: latest.version,
    };
  }
}
