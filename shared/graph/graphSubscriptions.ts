import type { TlsVersion } from '../subscriptions/model';

/**
 * Graph's subscription API, as the core uses it (docs/graph-rules.md#the-subscription-resource and docs/graph-rules.md#errors). Implemented by
 * `HttpGraphSubscriptions`; every call is made with a token for `tenantId`, never another
 * tenant's. Failures are `GraphError`s.
 */
export interface GraphSubscriptions {
  /** POST /subscriptions (201). */
  create(
    tenantId: string,
    request: CreateSubscriptionRequest,
    options?: GraphCallOptions,
  ): Promise<GraphSubscription>;
  /** GET /subscriptions/{id}. */
  get(tenantId: string, id: string, options?: GraphCallOptions): Promise<GraphSubscription>;
  /** PATCH /subscriptions/{id}: renew (expirationDateTime) and/or update. */
  update(
    tenantId: string,
    id: string,
    changes: UpdateSubscriptionRequest,
    options?: GraphCallOptions,
  ): Promise<GraphSubscription>;
  /** POST /subscriptions/{id}/reauthorize (204). Does not extend the expiry. */
  reauthorize(tenantId: string, id: string, options?: GraphCallOptions): Promise<void>;
  /** DELETE /subscriptions/{id} (204). */
  delete(tenantId: string, id: string, options?: GraphCallOptions): Promise<void>;
  /**
   * GET /subscriptions, following @odata.nextLink. Throttled to 25 calls per 20 s per tenant:
   * for adoption after a 409 and for drift checks, never on every sweep.
   */
  list(tenantId: string, options?: ListCallOptions): AsyncIterable<GraphSubscription>;
}

export interface ListCallOptions extends GraphCallOptions {
  /**
   * Awaited before each page is requested: the drift check paces list pages under Graph's list
   * limit (https://learn.microsoft.com/graph/throttling-limits).
   */
  readonly beforePage?: () => Promise<void>;
}

export interface GraphCallOptions {
  readonly abortSignal?: AbortSignal;
  /** Overrides the client's per-call timeout. */
  readonly timeoutMs?: number;
}

export interface CreateSubscriptionRequest {
  readonly resource: string;
  readonly changeType: string;
  readonly notificationUrl: string;
  readonly lifecycleNotificationUrl?: string | undefined;
  readonly expirationDateTime: Date;
  readonly clientState: string;
  readonly includeResourceData?: boolean | undefined;
  readonly encryptionCertificate?: string | undefined;
  readonly encryptionCertificateId?: string | undefined;
  readonly latestSupportedTlsVersion?: TlsVersion | undefined;
  readonly notificationQueryOptions?: string | undefined;
  readonly notificationUrlAppId?: string | undefined;
}

/** Graph requires expirationDateTime or notificationUrl in every PATCH. */
export type UpdateSubscriptionRequest = {
  readonly encryptionCertificate?: string | undefined;
  readonly encryptionCertificateId?: string | undefined;
} & (
  | { readonly expirationDateTime: Date; readonly notificationUrl?: string | undefined }
  | { readonly expirationDateTime?: Date | undefined; readonly notificationUrl: string }
);

/** A subscription as Graph returns it. List responses omit clientState. */
export interface GraphSubscription {
  readonly id: string;
  readonly resource: string;
  readonly changeType: string;
  readonly notificationUrl: string;
  readonly lifecycleNotificationUrl: string | null;
  readonly expirationDateTime: Date;
  readonly clientState: string | null;
  readonly includeResourceData: boolean;
  readonly encryptionCertificateId: string | null;
  readonly latestSupportedTlsVersion: string | null;
  readonly applicationId: string | null;
  readonly creatorId: string | null;
  /** Null when unset; absent only where a copy was not read from Graph's JSON. */
  readonly notificationQueryOptions?: string | null;
  readonly notificationUrlAppId?: string | null;
}
