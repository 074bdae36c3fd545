import { randomBytes, randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as https from 'node:https';
import type { Socket } from 'node:net';
import { accessDeniedMessage, defaultFaultCode, defaultFaultMessage, FaultBook } from './faults';
import { formatNotificationDateTime } from './graphTime';
import { SubscriptionApi, type ApiContext, type ApiResult } from './subscriptions';
import { formatRetryAfterSeconds, graphThrottleLimits, Throttle } from './throttling';
import { generateSimulatorTls } from './tls';
import {
  isGuid,
  openIdConfiguration,
  tokenFaultBody,
  TokenService,
  type FederatedIdentityCredential,
  type TokenCheck,
} from './tokens';
import type {
  CallKind,
  FaultRule,
  GraphSimulator,
  GraphSimulatorOptions,
  IssueTokenOptions,
  LifecycleSendOptions,
  SimulatedCall,
  SimulatedSubscription,
  SimulatorTls,
} from './types';
import { isLoopbackHost, postToLoopback } from './webhooks';

const host = '127.0.0.1';
/** Largest request body read; Graph's subscription bodies are a few KB. */
const maxRequestBytes = 4 * 1024 * 1024;
/** docs/graph-rules.md#delivery-deadlines: Graph gives a (retried) notification POST 10 s. */
const lifecyclePostTimeoutMs = 10_000;
const graphJsonType =
  'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';

interface Route {
  readonly area: 'graph' | 'authority' | 'none';
  readonly kind: CallKind;
  readonly version?: string;
  readonly subscriptionId?: string;
  /** Set when the path exists but not for this method. */
  readonly methodNotAllowed?: boolean;
  /** Graph: the first unknown segment. */
  readonly unknownSegment?: string;
  readonly tenant?: string;
  readonly authority?: 'token' | 'openid' | 'keys';
}

function routeRequest(method: string, pathname: string): Route {
  let segments: string[];
  try {
    segments = pathname
      .split('/')
      .filter((s) => s.length > 0)
      .map((s) => decodeURIComponent(s));
  } catch {
    return { area: 'none', kind: 'other' };
  }
  const [first, second, third, fourth, ...rest] = segments;
  if (first === 'v1.0' || first === 'beta') {
    const graph = { area: 'graph', version: first } as const;
    if (second?.toLowerCase() !== 'subscriptions') {
      return { ...graph, kind: 'other', unknownSegment: second ?? '' };
    }
    if (third === undefined) {
      if (method === 'GET') return { ...graph, kind: 'list' };
      if (method === 'POST') return { ...graph, kind: 'create' };
      return { ...graph, kind: 'other', methodNotAllowed: true };
    }
    if (fourth === undefined) {
      const byId = { ...graph, subscriptionId: third };
      if (method === 'GET') return { ...byId, kind: 'get' };
      if (method === 'PATCH') return { ...byId, kind: 'update' };
      if (method === 'DELETE') return { ...byId, kind: 'delete' };
      return { ...byId, kind: 'other', methodNotAllowed: true };
    }
    if (fourth.toLowerCase() === 'reauthorize' && rest.length === 0) {
      const reauthorize = { ...graph, subscriptionId: third };
      if (method === 'POST') return { ...reauthorize, kind: 'reauthorize' };
      return { ...reauthorize, kind: 'other', methodNotAllowed: true };
    }
    return { ...graph, kind: 'other', unknownSegment: fourth };
  }
  if (first !== undefined && rest.length === 0) {
    const path = [second, third, fourth].join('/');
    if (path === 'oauth2/v2.0/token') {
      return { area: 'authority', kind: 'token', tenant: first, authority: 'token' };
    }
    if (path === 'v2.0/.well-known/openid-configuration') {
      return { area: 'authority', kind: 'other', tenant: first, authority: 'openid' };
    }
    if (path === 'discovery/v2.0/keys') {
      return { area: 'authority', kind: 'other', tenant: first, authority: 'keys' };
    }
  }
  return { area: 'none', kind: 'other' };
}

/** Graph's name for an operation in ExtensionError messages (docs/graph-rules.md#errors). */
function operationName(kind: CallKind): string {
  switch (kind) {
    case 'create':
      return 'Create';
    case 'get':
      return 'Get';
    case 'list':
      return 'List';
    case 'update':
      return 'Update';
    case 'reauthorize':
      return 'Reauthorize';
    case 'delete':
      return 'Delete';
    default:
      return 'Request';
  }
}

class BodyTooLargeError extends Error {}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxRequestBytes) {
        reject(new BodyTooLargeError());
        req.pause();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}

