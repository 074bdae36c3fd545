import { z } from 'zod';

/**
 * Where a definition's encryption certificate comes from, instead of inlining it: a Key Vault
 * certificate (its latest version, read through the app's identity) or an app setting holding
 * the PEM. The app resolves it at apply time and during rotation, and sends Graph the public
 * certificate (base64 DER) with an `encryptionCertificateId` derived from the version or the
 * thumbprint.
 */

/** Key Vault certificate names: 1-127 letters, digits or hyphens. */
const keyVaultCertificateName = /^[0-9A-Za-z-]{1,127}$/;
/** An app setting's name: letters, digits and underscores (Azure's convention). */
const appSettingName = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

const vaultUrl = z
  .string()
  .max(256)
  .refine(
    (v) => {
      try {
        const u = new URL(v);
        return u.protocol === 'https:' && (u.pathname === '/' || u.pathname === '');
      } catch {
        return false;
      }
    },
    { message: 'must be the vault URL, e.g. https://NAME.vault.azure.net' },
  );

export const certificateReferenceSchema = z.union([
  z
    .object({
      keyVault: z
        .object({
          vaultUrl,
          name: z.string().regex(keyVaultCertificateName, {
            message: 'must be a Key Vault certificate name (1-127 letters, digits or hyphens)',
          }),
        })
        .strict(),
    })
    .strict(),
  z
    .object({
      setting: z.string().regex(appSettingName, {
        message: 'must be an app setting name (letters, digits and underscores)',
      }),
    })
    .strict(),
]);

export type CertificateReference = z.output<typeof certificateReferenceSchema>;

/** One text per reference, for caches and grouping (the vault URL without its trailing slash). */
export function referenceKey(reference: CertificateReference): string {
  return 'keyVault' in reference
    ? `keyVault:${reference.keyVault.vaultUrl.replace(/\/+$/, '').toLowerCase()}/${reference.keyVault.name.toLowerCase()}`
    : `setting:${reference.setting}`;
}

/** A short description for messages and logs; names, never the certificate. */
export function describeReference(reference: CertificateReference): string {
  return 'keyVault' in reference
    ? `Key Vault certificate ${reference.keyVault.name} in ${reference.keyVault.vaultUrl.replace(/\/+$/, '')}`
    : `the certificate in app setting ${reference.setting}`;
}
