import type { Agent } from 'node:https';
import {
  createRemoteJWKSet,
  errors as joseErrors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import type { Clock } from '../clock';
import type { Config, GraphCloud } from '../config';
import type { Logger } from '../logger';

/**
 * The `validationTokens` of a rich notification collection, checked before anything is done
 * with it (https://learn.microsoft.com/graph/change-notifications-with-resource-data#validation-tokens-in-the-change-notification):
 * each JWT must be signed by the cloud's Microsoft identity platform keys (JWKS fetched and
 * cached by jose), be current, be issued for this app (`aud` = its client id) by the v1 or v2
 * issuer of a tenant in the collection, and come from Microsoft Graph Change Tracking
 * (`azp`, or `appid` in v1 tokens). One bad token refuses the whole collection.
 */

/** Microsoft Graph Change Tracking. */
export const changeTrackingAppId = '0bf30f3b-4a52-48df-9a82-234910c4a086';

/** The Microsoft identity platform per cloud: keys and issuer templates ({tenantid}). */
const cloudDefaults: Record<GraphCloud, { jwksUrl: string; issuers: readonly string[] }> = {
  global: {
    jwksUrl: 'https://login.microsoftonline.com/common/discovery/v2.0/keys',
    issuers: [
      'https://sts.windows.net/{tenantid}/',
      'https://login.microsoftonline.com/{tenantid}/v2.0',
    ],
  },
  usgov: {
    jwksUrl: 'https://login.microsoftonline.us/common/discovery/v2.0/keys',
    issuers: [
      'https://login.microsoftonline.us/{tenantid}/',
      'https://login.microsoftonline.us/{tenantid}/v2.0',
    ],
  },
  usgovdod: {
    jwksUrl: 'https://login.microsoftonline.us/common/discovery/v2.0/keys',
    issuers: [
      'https://login.microsoftonline.us/{tenantid}/',
      'https://login.microsoftonline.us/{tenantid}/v2.0',
    ],
  },
  china: {
    jwksUrl: 'https://login.partner.microsoftonline.cn/common/discovery/v2.0/keys',
    issuers: [
      'https://sts.chinacloudapi.cn/{tenantid}/',
      'https://login.partner.microsoftonline.cn/{tenantid}/v2.0',
    ],
  },
};

export type TokenVerdict =
  | { readonly ok: true }
  /** `invalid`: a token failed (refuse); `unavailable`: the keys could not be read (retry). */
  | { readonly ok: false; readonly kind: 'invalid' | 'unavailable'; readonly reason: string };

export interface ValidationTokenChecker {
  /**
   * `at`: when the collection was received. Expiry is judged then, so a collection kept on the
   * intake queue through a key outage is not refused for the wait (default: now).
   */
  check(
    tokens: readonly string[],
    tenantIds: ReadonlySet<string>,
    at?: Date,
  ): Promise<TokenVerdict>;
}

export interface ValidationTokenOptions {
  readonly jwksUrl: string;
  /** Issuer templates with `{tenantid}`. */
  readonly issuers: readonly string[];
  /** The app's client id(s): accepted audiences. */
  readonly audiences: readonly string[];
  readonly clock: Clock;
  /** For a test authority: an agent trusting its CA. */
  readonly agent?: Agent;
}

/** The checker for a configuration: the cloud's defaults, overridden by the settings. */
export function validationTokenOptionsFor(
  config: Pick<Config, 'graph' | 'identity' | 'validationTokens'>,
): Omit<ValidationTokenOptions, 'clock'> {
  const defaults = cloudDefaults[config.graph.cloud];
  return {
    jwksUrl: config.validationTokens.jwksUrl ?? defaults.jwksUrl,
    issuers: config.validationTokens.issuers ?? defaults.issuers,
    audiences: subscribingAppIds(config.identity),
  };
}

/**
 * The app Graph issues the tokens to: the app registration (GRAPH_CLIENT_ID), or with
 * `managedIdentity` the managed identity itself (GRAPH_MANAGED_IDENTITY_CLIENT_ID). None known (a
 * system-assigned identity): every collection with tokens is refused, and says why in the log.
 */
function subscribingAppIds(identity: Config['identity']): string[] {
  const id =
    identity.credential === 'managedIdentity'
      ? identity.managedIdentityClientId
      : identity.clientId;
  return id === undefined ? [] : [id];
}

export class JwksValidationTokens implements ValidationTokenChecker {
  private readonly keys: JWTVerifyGetKey;

  constructor(private readonly options: ValidationTokenOptions) {
    // NOTE: jose caches the key set and refetches it on an unknown kid (keys rotate daily).
    this.keys = createRemoteJWKSet(new URL(options.jwksUrl), {
      cacheMaxAge: 60 * 60_000,
      ...(options.agent === undefined ? {} : { agent: options.agent }),
    });
  }

  async check(
    tokens: readonly string[],
    tenantIds: ReadonlySet<string>,
    at?: Date,
  ): Promise<TokenVerdict> {
    if (this.options.audiences.length === 0) {
      return {
        ok: false,
        kind: 'invalid',
        reason: 'no client id (GRAPH_CLIENT_ID or GRAPH_MANAGED_IDENTITY_CLIENT_ID) to check aud',
      };
    }
    for (const token of tokens) {
      const verdict = await this.checkOne(token, tenantIds, at ?? this.options.clock.now());
      if (!verdict.ok) return verdict;
    }
    return { ok: true };
  }

  private async checkOne(
    token: string,
    tenantIds: ReadonlySet<string>,
    at: Date,
  ): Promise<TokenVerdict> {
    const invalid = (reason: string): TokenVerdict => ({ ok: false, kind: 'invalid', reason });
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        algorithms: ['RS256'],
        audience: [...this.options.audiences],
        currentDate: at,
        clockTolerance: 300,
      }));
    } catch (e) {
      if (e instanceof joseErrors.JOSEError && !(e instanceof joseErrors.JWKSTimeout)) {
        return invalid(e.code);
      }
      // NOTE: anything else is the key set's fetch failing (network, TLS): Graph retries.
      return { ok: false, kind: 'unavailable', reason: 'signing keys could not be read' };
    }
    const tenant = typeof payload.tid === 'string' ? payload.tid.toLowerCase() : undefined;
    if (tenant === undefined || !tenantIds.has(tenant)) {
      return invalid('tid is not a tenant of the collection');
    }
    const issuers = this.options.issuers.map((i) => i.replace(/\{tenantid\}/gi, tenant));
    if (payload.iss === undefined || !issuers.includes(payload.iss)) {
      return invalid('unexpected issuer');
    }
    const caller = payload.ver === '1.0' ? payload.appid : payload.azp;
    if (caller !== changeTrackingAppId) {
      return invalid('not issued to Microsoft Graph Change Tracking (azp/appid)');
    }
    return { ok: true };
  }
}