/** Per-request facts the response helpers need. */
interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly route: Route;
  readonly at: Date;
  readonly requestId: string;
  readonly clientRequestId: string;
  tenantId: string | undefined;
  subscriptionId: string | undefined;
  /** Records the call with this status now, unless it was recorded already. */
  record: (status: number) => void;
}

class Simulator implements GraphSimulator {
  readonly clientId: string;
  readonly clientSecret: string;
  private readonly server: https.Server;
  private readonly clock: () => Date;
  private readonly tokens: TokenService;
  private readonly faults: FaultBook;
  private readonly throttle: Throttle;
  private readonly api: SubscriptionApi;
  private readonly handshakeTimeoutMs: number;
  private readonly revokedTenants = new Set<string>();
  private readonly heldSockets = new Set<Socket>();
  private readonly stopController = new AbortController();
  private readonly recorded: SimulatedCall[] = [];
  private readonly onFault: GraphSimulatorOptions['onFault'];
  private latencyMs: number;
  private port = 0;
  private stopping: Promise<void> | undefined;

  constructor(
    readonly tls: SimulatorTls,
    options: GraphSimulatorOptions,
  ) {
    this.clientId = options.clientId ?? randomUUID();
    this.clientSecret = options.clientSecret ?? randomBytes(30).toString('base64url');
    this.clock = options.now ?? (() => new Date());
    this.tokens = new TokenService(this.clientId, this.clientSecret);
    this.faults = new FaultBook(options.random ?? Math.random);
    this.throttle = new Throttle(
      options.throttling === false ? false : { ...graphThrottleLimits, ...options.throttling },
      this.clock,
    );
    this.latencyMs = options.latencyMs ?? 0;
    this.onFault = options.onFault;
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000;
    // NOTE: every pending latency wait and outbound request listens on this one signal.
    setMaxListeners(0, this.stopController.signal);
    this.api = new SubscriptionApi({
      graphUrl: () => this.graphUrl,
      listPageSize: options.listPageSize ?? 100,
      allowHttpLoopbackUrls: options.allowHttpLoopbackUrls ?? false,
      outbound: () => ({
        ca: this.tls.ca,
        timeoutMs: this.handshakeTimeoutMs,
        signal: this.stopController.signal,
      }),
    });
    this.server = https.createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
      this.handle(req, res).catch(() => {
        this.answerUnexpected(res);
      });
    });
  }

  get graphUrl(): string {
    return `https://${host}:${this.port}`;
  }

  get authorityHost(): string {
    return this.graphUrl;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('No port from the OS.');
    this.port = address.port;
  }

  subscriptions(tenantId?: string): SimulatedSubscription[] {
    return this.api.snapshot(this.clock(), tenantId);
  }

  /** Reauthorize/PATCH pairs on one subscription less than 10 minutes apart. */
  spacingViolations(): readonly { id: string; call: 'reauthorize' | 'update'; at: Date }[] {
    return [...this.api.spacingViolations];
  }

  calls(): readonly SimulatedCall[] {
    return this.recorded.map((c) => ({ ...c, at: new Date(c.at) }));
  }

  resetCalls(): void {
    this.recorded.length = 0;
  }

  setLatency(ms: number): void {
    if (!(ms >= 0)) throw new Error('Latency is a number of milliseconds, 0 or more.');
    this.latencyMs = ms;
  }

  injectFault(rule: FaultRule): void {
    this.faults.add(rule);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  loseSubscription(id: string): void {
    if (!this.api.lose(id, this.clock())) throw new Error(`No live subscription ${id} to lose.`);
  }

  addFederatedIdentityCredential(credential: FederatedIdentityCredential): void {
    this.tokens.addFederatedIdentityCredential(credential);
  }

  revokePermission(tenantId: string): void {
    this.revokedTenants.add(tenantId.toLowerCase());
  }

  restorePermission(tenantId: string): void {
    this.revokedTenants.delete(tenantId.toLowerCase());
  }

  issueToken(tenantId: string, options: IssueTokenOptions = {}): string {
    return this.tokens.issue(
      tenantId.toLowerCase(),
      options.audience ?? 'https://graph.microsoft.com',
      options.lifetimeSeconds,
    );
  }

  async sendLifecycleEvent(
    subscriptionId: string,
    event: string,
    options: LifecycleSendOptions = {},
  ): Promise<{ status: number; body: string }> {
    const [result] = await this.sendLifecycleEvents([{ subscriptionId, event, ...options }]);
    if (result === undefined) throw new Error('No lifecycle POST was sent.');
    return { status: result.status, body: result.body };
  }

  /**
   * docs/graph-rules.md#lifecycle-notifications: a changeNotificationCollection per lifecycle URL. Every
   * item is checked before anything is sent or changed.
   */
  async sendLifecycleEvents(
    items: Array<{ subscriptionId: string; event: string } & LifecycleSendOptions>,
  ): Promise<Array<{ url: string; status: number; body: string }>> {
    const resolved = items.map((item) => {
      const subscription = this.api.findAny(item.subscriptionId);
      if (subscription === undefined) {
        throw new Error(`The simulator never had subscription ${item.subscriptionId}.`);
      }
      const url = subscription.lifecycleNotificationUrl;
      if (url === null) {
        // learn.microsoft.com/graph/change-notifications-lifecycle-events: subscriptions created without a lifecycle URL get no lifecycle notifications.
        throw new Error(`Subscription ${item.subscriptionId} has no lifecycleNotificationUrl.`);
      }
      if (!isLoopbackHost(new URL(url).hostname)) {
        throw new Error(`The lifecycle URL of ${item.subscriptionId} is not on a loopback host.`);
      }
      return { item, subscription, url };
    });
    const batches = new Map<string, Array<Record<string, unknown>>>();
    for (const { item, subscription, url } of resolved) {
      if (item.event === 'subscriptionRemoved') {
        this.api.lose(subscription.id, this.clock());
      } else if (item.event === 'reauthorizationRequired') {
        this.api.markReauthorizationRequired(subscription.id, this.clock());
      }
      const tenantKey = item.variant === 'organizationId' ? 'organizationId' : 'tenantId';
      const payload: Record<string, unknown> = {
        subscriptionId: subscription.id,
        subscriptionExpirationDateTime: formatNotificationDateTime(subscription.expirationDateTime),
        [tenantKey]: subscription.tenantId,
        clientState: item.clientState ?? subscription.clientState,
        lifecycleEvent: item.event,
      };
      if (item.variant === 'emptyResource') payload.resource = '';
      const batch = batches.get(url) ?? [];
      batch.push(payload);
      batches.set(url, batch);
    }
    const results: Array<{ url: string; status: number; body: string }> = [];
    for (const [url, value] of batches) {
      const answer = await postToLoopback(
        url,
        JSON.stringify({ value }),
        'application/json; charset=utf-8',
        { ca: this.tls.ca, timeoutMs: lifecyclePostTimeoutMs, signal: this.stopController.signal },
      );
      results.push({ url, status: answer.status, body: answer.body });
    }
    return results;
  }

  stop(): Promise<void> {
    this.stopping ??= new Promise<void>((resolve) => {
      this.stopController.abort();
      for (const socket of this.heldSockets) socket.destroy();
      this.heldSockets.clear();
      this.server.close(() => {
        resolve();
      });
      this.server.closeAllConnections();
    });
    return this.stopping;
  }

  // ---- request handling ----

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', this.graphUrl);
    const route = routeRequest(method, url.pathname);
    const requestId = randomUUID();
    const clientRequestId = headerValue(req, 'client-request-id') ?? requestId;
    const exchange: Exchange = {
      req,
      res,
      route,
      at: this.clock(),
      requestId,
      clientRequestId,
      tenantId: route.tenant?.toLowerCase(),
      subscriptionId: route.subscriptionId,
      record: () => undefined,
    };
    exchange.record = this.recordOnFinish(exchange, method, url.pathname);

    let body: Buffer;
    try {
      body = await readBody(req);
    } catch (e: unknown) {
      if (e instanceof BodyTooLargeError) {
        this.sendGraphError(
          exchange,
          413,
          'RequestEntityTooLarge',
          'The request body is too large.',
        );
        return;
      }
      throw e;
    }

    let auth: TokenCheck | undefined;
    if (route.area === 'graph') {
      auth = this.tokens.verify(req.headers.authorization);
      if (auth.ok) exchange.tenantId = auth.claims.tid;
      if (!(await this.delay(this.latencyMs))) return;
    }

    let ignoreExpiry = false;
    const fault = this.faults.take({
      method,
      kind: route.kind,
      tenantId: exchange.tenantId,
      subscriptionId: route.subscriptionId,
      graphApi: route.area === 'graph',
    });
    if (fault !== undefined) {
      this.onFault?.(fault, {
        method,
        kind: route.kind,
        tenantId: exchange.tenantId,
        subscriptionId: route.subscriptionId,
        at: exchange.at,
      });
      const kind = fault.kind ?? 'status';
      if (kind === 'ignoreExpiry') {
        ignoreExpiry = true;
      } else {
        this.applyFault(exchange, fault);
        return;
      }
    }

    if (route.area === 'authority') {
      this.answerAuthority(exchange, body);
      return;
    }
    if (route.area === 'none' || auth === undefined) {
      this.sendGraphError(exchange, 404, 'NotFound', 'The requested resource does not exist.');
      return;
    }
    if (!auth.ok) {
      this.sendGraphError(exchange, 401, 'InvalidAuthenticationToken', auth.message, {
        'WWW-Authenticate':
          'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"',
      });
      return;
    }
    if (route.methodNotAllowed === true) {
      this.sendGraphError(
        exchange,
        405,
        'MethodNotAllowed',
        `${method} is not allowed on this resource.`,
      );
      return;
    }
    if (route.unknownSegment !== undefined) {
      this.sendGraphError(
        exchange,
        400,
        'BadRequest',
        `Resource not found for the segment '${route.unknownSegment}'.`,
      );
      return;
    }
    const { tid, appid } = auth.claims;
    const waitMs = this.throttle.admit(route.kind, appid, tid);
    if (waitMs !== undefined) {
      // docs/graph-rules.md#limits-and-throttling: 429 with Retry-After in seconds, fractional allowed.
      this.sendGraphError(exchange, 429, 'TooManyRequests', 'Please retry again later.', {
        'Retry-After': formatRetryAfterSeconds(waitMs),
      });
      return;
    }
    if (this.revokedTenants.has(tid)) {
      this.sendGraphError(
        exchange,
        403,
        'ExtensionError',
        accessDeniedMessage(operationName(route.kind)),
      );
      return;
    }
    const result = await this.dispatch(
      exchange,
      url,
      body,
      {
        tenantId: tid,
        appId: appid,
        creatorId: auth.claims.oid,
        now: exchange.at,
        version: route.version ?? 'v1.0',
      },
      ignoreExpiry,
    );
    if (result.subscriptionId !== undefined) exchange.subscriptionId = result.subscriptionId;
    if (result.error !== undefined) {
      this.sendGraphError(exchange, result.status, result.error.code, result.error.message);
      return;
    }
    this.send(exchange, result.status, { 'Content-Type': graphJsonType }, result.body);
  }

  private async dispatch(
    exchange: Exchange,
    url: URL,
    body: Buffer,
    ctx: ApiContext,
    ignoreExpiry: boolean,
  ): Promise<ApiResult> {
    const id = exchange.route.subscriptionId ?? '';
    const kind = exchange.route.kind;
    if (kind === 'create' || kind === 'update') {
      const json = parseJson(body);
      if (!json.ok) {
        return {
          status: 400,
          error: {
            code: 'BadRequest',
            message:
              'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.',
          },
        };
      }
      return kind === 'create'
        ? this.api.create(ctx, json.value)
        : this.api.update(ctx, id, json.value, ignoreExpiry);
    }
    switch (kind) {
      case 'list':
        return this.api.list(ctx, url.searchParams);
      case 'get':
        return this.api.get(ctx, id);
      case 'delete':
        return this.api.delete(ctx, id);
      case 'reauthorize':
        return this.api.reauthorize(ctx, id);
      default:
        return { status: 400, error: { code: 'BadRequest', message: 'Unsupported request.' } };
    }
  }

  private answerAuthority(exchange: Exchange, body: Buffer): void {
    const { route, req } = exchange;
    const tenant = route.tenant ?? '';
    const method = (req.method ?? 'GET').toUpperCase();
    const headers = {
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': 'no-store, no-cache',
      'x-ms-request-id': exchange.requestId,
    };
    if (route.authority === 'token') {
      if (method !== 'POST') {
        this.send(
          exchange,
          405,
          headers,
          tokenFaultBody(405, 'invalid_request', exchange.clientRequestId),
        );
        return;
      }
      const form = new URLSearchParams(body.toString('utf8'));
      const answer = this.tokens.answerTokenRequest(
        tenant,
        form,
        req.headers.authorization,
        form.get('client-request-id') ?? exchange.clientRequestId,
      );
      this.send(exchange, answer.status, headers, answer.body);
      return;
    }
    if (!isGuid(tenant)) {
      this.send(exchange, 400, headers, {
        error: 'invalid_tenant',
        error_description: `AADSTS90002: Tenant '${tenant}' not found.`,
      });
      return;
    }
    if (route.authority === 'openid') {
      this.send(exchange, 200, headers, openIdConfiguration(this.authorityHost, tenant));
      return;
    }
    this.send(exchange, 200, headers, { keys: [] });
  }

  private applyFault(exchange: Exchange, fault: FaultRule): void {
    const kind = fault.kind ?? 'status';
    if (kind === 'reset') {
      exchange.req.socket.destroy();
      return;
    }
    if (kind === 'timeout') {
      const socket = exchange.req.socket;
      this.heldSockets.add(socket);
      socket.once('close', () => this.heldSockets.delete(socket));
      exchange.record(0);
      return;
    }
    const status = fault.status ?? 500;
    const headers: Record<string, string> = {};
    if (fault.retryAfterSeconds !== undefined) {
      headers['Retry-After'] = String(fault.retryAfterSeconds);
    }
    if (exchange.route.area === 'authority') {
      this.send(
        exchange,
        status,
        { ...headers, 'Content-Type': 'application/json; charset=utf-8' },
        tokenFaultBody(status, fault.code, exchange.clientRequestId),
      );
      return;
    }
    this.sendGraphError(
      exchange,
      status,
      fault.code ?? defaultFaultCode(status),
      fault.message ?? defaultFaultMessage(status, operationName(exchange.route.kind)),
      headers,
    );
  }

  /** docs/graph-rules.md#errors: `error.code`, `error.message`, `error.innerError` with ids. */
  private sendGraphError(
    exchange: Exchange,
    status: number,
    code: string,
    message: string,
    headers: Record<string, string> = {},
  ): void {
    const date = exchange.at.toISOString().slice(0, 19);
    this.send(
      exchange,
      status,
      { ...headers, 'Content-Type': 'application/json' },
      {
        error: {
          code,
          message,
          innerError: {
            date,
            'request-id': exchange.requestId,
            'client-request-id': exchange.clientRequestId,
          },
        },
      },
    );
  }

  private send(
    exchange: Exchange,
    status: number,
    headers: Record<string, string>,
    body: Record<string, unknown> | undefined,
  ): void {
    const { res } = exchange;
    if (res.headersSent || res.destroyed) return;
    res.statusCode = status;
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    res.setHeader('request-id', exchange.requestId);
    res.setHeader('client-request-id', exchange.clientRequestId);
    if (body === undefined || status === 204) {
      res.removeHeader('Content-Type');
      res.end();
      return;
    }
    res.end(JSON.stringify(body));
  }

  private answerUnexpected(res: ServerResponse): void {
    if (res.headersSent || res.destroyed) return;
    res.statusCode = 500;
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ error: { code: 'generalException', message: 'Simulator failure.' } }));
  }

  /**
   * Records the call once it has its final status: the one sent, or 0 when the socket closed
   * without an answer (a reset) or the request is held unanswered (a timeout). Returns the
   * recorder so a held request can be recorded at once.
   */
  private recordOnFinish(exchange: Omit<Exchange, 'record'>, method: string, path: string) {
    let done = false;
    const record = (status: number) => {
      if (done) return;
      done = true;
      this.recorded.push({
        method,
        path,
        tenantId: exchange.tenantId,
        status,
        at: exchange.at,
        kind: exchange.route.kind,
        ...(exchange.subscriptionId === undefined
          ? {}
          : { subscriptionId: exchange.subscriptionId }),
      });
    };
    exchange.res.once('finish', () => {
      record(exchange.res.statusCode);
    });
    exchange.res.once('close', () => {
      record(exchange.res.writableFinished ? exchange.res.statusCode : 0);
    });
    return record;
  }

  /** Waits `ms` of real time; false when the simulator stopped meanwhile. */
  private delay(ms: number): Promise<boolean> {
    const signal = this.stopController.signal;
    if (signal.aborted) return Promise.resolve(false);
    if (ms <= 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const onAbort = () => {
        clearTimeout(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve(true);
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function parseJson(body: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(body.toString('utf8')) as unknown };
  } catch {
    return { ok: false };
  }
}

export async function startGraphSimulator(
  options: GraphSimulatorOptions = {},
): Promise<GraphSimulator> {
  const tls = options.tls ?? (await generateSimulatorTls());
  const simulator = new Simulator(tls, options);
  await simulator.listen();
  return simulator;
}
