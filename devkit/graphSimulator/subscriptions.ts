import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { registerSecret } from '../testLogSink';
import { formatGraphDateTime, parseGraphDateTime } from './graphTime';
import {
  classifyResource,
  lifecycleUrlThresholdMinutes,
  minimumLifetimeMinutes,
  type ResourceRules,
} from './lifetimes';
import type { SimulatedSubscription } from './types';
import {
  isLoopbackHost,
  validateEndpoint,
  type HandshakeOutcome,
  type OutboundOptions,
} from './webhooks';

/**
 * Graph's subscription resource and its rules (docs/graph-rules.md#the-subscription-resource, docs/graph-rules.md#lifetimes and docs/graph-rules.md#validation-handshake), without any
 * HTTP: the server authenticates, throttles and faults a request, then calls one method here
 * with the caller's tenant and app, and turns the result into a response.
 */

export interface ApiContext {
  readonly tenantId: string;
  readonly appId: string;
  /** The app's service principal in the tenant: `creatorId` of app-only subscriptions. */
  readonly creatorId: string;
  readonly now: Date;
  readonly version: string;
}

export interface ApiResult {
  readonly status: number;
  readonly body?: Record<string, unknown>;
  readonly error?: { readonly code: string; readonly message: string };
  readonly subscriptionId?: string;
}

export interface SubscriptionApiOptions {
  readonly graphUrl: () => string;
  readonly listPageSize: number;
  readonly allowHttpLoopbackUrls: boolean;
  /** For the validation handshake; read at each call (the timeout may change). */
  readonly outbound: () => OutboundOptions;
}

interface StoredSubscription extends SimulatedSubscription {
  readonly seq: number;
  readonly creatorId: string;
}

/** Graph's messages where Microsoft's pages give them (docs/graph-rules.md#the-subscription-resource, docs/graph-rules.md#lifetimes, docs/graph-rules.md#errors). */
export const graphMessages = {
  patchNeedsField:
    "Subscription must contain either the 'expirationDateTime' or 'notificationUrl' property and its value.",
  lifecycleUrlRequired:
    'lifecycleNotificationUrl is a required property for subscription creation on this resource when the expirationDateTime value is set to greater than 1 hour',
  notFound: 'The object was not found.',
  expirationTooFar: (maxMinutes: number) =>
    `Subscription expiration can only be ${maxMinutes} minutes in the future.`,
  duplicate: (id: string) => `Subscription Id ${id} already exists for the requested combination`,
} as const;

const tlsVersions = ['v1_0', 'v1_1', 'v1_2', 'v1_3'] as const;
const changeTypes = new Set(['created', 'updated', 'deleted']);
const webPushProperties = [
  'vapidPublicKey',
  'webPushEncryptionP256dhPublicKey',
  'webPushEncryptionSecret',
] as const;

const optionalText = z.string().nullish();
const createSchema = z.looseObject({
  changeType: z.string().min(1),
  resource: z.string().min(1),
  notificationUrl: z.string().min(1),
  expirationDateTime: z.string().min(1),
  lifecycleNotificationUrl: optionalText,
  clientState: optionalText,
  includeResourceData: z.boolean().nullish(),
  encryptionCertificate: optionalText,
  encryptionCertificateId: optionalText,
  latestSupportedTlsVersion: z.enum(tlsVersions).nullish(),
  notificationQueryOptions: optionalText,
  notificationUrlAppId: optionalText,
});
const updateSchema = z.looseObject({
  expirationDateTime: optionalText,
  notificationUrl: optionalText,
  lifecycleNotificationUrl: optionalText,
  encryptionCertificate: optionalText,
  encryptionCertificateId: optionalText,
});

/** learn.microsoft.com/graph/api/resources/subscription: clientState max 128 characters; learn.microsoft.com/graph/change-notifications-with-resource-data: encryptionCertificateId up to 128 characters. */
const maxClientStateLength = 128;
const maxCertificateIdLength = 128;

const minute = 60_000;

function fail(status: number, code: string, message: string): ApiResult {
  return { status, error: { code, message } };
}

