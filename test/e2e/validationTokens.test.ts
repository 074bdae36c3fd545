import { Agent } from 'node:https';
import { HttpRequest, HttpResponse, InvocationContext } from '@azure/functions';
import { lifecycleHandler } from '../../functions/lifecycleNotifications';
import type { AppDependencies } from '../../shared/composition';
import { loadConfig } from '../../shared/config';
import { drainIntake } from '../../shared/lifecycle/intake';
import {
  changeTrackingAppId,
  JwksValidationTokens,
  validationTokenOptionsFor,
} from '../../shared/lifecycle/validationTokens';
import type { Logger } from '../../shared/logger';
import { runSweep } from '../../shared/renewal/sweep';
import type { StoredSubscription } from '../../shared/subscriptions/model';
import { startHarness, type Harness } from '../../devkit/appHarness';
import type { ChangeTrackingTokenOptions } from '../../devkit/graphSimulator/changeTrackingTokens';

/**
 * validationTokens on lifecycle collections (docs/rich-notifications.md#validation-tokens): the
 * endpoint queues the collection with its tokens and answers 202; the intake (the queue function's
 * handler, here through the sweep's drain) checks every token before it looks up an item. The
 * simulator signs the tokens with its own key and serves the JWKS; the app fetches it over
 * loopback HTTPS (jose). A failing collection is refused whole, even with the right clientState;
 * keys that cannot be fetched leave the message on the queue.
 */

const url = 'https://keeper.example.com/api/lifecycle?code=function-key';

let h: Harness;
let deps: AppDependencies;
let row: StoredSubscription;
let warnings: string[];

function checker(jwksUrl: string): JwksValidationTokens {
  return new JwksValidationTokens({
    jwksUrl,
    issuers: ['https://sts.windows.net/{tenantid}/', `${h.sim.authorityHost}/{tenantid}/v2.0`],
    audiences: [h.sim.clientId],
    clock: h.clock,
    agent: new Agent({ ca: h.sim.tls.ca }),
  });
}

beforeEach(async () => {
  h = await startHarness({ clock: 'real' });
  warnings = [];
  const log: Logger = {
    info: () => undefined,
    warn: (message) => warnings.push(message),
    error: (message) => warnings.push(message),
  };
  deps = {
    ...h.deps,
    log,
    validationTokens: checker(`${h.sim.authorityHost}/common/discovery/v2.0/keys`),
  };
  await h.manage({ key: 'rich' });
  await runSweep(h.deps, h.deps.sweepOptions);
  row = await h.read('rich');
});

afterEach(async () => {
  await h.stop();
});

function token(overrides: Partial<ChangeTrackingTokenOptions> = {}): string {
  return h.sim.changeTrackingToken({
    tenantId: h.tenantId,
    audience: h.sim.clientId,
    issuedAt: Math.floor(h.clock.now().getTime() / 1000) - 60,
    ...overrides,
  });
}

/** Graph POSTs the collection; the endpoint answers; nothing has been looked up yet. */
async function post(validationTokens: unknown): Promise<number> {
  const body = {
    validationTokens,
    value: [
      {
        subscriptionId: row.graphSubscriptionId,
        tenantId: row.definition.tenantId,
        clientState: row.clientState,
        lifecycleEvent: 'reauthorizationRequired',
      },
    ],
  };
  const response = new HttpResponse(
    await lifecycleHandler(deps)(
      new HttpRequest({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/json' },
        body: { string: JSON.stringify(body) },
      }),
      new InvocationContext({
        functionName: 'lifecycleNotifications',
        logHandler: () => undefined,
      }),
    ),
  );
  return response.status;
}

/** The intake acts on what was queued; what it changed on the row and on Graph. */
async function intake(on: AppDependencies = deps) {
  h.sim.resetCalls();
  const before = (await h.read('rich')).etag;
  const drained = await drainIntake(on, { visibilitySeconds: 1 });
  return {
    drained,
    changed: (await h.read('rich')).etag !== before,
    graphCalls: h.sim.calls().filter((c) => c.kind !== 'token' && c.kind !== 'other'),
  };
}

