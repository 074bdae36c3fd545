import { X509Certificate } from 'node:crypto';

/**
 * The public certificate Graph encrypts rich notifications with, read and checked with
 * `node:crypto`. Graph wants it as base64 DER, public key only, RSA
 * (https://learn.microsoft.com/graph/change-notifications-with-resource-data).
 */

export interface PublicCertificate {
  /** Base64 of the DER bytes: what Graph's `encryptionCertificate` holds. */
  readonly base64Der: string;
  /** SHA-1 thumbprint, upper-case hex without separators (as Graph's encryptionCertificateThumbprint). */
  readonly thumbprint: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** `rsa`, `ec`, ... as node reports it; Graph needs `rsa`. */
  readonly keyType: string;
}

export type CertificateRead =
  | { readonly ok: true; readonly certificate: PublicCertificate }
  | { readonly ok: false; readonly problem: string };

const pemBlock = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/;

/** Reads a PEM certificate or base64 DER text; the first certificate of a PEM chain. */
export function readPublicCertificate(text: string): CertificateRead {
  const pem = pemBlock.exec(text);
  const base64 = (pem?.[1] ?? text).replace(/\s+/g, '');
  if (base64 === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) {
    return { ok: false, problem: 'is not a PEM or base64 DER certificate' };
  }
  return readDer(Buffer.from(base64, 'base64'));
}

/** Reads DER bytes (Key Vault's `cer`). */
export function readDer(der: Uint8Array): CertificateRead {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(der);
  } catch {
    return { ok: false, problem: 'cannot be parsed as an X.509 certificate' };
  }
  return {
    ok: true,
    certificate: {
      base64Der: x509.raw.toString('base64'),
      thumbprint: x509.fingerprint.replace(/:/g, '').toUpperCase(),
      notBefore: new Date(x509.validFrom),
      notAfter: new Date(x509.validTo),
      keyType: x509.publicKey.asymmetricKeyType ?? 'unknown',
    },
  };
}

/** Problems that make Graph unable to use it, or notifications undecryptable, at `now`. */
export function certificateProblems(certificate: PublicCertificate, now: Date): string[] {
  const problems: string[] = [];
  if (certificate.keyType !== 'rsa') {
    problems.push(`has a ${certificate.keyType} key; Graph needs an RSA key`);
  }
  if (certificate.notAfter.getTime() <= now.getTime()) {
    problems.push(`expired on ${certificate.notAfter.toISOString()}`);
  }
  if (certificate.notBefore.getTime() > now.getTime()) {
    problems.push(`is not valid before ${certificate.notBefore.toISOString()}`);
  }
  return problems;
}