function schemaFailure(error: z.ZodError): ApiResult {
  const issue = error.issues[0];
  const property = issue?.path.map(String).join('.') ?? '';
  return fail(
    400,
    'InvalidRequest',
    property === ''
      ? 'The request body must be a JSON object.'
      : `Invalid value for property '${property}': ${issue?.message ?? 'invalid'}.`,
  );
}

function normalizeChangeType(changeType: string): string {
  return changeType
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .sort()
    .join(',');
}

/** A reauthorize and a PATCH less than 10 minutes apart. */
function withinSpacing(last: Date | null, now: Date): boolean {
  return last !== null && now.getTime() - last.getTime() < 10 * 60_000;
}

function normalizeResource(resource: string): string {
  return resource.trim().replace(/^\/+/, '').toLowerCase();
}

export class SubscriptionApi {
  private readonly live = new Map<string, StoredSubscription>();
  /** Expired, deleted or lost ones, so a lifecycle event can still be sent about them. */
  private readonly gone = new Map<string, StoredSubscription>();
  private seq = 0;
  /**
   * Reauthorize and PATCH calls on one subscription less than 10 minutes apart. The lifecycle
   * events page says not to send such a pair (it can leave the subscription inconsistent) and
   * names no error for it, so the simulator accepts the call, as Graph does, and keeps it here
   * for tests to assert on (https://learn.microsoft.com/graph/change-notifications-lifecycle-events).
   */
  readonly spacingViolations: { id: string; call: 'reauthorize' | 'update'; at: Date }[] = [];

  constructor(private readonly options: SubscriptionApiOptions) {}

  async create(ctx: ApiContext, body: unknown): Promise<ApiResult> {
    const parsed = createSchema.safeParse(body);
    if (!parsed.success) return schemaFailure(parsed.error);
    const request = parsed.data;
    const raw = request as Record<string, unknown>;
    if (webPushProperties.some((p) => raw[p] !== undefined && raw[p] !== null)) {
      // learn.microsoft.com/graph/api/resources/subscription: a standard webhook that sends Web Push properties gets 400 Bad Request.
      return fail(
        400,
        'InvalidRequest',
        'Web Push properties are only valid for Web Push subscriptions.',
      );
    }
    const types = request.changeType.split(',').map((c) => c.trim().toLowerCase());
    const badType = types.find((t) => !changeTypes.has(t));
    if (badType !== undefined) {
      return fail(400, 'InvalidRequest', `Invalid 'changeType' attribute: '${badType}'.`);
    }
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(request.resource.trim())) {
      // learn.microsoft.com/graph/api/resources/subscription: resource is relative to the version root, never a full URL.
      return fail(
        400,
        'InvalidRequest',
        `Invalid 'resource': '${request.resource}' must be a path relative to the version root.`,
      );
    }
    const notificationUrlProblem = this.urlProblem('notificationUrl', request.notificationUrl);
    if (notificationUrlProblem !== undefined) return notificationUrlProblem;
    const lifecycleUrl = request.lifecycleNotificationUrl ?? null;
    if (lifecycleUrl !== null) {
      const problem = this.urlProblem('lifecycleNotificationUrl', lifecycleUrl);
      if (problem !== undefined) return problem;
    }
    const clientState = request.clientState ?? null;
    // ADDITION: the test run's secrets check looks for it in every log line (testLogSink.ts).
    registerSecret('clientState', clientState);
    if (clientState !== null && clientState.length > maxClientStateLength) {
      return fail(
        400,
        'ValidationError',
        `'clientState' must be at most ${maxClientStateLength} characters.`,
      );
    }
    const certificateIdProblem = this.certificateIdProblem(request.encryptionCertificateId);
    if (certificateIdProblem !== undefined) return certificateIdProblem;

