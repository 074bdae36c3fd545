import { z } from 'zod';
import { certificateReferenceSchema } from '../certificates/certificateReference';
import { isAzureDeliveryTarget, notificationTargetProblem } from '../graph/notificationTargets';

/**
 * A managed subscription: the definition its owner gave us, and what we know of its life on
 * Graph. Property names of the definition are Graph's (docs/admin-api.md#definitions).
 */

export const subscriptionStatuses = [
  /** Stored, not yet on Graph. */
  'pending',
  /** Alive on Graph. */
  'active',
  /** Graph asked for reauthorization; answered by a renew PATCH or a reauthorize POST. */
  'reauthorizationRequired',
  /** Graph removed it (lifecycle event, or 404 on renew); to be recreated. */
  'removed',
  /** Recent transient errors; still retrying while the expiry leaves room. */
  'failing',
  /** Needs a person (403, quota, invalid definition); retried on a slow schedule. */
  'failed',
  /** Being deleted from Graph, then from the store. */
  'deleting',
] as const;
export type SubscriptionStatus = (typeof subscriptionStatuses)[number];

export const tlsVersions = ['v1_0', 'v1_1', 'v1_2', 'v1_3'] as const;
export type TlsVersion = (typeof tlsVersions)[number];

export const lifecycleEvents = [
  'reauthorizationRequired',
  'subscriptionRemoved',
  'missed',
] as const;
export type LifecycleEvent = (typeof lifecycleEvents)[number];

/** Our stable key: safe in Azure Table keys and URLs (no quotes, slashes, # or ?). */
export const subscriptionKeyPattern = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
/** Graph's tenant ids are GUIDs; lifecycle payloads carry them in that form. */
export const tenantIdPattern =
  /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** An https webhook, or an Event Hubs / Event Grid delivery address (notificationTargets.ts). */
const notificationTarget = z
  .string()
  .max(2048)
  .superRefine((v, ctx) => {
    const problem = notificationTargetProblem(v);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  });

/**
 * Graph's `changeType` is a comma-separated list of `created`, `updated` and `deleted`;
 * Microsoft's own pages write it with spaces and in any case (`"created, updated"`,
 * `"Updated,Deleted,Created"`). One form is stored and compared: trimmed, lower-cased,
 * de-duplicated and sorted (https://learn.microsoft.com/graph/api/resources/subscription).
 */
export function normalizeChangeType(value: string): string {
  // NOTE: an empty entry ("created,,updated") is kept, so the format check still names it.
  const parts = value.split(',').map((v) => v.trim().toLowerCase());
  return [...new Set(parts)].sort().join(',');
}

/** Graph's application ids are GUIDs (`notificationUrlAppId`). */
const guid = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/**
 * The shape of a definition (types and formats). Graph-specific rules (lifetimes, certificates,
 * lifecycle URL requirements) are checked by the Graph module's definition checks.
 */
