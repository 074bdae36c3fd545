import {
  createDefaultHttpClient,
  createEmptyPipeline,
  createHttpHeaders,
  createPipelineRequest,
  setClientRequestIdPolicy,
  tlsPolicy,
  type HttpClient,
  type Pipeline,
  type PipelineRequest,
  type PipelineResponse,
} from '@azure/core-rest-pipeline';
import type { TokenCredential } from '@azure/identity';
import type { z } from 'zod';
import { systemClock, type Clock } from '../clock';
import { withExtraTrustedCas } from './credentials';
import { invalidResponseError } from './errorMapping';
import { GraphError, isGraphError, localGraphErrorCodes } from './graphError';
import type {
  CreateSubscriptionRequest,
  GraphCallOptions,
  ListCallOptions,
  GraphSubscription,
  GraphSubscriptions,
  UpdateSubscriptionRequest,
} from './graphSubscriptions';
import {
  subscriptionListPageSchema,
  subscriptionPayloadSchema,
  toGraphSubscription,
} from './payloads';
import { withRequiredPermissions } from './permissions';
import { graphRetryPolicy, type GraphLogger, type RetrySettings } from './retryPolicy';
import { tenantTokenPolicy } from './tenantTokenPolicy';

export interface HttpGraphSubscriptionsOptions {
  /** `<graph root>/<version>`, e.g. `https://graph.microsoft.com/v1.0`. */
  readonly apiBaseUrl: string;
  /** The cloud's `.default` scope (docs/graph-rules.md#clouds). */
  readonly scope: string;
  readonly credential: TokenCredential;
  readonly clock?: Clock;
  /** Jitter source in [0, 1). */
  readonly random?: () => number;
  readonly retry?: Partial<RetrySettings>;
  readonly log?: GraphLogger | undefined;
  /** Defaults to core-rest-pipeline's Node client. */
  readonly httpClient?: HttpClient;
  /**
   * PEM CA certificate(s) trusted in addition to Node's public roots, for a TLS-intercepting
   * proxy or the test simulator. Unset in production: real Graph needs nothing extra.
   */
  readonly trustedCaCertificates?: string | readonly string[] | undefined;
}

/**
 * `GraphSubscriptions` over HTTPS with @azure/core-rest-pipeline (docs/architecture.md#graph-client). Every
 * request carries a token for the tenant passed in; failures are `GraphError`s; retries and
 * timeouts are `graphRetryPolicy`'s.
 */
export class HttpGraphSubscriptions implements GraphSubscriptions {
  private readonly apiBaseUrl: string;
  private readonly pipeline: Pipeline;
  private readonly httpClient: HttpClient;
  /** The tenant of each in-flight request, for the token policy. */
  private readonly tenantOf = new WeakMap<PipelineRequest, string>();

  constructor(options: HttpGraphSubscriptionsOptions) {
    this.apiBaseUrl = options.apiBaseUrl.replace(/\/+$/, '');
    if (!this.apiBaseUrl.toLowerCase().startsWith('https://')) {
      throw new Error('The Graph base URL must be https://');
    }
    this.httpClient = options.httpClient ?? createDefaultHttpClient();
    const pipeline = createEmptyPipeline();
    pipeline.addPolicy(setClientRequestIdPolicy('client-request-id'));
    if (options.trustedCaCertificates !== undefined) {
      pipeline.addPolicy(tlsPolicy(withExtraTrustedCas(options.trustedCaCertificates)));
    }
    pipeline.addPolicy(
      graphRetryPolicy({
        clock: options.clock ?? systemClock,
        random: options.random ?? Math.random,
        settings: options.retry,
        log: options.log,
      }),
      { phase: 'Retry' },
    );
    pipeline.addPolicy(
      tenantTokenPolicy({
        credential: options.credential,
        scope: options.scope,
        tenantIdOf: (request) => this.tenantOf.get(request),
      }),
      { phase: 'Sign' },
    );
    this.pipeline = pipeline;
  }

  async create(
    tenantId: string,
    request: CreateSubscriptionRequest,
    options?: GraphCallOptions,
  ): Promise<GraphSubscription> {
    const body = {
      changeType: request.changeType,
      notificationUrl: request.notificationUrl,
      lifecycleNotificationUrl: request.lifecycleNotificationUrl,
      resource: request.resource,
      expirationDateTime: request.expirationDateTime.toISOString(),
      clientState: request.clientState,
      includeResourceData: request.includeResourceData,
      encryptionCertificate: request.encryptionCertificate,
      encryptionCertificateId: request.encryptionCertificateId,
      latestSupportedTlsVersion: request.latestSupportedTlsVersion,
      notificationQueryOptions: request.notificationQueryOptions,
      notificationUrlAppId: request.notificationUrlAppId,
    };
    try {
      const response = await this.send(tenantId, 'POST', this.url('subscriptions'), body, options);
      return toGraphSubscription(parseBody(response, subscriptionPayloadSchema));
    } catch (e) {
      // NOTE: only create knows the resource; the core adds it for the other calls.
      throw withRequiredPermissions(e, request.resource, 'create');
    }
  }

