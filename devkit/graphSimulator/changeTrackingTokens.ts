import { createSign, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { registerSecret } from '../testLogSink';

/**
 * The validation tokens Graph puts in rich notifications (`validationTokens`): JWTs the Microsoft
 * identity platform issues for the subscribing app, on behalf of Microsoft Graph Change Tracking
 * (https://learn.microsoft.com/graph/change-notifications-with-resource-data#validation-tokens-in-the-change-notification).
 * The simulator signs them with its own RSA key and serves the public half as a JWKS at
 * `{authority}/common/discovery/v2.0/keys` (and `{authority}/{tenant}/discovery/v2.0/keys`).
 */

/** Microsoft Graph Change Tracking's app id: `azp` (v2) or `appid` (v1) of a genuine token. */
export const changeTrackingAppId = '0bf30f3b-4a52-48df-9a82-234910c4a086';

export interface ChangeTrackingTokenOptions {
  readonly tenantId: string;
  /** The subscribing app's client id (`aud`). */
  readonly audience: string;
  /** `1.0` (issuer sts.windows.net, claim appid) or `2.0` (issuer .../v2.0, claim azp). Default 2.0. */
  readonly version?: '1.0' | '2.0';
  /** Seconds since the epoch the token is issued at; default now (real time). */
  readonly issuedAt?: number;
  readonly lifetimeSeconds?: number;
  /** Overrides of any claim (wrong issuer, wrong azp, ...). */
  readonly claims?: Readonly<Record<string, unknown>>;
  /** Signs with a key the JWKS does not hold (a forged token). */
  readonly foreignKey?: boolean;
}

export class ChangeTrackingTokens {
  private readonly kid = randomBytes(8).toString('hex');
  private readonly key = generateKeyPairSync('rsa', { modulusLength: 2048 });
  private foreign: KeyObject | undefined;

  constructor(private readonly authorityHost: () => string) {}

  jwks(): { keys: Record<string, unknown>[] } {
    const jwk = this.key.publicKey.export({ format: 'jwk' });
    return { keys: [{ ...jwk, kid: this.kid, use: 'sig', alg: 'RS256', kty: 'RSA' }] };
  }

  issue(options: ChangeTrackingTokenOptions): string {
    const version = options.version ?? '2.0';
    const iat = options.issuedAt ?? Math.floor(Date.now() / 1000);
    const issuer =
      version === '1.0'
        ? `https://sts.windows.net/${options.tenantId}/`
        : `${this.authorityHost()}/${options.tenantId}/v2.0`;
    const claims = {
      aud: options.audience,
      iss: issuer,
      iat,
      nbf: iat,
      exp: iat + (options.lifetimeSeconds ?? 3600),
      tid: options.tenantId,
      ver: version,
      ...(version === '1.0' ? { appid: changeTrackingAppId } : { azp: changeTrackingAppId }),
      ...options.claims,
    };
    const header = { alg: 'RS256', typ: 'JWT', kid: this.kid };
    const unsigned = `${part(header)}.${part(claims)}`;
    const signingKey =
      options.foreignKey === true
        ? (this.foreign ??= generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey)
        : this.key.privateKey;
    const signature = createSign('RSA-SHA256').update(unsigned).sign(signingKey, 'base64url');
    const token = `${unsigned}.${signature}`;
    registerSecret('accessToken', token);
    return token;
  }
}

function part(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