export const subscriptionDefinitionSchema = z
  .object({
    key: z.string().regex(subscriptionKeyPattern, {
      message: '1-128 letters, digits, ".", "_", ":" or "-", starting with a letter or digit',
    }),
    // NOTE: lower-cased so a lifecycle payload's tenant id finds its partition whatever the case.
    tenantId: z
      .string()
      .regex(tenantIdPattern, { message: 'must be a tenant id (GUID)' })
      .transform((v) => v.toLowerCase()),
    resource: z
      .string()
      .min(1)
      .max(1024)
      .refine((v) => !/^https?:/i.test(v), {
        message: 'must be a path relative to the Graph version root, without https://',
      }),
    changeType: z
      .string()
      .max(128)
      .transform(normalizeChangeType)
      .pipe(
        z.string().regex(/^(created|deleted|updated)(,(created|deleted|updated))*$/, {
          message: 'must be created, updated and/or deleted, comma-separated',
        }),
      ),
    notificationUrl: notificationTarget,
    lifecycleNotificationUrl: notificationTarget.optional(),
    includeResourceData: z.boolean().default(false),
    encryptionCertificate: z.string().min(1).max(16384).optional(),
    encryptionCertificateId: z.string().min(1).max(128).optional(),
    // Ours, not Graph's: where the certificate comes from (Key Vault or an app setting); the
    // app fills encryptionCertificate and encryptionCertificateId from it (rich notifications).
    encryptionCertificateSource: certificateReferenceSchema.optional(),
    latestSupportedTlsVersion: z.enum(tlsVersions).optional(),
    lifetimeMinutes: z.number().int().positive().optional(),
    // NOTE: OData options for the target state: required by Universal Print job subscriptions
    // and used to filter Entra health-monitoring alerts. Graph cannot PATCH it (recreated).
    notificationQueryOptions: z.string().min(1).max(2048).optional(),
    // NOTE: the app id Graph puts in validation tokens of rich notifications; not PATCHable.
    notificationUrlAppId: z
      .string()
      .regex(guid, { message: 'must be an app id (GUID)' })
      .optional(),
  })
  .strict();

export type SubscriptionDefinition = z.output<typeof subscriptionDefinitionSchema>;

/** A failure as we keep it: Graph's code and a short message, never a secret. */
export interface SubscriptionError {
  /** Graph's error code, or ours (e.g. `NotExtended`, `NetworkError`). */
  readonly code: string;
  readonly message: string;
  /** HTTP status when there was a response. */
  readonly status?: number | undefined;
  readonly at: Date;
  /** For a 403: the Graph permissions the resource needs, so an operator knows what to grant. */
  readonly requiredPermissions?: readonly string[] | undefined;
}

/** A lifecycle event recorded on the row before it is acted on (what makes it durable). */
export interface RecordedLifecycleEvent {
  /** One of `lifecycleEvents`, or an unknown name Graph sent, kept on record. */
  readonly name: string;
  readonly receivedAt: Date;
}

/** Holds the row for one writer while it calls Graph to create, so two never both create. */
export interface SubscriptionClaim {
  readonly owner: string;
  readonly until: Date;
}

export interface ManagedSubscription {
  readonly definition: SubscriptionDefinition;
  /** Per-subscription random secret, at most 128 chars. Never logged, never in a view. */
  readonly clientState: string;
  readonly graphSubscriptionId: string | undefined;
  /** Expiry as Graph last reported it. */
  readonly expiresAt: Date | undefined;
  readonly status: SubscriptionStatus;
  /** When the sweep should next look at it (the due index). */
  readonly nextActionAt: Date;
  /** Consecutive failures since the last success. */
  readonly failureCount: number;
  readonly lastError: SubscriptionError | undefined;
  /** Last successful PATCH (renew); a PATCH also reauthorizes. */
  readonly lastRenewedAt: Date | undefined;
  /** Last successful POST .../reauthorize. */
  readonly lastReauthorizedAt: Date | undefined;
  /** Times (re)created on Graph. */
  readonly generation: number;
  /** Set when the owner must resync (after a removal, a 404 recreate, or `missed`). */
  readonly resyncRequestedAt: Date | undefined;
  readonly resyncReason: string | undefined;
  /** When the request at `resyncRequestedAt` was sent to the owner (the outbox mark). */
  readonly resyncSignalledAt: Date | undefined;
  /** The last lifecycle event recorded and not yet fully handled. */
  readonly pendingEvent: RecordedLifecycleEvent | undefined;
  readonly claim: SubscriptionClaim | undefined;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /**
   * Wanted state: `definition` is what the owner last applied; this counts those changes (0 or
   * absent on rows written before it was kept).
   */
  readonly wantedRevision?: number | undefined;
  /**
   * Applied state: the definition the Graph subscription `graphSubscriptionId` was created or last
   * PATCHed with (with `expiresAt` and `generation`). Absent while nothing is on Graph; on rows
   * written before it was kept, read as `definition` (see `appliedDefinitionOf`).
   */
  readonly applied?: AppliedDefinition | undefined;
}

