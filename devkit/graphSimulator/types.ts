import type { FederatedIdentityCredential } from './tokens';
/**
 * Public types of the Graph simulator. Kept apart from the implementation so every part of the
 * simulator (and every consumer) imports the same definitions without cycles.
 */

/** Per window; the defaults are Graph's (docs/graph-rules.md#limits-and-throttling). */
export interface ThrottleLimits {
  /** Default 20_000; scale down for fast tests and benchmarks. */
  windowMs: number;
  /** POST/PATCH/DELETE subscriptions, per app per tenant: 500. */
  writesPerTenant: number;
  /** Per app, all tenants: 2000. */
  writesPerApp: number;
  /** POST /subscriptions/{id}/reauthorize per app per tenant: 1000. */
  reauthorizePerTenant: number;
  /** 4000. */
  reauthorizePerApp: number;
  /** GET by id: 500. */
  getPerTenant: number;
  /** 2000. */
  getPerApp: number;
  /** GET list: 25. */
  listPerTenant: number;
  /** 40. */
  listPerApp: number;
}

export interface GraphSimulatorOptions {
  /**
   * Clock for expiries, lifetimes, throttle windows and `calls().at`. Default real time. Token
   * expiry always uses real time (MSAL caches tokens by real time).
   */
  now?: () => Date;
  /** Default: Graph's limits with a 20 s window. */
  throttling?: false | Partial<ThrottleLimits>;
  /** Added before every Graph API answer (not the token endpoint). Real time. */
  latencyMs?: number;
  /** Default 10_000 (docs/graph-rules.md#validation-handshake): how long each validation POST may take. */
  handshakeTimeoutMs?: number;
  /** Default 100: page size of GET /subscriptions (`@odata.nextLink` paging). */
  listPageSize?: number;
  /** For probabilistic faults; default Math.random. */
  random?: () => number;
  /** Reuse a certificate (e.g. one generated once per process). */
  tls?: SimulatorTls;
  /**
   * ADDITION. Accept `http://` notification and lifecycle URLs on loopback hosts (Graph itself
   * accepts HTTPS only, docs/graph-rules.md#the-subscription-resource). Default false. Useful for a sandbox whose
   * Functions handlers are served over plain HTTP on 127.0.0.1.
   */
  allowHttpLoopbackUrls?: boolean;
  /** ADDITION. Fix the app registration (default: a random GUID and secret per simulator). */
  clientId?: string;
  /** ADDITION. See `clientId`. */
  clientSecret?: string;
  /**
   * ADDITION. Called synchronously each time an injected fault rule is taken, before it is
   * applied (before the socket is reset or held, or the status sent). For counting faults and for
   * harnesses that move a simulated clock when a request is held (tools/chaos).
   */
  onFault?: (rule: FaultRule, call: FaultedCall) => void;
}

/** ADDITION. The request an injected fault was taken for (see `onFault`). */
export interface FaultedCall {
  readonly method: string;
  readonly kind: CallKind;
  readonly tenantId: string | undefined;
  readonly subscriptionId: string | undefined;
  /** When the request arrived, on the simulator's clock. */
  readonly at: Date;
}

/** PEM; `cert` is valid for 127.0.0.1 and localhost (SAN IP + DNS) and signed by `ca`. */
export interface SimulatorTls {
  ca: string;
  cert: string;
  key: string;
}

/** Graph's view of a subscription, including fields that list responses omit. */
export interface SimulatedSubscription {
  id: string;
  tenantId: string;
  appId: string;
  resource: string;
  changeType: string;
  notificationUrl: string;
  lifecycleNotificationUrl: string | null;
  expirationDateTime: Date;
  clientState: string | null;
  includeResourceData: boolean;
  encryptionCertificateId: string | null;
  latestSupportedTlsVersion: string;
  createdAt: Date;
  /** ADDITION. The base64 certificate last set by create or PATCH. */
  encryptionCertificate: string | null;
  /** ADDITION. Set by a `reauthorizationRequired` event; cleared by reauthorize or PATCH. */
  reauthorizationRequiredAt: Date | null;
  /** ADDITION. Time of the last successful reauthorize call. */
  lastReauthorizedAt: Date | null;
  /** ADDITION. Time of the last successful PATCH. */
  lastUpdatedAt: Date | null;
}

export type CallKind =
  'create' | 'get' | 'list' | 'update' | 'reauthorize' | 'delete' | 'token' | 'other';

