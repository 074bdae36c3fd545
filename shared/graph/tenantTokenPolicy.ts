import type { PipelinePolicy, PipelineRequest } from '@azure/core-rest-pipeline';
import {
  AggregateAuthenticationError,
  AuthenticationError,
  AuthenticationRequiredError,
  type TokenCredential,
} from '@azure/identity';
import { GraphError } from './graphError';
import { describe } from './errorMapping';

/**
 * Puts a bearer token for the request's tenant on every request (docs/graph-rules.md#tokens).
 *
 * NOTE: core-rest-pipeline's bearerTokenAuthenticationPolicy keeps one cached token per
 * pipeline and refreshes it whenever the tenant changes, which thrashes across tenants. Here
 * every request asks the credential for its own tenant's token; @azure/identity caches tokens
 * per tenant, so this costs a cache lookup, and one tenant's token never goes to another's
 * subscription.
 */

export const tenantTokenPolicyName = 'tenantTokenPolicy';

/** Code of a `GraphError` raised when no token could be had for the tenant. */
export const tokenAcquisitionFailedCode = 'TokenAcquisitionFailed';

export function tenantTokenPolicy(options: {
  readonly credential: TokenCredential;
  readonly scope: string;
  readonly tenantIdOf: (request: PipelineRequest) => string | undefined;
}): PipelinePolicy {
  return {
    name: tenantTokenPolicyName,
    async sendRequest(request, next) {
      if (!request.url.toLowerCase().startsWith('https://')) {
        // NOTE: a bearer token never travels over plain HTTP.
        throw new Error(
          `Refusing to send a Graph token over a non-HTTPS URL (${describe(request)})`,
        );
      }
      const tenantId = options.tenantIdOf(request);
      if (tenantId === undefined) {
        throw new Error(`No tenant for Graph request ${describe(request)}`);
      }
      let token;
      try {
        token = await options.credential.getToken(options.scope, {
          tenantId,
          abortSignal: request.abortSignal,
        });
      } catch (e) {
        // NOTE: an abort (timeout or caller) is the retry policy's to report, not a token failure.
        if (request.abortSignal?.aborted === true) throw e;
        throw tokenError(request, tenantId, e);
      }
      if (token === null) throw tokenError(request, tenantId, undefined);
      request.headers.set('Authorization', `Bearer ${token.token}`);
      return next(request);
    },
  };
}

/**
 * 401 when the identity platform refused (bad secret, app not consented in that tenant): a
 * person must act, as for a 401 from Graph. 0 when no token source was available or reachable.
 */
function tokenError(request: PipelineRequest, tenantId: string, cause: unknown): GraphError {
  const refused = isRefusal(cause);
  return new GraphError({
    status: refused ? 401 : 0,
    code: tokenAcquisitionFailedCode,
    message: `Could not get a Graph token for tenant ${tenantId} (${describe(request)})${
      refused ? ': the identity platform refused' : ': no credential could answer'
    }`,
    cause,
  });
}

/** MSAL's `invalid_client` and similar surface as AuthenticationRequiredError, not only AuthenticationError. */
function isRefusal(e: unknown): boolean {
  if (e instanceof AuthenticationError || e instanceof AuthenticationRequiredError) return true;
  return e instanceof AggregateAuthenticationError && e.errors.some(isRefusal);
}
