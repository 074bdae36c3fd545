import { Agent } from 'node:https';
import { HttpRequest, HttpResponse } from '@azure/functions';
import { lifecycleHandler } from '../../functions/lifecycleNotifications';
import type { AppDependencies } from '../../shared/composition';
import { loadConfig } from '../../shared/config';
import {
  changeTrackingAppId,
  JwksValidationTokens,
  validationTokenOptionsFor,
} from '../../shared/lifecycle/validationTokens';
import { runSweep } from '../../shared/renewal/sweep';
import type { StoredSubscription } from '../../shared/subscriptions/model';
import { startHarness, type Harness } from '../../devkit/appHarness';
import { capturingContext, type HandlerLogLine } from '../../devkit/lifecycleServer';
import type { ChangeTrackingTokenOptions } from '../../devkit/graphSimulator/changeTrackingTokens';

/**
 * validationTokens on lifecycle collections: the simulator signs them with its own key and serves
 * the JWKS; the app fetches it over loopback HTTPS (jose) and refuses the whole collection when a
 * token fails, even though every clientState is right.
 */

const url = 'https://keeper.example.com/api/lifecycle?code=function-key';

let h: Harness;
let deps: AppDependencies;
let row: StoredSubscription;

beforeEach(async () => {
  h = await startHarness({ clock: 'real' });
  deps = {
    ...h.deps,
    validationTokens: new JwksValidationTokens({
      jwksUrl: `${h.sim.authorityHost}/common/discovery/v2.0/keys`,
      issuers: ['https://sts.windows.net/{tenantid}/', `${h.sim.authorityHost}/{tenantid}/v2.0`],
      audiences: [h.sim.clientId],
      clock: h.clock,
      agent: new Agent({ ca: h.sim.tls.ca }),
    }),
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

async function send(validationTokens: unknown) {
  h.sim.resetCalls();
  const before = (await h.read('rich')).etag;
  const logs: HandlerLogLine[] = [];
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
      capturingContext((l) => logs.push(l)),
    ),
  );
  return {
    status: response.status,
    body: (await response.json()) as Record<string, unknown>,
    logs,
    changed: (await h.read('rich')).etag !== before,
    graphCalls: h.sim.calls().filter((c) => c.kind !== 'token' && c.kind !== 'other'),
  };
}

test.each([
  ['a v2 token', {}],
  ['a v1 token', { version: '1.0' as const }],
])('when the collection carries %s that checks out, then the event is acted on', async (_, o) => {
  const outcome = await send([token(o)]);
  expect(outcome.status).toBe(202);
  expect(outcome.body).toMatchObject({ received: 1, recorded: 1 });
  expect(outcome.changed).toBe(true);
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
    const outcome = await send([token(), make()]);
    expect(outcome.status).toBe(403);
    expect(outcome.changed).toBe(false);
    expect(outcome.graphCalls).toEqual([]);
    expect(outcome.logs.map((l) => l.message)).toContain(
      'lifecycle collection refused: validation tokens',
    );
  },
);

test('when the signing keys cannot be fetched, then the collection is not acted on and Graph is asked to retry (503)', async () => {
  deps = {
    ...deps,
    validationTokens: new JwksValidationTokens({
      jwksUrl: 'https://127.0.0.1:1/common/discovery/v2.0/keys',
      issuers: ['https://sts.windows.net/{tenantid}/'],
      audiences: [h.sim.clientId],
      clock: h.clock,
    }),
  };
  const outcome = await send([token()]);
  expect(outcome.status).toBe(503);
  expect(outcome.changed).toBe(false);
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
