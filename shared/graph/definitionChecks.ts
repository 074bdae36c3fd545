import type { GraphCloud } from '../config';
import { GraphError, localGraphErrorCodes } from './graphError';
import { normalizeChangeType } from '../subscriptions/model';
import {
  lifecycleUrlRequiredAboveMinutes,
  maxLifetimeFor,
  resourceFamilyOf,
  unknownResourceMaxMinutes,
} from './lifetimes';
import { notificationTargetProblem } from './notificationTargets';
import { appOnlySupportFor } from './permissions';

/**
 * Graph's rules for a subscription definition, checked before any call so a bad definition
 * fails at once with every problem named instead of one 400 at a time
 * (https://learn.microsoft.com/graph/api/resources/subscription). Messages name fields and
 * limits, never values: URLs may carry a function key.
 */

/** The fields the checks read. A `SubscriptionDefinition` fits; `clientState` is optional. */
export interface DefinitionToCheck {
  readonly resource: string;
  readonly changeType?: string | undefined;
  readonly notificationUrl: string;
  readonly lifecycleNotificationUrl?: string | undefined;
  readonly includeResourceData?: boolean | undefined;
  readonly encryptionCertificate?: string | undefined;
  readonly encryptionCertificateId?: string | undefined;
  /** A certificate reference (Key Vault or app setting) that supplies both fields above. */
  readonly encryptionCertificateSource?: object | undefined;
  readonly lifetimeMinutes?: number | undefined;
  readonly clientState?: string | undefined;
}

export interface DefinitionCheckOptions {
  /** The cloud the subscription will live in; default `global`. */
  readonly cloud?: GraphCloud;
  /** The lifecycle URL the caller fills in when the definition has none (LIFECYCLE_NOTIFICATION_URL). */
  readonly defaultLifecycleNotificationUrl?: string | undefined;
}

export interface DefinitionProblem {
  readonly field: string;
  readonly message: string;
}

/** Graph's limit on clientState (the subscription page; the changeNotification page's 255 is not used). */
export const maxClientStateLength = 128;

/** Returns every problem with `definition`; empty when Graph should accept it. */
export function checkDefinition(
  definition: DefinitionToCheck,
  options: DefinitionCheckOptions = {},
): DefinitionProblem[] {
  const problems: DefinitionProblem[] = [];
  const add = (field: string, message: string) => problems.push({ field, message });
  const includeResourceData = definition.includeResourceData === true;
  const family = resourceFamilyOf(definition.resource);
  const lifetime = maxLifetimeFor(definition.resource, { includeResourceData });

  const urlProblem = notificationTargetProblem(definition.notificationUrl);
  if (urlProblem !== undefined) add('notificationUrl', urlProblem);
  const lifecycleProblem =
    definition.lifecycleNotificationUrl === undefined
      ? undefined
      : notificationTargetProblem(definition.lifecycleNotificationUrl);
  if (lifecycleProblem !== undefined) add('lifecycleNotificationUrl', lifecycleProblem);
  if (
    definition.clientState !== undefined &&
    definition.clientState.length > maxClientStateLength
  ) {
    add('clientState', `must be at most ${maxClientStateLength} characters`);
  }

  if (
    definition.lifetimeMinutes !== undefined &&
    definition.lifetimeMinutes > lifetime.maxMinutes
  ) {
    add(
      'lifetimeMinutes',
      `must be at most ${lifetime.maxMinutes} minutes, the maximum for ${lifetime.family}` +
        (includeResourceData ? ' with resource data' : ''),
    );
  }

  // NOTE: Graph requires the certificate whenever includeResourceData is true, and presence
  // also requires its id; asking for both everywhere keeps one rule. A definition naming a
  // source (Key Vault, an app setting) gets both filled in when it is applied.
  const referenced = definition.encryptionCertificateSource !== undefined;
  if (includeResourceData && !referenced) {
    if (isBlank(definition.encryptionCertificate)) {
      add(
        'encryptionCertificate',
        `is required when includeResourceData is true (rich notifications on ${family.family} are encrypted);` +
          ' or name one with encryptionCertificateSource',
      );
    }
    if (isBlank(definition.encryptionCertificateId)) {
      add('encryptionCertificateId', 'is required when includeResourceData is true');
    }
  }
  const requestedMinutes = Math.min(
    definition.lifetimeMinutes ?? lifetime.maxMinutes,
    lifetime.maxMinutes,
  );
  const lifecycleUrl =
    definition.lifecycleNotificationUrl ?? options.defaultLifecycleNotificationUrl;
  if (
    family.lifecycleUrlRequired &&
    requestedMinutes > lifecycleUrlRequiredAboveMinutes &&
    lifecycleUrl === undefined
  ) {
    add(
      'lifecycleNotificationUrl',
      `is required for ${family.family} subscriptions living more than ${lifecycleUrlRequiredAboveMinutes} minutes` +
        ` (set it, or lifetimeMinutes to at most ${lifecycleUrlRequiredAboveMinutes})`,
    );
  }

  // NOTE: drive roots and SharePoint lists support only `updated`.
  if (
    (family.family === 'driveItem' || family.family === 'list') &&
    definition.changeType !== undefined &&
    normalizeChangeType(definition.changeType) !== 'updated'
  ) {
    add('changeType', `must be "updated" for ${family.family} subscriptions`);
  }

  if (family.globalCloudOnly && (options.cloud ?? 'global') !== 'global') {
    add('resource', `${family.family} change notifications exist only in the global cloud`);
  }
  return problems;
}

