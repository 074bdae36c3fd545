import { z } from 'zod';

/**
 * A changeNotificationCollection as Graph POSTs it to a lifecycle URL (docs/graph-rules.md#lifecycle-notifications). Parsed
 * tolerantly: unknown fields are ignored, `organizationId` may stand in for `tenantId`, and
 * `resource` may be present and empty.
 */

const item = z.looseObject({
  subscriptionId: z.string().min(1).max(256),
  subscriptionExpirationDateTime: z.string().max(64).optional(),
  tenantId: z.string().max(64).optional(),
  organizationId: z.string().max(64).optional(),
  clientState: z.string().max(1024).nullable().optional(),
  lifecycleEvent: z.string().min(1).max(128).optional(),
  changeType: z.string().max(128).optional(),
  resource: z.string().max(4096).optional(),
});

export const lifecycleCollectionSchema = z.looseObject({
  value: z.array(item).min(1).max(1000),
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

export type ParsedLifecycleBody =
  | { readonly ok: true; readonly notifications: readonly LifecycleNotification[] }
  | { readonly ok: false; readonly message: string };

/** Validates an already JSON-parsed body; the message says what is wrong, field by field. */
export function parseLifecycleBody(body: unknown): ParsedLifecycleBody {
  const parsed = lifecycleCollectionSchema.safeParse(body);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.length === 0 ? 'body' : i.path.join('.')}: ${i.message}`);
    return { ok: false, message: `Not a change-notification collection. ${problems.join('; ')}` };
  }
  return {
    ok: true,
    notifications: parsed.data.value.map((v) => ({
      subscriptionId: v.subscriptionId,
      tenantId: v.tenantId ?? v.organizationId,
      clientState: v.clientState ?? undefined,
      lifecycleEvent: v.lifecycleEvent,
    })),
  };
}