    const includeResourceData = request.includeResourceData ?? false;
    const resourceRules = classifyResource(request.resource, includeResourceData);
    const expiry = this.expiry(request.expirationDateTime, resourceRules, ctx.now);
    if ('error' in expiry) return expiry.error;
    if (
      resourceRules.lifecycleUrlRequiredOverOneHour &&
      lifecycleUrl === null &&
      expiry.date.getTime() - ctx.now.getTime() > lifecycleUrlThresholdMinutes * minute
    ) {
      return fail(400, 'ValidationError', graphMessages.lifecycleUrlRequired);
    }
    const certificate = request.encryptionCertificate ?? null;
    if (includeResourceData && (certificate === null || certificate.trim() === '')) {
      // learn.microsoft.com/graph/api/resources/subscription: encryptionCertificate is required when includeResourceData is true; learn.microsoft.com/graph/api/subscription-post-subscriptions names the
      // Teams resources and presence. The exact error text is not documented.
      return fail(
        400,
        'ValidationError',
        'An encryptionCertificate is required when includeResourceData is true.',
      );
    }
    const duplicate = this.findDuplicate(ctx, request.changeType, request.resource);
    if (duplicate !== undefined) return this.conflict(duplicate);

    // learn.microsoft.com/graph/change-notifications-lifecycle-events and learn.microsoft.com/graph/change-notifications-delivery-webhooks: both URLs are validated, with one request each even when they are the same URL.
    const handshake = await this.validate([request.notificationUrl, lifecycleUrl]);
    if (!handshake.ok) return fail(400, handshake.code, handshake.message);
    // NOTE: a concurrent create may have won while this one waited on the handshake.
    const raced = this.findDuplicate(ctx, request.changeType, request.resource);
    if (raced !== undefined) return this.conflict(raced);

