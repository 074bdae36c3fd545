import type { Config } from '../config';
import { tenantRefusalFor } from '../graph/credentials';
import {
  checkAppOnlyDefinition,
  checkDefinition,
  definitionWarnings,
  type DefinitionToCheck,
} from '../graph/definitionChecks';
import { appOnlySupportFor } from '../graph/permissions';
import { subscriptionDefinitionSchema, type SubscriptionDefinition } from '../subscriptions/model';
import type { FieldProblem } from './errors';

/**
 * Turns what an operator sent (API body, CLI file or flags) into a definition, or every problem
 * with it at once: shape and types first (the schema), then Graph's rules (lifetimes,
 * certificates, lifecycle URL), then whether the keeper's app-only credential can keep it alive.
 * An accepted definition comes with the application permissions it needs across create, renew
 * and reauthorize, named before the first Graph call, and with warnings (no lifecycle URL, a
 * resource outside the table). Messages name fields and limits, never values: URLs may carry a
 * function key.
 */
export type DefinitionInput =
  | {
      readonly ok: true;
      readonly definition: SubscriptionDefinition;
      /** Application permissions to grant in the definition's tenant; empty when unknown. */
      readonly applicationPermissions: readonly string[];
      readonly warnings: readonly string[];
    }
  | { readonly ok: false; readonly problems: readonly FieldProblem[] };

export interface DefinitionInputOptions {
  /** The key from the URL; the body may omit it, and must not contradict it. */
  readonly key?: string;
  readonly config: Pick<Config, 'lifecycleNotificationUrl' | 'graph' | 'identity'>;
}

export function parseDefinitionInput(
  input: unknown,
  options: DefinitionInputOptions,
): DefinitionInput {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, problems: [{ field: '(body)', message: 'must be a JSON object' }] };
  }
  const problems: FieldProblem[] = [];
  const fields: Record<string, unknown> = { ...(input as Record<string, unknown>) };
  if (options.key !== undefined) {
    if (fields.key !== undefined && fields.key !== options.key) {
      problems.push({ field: 'key', message: 'must match the key in the URL' });
    }
    fields.key = options.key;
  }
  // NOTE: the app-wide lifecycle URL is written into the definition, so a later change of the
  // setting shows up as a definition change (applied by recreating) when definitions are applied.
  if (fields.lifecycleNotificationUrl === undefined) {
    fields.lifecycleNotificationUrl = options.config.lifecycleNotificationUrl;
  }
  const checks = {
    cloud: options.config.graph.cloud,
    defaultLifecycleNotificationUrl: options.config.lifecycleNotificationUrl,
  };
  const parsed = subscriptionDefinitionSchema.safeParse(fields);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const k of issue.keys) {
          problems.push({ field: k, message: 'is not a field of a subscription definition' });
        }
      } else {
        problems.push({
          field: issue.path.map(String).join('.') || '(body)',
          message: issue.message,
        });
      }
    }
    // NOTE: Graph's rules are checked on the fields that are well-formed too, so a body with a
    // bad URL and a lifetime beyond the maximum names both at once, not one per attempt.
    const named = new Set(problems.map((p) => p.field));
    const wellFormed = wellFormedFields(fields);
    if (wellFormed !== undefined) {
      problems.push(
        ...[...checkDefinition(wellFormed, checks), ...checkAppOnlyDefinition(wellFormed)].filter(
          (p) => !named.has(p.field),
        ),
      );
    }
    return { ok: false, problems };
  }
  problems.push(...checkDefinition(parsed.data, checks), ...checkAppOnlyDefinition(parsed.data));
  const refusal = tenantRefusalFor(options.config.identity, parsed.data.tenantId);
  if (refusal !== undefined) problems.push({ field: 'tenantId', message: refusal });
  if (problems.length > 0) return { ok: false, problems };
  const support = appOnlySupportFor(parsed.data.resource);
  return {
    ok: true,
    definition: parsed.data,
    applicationPermissions: support.supported ? support.applicationPermissions : [],
    warnings: definitionWarnings(parsed.data, checks),
  };
}

/**
 * The fields Graph's rules read, where they have the right type; undefined without a resource
 * and a notification URL, which every rule needs.
 */
function wellFormedFields(
  fields: Readonly<Record<string, unknown>>,
): DefinitionToCheck | undefined {
  const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const resource = text(fields.resource);
  const notificationUrl = text(fields.notificationUrl);
  if (resource === undefined || notificationUrl === undefined) return undefined;
  const lifetime = fields.lifetimeMinutes;
  return {
    resource,
    notificationUrl,
    changeType: text(fields.changeType),
    lifecycleNotificationUrl: text(fields.lifecycleNotificationUrl),
    includeResourceData:
      typeof fields.includeResourceData === 'boolean' ? fields.includeResourceData : undefined,
    encryptionCertificate: text(fields.encryptionCertificate),
    encryptionCertificateId: text(fields.encryptionCertificateId),
    encryptionCertificateSource:
      typeof fields.encryptionCertificateSource === 'object' &&
      fields.encryptionCertificateSource !== null
        ? fields.encryptionCertificateSource
        : undefined,
    lifetimeMinutes:
      typeof lifetime === 'number' && Number.isFinite(lifetime) ? lifetime : undefined,
  };
}