export interface SimulatedCall {
  method: string;
  /** The URL path without its query string. */
  path: string;
  /** Graph calls: the `tid` of a valid bearer token. Token endpoint: the tenant in the path. */
  tenantId: string | undefined;
  /** The final status; 0 when no HTTP answer was sent (a 'reset' or 'timeout' fault). */
  status: number;
  /** When the request arrived, on the simulator's clock. */
  at: Date;
  subscriptionId?: string;
  kind: CallKind;
}

export type FaultKind = 'status' | 'reset' | 'timeout' | 'ignoreExpiry';

export interface FaultRule {
  /**
   * Which requests the rule applies to. Without `kind` a rule applies to Graph API requests
   * only (/v1.0, /beta); the identity endpoints are faulted only by a rule whose `kind` names
   * them ('token' for the token endpoint, 'other' also for the OpenID configuration).
   */
  match?: {
    method?: string;
    kind?: SimulatedCall['kind'];
    tenantId?: string;
    subscriptionId?: string;
  };
  /**
   * Default 'status'. 'reset' destroys the socket, 'timeout' never answers (until stop),
   * 'ignoreExpiry' answers a PATCH 200 without moving the expiry (it matches PATCH calls only).
   */
  kind?: FaultKind;
  /** For 'status' (required there): e.g. 503, 500, 429, 403. */
  status?: number;
  /** Graph error code in the body (default per status). */
  code?: string;
  /** ADDITION. Graph error message in the body (default per status and operation). */
  message?: string;
  /** Adds Retry-After (may be fractional like 0.05). */
  retryAfterSeconds?: number;
  /** Default 1. */
  probability?: number;
  /** Apply at most N times, then the rule is spent (default unlimited). */
  times?: number;
}

export interface LifecycleSendOptions {
  /** `organizationId` in place of `tenantId`; or `resource: ""` present. */
  variant?: 'standard' | 'organizationId' | 'emptyResource';
  /** Override (to test a forged clientState). */
  clientState?: string;
}

/** ADDITION. Options of `GraphSimulator.issueToken`. */
export interface IssueTokenOptions {
  /** Default `https://graph.microsoft.com`. */
  audience?: string;
  /** Default 3599. Negative values give an already expired token. Real time. */
  lifetimeSeconds?: number;
}

export interface GraphSimulator {
  /** 'https://127.0.0.1:PORT' — Graph root; API at /v1.0/... and /beta/... */
  readonly graphUrl: string;
  /**
   * 'https://127.0.0.1:PORT' (the same server). Token endpoint /{tenantId}/oauth2/v2.0/token,
   * OpenID configuration /{tenantId}/v2.0/.well-known/openid-configuration.
   */
  readonly authorityHost: string;
  readonly tls: SimulatorTls;
  /** The one app registration it knows (a GUID). */
  readonly clientId: string;
  /** Its secret (a random string per simulator). */
  readonly clientSecret: string;
  /** Live (unexpired) subscriptions, snapshot copies. */
  subscriptions(tenantId?: string): SimulatedSubscription[];
  calls(): readonly SimulatedCall[];
  /** Reauthorize and PATCH calls on one subscription less than 10 minutes apart (Graph's rule). */
  spacingViolations(): readonly { id: string; call: 'reauthorize' | 'update'; at: Date }[];
  resetCalls(): void;
  setLatency(ms: number): void;
  injectFault(rule: FaultRule): void;
  clearFaults(): void;
  /** Silently removed: next GET/PATCH/reauthorize/DELETE 404, gone from list. */
  loseSubscription(id: string): void;
  /** Every subscription call for that tenant: 403 (docs/graph-rules.md#errors). */
  revokePermission(tenantId: string): void;
  restorePermission(tenantId: string): void;
  /**
   * ADDITION. The app registration trusts tokens of this issuer, subject and audience as its
   * client assertion (a managed identity as federated credential, for instance).
   */
  addFederatedIdentityCredential(credential: FederatedIdentityCredential): void;
  sendLifecycleEvent(
    subscriptionId: string,
    event: string,
    options?: LifecycleSendOptions,
  ): Promise<{ status: number; body: string }>;
  /** One POST per distinct lifecycle URL carrying all its items. */
  sendLifecycleEvents(
    items: Array<{ subscriptionId: string; event: string } & LifecycleSendOptions>,
  ): Promise<Array<{ url: string; status: number; body: string }>>;
  /**
   * ADDITION. Mints an access token as the token endpoint would, for raw HTTPS calls in tests
   * (and for expired or wrong-audience tokens).
   */
  issueToken(tenantId: string, options?: IssueTokenOptions): string;
  stop(): Promise<void>;
}
