import { simulatorAppSettings } from '../../devkit/appHarness';
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../shared/clock';
import { loadConfig, type Config } from '../../shared/config';
import { createGraphSubscriptions } from '../../shared/graph/createGraphSubscriptions';
import type {
  CreateSubscriptionRequest,
  GraphSubscription,
  GraphSubscriptions,
} from '../../shared/graph/graphSubscriptions';
import { HttpGraphSubscriptions } from '../../shared/graph/httpGraphSubscriptions';
import { withRequiredPermissions } from '../../shared/graph/permissions';
import type { RetrySettings } from '../../shared/graph/retryPolicy';
import {
  simulatorCredentialOptions,
  startGraphSimulator,
  type CallKind,
  type GraphSimulator,
} from '../../devkit/graphSimulator';
import { graphErrorOf } from '../support/graphErrors';

/**
 * The Graph client against the Graph simulator over real HTTPS, with real token acquisition
 * through @azure/identity. Time is a fake clock shared with the simulator: retry waits are
 * recorded, never waited for.
 */

const tenantA = '0a0a0a0a-1111-4111-8111-111111111111';
const tenantB = '0b0b0b0b-2222-4222-8222-222222222222';
const minute = 60_000;

/** One clock for the client and the simulator; only sleeps move it. */
function sharedFakeClock(start: Date) {
  let now = start.getTime();
  const sleeps: number[] = [];
  const clock: Clock = {
    now: () => new Date(now),
    sleep: (ms, signal) => {
      if (signal?.aborted === true) return Promise.reject(signal.reason as Error);
      sleeps.push(ms);
      now += ms;
      return Promise.resolve();
    },
  };
  return { clock, sleeps };
}

const { clock, sleeps } = sharedFakeClock(new Date('2026-06-01T10:00:00.000Z'));

let sim: GraphSimulator;
let config: Config;
let graph: GraphSubscriptions;

const retry: Partial<RetrySettings> = { maxRetries: 4, baseDelayMs: 1000, maxDelayMs: 30_000 };

function clientFor(sim: GraphSimulator, overrides: Partial<RetrySettings> = {}) {
  return createGraphSubscriptions(config, {
    clock,
    random: () => 0.5,
    credentialOptions: simulatorCredentialOptions(sim),
    trustedCaCertificates: sim.tls.ca,
    retry: { ...retry, ...overrides },
  });
}

function mailRequest(
  overrides: Partial<CreateSubscriptionRequest> = {},
): CreateSubscriptionRequest {
  return {
    resource: `users/${randomUUID()}/messages`,
    changeType: 'created,updated',
    notificationUrl: 'https://hooks.example.com/api/notify?code=function-key',
    expirationDateTime: new Date(clock.now().getTime() + 4000 * minute),
    clientState: `state-${randomUUID()}`,
    ...overrides,
  };
}

function callsOf(kind: CallKind) {
  return sim.calls().filter((c) => c.kind === kind);
}