/** What is on Graph for a row: the definition sent and the wanted revision it came from. */
export interface AppliedDefinition {
  readonly definition: SubscriptionDefinition;
  readonly wantedRevision: number;
}

/** A subscription as read from a store: with the ETag every conditional write needs. */
export interface StoredSubscription extends ManagedSubscription {
  readonly etag: string;
}

/**
 * What humans and scripts see (API and CLI `--json`): the definition fields, the Graph id,
 * expiry, status, last error and resync request. Never `clientState`.
 */
export interface SubscriptionView {
  readonly key: string;
  readonly tenantId: string;
  readonly resource: string;
  readonly changeType: string;
  readonly notificationUrl: string;
  readonly lifecycleNotificationUrl: string | null;
  readonly includeResourceData: boolean;
  readonly encryptionCertificateId: string | null;
  readonly latestSupportedTlsVersion: TlsVersion | null;
  readonly lifetimeMinutes: number | null;
  readonly notificationQueryOptions: string | null;
  readonly notificationUrlAppId: string | null;
  readonly graphSubscriptionId: string | null;
  readonly expirationDateTime: string | null;
  readonly status: SubscriptionStatus;
  readonly nextActionAt: string;
  readonly failureCount: number;
  readonly lastError: {
    readonly code: string;
    readonly message: string;
    readonly status: number | null;
    readonly at: string;
    readonly requiredPermissions: readonly string[] | null;
  } | null;
  readonly generation: number;
  readonly resyncRequestedAt: string | null;
  readonly resyncReason: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export function toView(s: ManagedSubscription): SubscriptionView {
  const d = s.definition;
  return {
    key: d.key,
    tenantId: d.tenantId,
    resource: d.resource,
    changeType: d.changeType,
    // NOTE: a notification URL may carry a function key (?code=); views hide query values.
    notificationUrl: withoutQuery(d.notificationUrl),
    lifecycleNotificationUrl:
      d.lifecycleNotificationUrl === undefined ? null : withoutQuery(d.lifecycleNotificationUrl),
    includeResourceData: d.includeResourceData,
    encryptionCertificateId: d.encryptionCertificateId ?? null,
    latestSupportedTlsVersion: d.latestSupportedTlsVersion ?? null,
    lifetimeMinutes: d.lifetimeMinutes ?? null,
    notificationQueryOptions: d.notificationQueryOptions ?? null,
    notificationUrlAppId: d.notificationUrlAppId ?? null,
    graphSubscriptionId: s.graphSubscriptionId ?? null,
    expirationDateTime: s.expiresAt?.toISOString() ?? null,
    status: s.status,
    nextActionAt: s.nextActionAt.toISOString(),
    failureCount: s.failureCount,
    lastError:
      s.lastError === undefined
        ? null
        : {
            code: s.lastError.code,
            message: s.lastError.message,
            status: s.lastError.status ?? null,
            at: s.lastError.at.toISOString(),
            requiredPermissions: s.lastError.requiredPermissions ?? null,
          },
    generation: s.generation,
    resyncRequestedAt: s.resyncRequestedAt?.toISOString() ?? null,
    resyncReason: s.resyncReason ?? null,
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
  };
}

/** Keeps the query's parameter names and hides their values (a function key is a secret). */
export function withoutQuery(url: string): string {
  // NOTE: Event Hubs and Event Grid addresses carry ids, never a key: shown whole.
  if (isAzureDeliveryTarget(url)) return url;
  const u = new URL(url);
  if (u.search === '') return url;
  const names = [...new Set(u.searchParams.keys())];
  return `${u.origin}${u.pathname}?${names.map((n) => `${encodeURIComponent(n)}=***`).join('&')}`;
}
