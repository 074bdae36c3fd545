import type { HttpClient } from '@azure/core-rest-pipeline';
import type { TokenCredential } from '@azure/identity';
import type { Clock } from '../clock';
import type { Config } from '../config';
import { resolveGraphEndpoints } from './clouds';
import { createCredential, withExtraTrustedCas, type CredentialExtraOptions } from './credentials';
import type { GraphSubscriptions } from './graphSubscriptions';
import { HttpGraphSubscriptions } from './httpGraphSubscriptions';
import type { GraphLogger, RetrySettings } from './retryPolicy';

export interface GraphSubscriptionsDeps {
  /** Defaults to `createCredential(config.identity, config.graph.cloud, credentialOptions)`. */
  readonly credential?: TokenCredential;
  /** Passed to `createCredential` when no credential is given (e.g. the simulator's TLS trust). */
  readonly credentialOptions?: CredentialExtraOptions;
  readonly clock?: Clock;
  readonly random?: () => number;
  readonly log?: GraphLogger;
  readonly retry?: Partial<RetrySettings>;
  readonly httpClient?: HttpClient;
  /**
   * PEM CA certificate(s) trusted besides Node's roots, for Graph calls and, unless
   * `credentialOptions` says otherwise, for token requests. Only for a TLS-intercepting proxy
   * or the test simulator.
   */
  readonly trustedCaCertificates?: string | readonly string[];
}

/** Builds the Graph client from configuration; the composition root calls this once. */
export function createGraphSubscriptions(
  config: Config,
  deps: GraphSubscriptionsDeps = {},
): GraphSubscriptions {
  const endpoints = resolveGraphEndpoints(config.graph);
  const credential =
    deps.credential ??
    createCredential(
      config.identity,
      config.graph.cloud,
      deps.credentialOptions ??
        (deps.trustedCaCertificates === undefined
          ? {}
          : { tlsOptions: withExtraTrustedCas(deps.trustedCaCertificates) }),
    );
  return new HttpGraphSubscriptions({
    apiBaseUrl: endpoints.apiBaseUrl,
    scope: endpoints.scope,
    credential,
    clock: deps.clock,
    random: deps.random,
    // NOTE: GRAPH_TIMEOUT_MS is the budget of a whole call, retries and waits included.
    retry: { timeoutMs: config.graphTimeoutMs, ...deps.retry },
    log: deps.log,
    httpClient: deps.httpClient,
    trustedCaCertificates: deps.trustedCaCertificates,
  });
}
