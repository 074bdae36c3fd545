import * as https from 'node:https';
import {
  rawRequest,
  startGraphSimulator,
  type GraphSimulator,
  type RawResponse,
} from '../../devkit/graphSimulator';

/**
 * Throttling (docs/graph-rules.md#limits-and-throttling) on the injected clock with a tiny window,
 * injected faults, latency and the call log.
 */

const tenantA = '0a0a0a0a-1111-4111-8111-111111111111';
const tenantB = '0b0b0b0b-2222-4222-8222-222222222222';
const minute = 60_000;

let now = new Date('2026-06-01T10:00:00.000Z');
let counter = 0;

function advance(ms: number): void {
  now = new Date(now.getTime() + ms);
}

function call(
  sim: GraphSimulator,
  method: string,
  path: string,
  body?: unknown,
  tenantId = tenantA,
): Promise<RawResponse> {
  return rawRequest(sim, method, path, { token: sim.issueToken(tenantId), body });
}

function createBody(): Record<string, unknown> {
  counter += 1;
  return {
    changeType: 'updated',
    resource: `users/user-${counter}/events`,
    notificationUrl: 'https://hooks.example.com/api/graph',
    expirationDateTime: new Date(now.getTime() + 3000 * minute).toISOString(),
    clientState: 'per-subscription-secret',
  };
}

async function createId(sim: GraphSimulator, tenantId = tenantA): Promise<string> {
  const response = await call(sim, 'POST', '/v1.0/subscriptions', createBody(), tenantId);
  expect(response.status).toBe(201);
  return (response.json as { id: string }).id;
}

/** Resolves with the error a raw request fails with (it must fail). */
async function failureOf(request: Promise<unknown>): Promise<NodeJS.ErrnoException> {
  try {
    await request;
  } catch (e: unknown) {
    return e as NodeJS.ErrnoException;
  }
  throw new Error('The request was expected to fail.');
}

describe('throttling', () => {
  let sim: GraphSimulator;

  beforeAll(async () => {
    sim = await startGraphSimulator({
      now: () => now,
      throttling: { windowMs: 1000, listPerTenant: 2, listPerApp: 3, writesPerTenant: 2 },
    });
  });

  afterAll(async () => {
    await sim.stop();
  });

  test('when a tenant lists more often than its limit, then 429 TooManyRequests with Retry-After until the window frees', async () => {
    advance(10_000);
    const allowed = [
      await call(sim, 'GET', '/v1.0/subscriptions'),
      await call(sim, 'GET', '/v1.0/subscriptions'),
    ];
    const throttled = await call(sim, 'GET', '/v1.0/subscriptions');
    advance(400);
    const stillThrottled = await call(sim, 'GET', '/v1.0/subscriptions');
    advance(600);
    const freed = await call(sim, 'GET', '/v1.0/subscriptions');

    expect(allowed.map((r) => r.status)).toEqual([200, 200]);
    expect(throttled.status).toBe(429);
    expect(throttled.headers['retry-after']).toBe('1');
    expect((throttled.json as { error: { code: string; message: string } }).error).toEqual(
      expect.objectContaining({ code: 'TooManyRequests', message: 'Please retry again later.' }),
    );
    expect(stillThrottled.status).toBe(429);
    expect(stillThrottled.headers['retry-after']).toBe('0.6');
    expect(freed.status).toBe(200);
    expect(sim.calls().filter((c) => c.kind === 'list' && c.status === 429)).toHaveLength(2);
  });

  test('when several tenants together pass the per-app limit, then the next tenant is throttled too', async () => {
    advance(10_000);
    const a = [
      await call(sim, 'GET', '/v1.0/subscriptions', undefined, tenantA),
      await call(sim, 'GET', '/v1.0/subscriptions', undefined, tenantA),
    ];
    const b = [
      await call(sim, 'GET', '/v1.0/subscriptions', undefined, tenantB),
      await call(sim, 'GET', '/v1.0/subscriptions', undefined, tenantB),
    ];

    expect(a.map((r) => r.status)).toEqual([200, 200]);
    expect(b.map((r) => r.status)).toEqual([200, 429]);
  });

  test('when POST, PATCH and DELETE together pass the write limit, then the next write is 429 while reads go on', async () => {
    advance(10_000);
    const id = await createId(sim);
    const patched = await call(sim, 'PATCH', `/v1.0/subscriptions/${id}`, {
      expirationDateTime: new Date(now.getTime() + 2000 * minute).toISOString(),
    });
    const deleted = await call(sim, 'DELETE', `/v1.0/subscriptions/${id}`);
    const read = await call(sim, 'GET', `/v1.0/subscriptions/${id}`);

    expect(patched.status).toBe(200);
    expect(deleted.status).toBe(429);
    expect(read.status).toBe(200);
  });
});

