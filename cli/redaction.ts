import type { Config } from '../shared/config';

/**
 * Messages of unexpected errors come from libraries (the Tables SDK, MSAL, Node) and may quote a
 * URL or a connection string. Before one is printed, the configured secrets and anything shaped
 * like a secret (URL query values, account keys, SAS signatures, bearer tokens) are masked.
 */
export function redactSecrets(text: string, config?: Config): string {
  let out = text;
  for (const secret of configuredSecrets(config)) {
    if (secret.length >= 6) out = out.split(secret).join('***');
  }
  return out
    .replace(/\b(AccountKey|SharedAccessSignature|SharedAccessKey)=[^;\s"']+/gi, '$1=***')
    .replace(/([?&][\w.~-]+=)[^&\s"'#]+/g, '$1***')
    .replace(/\beyJ[\w-]{6,}\.[\w-]{6,}\.[\w-]*/g, '***')
    .replace(/\b(Bearer)\s+[\w.~+/=-]{8,}/gi, '$1 ***');
}

function configuredSecrets(config: Config | undefined): string[] {
  if (config === undefined) return [];
  const storage = config.storage.connection;
  const connectionString = storage.kind === 'connectionString' ? storage.connectionString : '';
  const secrets = [
    connectionString,
    config.identity.clientSecret ?? '',
    config.identity.clientCertificate ?? '',
  ];
  const lifecycle = config.lifecycleNotificationUrl;
  if (lifecycle !== undefined) {
    secrets.push(lifecycle);
    for (const value of new URL(lifecycle).searchParams.values()) secrets.push(value);
  }
  for (const part of connectionString.split(';')) {
    const [name, ...rest] = part.split('=');
    if (/^(AccountKey|SharedAccessSignature)$/i.test((name ?? '').trim())) {
      secrets.push(rest.join('='));
    }
  }
  // NOTE: longest first, so a secret that contains another is masked whole.
  return secrets.filter((s) => s !== '').sort((a, b) => b.length - a.length);
}