async function all(iterable: AsyncIterable<GraphSubscription>): Promise<GraphSubscription[]> {
  const items: GraphSubscription[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

beforeAll(async () => {
  sim = await startGraphSimulator({ now: () => clock.now(), throttling: false, listPageSize: 2 });
  config = loadConfig({
    STORAGE_CONNECTION: 'UseDevelopmentStorage=true',
    ...simulatorAppSettings(sim, tenantA),
  });
  graph = clientFor(sim);
});

afterAll(async () => {
  await sim.stop();
});

beforeEach(() => {
  sim.clearFaults();
  sim.resetCalls();
  sleeps.length = 0;
});

describe('Graph client: operations', () => {
  test('when a subscription is created, then Graph has it and the answer is parsed with Dates', async () => {
    const request = mailRequest({ lifecycleNotificationUrl: 'https://hooks.example.com/life' });
    const created = await graph.create(tenantA, request);

    expect(created).toMatchObject({
      resource: request.resource,
      changeType: 'created,updated',
      notificationUrl: request.notificationUrl,
      lifecycleNotificationUrl: 'https://hooks.example.com/life',
      clientState: request.clientState,
      includeResourceData: false,
    });
    expect(created.expirationDateTime).toEqual(request.expirationDateTime);
    expect(sim.subscriptions(tenantA).map((s) => s.id)).toContain(created.id);
    expect(callsOf('create')).toEqual([
      expect.objectContaining({ method: 'POST', status: 201, tenantId: tenantA }),
    ]);
  });

  test('when a subscription is read, then get returns what create returned', async () => {
    const created = await graph.create(tenantA, mailRequest());
    const read = await graph.get(tenantA, created.id);
    expect(read).toEqual(expect.objectContaining({ id: created.id, resource: created.resource }));
    expect(read.expirationDateTime).toEqual(created.expirationDateTime);
  });

  test('when a subscription is renewed, then the new expiry comes back and Graph stores it', async () => {
    const created = await graph.create(tenantA, mailRequest());
    const renewedTo = new Date(clock.now().getTime() + 10_000 * minute);

    const renewed = await graph.update(tenantA, created.id, { expirationDateTime: renewedTo });

    expect(renewed.expirationDateTime).toEqual(renewedTo);
    const stored = sim.subscriptions(tenantA).find((s) => s.id === created.id);
    expect(stored?.expirationDateTime).toEqual(renewedTo);
  });

  test('when the notification URL and encryption certificate are updated, then Graph stores them', async () => {
    const created = await graph.create(tenantA, mailRequest());

    const updated = await graph.update(tenantA, created.id, {
      notificationUrl: 'https://hooks.example.com/api/notify-v2',
      encryptionCertificate: 'TUlJQmFzZTY0Q2VydA==',
      encryptionCertificateId: 'key-2',
    });

    expect(updated.notificationUrl).toBe('https://hooks.example.com/api/notify-v2');
    expect(updated.encryptionCertificateId).toBe('key-2');
    const stored = sim.subscriptions(tenantA).find((s) => s.id === created.id);
    expect(stored).toMatchObject({
      notificationUrl: 'https://hooks.example.com/api/notify-v2',
      encryptionCertificate: 'TUlJQmFzZTY0Q2VydA==',
      encryptionCertificateId: 'key-2',
    });
    expect(stored?.expirationDateTime).toEqual(created.expirationDateTime);
  });

  test('when a subscription is reauthorized, then Graph records it and the expiry is unchanged', async () => {
    const created = await graph.create(tenantA, mailRequest());

    await graph.reauthorize(tenantA, created.id);

    const stored = sim.subscriptions(tenantA).find((s) => s.id === created.id);
    expect(stored?.lastReauthorizedAt).toEqual(clock.now());
    expect(stored?.expirationDateTime).toEqual(created.expirationDateTime);
    expect(callsOf('reauthorize')).toEqual([expect.objectContaining({ status: 204 })]);
  });

  test('when a subscription is deleted, then Graph no longer has it', async () => {
    const created = await graph.create(tenantA, mailRequest());

    await graph.delete(tenantA, created.id);

    expect(sim.subscriptions(tenantA).map((s) => s.id)).not.toContain(created.id);
    expect(callsOf('delete')).toEqual([expect.objectContaining({ status: 204 })]);
  });

  test('when more subscriptions exist than fit a page, then list follows @odata.nextLink to the end', async () => {
    const tenant = randomUUID();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await graph.create(tenant, mailRequest())).id);
    sim.resetCalls();

    const listed = await all(graph.list(tenant));

    expect(listed.map((s) => s.id).sort()).toEqual([...ids].sort());
    // NOTE: list responses omit clientState (docs/graph-rules.md#the-subscription-resource).
    expect(listed.every((s) => s.clientState === null)).toBe(true);
    expect(callsOf('list')).toHaveLength(3);
  });
});