describe('faults', () => {
  let sim: GraphSimulator;
  let draws: number[] = [];

  beforeAll(async () => {
    sim = await startGraphSimulator({
      now: () => now,
      throttling: false,
      random: () => draws.shift() ?? 0,
    });
  });

  afterAll(async () => {
    await sim.stop();
  });

  afterEach(() => {
    sim.clearFaults();
    draws = [];
  });

  test('when a 503 with a fractional Retry-After is injected once, then one call gets it and the next succeeds', async () => {
    sim.injectFault({ status: 503, retryAfterSeconds: 0.05, times: 1 });

    const faulted = await call(sim, 'GET', '/v1.0/subscriptions');
    const next = await call(sim, 'GET', '/v1.0/subscriptions');

    expect(faulted.status).toBe(503);
    expect(faulted.headers['retry-after']).toBe('0.05');
    expect(faulted.headers['request-id']).toEqual(expect.any(String));
    expect(faulted.json).toEqual({
      error: expect.objectContaining({
        code: 'ServiceNotAvailable',
        innerError: expect.objectContaining({
          'request-id': faulted.headers['request-id'],
        }) as unknown,
      }) as unknown,
    });
    expect(next.status).toBe(200);
  });

  test('when a fault matches one tenant and kind, then other calls are untouched', async () => {
    const idA = await createId(sim, tenantA);
    const idB = await createId(sim, tenantB);
    sim.injectFault({
      match: { kind: 'update', tenantId: tenantB },
      status: 500,
      code: 'generalException',
    });
    const renew = { expirationDateTime: new Date(now.getTime() + 2000 * minute).toISOString() };

    const updateA = await call(sim, 'PATCH', `/v1.0/subscriptions/${idA}`, renew, tenantA);
    const updateB = await call(sim, 'PATCH', `/v1.0/subscriptions/${idB}`, renew, tenantB);
    const getB = await call(sim, 'GET', `/v1.0/subscriptions/${idB}`, undefined, tenantB);

    expect(updateA.status).toBe(200);
    expect(updateB.status).toBe(500);
    expect((updateB.json as { error: { code: string } }).error.code).toBe('generalException');
    expect(getB.status).toBe(200);
  });

  test('when a fault matches a subscription id, then only calls on that subscription get it', async () => {
    const target = await createId(sim);
    const other = await createId(sim);
    sim.injectFault({ match: { subscriptionId: target }, status: 403 });

    const denied = await call(sim, 'GET', `/v1.0/subscriptions/${target}`);
    const fine = await call(sim, 'GET', `/v1.0/subscriptions/${other}`);

    expect(denied.status).toBe(403);
    expect((denied.json as { error: { code: string; message: string } }).error).toEqual(
      expect.objectContaining({
        code: 'ExtensionError',
        message: expect.stringMatching(/Access denied/) as unknown,
      }),
    );
    expect(fine.status).toBe(200);
  });

  test('when a fault has probability 0.5, then the injected random decides each call', async () => {
    sim.injectFault({ status: 500, probability: 0.5 });
    draws = [0.9, 0.1];

    const first = await call(sim, 'GET', '/v1.0/subscriptions');
    const second = await call(sim, 'GET', '/v1.0/subscriptions');

    expect(first.status).toBe(200);
    expect(second.status).toBe(500);
  });

  test('when a reset fault is injected, then the socket is destroyed and the call is logged with status 0', async () => {
    sim.injectFault({ kind: 'reset', match: { kind: 'list' }, times: 1 });
    sim.resetCalls();

    const failure = await failureOf(call(sim, 'GET', '/v1.0/subscriptions'));

    expect(failure.code).toMatch(/ECONNRESET|EPIPE/);
    expect(sim.calls()).toEqual([expect.objectContaining({ kind: 'list', status: 0 })]);
  });

  test('when an ignoreExpiry fault is injected, then PATCH answers 200 but the expiry does not move', async () => {
    const id = await createId(sim);
    const before = (await call(sim, 'GET', `/v1.0/subscriptions/${id}`)).json as {
      expirationDateTime: string;
    };
    sim.injectFault({ kind: 'ignoreExpiry' });

    const patched = await call(sim, 'PATCH', `/v1.0/subscriptions/${id}`, {
      expirationDateTime: new Date(now.getTime() + 9000 * minute).toISOString(),
    });

    expect(patched.status).toBe(200);
    expect((patched.json as { expirationDateTime: string }).expirationDateTime).toBe(
      before.expirationDateTime,
    );
    expect(sim.subscriptions().find((s) => s.id === id)?.expirationDateTime).toEqual(
      new Date(before.expirationDateTime),
    );
  });

  test('when a rule names no kind, then the token endpoint is untouched; a rule for kind token faults it', async () => {
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: sim.clientId,
      client_secret: sim.clientSecret,
      scope: 'https://graph.microsoft.com/.default',
    }).toString();
    const tokenRequest = () =>
      rawRequest(sim, 'POST', `/${tenantA}/oauth2/v2.0/token`, {
        body: form,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      });
    sim.injectFault({ status: 503 });

    const untouched = await tokenRequest();
    sim.clearFaults();
    sim.injectFault({ match: { kind: 'token' }, status: 500 });
    const faulted = await tokenRequest();

    expect(untouched.status).toBe(200);
    expect(faulted.status).toBe(500);
    expect(faulted.json).toEqual(expect.objectContaining({ error: 'temporarily_unavailable' }));
  });

  test('when a status fault names no status, then injectFault refuses it', () => {
    expect(() => {
      sim.injectFault({ kind: 'status' });
    }).toThrow(/needs a status/);
  });
});

