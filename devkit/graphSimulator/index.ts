/**
 * Graph simulator: a loopback HTTPS server that behaves like Microsoft Graph's subscription API
 * (docs/graph-rules.md) plus an Entra-like token endpoint that `@azure/identity` accepts. Production
 * code reaches it through the same path as real Graph: real HTTPS, real token acquisition.
 *
 * ## Trusting it from a consumer
 *
 * The simulator serves a certificate signed by its own CA (`sim.tls.ca`, PEM).
 *
 * - `@azure/identity` (ClientSecretCredential): pass `simulatorCredentialOptions(sim)`, i.e.
 *   ```ts
 *   new ClientSecretCredential(tenantId, sim.clientId, sim.clientSecret, {
 *     authorityHost: sim.authorityHost,     // https://127.0.0.1:PORT
 *     disableInstanceDiscovery: true,       // else MSAL asks login.microsoftonline.com first
 *     additionallyAllowedTenants: ['*'],    // getToken(scope, { tenantId }) for other tenants
 *     tlsOptions: { ca: sim.tls.ca },       // trust the simulator's CA
 *   });
 *   ```
 *   `tlsOptions` is the credential's pipeline option; core-rest-pipeline builds an https.Agent
 *   with it. That works inside jest. NODE_EXTRA_CA_CERTS also works, but only when set before
 *   the process starts, which jest (in band) does not allow. No custom `httpClient` is needed.
 *   With `disableInstanceDiscovery: true`, MSAL GETs
 *   `/{tenant}/v2.0/.well-known/openid-configuration`, then POSTs `/{tenant}/oauth2/v2.0/token`.
 * - `@azure/core-rest-pipeline` (the Graph client): `createPipelineFromOptions({ tlsOptions:
 *   { ca: sim.tls.ca } })`, or set `request.tlsSettings = { ca }` per request. Base URL
 *   `sim.graphUrl` (+ `/v1.0`). Token scope `https://graph.microsoft.com/.default` (any of the
 *   four clouds' Graph roots is accepted as audience).
 * - `node:https`: `https.request(url, { ca: sim.tls.ca })` or an `https.Agent({ ca })`. The
 *   global `fetch` of Node 20 cannot take a CA without an undici dispatcher; do not use it here.
 * - A webhook receiver the simulator should call over HTTPS serves `sim.tls.cert`/`sim.tls.key`
 *   (or any pair from `generateSimulatorTls()`, which is cached per process) on 127.0.0.1.
 *
 * ## What it contacts
 *
 * Validation handshakes and lifecycle POSTs go only to loopback hosts (127.0.0.0/8, localhost,
 * ::1), over HTTPS trusting the simulator's CA (or HTTP when `allowHttpLoopbackUrls` is set).
 * A notification or lifecycle URL on any other host is accepted without a validation request,
 * because the test network refuses non-loopback connections; lifecycle events cannot be sent
 * to such a URL (`sendLifecycleEvent` rejects).
 *
 * ## Clocks
 *
 * `options.now` drives expiries, lifetimes, throttle windows and `calls().at`; advance it
 * instead of sleeping. Token expiry, latency, the handshake timeout and TLS use real time.
 *
 * ## Faults
 *
 * `injectFault` rules are tried in order before normal processing; a rule without
 * `match.kind` applies to Graph API calls (/v1.0, /beta) only; name `kind: 'token'` to fault the
 * token endpoint. A held ('timeout') or reset request is recorded in `calls()` with status 0.
 */
import type { ClientSecretCredentialOptions } from '@azure/identity';
import type { GraphSimulator } from './types';

export { startGraphSimulator } from './server';
export { generateSimulatorTls } from './tls';
export { classifyResource, minimumLifetimeMinutes } from './lifetimes';
export { graphThrottleLimits } from './throttling';
export { graphAudiences, type FederatedIdentityCredential } from './tokens';
export { graphMessages } from './subscriptions';
export { validationMessages } from './webhooks';
export { rawRequest, type RawRequestOptions, type RawResponse } from './rawClient';
export {
  correctReceiverHandler,
  startWebhookReceiver,
  type ReceivedRequest,
  type ReceiverAnswer,
  type ReceiverHandler,
  type WebhookReceiver,
} from './receiver';
export type {
  CallKind,
  FaultedCall,
  FaultKind,
  FaultRule,
  GraphSimulator,
  GraphSimulatorOptions,
  IssueTokenOptions,
  LifecycleSendOptions,
  SimulatedCall,
  SimulatedSubscription,
  SimulatorTls,
  ThrottleLimits,
} from './types';

/** Credential options that make `ClientSecretCredential` get tokens from the simulator. */
export function simulatorCredentialOptions(
  sim: Pick<GraphSimulator, 'authorityHost' | 'tls'>,
): ClientSecretCredentialOptions {
  return {
    authorityHost: sim.authorityHost,
    disableInstanceDiscovery: true,
    additionallyAllowedTenants: ['*'],
    tlsOptions: { ca: sim.tls.ca },
  };
}

/** Pipeline options (core-rest-pipeline `createPipelineFromOptions`) that trust the simulator. */
export function simulatorPipelineOptions(sim: Pick<GraphSimulator, 'tls'>): {
  tlsOptions: { ca: string };
} {
  return { tlsOptions: { ca: sim.tls.ca } };
}
