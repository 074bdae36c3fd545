import { generate } from 'selfsigned';

/** Self-signed certificates for rich-notification tests and the sandbox; only the public part is used. */

const day = 24 * 60 * 60_000;

export interface TestCertificate {
  /** PEM of the certificate. */
  readonly pem: string;
  /** Base64 DER, as Graph wants it. */
  readonly base64Der: string;
}

export async function aCertificate(
  options: {
    readonly notBefore?: Date;
    readonly notAfter?: Date;
    readonly keyType?: 'rsa' | 'ec';
    readonly commonName?: string;
  } = {},
): Promise<TestCertificate> {
  const notBeforeDate = options.notBefore ?? new Date('2026-01-01T00:00:00Z');
  const notAfterDate = options.notAfter ?? new Date(notBeforeDate.getTime() + 730 * day);
  const generated = await generate(
    [{ name: 'commonName', value: options.commonName ?? 'rich-notifications' }],
    {
      keySize: 2048,
      algorithm: 'sha256',
      notBeforeDate,
      notAfterDate,
      ...(options.keyType === 'ec' ? { keyType: 'ec', curve: 'P-256' } : {}),
    },
  );
  const base64Der = generated.cert
    .replace(/-----(BEGIN|END) CERTIFICATE-----/g, '')
    .replace(/\s+/g, '');
  return { pem: generated.cert, base64Der };
}
