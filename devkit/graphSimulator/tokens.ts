import {
  createHash,
  createHmac,
  createVerify,
  randomBytes,
  randomUUID,
  timingSafeEqual,
} from 'node:crypto';
import { z } from 'zod';
import { registerSecret } from '../testLogSink';
import { everyApplicationPermission } from './roles';

/**
 * The simulator's Entra ID: a client-credentials token endpoint for one app registration and
 * the check Graph makes on every bearer token. Tokens are JWT-shaped (HS256 with a key private
 * to this simulator), carry `tid`, `appid` and `aud`, and expire on real time, because MSAL
 * caches them by real time whatever clock the simulator runs on.
 */

/** Graph roots of the four clouds (docs/graph-rules.md#clouds), plus Graph's own app id. */
export const graphAudiences: readonly string[] = [
  'https://graph.microsoft.com',
  'https://graph.microsoft.us',
  'https://dod-graph.microsoft.us',
  'https://microsoftgraph.chinacloudapi.cn',
  '00000003-0000-0000-c000-000000000000',
];

/** A typical app-only token lifetime (docs/graph-rules.md#tokens). */
export const tokenLifetimeSeconds = 3599;

const guidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuid(value: string): boolean {
  return guidPattern.test(value);
}

export interface AccessClaims {
  readonly tid: string;
  readonly appid: string;
  readonly aud: string;
  readonly oid: string;
  readonly exp: number;
  /** The application permissions (app roles) granted in the token's tenant when it was issued. */
  readonly roles: readonly string[];
}

export type TokenCheck =
  | { readonly ok: true; readonly claims: AccessClaims }
  | { readonly ok: false; readonly message: string };

export interface TokenEndpointAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

const headerSchema = z.object({ alg: z.literal('HS256') });
const claimsSchema = z.object({
  tid: z.string(),
  appid: z.string(),
  aud: z.string(),
  oid: z.string(),
  exp: z.number(),
  nbf: z.number(),
  // NOTE: Entra leaves `roles` out of an app-only token when nothing is granted.
  roles: z.array(z.string()).default([]),
});

function base64url(value: Buffer | string): string {
  return Buffer.from(value).toString('base64url');
}

