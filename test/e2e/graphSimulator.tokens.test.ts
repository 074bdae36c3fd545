import { ClientSecretCredential } from '@azure/identity';
import {
  bearerTokenAuthenticationPolicy,
  createDefaultHttpClient,
  createPipelineFromOptions,
  createPipelineRequest,
} from '@azure/core-rest-pipeline';
import {
  rawRequest,
  simulatorCredentialOptions,
  simulatorPipelineOptions,
  startGraphSimulator,
  type GraphSimulator,
} from '../../devkit/graphSimulator';

const tenantA = '0a0a0a0a-1111-4111-8111-111111111111';
const tenantB = '0b0b0b0b-2222-4222-8222-222222222222';
const graphScope = 'https://graph.microsoft.com/.default';

function claimsOf(token: string): Record<string, unknown> {
  const part = token.split('.')[1] ?? '';
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
}

function tokenForm(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

describe('Graph simulator: token endpoint and bearer tokens', () => {
  let sim: GraphSimulator;

  beforeAll(async () => {
    sim = await startGraphSimulator();
  });

  afterAll(async () => {
    await sim.stop();
  });

  test('when ClientSecretCredential asks for a Graph token, then it gets one with tid, appid and aud that Graph accepts', async () => {
    const credential = new ClientSecretCredential(
      tenantA,
      sim.clientId,
      sim.clientSecret,
      simulatorCredentialOptions(sim),
    );

    const token = await credential.getToken(graphScope);

    expect(claimsOf(token.token)).toMatchObject({
      tid: tenantA,
      appid: sim.clientId,
      aud: 'https://graph.microsoft.com',
    });
    // expires_in 3599 on real time (docs/graph-rules.md#tokens).
    expect(token.expiresOnTimestamp).toBeGreaterThan(Date.now() + 55 * 60 * 1000);
    const list = await rawRequest(sim, 'GET', '/v1.0/subscriptions', { token: token.token });
    expect(list.status).toBe(200);
    expect(sim.calls()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'token', tenantId: tenantA, status: 200, method: 'POST' }),
        expect.objectContaining({ kind: 'list', tenantId: tenantA, status: 200 }),
      ]),
    );
  });

  test('when the credential is asked for another tenant, then the token carries that tenant', async () => {
    const credential = new ClientSecretCredential(
      tenantA,
      sim.clientId,
      sim.clientSecret,
      simulatorCredentialOptions(sim),
    );

    const token = await credential.getToken(graphScope, { tenantId: tenantB });

    expect(claimsOf(token.token).tid).toBe(tenantB);
  });

  test.each([
    ['https://graph.microsoft.us/.default', 'https://graph.microsoft.us'],
    ['https://dod-graph.microsoft.us/.default', 'https://dod-graph.microsoft.us'],
    ['https://microsoftgraph.chinacloudapi.cn/.default', 'https://microsoftgraph.chinacloudapi.cn'],
  ])(
    'when the scope is the national cloud scope %s, then the audience is that Graph root and Graph accepts it',
    async (scope, audience) => {
      const credential = new ClientSecretCredential(
        tenantA,
        sim.clientId,
        sim.clientSecret,
        simulatorCredentialOptions(sim),
      );

      const token = await credential.getToken(scope);

      expect(claimsOf(token.token).aud).toBe(audience);
      const list = await rawRequest(sim, 'GET', '/v1.0/subscriptions', { token: token.token });
      expect(list.status).toBe(200);
    },
  );

  test('when the secret is wrong, then the credential fails with the AADSTS7000215 invalid_client error', async () => {
    const credential = new ClientSecretCredential(
      tenantA,
      sim.clientId,
      'not-the-secret',
      simulatorCredentialOptions(sim),
    );

    await expect(credential.getToken(graphScope)).rejects.toThrow(/AADSTS7000215/);
  });

  test('when the token endpoint gets a wrong secret, then it answers Entra error JSON with invalid_client', async () => {
    const response = await rawRequest(sim, 'POST', `/${tenantA}/oauth2/v2.0/token`, {
      body: tokenForm({
        grant_type: 'client_credentials',
        client_id: sim.clientId,
        client_secret: 'not-the-secret',
        scope: graphScope,
      }),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });

    expect(response.status).toBe(401);
    expect(response.json).toEqual(
      expect.objectContaining({
        error: 'invalid_client',
        error_codes: [7000215],
        error_description: expect.stringMatching(
          /^AADSTS7000215: Invalid client secret/,
        ) as unknown,
        trace_id: expect.any(String) as unknown,
        correlation_id: expect.any(String) as unknown,
      }),
    );
    expect(response.text).not.toContain('not-the-secret');
  });

  test('when the client id is unknown, then the token endpoint answers 400 unauthorized_client', async () => {
    const response = await rawRequest(sim, 'POST', `/${tenantA}/oauth2/v2.0/token`, {
      body: tokenForm({
        grant_type: 'client_credentials',
        client_id: '99999999-9999-4999-8999-999999999999',
        client_secret: sim.clientSecret,
        scope: graphScope,
      }),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });

    expect(response.status).toBe(400);
    expect(response.json).toEqual(
      expect.objectContaining({ error: 'unauthorized_client', error_codes: [700016] }),
    );
  });

  test('when the scope lacks /.default, then the token endpoint answers 400 invalid_scope', async () => {
    const response = await rawRequest(sim, 'POST', `/${tenantA}/oauth2/v2.0/token`, {
      body: tokenForm({
        grant_type: 'client_credentials',
        client_id: sim.clientId,
        client_secret: sim.clientSecret,
        scope: 'https://graph.microsoft.com/Mail.Read',
      }),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });

    expect(response.status).toBe(400);
    expect(response.json).toEqual(expect.objectContaining({ error: 'invalid_scope' }));
  });

  test('when a Graph call has no Authorization header, then 401 InvalidAuthenticationToken in the Graph error shape', async () => {
    const response = await rawRequest(sim, 'GET', '/v1.0/subscriptions', {
      headers: { 'client-request-id': 'c0ffee00-0000-4000-8000-000000000001' },
    });

    expect(response.status).toBe(401);
    expect(response.headers['request-id']).toEqual(expect.any(String));
    expect(response.json).toEqual({
      error: {
        code: 'InvalidAuthenticationToken',
        message: 'Access token is empty.',
        innerError: {
          'request-id': response.headers['request-id'],
          'client-request-id': 'c0ffee00-0000-4000-8000-000000000001',
          date: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/) as unknown,
        },
      },
    });
  });

  test.each([
    ['expired', () => sim.issueToken(tenantA, { lifetimeSeconds: -60 }), /expired/],
    [
      'for another audience',
      () => sim.issueToken(tenantA, { audience: 'https://management.azure.com' }),
      /Invalid audience/,
    ],
    [
      'forged',
      () => {
        const [header, claims] = sim.issueToken(tenantA).split('.');
        return `${header ?? ''}.${claims ?? ''}.${Buffer.from('forged').toString('base64url')}`;
      },
      /signature/,
    ],
    ['not a JWT', () => 'opaque-token', /not well formed/],
  ])('when the bearer token is %s, then Graph answers 401', async (_case, token, message) => {
    const response = await rawRequest(sim, 'GET', '/v1.0/subscriptions', { token: token() });

    expect(response.status).toBe(401);
    expect(response.json).toEqual({
      error: expect.objectContaining({
        code: 'InvalidAuthenticationToken',
        message: expect.stringMatching(message) as unknown,
      }) as unknown,
    });
  });

  test('when core-rest-pipeline with the credential calls Graph, then the request is authorized over the same path as production', async () => {
    const credential = new ClientSecretCredential(
      tenantA,
      sim.clientId,
      sim.clientSecret,
      simulatorCredentialOptions(sim),
    );
    const pipeline = createPipelineFromOptions(simulatorPipelineOptions(sim));
    pipeline.addPolicy(bearerTokenAuthenticationPolicy({ credential, scopes: graphScope }));
    const request = createPipelineRequest({ url: `${sim.graphUrl}/v1.0/subscriptions` });

    const response = await pipeline.sendRequest(createDefaultHttpClient(), request);

    expect(response.status).toBe(200);
    expect(JSON.parse(response.bodyAsText ?? '')).toEqual(expect.objectContaining({ value: [] }));
  });
});