  async get(tenantId: string, id: string, options?: GraphCallOptions): Promise<GraphSubscription> {
    const response = await this.send(tenantId, 'GET', this.subscriptionUrl(id), undefined, options);
    return toGraphSubscription(parseBody(response, subscriptionPayloadSchema));
  }

  async update(
    tenantId: string,
    id: string,
    changes: UpdateSubscriptionRequest,
    options?: GraphCallOptions,
  ): Promise<GraphSubscription> {
    // NOTE: Graph rejects a PATCH with neither field (docs/graph-rules.md#the-subscription-resource); the type says so
    // too, but a caller outside TypeScript's view could still send one.
    if (changes.expirationDateTime === undefined && changes.notificationUrl === undefined) {
      throw new GraphError({
        status: 0,
        code: localGraphErrorCodes.invalidDefinition,
        message: 'A subscription update needs expirationDateTime or notificationUrl',
      });
    }
    const body = {
      expirationDateTime: changes.expirationDateTime?.toISOString(),
      notificationUrl: changes.notificationUrl,
      encryptionCertificate: changes.encryptionCertificate,
      encryptionCertificateId: changes.encryptionCertificateId,
    };
    const response = await this.send(tenantId, 'PATCH', this.subscriptionUrl(id), body, options);
    return toGraphSubscription(parseBody(response, subscriptionPayloadSchema));
  }

  async reauthorize(tenantId: string, id: string, options?: GraphCallOptions): Promise<void> {
    await this.send(
      tenantId,
      'POST',
      `${this.subscriptionUrl(id)}/reauthorize`,
      undefined,
      options,
    );
  }

  async delete(tenantId: string, id: string, options?: GraphCallOptions): Promise<void> {
    await this.send(tenantId, 'DELETE', this.subscriptionUrl(id), undefined, options);
  }

  async *list(tenantId: string, options?: ListCallOptions): AsyncIterable<GraphSubscription> {
    let url: string | undefined = this.url('subscriptions');
    while (url !== undefined) {
      await options?.beforePage?.();
      const response = await this.send(tenantId, 'GET', url, undefined, options);
      const page = parseBody(response, subscriptionListPageSchema);
      for (const item of page.value) yield toGraphSubscription(item);
      url = this.nextPageUrl(response, page['@odata.nextLink'] ?? undefined);
    }
  }

  private url(path: string): string {
    return `${this.apiBaseUrl}/${path}`;
  }

  private subscriptionUrl(id: string): string {
    return this.url(`subscriptions/${encodeURIComponent(id)}`);
  }

  /**
   * Follows `@odata.nextLink` only to the Graph origin we were configured with: a tenant's
   * token must never be sent anywhere a response body points to.
   */
  private nextPageUrl(
    response: PipelineResponse,
    nextLink: string | undefined,
  ): string | undefined {
    if (nextLink === undefined || nextLink === '') return undefined;
    let next: URL;
    try {
      next = new URL(nextLink, `${this.apiBaseUrl}/`);
    } catch (e) {
      throw invalidResponseError(response, '@odata.nextLink is not a URL', e);
    }
    if (next.origin !== new URL(this.apiBaseUrl).origin) {
      throw invalidResponseError(response, '@odata.nextLink points to another host');
    }
    return next.toString();
  }

  private async send(
    tenantId: string,
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    body: Record<string, unknown> | undefined,
    options: GraphCallOptions | undefined,
  ): Promise<PipelineResponse> {
    const headers = createHttpHeaders({ Accept: 'application/json' });
    if (body !== undefined) headers.set('Content-Type', 'application/json');
    const timeoutMs = options?.timeoutMs;
    const request = createPipelineRequest({
      url,
      method,
      headers,
      // NOTE: JSON.stringify drops undefined fields, so unset optional properties are not sent.
      body: body === undefined ? undefined : JSON.stringify(body),
      // NOTE: graphRetryPolicy reads this as the whole call's budget; 0 means its default.
      timeout:
        timeoutMs !== undefined && Number.isFinite(timeoutMs) && timeoutMs > 0 ? timeoutMs : 0,
      abortSignal: options?.abortSignal,
    });
    this.tenantOf.set(request, tenantId);
    try {
      return await this.pipeline.sendRequest(this.httpClient, request);
    } catch (e) {
      if (isGraphError(e)) throw e;
      // NOTE: the retry policy turns every failure into a GraphError; this is the safety net.
      throw new GraphError({
        status: 0,
        code: localGraphErrorCodes.network,
        message: `Graph ${method} ${new URL(url).pathname} failed unexpectedly`,
        cause: e,
      });
    }
  }
}

/** Parses a 2xx body; anything malformed is `InvalidResponse` (never a silent partial value). */
function parseBody<S extends z.ZodType>(response: PipelineResponse, schema: S): z.output<S> {
  let json: unknown;
  try {
    json = JSON.parse(response.bodyAsText ?? '');
  } catch (e) {
    throw invalidResponseError(response, 'the body is not JSON', e);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const where = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.code}`)
      .join('; ');
    throw invalidResponseError(response, where, parsed.error);
  }
  return parsed.data;
}