/**
 * The problem with a definition the keeper cannot keep alive with its app-only credential
 * (presence, group conversations, `me/...` paths, todoTask renewals): refused when applied, with
 * why and what would work. Empty when the resource has application permissions for create,
 * renew and reauthorize, or is unknown (then a warning says so).
 */
export function checkAppOnlyDefinition(
  definition: Pick<DefinitionToCheck, 'resource'>,
): DefinitionProblem[] {
  const support = appOnlySupportFor(definition.resource);
  if (support.supported) return [];
  return [
    {
      field: 'resource',
      message:
        `cannot be kept alive with the keeper's app-only credential: ${support.reason}. ` +
        `Instead: ${support.instead}`,
    },
  ];
}

/**
 * What an operator should know about a definition Graph accepts: no lifecycle URL (Graph then
 * sends no lifecycle event, and the URL cannot be added without recreating), or a resource
 * outside the table (the fallback lifetime is used and no permission is known).
 */
export function definitionWarnings(
  definition: Pick<DefinitionToCheck, 'resource' | 'lifecycleNotificationUrl'>,
  options: DefinitionCheckOptions = {},
): string[] {
  const warnings: string[] = [];
  const lifecycleUrl =
    definition.lifecycleNotificationUrl ?? options.defaultLifecycleNotificationUrl;
  if (lifecycleUrl === undefined) {
    warnings.push(
      'lifecycleNotificationUrl: not set (nor LIFECYCLE_NOTIFICATION_URL), so Graph sends no ' +
        'lifecycle event for this subscription: a removal is noticed only at the next renewal, ' +
        'and the URL can be added later only by recreating the subscription',
    );
  }
  const support = appOnlySupportFor(definition.resource);
  if (support.supported && !support.known) {
    warnings.push(
      `resource: not a documented change-notification resource the keeper knows; the fallback ` +
        `lifetime of ${unknownResourceMaxMinutes} minutes is used and no permission is known`,
    );
  }
  return warnings;
}

/**
 * Throws a `GraphError` (status 0, code `InvalidDefinition`) naming every bad field, without
 * calling Graph. Returns normally when the definition is fine.
 */
export function assertValidDefinition(
  definition: DefinitionToCheck,
  options: DefinitionCheckOptions = {},
): void {
  const problems = checkDefinition(definition, options);
  if (problems.length === 0) return;
  throw new GraphError({
    status: 0,
    code: localGraphErrorCodes.invalidDefinition,
    message:
      `Invalid subscription definition (${problems.length} problem${problems.length === 1 ? '' : 's'}): ` +
      problems.map((p) => `${p.field}: ${p.message}`).join('; '),
  });
}

function isBlank(value: string | undefined): boolean {
  return value === undefined || value.trim() === '';
}