describe('held requests and latency', () => {
  test('when a timeout fault holds a request, then it never answers and stop() ends it', async () => {
    const sim = await startGraphSimulator({ throttling: false });
    sim.injectFault({ kind: 'timeout' });
    const pending = failureOf(call(sim, 'GET', '/v1.0/subscriptions'));
    while (sim.calls().length === 0) await new Promise((resolve) => setTimeout(resolve, 5));

    await sim.stop();

    const failure = await pending;
    expect(failure.code).toBe('ECONNRESET');
    expect(sim.calls()).toEqual([expect.objectContaining({ kind: 'list', status: 0 })]);
  });

  test('when latency is set, then a client with a much shorter timeout gets no answer in time', async () => {
    const sim = await startGraphSimulator({ throttling: false });
    sim.setLatency(5_000);
    try {
      const timedOut = await new Promise<boolean>((resolve, reject) => {
        const req = https.request(
          `${sim.graphUrl}/v1.0/subscriptions`,
          {
            ca: sim.tls.ca,
            agent: false,
            headers: { Authorization: `Bearer ${sim.issueToken(tenantA)}` },
          },
          () => {
            resolve(false);
          },
        );
        req.setTimeout(50, () => {
          req.destroy();
          resolve(true);
        });
        req.on('error', (e: NodeJS.ErrnoException) => {
          if (e.code !== 'ECONNRESET') reject(e);
        });
        req.end();
      });

      expect(timedOut).toBe(true);
    } finally {
      await sim.stop();
    }
  });
});

describe('call log', () => {
  test('when each kind of call is made, then calls() records kind, status, tenant, subscription id and clock time', async () => {
    const sim = await startGraphSimulator({ now: () => now, throttling: false });
    try {
      const id = await createId(sim);
      await call(sim, 'GET', `/v1.0/subscriptions/${id}`);
      await call(sim, 'GET', '/v1.0/subscriptions');
      await call(sim, 'PATCH', `/v1.0/subscriptions/${id}`, {});
      await call(sim, 'POST', `/v1.0/subscriptions/${id}/reauthorize`);
      await call(sim, 'DELETE', `/v1.0/subscriptions/${id}`);
      await call(sim, 'GET', `/v1.0/subscriptions/${id}`, undefined, tenantB);
      await rawRequest(sim, 'GET', '/v1.0/me');

      expect(sim.calls()).toEqual([
        {
          method: 'POST',
          path: '/v1.0/subscriptions',
          tenantId: tenantA,
          status: 201,
          at: now,
          kind: 'create',
          subscriptionId: id,
        },
        {
          method: 'GET',
          path: `/v1.0/subscriptions/${id}`,
          tenantId: tenantA,
          status: 200,
          at: now,
          kind: 'get',
          subscriptionId: id,
        },
        {
          method: 'GET',
          path: '/v1.0/subscriptions',
          tenantId: tenantA,
          status: 200,
          at: now,
          kind: 'list',
        },
        {
          method: 'PATCH',
          path: `/v1.0/subscriptions/${id}`,
          tenantId: tenantA,
          status: 400,
          at: now,
          kind: 'update',
          subscriptionId: id,
        },
        {
          method: 'POST',
          path: `/v1.0/subscriptions/${id}/reauthorize`,
          tenantId: tenantA,
          status: 204,
          at: now,
          kind: 'reauthorize',
          subscriptionId: id,
        },
        {
          method: 'DELETE',
          path: `/v1.0/subscriptions/${id}`,
          tenantId: tenantA,
          status: 204,
          at: now,
          kind: 'delete',
          subscriptionId: id,
        },
        {
          method: 'GET',
          path: `/v1.0/subscriptions/${id}`,
          tenantId: tenantB,
          status: 404,
          at: now,
          kind: 'get',
          subscriptionId: id,
        },
        {
          method: 'GET',
          path: '/v1.0/me',
          tenantId: undefined,
          status: 401,
          at: now,
          kind: 'other',
        },
      ]);

      sim.resetCalls();

      expect(sim.calls()).toEqual([]);
    } finally {
      await sim.stop();
    }
  });
});
