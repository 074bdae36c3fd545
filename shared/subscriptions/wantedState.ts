import { sameChangeTypes } from './compare';
import type { AppliedDefinition, ManagedSubscription, SubscriptionDefinition } from './model';

/**
 * Wanted against applied: the owner's definition (`definition`, `wantedRevision`) against what
 * Graph has (`applied`). Pure; the planner decides from it, the admin operations report with it.
 *
 * What Graph can change in place: a PATCH takes `expirationDateTime` and `notificationUrl`
 * (https://learn.microsoft.com/graph/api/subscription-update), and this app PATCHes the
 * encryption certificate with them. Anything else (resource, including a metered API's
 * `model=A/B` in its URL; changeType; includeResourceData; lifecycleNotificationUrl; the TLS
 * version) needs a delete and a create.
 */

export const recreateFields = [
  'resource',
  'changeType',
  'lifecycleNotificationUrl',
  'includeResourceData',
  'latestSupportedTlsVersion',
  // NOTE: Graph cannot PATCH these either (https://learn.microsoft.com/graph/api/subscription-update).
  'notificationQueryOptions',
  'notificationUrlAppId',
] as const;
export const patchFields = [
  'notificationUrl',
  'encryptionCertificate',
  'encryptionCertificateId',
] as const;

export interface DefinitionDiff {
  readonly recreate: readonly string[];
  readonly patch: readonly string[];
  /** Changes Graph does not hold (lifetimeMinutes, the certificate's source): stored only. */
  readonly local: readonly string[];
}

export function diffDefinitions(
  from: SubscriptionDefinition,
  to: SubscriptionDefinition,
): DefinitionDiff {
  const recreate = recreateFields.filter((f) =>
    f === 'changeType' ? !sameChangeTypes(from.changeType, to.changeType) : from[f] !== to[f],
  );
  const patch = patchFields.filter((f) => from[f] !== to[f]);
  const local = from.lifetimeMinutes === to.lifetimeMinutes ? [] : ['lifetimeMinutes'];
  // Where the certificate comes from is ours alone; the certificate it gave is PATCHed above.
  if (
    JSON.stringify(from.encryptionCertificateSource) !==
    JSON.stringify(to.encryptionCertificateSource)
  ) {
    local.push('encryptionCertificateSource');
  }
  return { recreate, patch, local };
}

/**
 * The applied state of a row. Migration on read: a row written before `applied` was kept and
 * holding a Graph id was created (or patched) with its definition, so that is what it applied.
 */
export function appliedDefinitionOf(sub: ManagedSubscription): AppliedDefinition | undefined {
  if (sub.graphSubscriptionId === undefined) return undefined;
  return sub.applied ?? { definition: sub.definition, wantedRevision: sub.wantedRevision ?? 0 };
}

/** The applied state after a create or PATCH sent `claimed`'s definition. */
export function appliedFrom(claimed: ManagedSubscription): AppliedDefinition {
  return { definition: claimed.definition, wantedRevision: claimed.wantedRevision ?? 0 };
}

/** What Graph must still be told for the wanted definition (nothing when not on Graph). */
export function pendingGraphChange(sub: ManagedSubscription): 'recreate' | 'patch' | undefined {
  const applied = appliedDefinitionOf(sub);
  if (applied === undefined) return undefined;
  const diff = diffDefinitions(applied.definition, sub.definition);
  if (diff.recreate.length > 0) return 'recreate';
  if (diff.patch.length > 0) return 'patch';
  return undefined;
}
