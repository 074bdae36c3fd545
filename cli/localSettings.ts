import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Environment } from '../shared/config';

/**
 * `local.settings.json` next to the operator: its `Values` fill in what the environment does
 * not set, as `func start` does for the functions, so the CLI and a local Functions host read
 * the same settings. The environment wins wherever it holds a non-empty value.
 */

export const localSettingsFileName = 'local.settings.json';

/** The file is there but unusable. The message names the file and the key, never a value. */
export class LocalSettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LocalSettingsError';
  }
}

export const isLocalSettingsError = (e: unknown): e is LocalSettingsError =>
  e instanceof LocalSettingsError;

/** The `Values` of `dir/local.settings.json`, or undefined when there is no such file. */
export function readLocalSettings(dir: string): Readonly<Record<string, string>> | undefined {
  const path = join(dir, localSettingsFileName);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new LocalSettingsError(
      `${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  return localSettingsValues(text, path);
}

/** Parses the file's text. Exported for tests. */
export function localSettingsValues(text: string, path: string): Readonly<Record<string, string>> {
  let doc: unknown;
  try {
    // NOTE: a UTF-8 BOM (editors on Windows) is not JSON.
    doc = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch {
    // NOTE: JSON.parse's message quotes the text around the error, which may be a secret.
    throw new LocalSettingsError(`${path} is not valid JSON`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new LocalSettingsError(`${path} must hold a JSON object with "Values"`);
  }
  const file = doc as { IsEncrypted?: unknown; Values?: unknown };
  if (file.IsEncrypted === true) {
    throw new LocalSettingsError(
      `${path} is encrypted (IsEncrypted: true); run \`func settings decrypt\` first`,
    );
  }
  if (file.Values === undefined) return {};
  if (typeof file.Values !== 'object' || file.Values === null || Array.isArray(file.Values)) {
    throw new LocalSettingsError(`${path}: "Values" must be an object of settings`);
  }
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(file.Values as Record<string, unknown>)) {
    if (typeof value === 'string') values[key] = value;
    else if (typeof value === 'number' || typeof value === 'boolean') values[key] = String(value);
    else if (value !== null) {
      throw new LocalSettingsError(`${path}: Values.${key} must be a string`);
    }
  }
  return values;
}

/** The environment, with unset or empty settings taken from the local settings. */
export function withLocalSettings(
  env: Environment,
  values: Readonly<Record<string, string>> | undefined,
): Environment {
  if (values === undefined) return env;
  const merged: Record<string, string | undefined> = { ...env };
  for (const [key, value] of Object.entries(values)) {
    const current = merged[key];
    if (current === undefined || current.trim() === '') merged[key] = value;
  }
  return merged;
}
