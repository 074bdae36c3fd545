import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  logFilePrefix,
  minSecretLength,
  secretFilePrefix,
  secretKinds,
  type SecretKind,
} from '../../devkit/testLogSink';

/**
 * Finds secrets in captured log lines: every registered secret (as sent, URL-encoded or
 * JSON-escaped) and the shapes a secret has even when nobody registered it (a JWT, a connection
 * string's `AccountKey=`, an OAuth `client_secret=`). A finding names the kind of secret and the
 * file and line, never the value.
 */

export interface KnownSecret {
  readonly kind: SecretKind;
  readonly value: string;
}

export type LeakKind =
  SecretKind | 'jwtShapedToken' | 'accountKeySetting' | 'clientSecretParameter';

export interface Leak {
  readonly kind: LeakKind;
  /** The log file's name inside the capture directory. */
  readonly file: string;
  /** 1-based line number in that file. */
  readonly line: number;
  /** Where the line was captured (`console.warn`, `invocation`, `harness`, ...). */
  readonly source: string;
}

export interface ScanResult {
  readonly leaks: readonly Leak[];
  readonly files: number;
  readonly lines: number;
  readonly secrets: number;
}

const leakNames: Readonly<Record<LeakKind, string>> = {
  clientState: 'a clientState',
  accessToken: 'an access token',
  clientSecret: 'a client secret',
  storageAccountKey: 'a storage account key',
  jwtShapedToken: 'a JWT-shaped token (eyJ...)',
  accountKeySetting: 'a storage key (AccountKey=...)',
  clientSecretParameter: 'a client secret (client_secret=...)',
};

/** Shapes of secrets; placeholders such as `client_secret=***` or `<secret>` do not match. */
const leakPatterns: readonly { readonly kind: LeakKind; readonly pattern: RegExp }[] = [
  // Header and claims are base64url JSON objects, so both start with `eyJ` ("{\"").
  {
    kind: 'jwtShapedToken',
    pattern: /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/,
  },
  // Account keys are 88 base64 characters; a placeholder or an empty value is not a key.
  { kind: 'accountKeySetting', pattern: /AccountKey=[A-Za-z0-9+/]{20,}/i },
  { kind: 'clientSecretParameter', pattern: /client_secret=(?![*<{$])[^&\s"';,]{8,}/i },
  { kind: 'clientSecretParameter', pattern: /"client_secret"\s*:\s*"(?![*<{$])[^"]{8,}"/i },
];

/** The registered secrets, indexed by their first characters for one pass over each line. */
export class SecretIndex {
  private readonly byPrefix = new Map<string, KnownSecret[]>();
  readonly size: number;

  constructor(secrets: Iterable<KnownSecret>) {
    const seen = new Set<string>();
    for (const secret of secrets) {
      for (const value of variantsOf(secret.value)) {
        const id = `${secret.kind}\u0000${value}`;
        if (seen.has(id)) continue;
        seen.add(id);
        const prefix = value.slice(0, minSecretLength);
        const list = this.byPrefix.get(prefix) ?? [];
        list.push({ kind: secret.kind, value });
        this.byPrefix.set(prefix, list);
      }
    }
    this.size = seen.size;
  }

  /** The kinds of registered secret that occur in `line`. */
  kindsIn(line: string): SecretKind[] {
    const found = new Set<SecretKind>();
    if (this.byPrefix.size === 0) return [];
    for (let i = 0; i + minSecretLength <= line.length; i++) {
      const candidates = this.byPrefix.get(line.slice(i, i + minSecretLength));
      if (candidates === undefined) continue;
      for (const c of candidates) if (line.startsWith(c.value, i)) found.add(c.kind);
    }
    return [...found];
  }
}

/** A secret as it may appear in a line: as is, in a URL, inside a JSON string. */
function variantsOf(value: string): string[] {
  const variants = [value, JSON.stringify(value).slice(1, -1)];
  try {
    variants.push(encodeURIComponent(value));
  } catch {
    // NOTE: a lone surrogate cannot be URL-encoded; the other forms are still checked.
  }
  return [...new Set(variants)].filter((v) => v.length >= minSecretLength);
}

/** Every leak in one line: registered secrets first, then the shapes. */
export function leakKindsIn(line: string, index: SecretIndex): LeakKind[] {
  const kinds: LeakKind[] = index.kindsIn(line);
  for (const { kind, pattern } of leakPatterns) {
    if (!kinds.includes(kind) && pattern.test(line)) kinds.push(kind);
  }
  return kinds;
}

/** Scans the text of one log file (lines `{source}\t{text}`). */
export function scanLogText(text: string, file: string, index: SecretIndex): Leak[] {
  const leaks: Leak[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line === '') return;
    const tab = line.indexOf('\t');
    const source = tab < 0 ? '?' : line.slice(0, tab);
    for (const kind of leakKindsIn(line, index)) leaks.push({ kind, file, line: i + 1, source });
  });
  return leaks;
}

/** The secrets registered in `dir` by every process of the run; malformed lines are skipped. */
export function readRegisteredSecrets(dir: string): KnownSecret[] {
  const secrets: KnownSecret[] = [];
  for (const file of filesWithPrefix(dir, secretFilePrefix)) {
    for (const line of readFileSync(path.join(dir, file), 'utf8').split('\n')) {
      if (line === '') continue;
      let entry: unknown;
      try {
        entry = JSON.parse(line);
      } catch {
        continue;
      }
      if (isKnownSecret(entry)) secrets.push(entry);
    }
  }
  return secrets;
}

/** Scans every log file in `dir` for the registered secrets plus `extra` ones. */
export function scanCaptureDirectory(dir: string, extra: readonly KnownSecret[] = []): ScanResult {
  const index = new SecretIndex([...readRegisteredSecrets(dir), ...extra]);
  const leaks: Leak[] = [];
  let lines = 0;
  const files = filesWithPrefix(dir, logFilePrefix);
  for (const file of files) {
    const text = readFileSync(path.join(dir, file), 'utf8');
    lines += text.split('\n').filter((l) => l !== '').length;
    leaks.push(...scanLogText(text, file, index));
  }
  return { leaks, files: files.length, lines, secrets: index.size };
}

/** The failure message: kinds, files and lines; never a secret. */
export function describeLeaks(leaks: readonly Leak[], dir: string, maxListed = 20): string {
  const listed = leaks
    .slice(0, maxListed)
    .map((l) => `  - ${leakNames[l.kind]} in ${l.file}:${l.line} (logged through ${l.source})`);
  const more = leaks.length > maxListed ? [`  ... and ${leaks.length - maxListed} more`] : [];
  return [
    `Secrets check failed: ${leaks.length} finding(s) in the test run's log lines (values not shown):`,
    ...listed,
    ...more,
    `The captured log files are kept in ${dir}.`,
  ].join('\n');
}

function filesWithPrefix(dir: string, prefix: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith(prefix))
    .sort();
}

function isKnownSecret(value: unknown): value is KnownSecret {
  if (typeof value !== 'object' || value === null) return false;
  const { kind, value: secret } = value as { kind?: unknown; value?: unknown };
  return (
    typeof kind === 'string' &&
    (secretKinds as readonly string[]).includes(kind) &&
    typeof secret === 'string' &&
    secret.length >= minSecretLength
  );
}