/** The collection's `validationTokens`: an array, or undefined when it carries none. */
export function validationTokensOf(body: unknown): readonly string[] | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const tokens = (body as { validationTokens?: unknown }).validationTokens;
  if (!Array.isArray(tokens)) return undefined;
  return tokens.filter((t): t is string => typeof t === 'string');
}

/**
 * The intake's one call: checks the tokens a collection carried when it was received. A
 * collection without tokens (basic lifecycle notifications) passes; one with tokens and no
 * checker, or with an empty list, is refused. `tenantIds`: the tenants its items name.
 */
export async function checkCollectionTokens(
  checker: ValidationTokenChecker | undefined,
  tokens: readonly string[] | undefined,
  tenantIds: Iterable<string | null | undefined>,
  receivedAt: Date,
): Promise<TokenVerdict> {
  if (tokens === undefined) return { ok: true };
  if (checker === undefined) {
    return { ok: false, kind: 'invalid', reason: 'validation tokens cannot be checked here' };
  }
  if (tokens.length === 0) return { ok: false, kind: 'invalid', reason: 'empty validationTokens' };
  const tenants = new Set<string>();
  for (const t of tenantIds) if (typeof t === 'string') tenants.add(t.toLowerCase());
  return checker.check(tokens, tenants, receivedAt);
}

/** The signing keys could not be read: the intake message is delivered again (not lost). */
export class ValidationKeysUnavailableError extends Error {
  constructor(reason: string) {
    super(`Validation tokens cannot be checked now: ${reason}`);
    this.name = 'ValidationKeysUnavailableError';
  }
}

/**
 * The intake's gate, before any item of a collection is looked up: true when the collection's
 * tokens failed (logged once, nothing is to be done with it, whatever its clientStates); throws
 * `ValidationKeysUnavailableError` when the keys could not be read, so the queue retries it.
 */
export async function refusedByValidationTokens(
  deps: { readonly validationTokens?: ValidationTokenChecker | undefined; readonly log: Logger },
  collection: {
    readonly validationTokens?: readonly string[] | undefined;
    readonly acceptedAt: string;
    readonly items: readonly { readonly tenantId: string | null }[];
  },
): Promise<boolean> {
  if (collection.validationTokens === undefined) return false;
  const receivedAt = new Date(collection.acceptedAt);
  const verdict = await checkCollectionTokens(
    deps.validationTokens,
    collection.validationTokens,
    collection.items.map((i) => i.tenantId),
    Number.isNaN(receivedAt.getTime()) ? new Date(0) : receivedAt,
  );
  if (verdict.ok) return false;
  if (verdict.kind === 'unavailable') throw new ValidationKeysUnavailableError(verdict.reason);
  deps.log.warn('lifecycle collection refused: validation tokens', {
    reason: verdict.reason,
    items: collection.items.length,
  });
  return true;
}