test.each([
  ['a v2 token', {}],
  ['a v1 token', { version: '1.0' as const }],
])('when the collection carries %s that checks out, then the event is acted on', async (_, o) => {
  expect(await post([token(o)])).toBe(202);
  const outcome = await intake();
  expect(outcome.drained).toMatchObject({ messages: 1, items: 1, failed: 0 });
  expect(outcome.changed).toBe(true);
  expect(outcome.graphCalls.length).toBeGreaterThan(0);
  expect(warnings).not.toContain('lifecycle collection refused: validation tokens');
});

const wrong: readonly [string, () => string][] = [
  ['the wrong audience', () => token({ audience: '11111111-2222-3333-4444-555555555555' })],
  ['the wrong issuer', () => token({ claims: { iss: 'https://evil.example.com/v2.0' } })],
  ['another tenant', () => token({ tenantId: '22222222-2222-4222-8222-222222222222' })],
  ['the wrong azp', () => token({ claims: { azp: '33333333-3333-4333-8333-333333333333' } })],
  ['the wrong appid (v1)', () => token({ version: '1.0', claims: { appid: 'someone-else' } })],
  [
    'an expired token',
    () =>
      token({ issuedAt: Math.floor(h.clock.now().getTime() / 1000) - 7200, lifetimeSeconds: 600 }),
  ],
  ['a bad signature', () => token({ foreignKey: true })],
  ['a token that is not a JWT', () => 'not-a-jwt'],
];

test.each(wrong)(
  'when the collection carries a token with %s, then it is refused and nothing is done, though clientState is right',
  async (_, make) => {
    expect(await post([token(), make()])).toBe(202);
    const outcome = await intake();
    // Refused is done with: the message leaves the queue, nothing was recorded or called.
    expect(outcome.drained).toMatchObject({ messages: 1, failed: 0, poisoned: 0 });
    expect(outcome.changed).toBe(false);
    expect(outcome.graphCalls).toEqual([]);
    expect(warnings).toContain('lifecycle collection refused: validation tokens');
  },
);

test('when the signing keys cannot be fetched, then nothing is done and the collection stays queued until they can', async () => {
  expect(await post([token()])).toBe(202);
  const outage = await intake({
    ...deps,
    validationTokens: checker('https://127.0.0.1:1/common/discovery/v2.0/keys'),
  });
  expect(outage.drained).toMatchObject({ messages: 0, failed: 1 });
  expect(outage.changed).toBe(false);
  expect(outage.graphCalls).toEqual([]);

  // NOTE: the failed message is invisible for the 1-second visibility timeout, then delivered again.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const after = await intake();
  expect(after.drained).toMatchObject({ messages: 1, items: 1 });
  expect(after.changed).toBe(true);
});

test('when a collection carries no validationTokens (basic subscriptions), then it is acted on without a key fetch', async () => {
  expect(await post(undefined)).toBe(202);
  const outcome = await intake({
    ...deps,
    validationTokens: checker('https://127.0.0.1:1/common/discovery/v2.0/keys'),
  });
  expect(outcome.drained).toMatchObject({ messages: 1, failed: 0 });
  expect(outcome.changed).toBe(true);
});

test('when no overrides are set, then the global cloud keys and both issuers are used; settings override them', () => {
  const base = { STORAGE_CONNECTION: 'UseDevelopmentStorage=true' };
  const global = validationTokenOptionsFor(loadConfig(base));
  expect(global.jwksUrl).toBe('https://login.microsoftonline.com/common/discovery/v2.0/keys');
  expect(global.issuers).toEqual([
    'https://sts.windows.net/{tenantid}/',
    'https://login.microsoftonline.com/{tenantid}/v2.0',
  ]);
  const overridden = validationTokenOptionsFor(
    loadConfig({
      ...base,
      GRAPH_VALIDATION_JWKS_URL: 'https://login.example.com/keys',
      GRAPH_VALIDATION_ISSUER:
        'https://a.example.com/{tenantid}/, https://b.example.com/{tenantid}/v2.0',
    }),
  );
  expect(overridden).toMatchObject({
    jwksUrl: 'https://login.example.com/keys',
    issuers: ['https://a.example.com/{tenantid}/', 'https://b.example.com/{tenantid}/v2.0'],
  });
  expect(changeTrackingAppId).toBe('0bf30f3b-4a52-48df-9a82-234910c4a086');
});