    this.seq += 1;
    const subscription: StoredSubscription = {
      id: randomUUID(),
      seq: this.seq,
      tenantId: ctx.tenantId,
      appId: ctx.appId,
      creatorId: ctx.creatorId,
      resource: request.resource,
      changeType: request.changeType,
      notificationUrl: request.notificationUrl,
      lifecycleNotificationUrl: lifecycleUrl,
      expirationDateTime: expiry.date,
      clientState,
      includeResourceData,
      encryptionCertificate: certificate,
      encryptionCertificateId: request.encryptionCertificateId ?? null,
      // learn.microsoft.com/graph/api/resources/subscription: latestSupportedTlsVersion defaults to v1_2.
      latestSupportedTlsVersion: request.latestSupportedTlsVersion ?? 'v1_2',
      createdAt: ctx.now,
      reauthorizationRequiredAt: null,
      lastReauthorizedAt: null,
      lastUpdatedAt: null,
    };
    this.live.set(subscription.id, subscription);
    return {
      status: 201,
      body: this.toJson(subscription, ctx.version, true, '$entity'),
      subscriptionId: subscription.id,
    };
  }

  get(ctx: ApiContext, id: string): ApiResult {
    const subscription = this.find(ctx, id);
    if (subscription === undefined) return this.notFound(id);
    return {
      status: 200,
      body: this.toJson(subscription, ctx.version, true, '$entity'),
      subscriptionId: id,
    };
  }

  /** learn.microsoft.com/graph/api/subscription-list: this app's subscriptions in the tenant, paged by `@odata.nextLink`, no clientState. */
  list(ctx: ApiContext, query: URLSearchParams): ApiResult {
    const skipToken = query.get('$skiptoken');
    let after = 0;
    if (skipToken !== null) {
      const decoded = /^seq:(\d+)$/.exec(Buffer.from(skipToken, 'base64url').toString('utf8'));
      if (decoded?.[1] === undefined) return fail(400, 'BadRequest', 'Invalid $skiptoken.');
      after = Number(decoded[1]);
    }
    const mine = [...this.live.values()]
      .filter(
        (s) =>
          s.tenantId === ctx.tenantId &&
          s.appId === ctx.appId &&
          s.seq > after &&
          this.isLive(s, ctx.now),
      )
      .sort((a, b) => a.seq - b.seq);
    const page = mine.slice(0, this.options.listPageSize);
    const body: Record<string, unknown> = {
      '@odata.context': `${this.options.graphUrl()}/${ctx.version}/$metadata#subscriptions`,
      value: page.map((s) => this.toJson(s, ctx.version, false)),
    };
    const last = page[page.length - 1];
    if (mine.length > page.length && last !== undefined) {
      const token = Buffer.from(`seq:${last.seq}`).toString('base64url');
      body['@odata.nextLink'] =
        `${this.options.graphUrl()}/${ctx.version}/subscriptions?$skiptoken=${token}`;
    }
    return { status: 200, body };
  }

  async update(
    ctx: ApiContext,
    id: string,
    body: unknown,
    ignoreExpiry: boolean,
  ): Promise<ApiResult> {
    const current = this.find(ctx, id);
    if (current === undefined) return this.notFound(id);
    const parsed = updateSchema.safeParse(body);
    if (!parsed.success) return schemaFailure(parsed.error);
    const changes = parsed.data;
    const newExpiry = changes.expirationDateTime ?? '';
    const newUrl = changes.notificationUrl ?? '';
    if (newExpiry === '' && newUrl === '') {
      // learn.microsoft.com/graph/api/subscription-update (and microsoftgraph/microsoft-graph-docs-contrib PR #9498).
      return fail(400, 'InvalidRequest', graphMessages.patchNeedsField);
    }
    const lifecycleUrl = changes.lifecycleNotificationUrl;
    if (
      lifecycleUrl !== undefined &&
      lifecycleUrl !== null &&
      lifecycleUrl !== current.lifecycleNotificationUrl
    ) {
      // learn.microsoft.com/graph/change-notifications-lifecycle-events: it cannot be added or changed by PATCH; delete and create again. Wording is ours.
      return fail(
        400,
        'InvalidRequest',
        'lifecycleNotificationUrl cannot be updated. Delete the subscription and create it again.',
      );
    }
    let expiration = current.expirationDateTime;
    if (newExpiry !== '') {
      const rules = classifyResource(current.resource, current.includeResourceData);
      const expiry = this.expiry(newExpiry, rules, ctx.now);
      if ('error' in expiry) return expiry.error;
      expiration = expiry.date;
    }
    const certificateIdProblem = this.certificateIdProblem(changes.encryptionCertificateId);
    if (certificateIdProblem !== undefined) return certificateIdProblem;
    if (newUrl !== '' && newUrl !== current.notificationUrl) {
      const problem = this.urlProblem('notificationUrl', newUrl);
      if (problem !== undefined) return problem;
      // docs/graph-rules.md#validation-handshake (our reading): a new notificationUrl is validated like on create.
      const handshake = await this.validate([newUrl]);
      if (!handshake.ok) return fail(400, handshake.code, handshake.message);
    }
    // NOTE: the subscription may have been deleted or expired during the handshake.
    const subscription = this.find(ctx, id);
    if (subscription === undefined) return this.notFound(id);
    if (!ignoreExpiry) subscription.expirationDateTime = expiration;
    if (newUrl !== '') subscription.notificationUrl = newUrl;
    if (changes.encryptionCertificate !== undefined && changes.encryptionCertificate !== null) {
      subscription.encryptionCertificate = changes.encryptionCertificate;
    }
    if (changes.encryptionCertificateId !== undefined && changes.encryptionCertificateId !== null) {
      subscription.encryptionCertificateId = changes.encryptionCertificateId;
    }
    if (withinSpacing(subscription.lastReauthorizedAt, ctx.now)) {
      this.spacingViolations.push({ id, call: 'update', at: ctx.now });
    }
    // docs/graph-rules.md#lifecycle-notifications: a PATCH renewal also reauthorizes.
    subscription.reauthorizationRequiredAt = null;
    subscription.lastUpdatedAt = ctx.now;
    return {
      status: 200,
      body: this.toJson(subscription, ctx.version, true, '$entity'),
      subscriptionId: id,
    };
  }

  delete(ctx: ApiContext, id: string): ApiResult {
    const subscription = this.find(ctx, id);
    if (subscription === undefined) return this.notFound(id);
    this.bury(subscription);
    return { status: 204, subscriptionId: id };
  }

  /** learn.microsoft.com/graph/api/subscription-reauthorize: 204, no body; the expiry does not move. */
  reauthorize(ctx: ApiContext, id: string): ApiResult {
    const subscription = this.find(ctx, id);
    if (subscription === undefined) return this.notFound(id);
    if (withinSpacing(subscription.lastUpdatedAt, ctx.now)) {
      this.spacingViolations.push({ id, call: 'reauthorize', at: ctx.now });
    }
    subscription.reauthorizationRequiredAt = null;
    subscription.lastReauthorizedAt = ctx.now;
    return { status: 204, subscriptionId: id };
  }

  // ---- simulator controls ----

  snapshot(now: Date, tenantId?: string): SimulatedSubscription[] {
    return [...this.live.values()]
      .filter((s) => this.isLive(s, now))
      .filter((s) => tenantId === undefined || s.tenantId.toLowerCase() === tenantId.toLowerCase())
      .sort((a, b) => a.seq - b.seq)
      .map(publicCopy);
  }

  /** Removes a live subscription without telling anyone; false if there was none. */
  lose(id: string, now: Date): boolean {
    const subscription = this.live.get(id);
    if (subscription === undefined || !this.isLive(subscription, now)) return false;
    this.bury(subscription);
    return true;
  }

  /** A live or gone subscription, for lifecycle events. */
  findAny(id: string): SimulatedSubscription | undefined {
    const subscription = this.live.get(id) ?? this.gone.get(id);
    return subscription === undefined ? undefined : publicCopy(subscription);
  }

  markReauthorizationRequired(id: string, now: Date): void {
    const subscription = this.live.get(id);
    if (subscription !== undefined) subscription.reauthorizationRequiredAt = now;
  }

  // ---- internals ----

  private isLive(subscription: StoredSubscription, now: Date): boolean {
    if (subscription.expirationDateTime.getTime() > now.getTime()) return true;
    // Expired: Graph has removed it (learn.microsoft.com/graph/api/subscription-update: 404 on PATCH/GET after expiry).
    this.bury(subscription);
    return false;
  }

  private bury(subscription: StoredSubscription): void {
    this.live.delete(subscription.id);
    this.gone.set(subscription.id, subscription);
  }

  private find(ctx: ApiContext, id: string): StoredSubscription | undefined {
    const subscription = this.live.get(id);
    if (
      subscription === undefined ||
      subscription.tenantId !== ctx.tenantId ||
      subscription.appId !== ctx.appId ||
      !this.isLive(subscription, ctx.now)
    ) {
      return undefined;
    }
    return subscription;
  }

  private findDuplicate(
    ctx: ApiContext,
    changeType: string,
    resource: string,
  ): StoredSubscription | undefined {
    const wantedType = normalizeChangeType(changeType);
    const wantedResource = normalizeResource(resource);
    return [...this.live.values()].find(
      (s) =>
        s.tenantId === ctx.tenantId &&
        s.appId === ctx.appId &&
        normalizeChangeType(s.changeType) === wantedType &&
        normalizeResource(s.resource) === wantedResource &&
        this.isLive(s, ctx.now),
    );
  }

  private conflict(existing: StoredSubscription): ApiResult {
    // learn.microsoft.com/graph/change-notifications-delivery-webhooks, learn.microsoft.com/graph/api/subscription-post-subscriptions: 409 naming the subscription that already has this changeType and resource.
    return fail(409, 'Conflict', graphMessages.duplicate(existing.id));
  }

  private notFound(id: string): ApiResult {
    return { ...fail(404, 'itemNotFound', graphMessages.notFound), subscriptionId: id };
  }

  /** docs/graph-rules.md#lifetimes: above the maximum fails; below 45 minutes is raised to 45. */
  private expiry(
    text: string,
    rules: ResourceRules,
    now: Date,
  ): { date: Date } | { error: ApiResult } {
    const requested = parseGraphDateTime(text);
    if (requested === undefined) {
      return {
        error: fail(
          400,
          'InvalidRequest',
          `Invalid 'expirationDateTime': '${text}' is not a date-time.`,
        ),
      };
    }
    if (requested.getTime() - now.getTime() > rules.maxMinutes * minute) {
      return {
        error: fail(400, 'ExtensionError', graphMessages.expirationTooFar(rules.maxMinutes)),
      };
    }
    const floor = now.getTime() + minimumLifetimeMinutes * minute;
    return { date: new Date(Math.max(requested.getTime(), floor)) };
  }

  private urlProblem(property: string, value: string): ApiResult | undefined {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return fail(400, 'ValidationError', `'${property}' must be an absolute HTTPS URL.`);
    }
    const httpAllowed = this.options.allowHttpLoopbackUrls && isLoopbackHost(url.hostname);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && httpAllowed)) {
      // learn.microsoft.com/graph/api/resources/subscription: notificationUrl and lifecycleNotificationUrl must be HTTPS. Wording is ours.
      return fail(400, 'ValidationError', `'${property}' must be an absolute HTTPS URL.`);
    }
    return undefined;
  }

  private certificateIdProblem(id: string | null | undefined): ApiResult | undefined {
    if (id !== undefined && id !== null && id.length > maxCertificateIdLength) {
      return fail(
        400,
        'ValidationError',
        `'encryptionCertificateId' must be at most ${maxCertificateIdLength} characters.`,
      );
    }
    return undefined;
  }

  private async validate(urls: ReadonlyArray<string | null>): Promise<HandshakeOutcome> {
    for (const url of urls) {
      if (url === null) continue;
      const outcome = await validateEndpoint(url, this.options.outbound());
      if (!outcome.ok) return outcome;
    }
    return { ok: true };
  }

  private toJson(
    s: StoredSubscription,
    version: string,
    withClientState: boolean,
    entity?: string,
  ): Record<string, unknown> {
    const json: Record<string, unknown> = {};
    if (entity !== undefined) {
      json['@odata.context'] =
        `${this.options.graphUrl()}/${version}/$metadata#subscriptions/${entity}`;
    }
    return Object.assign(json, {
      id: s.id,
      resource: s.resource,
      applicationId: s.appId,
      changeType: s.changeType,
      // learn.microsoft.com/graph/api/subscription-list: list responses do not return clientState.
      clientState: withClientState ? s.clientState : null,
      notificationUrl: s.notificationUrl,
      notificationQueryOptions: null,
      lifecycleNotificationUrl: s.lifecycleNotificationUrl,
      expirationDateTime: formatGraphDateTime(s.expirationDateTime),
      creatorId: s.creatorId,
      includeResourceData: s.includeResourceData,
      latestSupportedTlsVersion: s.latestSupportedTlsVersion,
      // learn.microsoft.com/graph/api/subscription-list: the list sample shows absent certificate fields as empty strings, not null.
      encryptionCertificate: s.encryptionCertificate ?? (withClientState ? null : ''),
      encryptionCertificateId: s.encryptionCertificateId ?? (withClientState ? null : ''),
      notificationUrlAppId: null,
    });
  }
}

function publicCopy(s: StoredSubscription): SimulatedSubscription {
  return {
    id: s.id,
    tenantId: s.tenantId,
    appId: s.appId,
    resource: s.resource,
    changeType: s.changeType,
    notificationUrl: s.notificationUrl,
    lifecycleNotificationUrl: s.lifecycleNotificationUrl,
    expirationDateTime: new Date(s.expirationDateTime),
    clientState: s.clientState,
    includeResourceData: s.includeResourceData,
    encryptionCertificateId: s.encryptionCertificateId,
    latestSupportedTlsVersion: s.latestSupportedTlsVersion,
    createdAt: new Date(s.createdAt),
    encryptionCertificate: s.encryptionCertificate,
    reauthorizationRequiredAt:
      s.reauthorizationRequiredAt === null ? null : new Date(s.reauthorizationRequiredAt),
    lastReauthorizedAt: s.lastReauthorizedAt === null ? null : new Date(s.lastReauthorizedAt),
    lastUpdatedAt: s.lastUpdatedAt === null ? null : new Date(s.lastUpdatedAt),
  };
}