function sameSecret(a: string, b: string): boolean {
  // NOTE: hashing first gives equal lengths, so the comparison takes the same time for any input.
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

function normalizeAudience(aud: string): string {
  return aud.replace(/\/+$/, '').toLowerCase();
}

/**
 * ADDITION. A federated identity credential of the app registration: tokens from this issuer
 * for this subject and audience stand in for a secret
 * (https://learn.microsoft.com/graph/api/resources/federatedidentitycredentials-overview).
 * `publicKey` verifies their RS256 signature (the issuer's signing key).
 */
export interface FederatedIdentityCredential {
  readonly issuer: string;
  readonly subject: string;
  readonly audience: string;
  readonly publicKey: string;
}

const assertionClaimsSchema = z.object({
  iss: z.string(),
  sub: z.string(),
  aud: z.string(),
  exp: z.number(),
  nbf: z.number().optional(),
});

const jwtBearer = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export class TokenService {
  private readonly signingKey = randomBytes(32);
  private readonly federated: FederatedIdentityCredential[] = [];
  /** Per tenant (lower case): exactly these roles. A tenant not here has every one. */
  private readonly grants = new Map<string, readonly string[]>();

  /**
   * ADDITION. The application permissions granted to the app in `tenantId` (app role
   * assignments after admin consent); `undefined` goes back to the default, every application
   * permission. Like Entra, it shows in tokens issued from now on, not in tokens already issued.
   */
  setGrantedRoles(tenantId: string, roles: readonly string[] | undefined): void {
    if (roles === undefined) this.grants.delete(tenantId.toLowerCase());
    else this.grants.set(tenantId.toLowerCase(), [...new Set(roles)].sort());
  }

  grantedRoles(tenantId: string): readonly string[] {
    return this.grants.get(tenantId.toLowerCase()) ?? everyApplicationPermission;
  }

  /** ADDITION. Trust a federated identity credential for this app registration. */
  addFederatedIdentityCredential(credential: FederatedIdentityCredential): void {
    this.federated.push(credential);
  }

  constructor(
    readonly clientId: string,
    private readonly clientSecret: string,
  ) {
    // ADDITION: the test run's secrets check looks for it in every log line (testLogSink.ts).
    registerSecret('clientSecret', clientSecret);
  }

  /**
   * The object id of this app's service principal in a tenant: stable per simulator and tenant,
   * as `creatorId` of app-only subscriptions (docs/graph-rules.md#the-subscription-resource).
   */
  servicePrincipalId(tenantId: string): string {
    const hex = createHmac('sha256', this.signingKey)
      .update(`sp|${tenantId.toLowerCase()}`)
      .digest('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  }

  issue(tenantId: string, audience: string, lifetimeSeconds = tokenLifetimeSeconds): string {
    const nowSeconds = Math.floor(Date.now() / 1000);
    const roles = this.grantedRoles(tenantId);
    const header = { typ: 'JWT', alg: 'HS256', kid: 'graph-simulator' };
    const claims = {
      aud: audience,
      iss: `https://sts.windows.net/${tenantId}/`,
      iat: nowSeconds - 300,
      nbf: nowSeconds - 300,
      exp: nowSeconds + lifetimeSeconds,
      app_displayname: 'graph-subscription-keeper (simulated)',
      appid: this.clientId,
      appidacr: '1',
      idp: `https://sts.windows.net/${tenantId}/`,
      idtyp: 'app',
      oid: this.servicePrincipalId(tenantId),
      // https://learn.microsoft.com/graph/auth-v2-service: an app-only token carries the
      // application permissions granted in its tenant as `roles`; none, no claim.
      ...(roles.length === 0 ? {} : { roles: [...roles] }),
      sub: this.servicePrincipalId(tenantId),
      tid: tenantId,
      uti: base64url(randomBytes(16)),
      ver: '1.0',
    };
    const unsigned = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    const token = `${unsigned}.${this.sign(unsigned)}`;
    registerSecret('accessToken', token);
    return token;
  }

  /** Graph's check of `Authorization: Bearer ...`; messages as Graph words them. */
  verify(authorization: string | undefined): TokenCheck {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    const token = match?.[1];
    if (token === undefined) return { ok: false, message: 'Access token is empty.' };
    const parts = token.split('.');
    const [encodedHeader, encodedClaims, signature] = parts;
    if (
      parts.length !== 3 ||
      encodedHeader === undefined ||
      encodedClaims === undefined ||
      signature === undefined
    ) {
      return { ok: false, message: 'IDX14100: JWT is not well formed, there are no dots (.).' };
    }
    const expected = Buffer.from(this.sign(`${encodedHeader}.${encodedClaims}`));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      return { ok: false, message: 'Access token validation failure. Invalid signature.' };
    }
    const header = headerSchema.safeParse(parseJsonPart(encodedHeader));
    const claims = claimsSchema.safeParse(parseJsonPart(encodedClaims));
    if (!header.success || !claims.success) {
      return { ok: false, message: 'Access token validation failure.' };
    }
    const nowSeconds = Date.now() / 1000;
    if (claims.data.exp <= nowSeconds || claims.data.nbf > nowSeconds + 300) {
      return { ok: false, message: 'Lifetime validation failed, the token is expired.' };
    }
    const audience = normalizeAudience(claims.data.aud);
    if (!graphAudiences.some((a) => normalizeAudience(a) === audience)) {
      return { ok: false, message: 'Access token validation failure. Invalid audience.' };
    }
    if (claims.data.appid !== this.clientId || !isGuid(claims.data.tid)) {
      return { ok: false, message: 'Access token validation failure.' };
    }
    return { ok: true, claims: claims.data };
  }

  /**
   * POST /{tenant}/oauth2/v2.0/token with the client-credentials grant, answered with Entra's
   * success or error JSON. `form` is the urlencoded body.
   */
  answerTokenRequest(
    tenant: string,
    form: URLSearchParams,
    authorization: string | undefined,
    correlationId: string,
  ): TokenEndpointAnswer {
    const fail = (status: number, error: string, code: number, description: string) =>
      entraError(status, error, code, description, correlationId);
    if (!isGuid(tenant)) {
      return fail(
        400,
        'invalid_request',
        90002,
        `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
      );
    }
    const grantType = form.get('grant_type');
    if (grantType === null || grantType === '') {
      return fail(400, 'invalid_request', 900144, missingParameter('grant_type'));
    }
    if (grantType !== 'client_credentials') {
      return fail(
        400,
        'unsupported_grant_type',
        70003,
        `The app requested an unsupported grant type '${grantType}'.`,
      );
    }
    const basic = basicCredentials(authorization);
    const clientId = form.get('client_id') ?? basic?.clientId;
    if (clientId === undefined || clientId === '') {
      return fail(400, 'invalid_request', 900144, missingParameter('client_id'));
    }
    if (clientId.toLowerCase() !== this.clientId.toLowerCase()) {
      return fail(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${clientId}' was not found in the directory '${tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`,
      );
    }
    const assertion = form.get('client_assertion');
    if (assertion !== null && assertion !== '') {
      if (form.get('client_assertion_type') !== jwtBearer) {
        return fail(
          400,
          'invalid_request',
          50027,
          `Invalid client_assertion_type; it must be '${jwtBearer}'.`,
        );
      }
      const refusal = this.federatedAssertionRefusal(assertion);
      if (refusal !== undefined) return fail(401, 'invalid_client', refusal.code, refusal.message);
    } else {
      const secret = form.get('client_secret') ?? basic?.clientSecret;
      if (secret === undefined || secret === '') {
        // NOTE: Entra answers client-authentication failures with 401 invalid_client.
        return fail(
          401,
          'invalid_client',
          7000218,
          "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        );
      }
      if (!sameSecret(secret, this.clientSecret)) {
        return fail(
          401,
          'invalid_client',
          7000215,
          `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${this.clientId}'.`,
        );
      }
    }
    const scope = form.get('scope');
    if (scope === null || scope.trim() === '') {
      return fail(400, 'invalid_request', 900144, missingParameter('scope'));
    }
    const resource = scope
      .split(/\s+/)
      .find((s) => s.endsWith('/.default'))
      ?.slice(0, -'/.default'.length);
    if (resource === undefined || resource === '') {
      return fail(
        400,
        'invalid_scope',
        1002012,
        `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
      );
    }
    return {
      status: 200,
      body: {
        token_type: 'Bearer',
        expires_in: tokenLifetimeSeconds,
        ext_expires_in: tokenLifetimeSeconds,
        access_token: this.issue(tenant.toLowerCase(), resource),
      },
    };
  }

  /** Why Entra would refuse this client assertion, or undefined when a trusted credential fits. */
  private federatedAssertionRefusal(
    assertion: string,
  ): { readonly code: number; readonly message: string } | undefined {
    const [encodedHeader, encodedClaims, signature] = assertion.split('.');
    const claims = assertionClaimsSchema.safeParse(parseJsonPart(encodedClaims ?? ''));
    if (encodedHeader === undefined || signature === undefined || !claims.success) {
      return { code: 50027, message: 'JWT token is invalid or malformed.' };
    }
    const { iss, sub, aud, exp, nbf } = claims.data;
    const nowSeconds = Date.now() / 1000;
    if (exp <= nowSeconds || (nbf !== undefined && nbf > nowSeconds + 300)) {
      return { code: 700024, message: 'Client assertion is not within its valid time range.' };
    }
    const match = this.federated.find(
      (f) =>
        f.issuer === iss &&
        f.subject === sub &&
        normalizeAudience(f.audience) === normalizeAudience(aud) &&
        createVerify('RSA-SHA256')
          .update(`${encodedHeader}.${encodedClaims}`)
          .verify(f.publicKey, Buffer.from(signature, 'base64url')),
    );
    if (match === undefined) {
      return {
        code: 70021,
        message: `No matching federated identity record found for presented assertion. Assertion Issuer: '${iss}'. Assertion Subject: '${sub}'. Assertion Audience: '${aud}'.`,
      };
    }
    return undefined;
  }

  private sign(unsigned: string): string {
    return createHmac('sha256', this.signingKey).update(unsigned).digest('base64url');
  }
}

function parseJsonPart(part: string): unknown {
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

function missingParameter(name: string): string {
  return `The request body must contain the following parameter: '${name}'.`;
}

function basicCredentials(
  authorization: string | undefined,
): { clientId: string; clientSecret: string } | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(authorization ?? '');
  if (match?.[1] === undefined) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return {
    clientId: decodeURIComponent(decoded.slice(0, colon)),
    clientSecret: decodeURIComponent(decoded.slice(colon + 1)),
  };
}

/** Entra's token-endpoint error JSON (error, error_description with AADSTS code, ids). */
function entraError(
  status: number,
  error: string,
  code: number,
  description: string,
  correlationId: string,
): TokenEndpointAnswer {
  const timestamp = `${new Date().toISOString().slice(0, 19).replace('T', ' ')}Z`;
  const traceId = randomUUID();
  return {
    status,
    body: {
      error,
      error_description: `AADSTS${code}: ${description}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
      error_codes: [code],
      timestamp,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `https://login.microsoftonline.com/error?code=${code}`,
    },
  };
}

/** An Entra error for a fault injected on the token endpoint. */
export function tokenFaultBody(
  status: number,
  code: string | undefined,
  correlationId: string,
): Record<string, unknown> {
  return entraError(
    status,
    code ?? (status >= 500 ? 'temporarily_unavailable' : 'invalid_request'),
    status >= 500 ? 50196 : 90000,
    `Simulated fault (HTTP ${status}).`,
    correlationId,
  ).body;
}

/** What MSAL reads with `disableInstanceDiscovery: true` (found by trying, see index.ts). */
export function openIdConfiguration(
  authorityHost: string,
  tenant: string,
): Record<string, unknown> {
  const base = `${authorityHost}/${tenant}`;
  return {
    token_endpoint: `${base}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: [
      'client_secret_post',
      'private_key_jwt',
      'client_secret_basic',
    ],
    jwks_uri: `${base}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: `${base}/v2.0`,
    request_uri_parameter_supported: false,
    userinfo_endpoint: `${authorityHost}/oidc/userinfo`,
    authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${base}/oauth2/v2.0/logout`,
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'tid', 'ver'],
    kerberos_endpoint: `${base}/kerberos`,
    tenant_region_scope: 'WW',
    cloud_instance_name: 'microsoftonline.com',
    cloud_graph_host_name: 'graph.windows.net',
    msgraph_host: 'graph.microsoft.com',
    rbac_url: 'https://pas.windows.net',
  };
}
