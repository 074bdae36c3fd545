import { z } from 'zod';

/**
 * A changeNotificationCollection as Graph POSTs it to a lifecycle URL
 * (https://learn.microsoft.com/graph/change-notifications-lifecycle-events,
 * https://learn.microsoft.com/graph/api/resources/changenotification). Parsed tolerantly:
 * unknown fields are ignored, `organizationId` may stand in for `tenantId`, `resource` may be
 * present and empty, and any field Graph's SDK models type as nullable may be `null`
 * (`lifecycleEvent`, `subscriptionExpirationDateTime`, `resource`, `resourceData`, `tenantId`,
 * `organizationId`, `clientState`, `changeType`, `id`, `encryptedContent`, ...).
 *
 * The whole body is refused (400) only when it is not a notification collection at all. An item
 * that cannot be used (no subscription id, a field of the wrong type) is skipped and reported,
 * so one bad item never makes Graph retry, and finally drop, the whole collection.
 */

const nullableText = (max: number) => z.string().max(max).nullish();

const item = z.looseObject({
  subscriptionId: z.string().min(1).max(256),
  subscriptionExpirationDateTime: nullableText(64),
  tenantId: nullableText(64),
  organizationId: nullableText(64),
  clientState: nullableText(1024),
  lifecycleEvent: z.string().min(1).max(128).nullish(),
  changeType: nullableText(128),
  resource: nullableText(4096),
});

export const lifecycleCollectionSchema = z.looseObject({
  value: z.array(z.unknown()).min(1).max(1000),
});

export type LifecycleItem = z.output<typeof item>;

export interface LifecycleNotification {
  readonly subscriptionId: string;
  /** tenantId, or organizationId where Graph sent that instead. */
  readonly tenantId: string | undefined;
  readonly clientState: string | undefined;
  /** undefined for an item that carries a changeType (a change notification, not ours). */
  readonly lifecycleEvent: string | undefined;
}

/** An item of the collection that could not be used: where it is and which fields were wrong. */
export interface SkippedLifecycleItem {
  /** Position in `value`. */
  readonly index: number;
  /** Field names and what was wrong with them; never a value (a clientState is a secret). */
  readonly reason: string;
}

export type ParsedLifecycleBody =
  | {
      readonly ok: true;
      readonly notifications: readonly LifecycleNotification[];
      /** Items left out; the caller logs them and answers for the rest. */
      readonly skipped: readonly SkippedLifecycleItem[];
    }
  | { readonly ok: false; readonly message: string };

/** Validates an already JSON-parsed body; the message says what is wrong, field by field. */
export function parseLifecycleBody(body: unknown): ParsedLifecycleBody {
  const parsed = lifecycleCollectionSchema.safeParse(body);
  if (!parsed.success) {
    return {
      ok: false,
      message: `Not a change-notification collection. ${describe(parsed.error, 'body')}`,
    };
  }
  const notifications: LifecycleNotification[] = [];
  const skipped: SkippedLifecycleItem[] = [];
  parsed.data.value.forEach((raw, index) => {
    const one = item.safeParse(raw);
    if (!one.success) {
      skipped.push({ index, reason: describe(one.error, 'item') });
      return;
    }
    const v = one.data;
    notifications.push({
      subscriptionId: v.subscriptionId,
      tenantId: v.tenantId ?? v.organizationId ?? undefined,
      clientState: v.clientState ?? undefined,
      lifecycleEvent: v.lifecycleEvent ?? undefined,
    });
  });
  return { ok: true, notifications, skipped };
}

function describe(error: z.ZodError, root: string): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length === 0 ? root : i.path.join('.')}: ${i.message}`)
    .join('; ');
}