describe('Graph client: errors', () => {
  test('when the expiry is beyond the resource maximum, then a 400 ExtensionError comes back without retry', async () => {
    const request = mailRequest({
      expirationDateTime: new Date(clock.now().getTime() + 10_081 * minute),
    });

    const error = await graphErrorOf(graph.create(tenantA, request));

    expect(error).toMatchObject({ status: 400, code: 'ExtensionError' });
    expect(callsOf('create')).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  test('when Graph lost the subscription, then renewing it is a 404 without retry', async () => {
    const created = await graph.create(tenantA, mailRequest());
    sim.loseSubscription(created.id);
    sim.resetCalls();

    const error = await graphErrorOf(
      graph.update(tenantA, created.id, {
        expirationDateTime: new Date(clock.now().getTime() + 100 * minute),
      }),
    );

    expect(error.status).toBe(404);
    expect(error.hasCode('itemNotFound')).toBe(true);
    expect(callsOf('update')).toHaveLength(1);
  });

  test('when the same changeType and resource is created twice, then the second is a 409 Conflict', async () => {
    const request = mailRequest();
    await graph.create(tenantA, request);
    sim.resetCalls();

    const error = await graphErrorOf(graph.create(tenantA, request));

    expect(error).toMatchObject({ status: 409, code: 'Conflict' });
    expect(callsOf('create')).toHaveLength(1);
  });

  test('when the bearer token is not valid, then Graph answers 401 and nothing is retried', async () => {
    const forged = new HttpGraphSubscriptions({
      apiBaseUrl: `${sim.graphUrl}/v1.0`,
      scope: 'https://graph.microsoft.com/.default',
      credential: {
        getToken: () =>
          Promise.resolve({ token: 'not-a-token', expiresOnTimestamp: Date.now() + 3_600_000 }),
      },
      clock,
      trustedCaCertificates: sim.tls.ca,
    });

    const error = await graphErrorOf(forged.get(tenantA, 'any-id'));

    expect(error).toMatchObject({ status: 401, code: 'InvalidAuthenticationToken' });
    expect(callsOf('get')).toHaveLength(1);
  });

  test('when the token has expired, then Graph answers 401', async () => {
    const expired = sim.issueToken(tenantA, { lifetimeSeconds: -120 });
    const client = new HttpGraphSubscriptions({
      apiBaseUrl: `${sim.graphUrl}/v1.0`,
      scope: 'https://graph.microsoft.com/.default',
      credential: {
        getToken: () => Promise.resolve({ token: expired, expiresOnTimestamp: Date.now() }),
      },
      clock,
      trustedCaCertificates: sim.tls.ca,
    });

    const error = await graphErrorOf(all(client.list(tenantA)));

    expect(error.status).toBe(401);
  });

  test('when the identity platform refuses a token for the tenant, then the error is 401 TokenAcquisitionFailed and Graph is not called', async () => {
    const tenant = randomUUID();
    sim.injectFault({
      match: { kind: 'token', tenantId: tenant },
      status: 401,
      code: 'invalid_client',
    });

    const error = await graphErrorOf(graph.get(tenant, 'any-id'));

    expect(error).toMatchObject({ status: 401, code: 'TokenAcquisitionFailed' });
    expect(error.message).not.toContain(sim.clientSecret);
    expect(callsOf('get')).toHaveLength(0);
  });

  test('when permission is revoked, then create is a 403 naming the permission to grant', async () => {
    const tenant = randomUUID();
    const created = await graph.create(tenant, mailRequest());
    sim.revokePermission(tenant);
    try {
      const createError = await graphErrorOf(graph.create(tenant, mailRequest()));
      expect(createError).toMatchObject({ status: 403, code: 'ExtensionError' });
      expect(createError.requiredPermissions).toEqual(['Mail.Read']);

      const updateError = await graphErrorOf(
        graph.update(tenant, created.id, {
          expirationDateTime: new Date(clock.now().getTime() + 100 * minute),
        }),
      );
      expect(updateError.status).toBe(403);
      expect(updateError.requiredPermissions).toBeUndefined();
      // NOTE: the core knows the resource for calls other than create and adds it this way.
      expect(
        withRequiredPermissions(updateError, created.resource, 'update').requiredPermissions,
      ).toEqual(['Mail.Read']);
      expect(callsOf('update')).toHaveLength(1);
    } finally {
      sim.restorePermission(tenant);
    }
  });

  test('when Graph fails twice with 500, then the create is retried with backoff and succeeds', async () => {
    sim.injectFault({ match: { kind: 'create' }, status: 500, times: 2 });

    const created = await graph.create(tenantA, mailRequest());

    expect(created.id).not.toBe('');
    expect(callsOf('create').map((c) => c.status)).toEqual([500, 500, 201]);
    // NOTE: random 0.5 of a 1 s, then 2 s ceiling (full jitter).
    expect(sleeps).toEqual([500, 1000]);
  });

  test('when Graph keeps failing with 503, then retries stop after four and the error carries a retry hint', async () => {
    const created = await graph.create(tenantA, mailRequest());
    sim.resetCalls();
    sim.injectFault({ match: { kind: 'get' }, status: 503 });

    const error = await graphErrorOf(graph.get(tenantA, created.id));

    expect(error.status).toBe(503);
    expect(error.retryAfterMs).toBe(16_000);
    expect(callsOf('get')).toHaveLength(5);
    expect(sleeps).toEqual([500, 1000, 2000, 4000]);
  });

  test('when the connection is reset once, then the call is retried and succeeds', async () => {
    const created = await graph.create(tenantA, mailRequest());
    sim.resetCalls();
    sim.injectFault({ match: { kind: 'get' }, kind: 'reset', times: 1 });

    const read = await graph.get(tenantA, created.id);

    expect(read.id).toBe(created.id);
    expect(callsOf('get').map((c) => c.status)).toEqual([0, 200]);
  });

  test('when Graph never answers, then the call ends with Timeout (status 0) at the per-call limit', async () => {
    const created = await graph.create(tenantA, mailRequest());
    sim.injectFault({ match: { kind: 'get' }, kind: 'timeout', times: 1 });

    const error = await graphErrorOf(graph.get(tenantA, created.id, { timeoutMs: 300 }));

    expect(error).toMatchObject({ status: 0, code: 'Timeout' });
  });

  test('when a 429 says Retry-After 7 once, then the fake clock records one 7,000 ms sleep', async () => {
    const created = await graph.create(tenantA, mailRequest());
    sim.resetCalls();
    sim.injectFault({
      match: { kind: 'update' },
      status: 429,
      retryAfterSeconds: 7,
      times: 1,
    });

    const renewed = await graph.update(tenantA, created.id, {
      expirationDateTime: new Date(clock.now().getTime() + 1000 * minute),
    });

    expect(renewed.id).toBe(created.id);
    expect(sleeps).toEqual([7000]);
    expect(callsOf('update').map((c) => c.status)).toEqual([429, 200]);
  });

  test('when Graph answers 400, then there is exactly one call', async () => {
    sim.injectFault({ match: { kind: 'list' }, status: 400, code: 'BadRequest' });

    const error = await graphErrorOf(all(graph.list(tenantA)));

    expect(error).toMatchObject({ status: 400, code: 'BadRequest' });
    expect(callsOf('list')).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });
});

describe('Graph client: tenants', () => {
  test("when two tenants subscribe, then each call carries its own tenant's token and neither sees the other's", async () => {
    const resource = `users/${randomUUID()}/messages`;
    const a = await graph.create(tenantA, mailRequest({ resource }));
    const b = await graph.create(tenantB, mailRequest({ resource }));

    expect(sim.subscriptions(tenantA).map((s) => s.id)).toContain(a.id);
    expect(sim.subscriptions(tenantA).map((s) => s.id)).not.toContain(b.id);
    expect(sim.subscriptions(tenantB).map((s) => s.id)).toEqual([b.id]);

    const listedByB = await all(graph.list(tenantB));
    expect(listedByB.map((s) => s.id)).toEqual([b.id]);
    const crossTenant = await graphErrorOf(graph.get(tenantB, a.id));
    expect(crossTenant.status).toBe(404);

    const graphCalls = sim.calls().filter((c) => c.kind !== 'token' && c.kind !== 'other');
    expect(graphCalls.map((c) => [c.kind, c.tenantId])).toEqual([
      ['create', tenantA],
      ['create', tenantB],
      ['list', tenantB],
      ['get', tenantB],
    ]);
    const tokenTenants = new Set(callsOf('token').map((c) => c.tenantId));
    expect(tokenTenants.has(tenantB)).toBe(true);
  });
});
