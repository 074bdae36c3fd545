import { z } from 'zod';
import type { GraphSubscription } from './graphSubscriptions';

/**
 * Graph's JSON, parsed with zod. Objects keep only the fields we read and ignore the rest, so a
 * field Graph adds tomorrow (or `@odata.context`, `notificationContentType`) never breaks a
 * parse (docs/graph-rules.md#the-subscription-resource and docs/graph-rules.md#errors).
 */

/**
 * Graph writes `2026-06-03T10:15:00.0000000Z` or `...+00:00`; a value without an offset is UTC
 * (docs/graph-rules.md#the-subscription-resource: expirationDateTime is DateTimeOffset in UTC), never the host's local time.
 */
export function parseGraphDate(value: string): Date | undefined {
  const trimmed = value.trim();
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/i.test(trimmed)) {
    return undefined;
  }
  const hasOffset = /(Z|[+-]\d{2}:?\d{2})$/i.test(trimmed);
  const ms = Date.parse(hasOffset ? trimmed : `${trimmed}Z`);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

const graphDate = z.string().transform((value, ctx) => {
  const date = parseGraphDate(value);
  if (date === undefined) {
    ctx.addIssue({ code: 'custom', message: 'must be an ISO 8601 date-time' });
    return z.NEVER;
  }
  return date;
});

/** A `subscription` resource as Graph returns it (create, get, update, list). */
export const subscriptionPayloadSchema = z.object({
  id: z.string().min(1),
  resource: z.string(),
  changeType: z.string(),
  notificationUrl: z.string(),
  expirationDateTime: graphDate,
  lifecycleNotificationUrl: z.string().nullish(),
  clientState: z.string().nullish(),
  includeResourceData: z.boolean().nullish(),
  encryptionCertificateId: z.string().nullish(),
  latestSupportedTlsVersion: z.string().nullish(),
  applicationId: z.string().nullish(),
  creatorId: z.string().nullish(),
  notificationQueryOptions: z.string().nullish(),
  notificationUrlAppId: z.string().nullish(),
});
export type SubscriptionPayload = z.output<typeof subscriptionPayloadSchema>;

/** One page of `GET /subscriptions` (docs/graph-rules.md#limits-and-throttling: paging by `@odata.nextLink`). */
export const subscriptionListPageSchema = z.object({
  value: z.array(subscriptionPayloadSchema),
  '@odata.nextLink': z.string().nullish(),
});

export function toGraphSubscription(p: SubscriptionPayload): GraphSubscription {
  return {
    id: p.id,
    resource: p.resource,
    changeType: p.changeType,
    notificationUrl: p.notificationUrl,
    lifecycleNotificationUrl: p.lifecycleNotificationUrl ?? null,
    expirationDateTime: p.expirationDateTime,
    clientState: p.clientState ?? null,
    includeResourceData: p.includeResourceData ?? false,
    encryptionCertificateId: p.encryptionCertificateId ?? null,
    latestSupportedTlsVersion: p.latestSupportedTlsVersion ?? null,
    applicationId: p.applicationId ?? null,
    creatorId: p.creatorId ?? null,
    notificationQueryOptions: p.notificationQueryOptions ?? null,
    notificationUrlAppId: p.notificationUrlAppId ?? null,
  };
}

/**
 * `innerError` nests: `{ code, innerError: { code, ... } }`. Graph spells it `innerError` (learn.microsoft.com/graph/errors)
 * and some services `innererror`; both are read.
 */
export interface InnerErrorPayload {
  readonly code?: string | undefined;
  readonly 'request-id'?: string | undefined;
  readonly 'client-request-id'?: string | undefined;
  readonly innerError?: InnerErrorPayload | undefined;
}

const innerErrorSchema: z.ZodType<InnerErrorPayload | undefined> = z.preprocess(
  (v) => (typeof v === 'object' && v !== null ? v : undefined),
  z
    .object({
      code: z.string().optional().catch(undefined),
      'request-id': z.string().optional().catch(undefined),
      'client-request-id': z.string().optional().catch(undefined),
      innerError: z.lazy(() => innerErrorSchema),
      innererror: z.lazy(() => innerErrorSchema),
    })
    .transform(({ innererror, ...rest }) => ({
      ...rest,
      innerError: rest.innerError ?? innererror,
    }))
    .optional(),
);

/** Graph's error body (docs/graph-rules.md#errors): `{ error: { code, message, innerError } }`. */
export const errorPayloadSchema = z.object({
  error: z
    .object({
      code: z.string().optional().catch(undefined),
      message: z.string().optional().catch(undefined),
      innerError: innerErrorSchema,
      innererror: innerErrorSchema,
    })
    .transform(({ innererror, ...rest }) => ({
      ...rest,
      innerError: rest.innerError ?? innererror,
    })),
});
export type ErrorPayload = z.output<typeof errorPayloadSchema>;
