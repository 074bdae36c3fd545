import * as http from 'node:http';
import * as net from 'node:net';
import {
  generateSimulatorTls,
  rawRequest,
  startGraphSimulator,
  startWebhookReceiver,
  validationMessages,
  type GraphSimulator,
  type RawResponse,
  type SimulatorTls,
  type WebhookReceiver,
} from '../../devkit/graphSimulator';

/**
 * Graph's outbound calls: the validation handshake (docs/graph-rules.md#validation-handshake) against a loopback
 * HTTPS receiver, and lifecycle notifications (docs/graph-rules.md#lifecycle-notifications) with each payload variant.
 */

const tenantA = '0a0a0a0a-1111-4111-8111-111111111111';
const minute = 60_000;
const now = new Date('2026-06-01T10:00:00.000Z');

let tls: SimulatorTls;
let sim: GraphSimulator;
let receiver: WebhookReceiver;
let counter = 0;

function inMinutes(minutes: number): string {
  return new Date(now.getTime() + minutes * minute).toISOString();
}

function create(body: Record<string, unknown>, target: GraphSimulator = sim): Promise<RawResponse> {
  counter += 1;
  return rawRequest(target, 'POST', '/v1.0/subscriptions', {
    token: target.issueToken(tenantA),
    body: {
      changeType: 'created',
      resource: `users/user-${counter}/messages`,
      expirationDateTime: inMinutes(4000),
      clientState: 'per-subscription-secret',
      ...body,
    },
  });
}

async function createWithLifecycle(path = '/api/lifecycle'): Promise<string> {
  const response = await create({
    notificationUrl: `${receiver.origin}/api/notify`,
    lifecycleNotificationUrl: `${receiver.origin}${path}`,
  });
  expect(response.status).toBe(201);
  return (response.json as { id: string }).id;
}

function errorOf(response: RawResponse): { code: string; message: string } {
  const { code, message } = (response.json as { error: { code: string; message: string } }).error;
  return { code, message };
}

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  return address.port;
}

beforeAll(async () => {
  tls = await generateSimulatorTls();
  sim = await startGraphSimulator({ now: () => now, tls, throttling: false });
  receiver = await startWebhookReceiver(tls);
});

afterAll(async () => {
  await sim.stop();
  await receiver.stop();
});

beforeEach(() => {
  receiver.setHandler((request) =>
    request.validationToken !== null
      ? {
          status: 200,
          headers: { 'Content-Type': 'text/plain; charset=utf-8' },
          body: request.validationToken,
        }
      : { status: 202 },
  );
});

describe('validation handshake', () => {
  test('when the endpoint echoes the decoded token, then create is 201 after one validation POST per URL, even for the same URL', async () => {
    const before = receiver.requests.length;
    const url = `${receiver.origin}/api/graph?code=function-key`;

    const response = await create({ notificationUrl: url, lifecycleNotificationUrl: url });

    expect(response.status).toBe(201);
    const handshakes = receiver.requests.slice(before);
    expect(handshakes).toHaveLength(2);
    for (const handshake of handshakes) {
      expect(handshake.method).toBe('POST');
      expect(handshake.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(handshake.url).toMatch(/^\/api\/graph\?code=function-key&validationToken=/);
      // The token holds characters that must arrive encoded: '+', '/', '=' and spaces.
      expect(handshake.url).toContain('%2B');
      expect(handshake.validationToken).toMatch(/[+/= ]/);
      expect(handshake.body).toBe('');
    }
    expect(handshakes[0]?.validationToken).not.toBe(handshakes[1]?.validationToken);
  });

  test('when the endpoint echoes the token still URL-encoded, then create is 400 ValidationError and nothing is created', async () => {
    receiver.setHandler((request) => ({
      status: 200,
      headers: { 'Content-Type': 'text/plain' },
      body: /validationToken=([^&]*)/.exec(request.url)?.[1] ?? '',
    }));
    const before = sim.subscriptions().length;

    const response = await create({ notificationUrl: `${receiver.origin}/api/notify` });

    expect(response.status).toBe(400);
    expect(errorOf(response)).toEqual({
      code: 'ValidationError',
      message: validationMessages.mismatch,
    });
    expect(sim.subscriptions()).toHaveLength(before);
  });

  test('when the endpoint answers 202 instead of 200, then create is 400 ValidationError asking for 200 OK', async () => {
    receiver.setHandler(() => ({ status: 202 }));

    const response = await create({ notificationUrl: `${receiver.origin}/api/notify` });

    expect(response.status).toBe(400);
    expect(errorOf(response)).toEqual({
      code: 'ValidationError',
      message: validationMessages.notOk,
    });
  });

  test('when the endpoint answers the token as JSON, then create is 400 ValidationError', async () => {
    receiver.setHandler((request) => ({
      status: 200,
      headers: { 'Content-Type': 'application/json' },
      body: request.validationToken ?? '',
    }));

    const response = await create({ notificationUrl: `${receiver.origin}/api/notify` });

    expect(response.status).toBe(400);
    expect(errorOf(response).code).toBe('ValidationError');
  });

  test('when only the lifecycle URL fails validation, then create is 400', async () => {
    receiver.setHandler((request) =>
      request.url.startsWith('/api/lifecycle')
        ? { status: 500 }
        : {
            status: 200,
            headers: { 'Content-Type': 'text/plain' },
            body: request.validationToken ?? '',
          },
    );

    const response = await create({
      notificationUrl: `${receiver.origin}/api/notify`,
      lifecycleNotificationUrl: `${receiver.origin}/api/lifecycle`,
    });

    expect(response.status).toBe(400);
    expect(errorOf(response).code).toBe('ValidationError');
  });

  test('when nothing listens at the notification URL, then create is 400 ValidationError', async () => {
    const port = await closedPort();

    const response = await create({ notificationUrl: `https://127.0.0.1:${port}/api/notify` });

    expect(response.status).toBe(400);
    expect(errorOf(response).code).toBe('ValidationError');
  });

  test('when the endpoint does not answer within handshakeTimeoutMs, then create is 400 InvalidRequest "timed out"', async () => {
    const impatient = await startGraphSimulator({
      tls,
      handshakeTimeoutMs: 200,
      throttling: false,
    });
    receiver.setHandler(() => 'hang');
    try {
      const response = await create({ notificationUrl: `${receiver.origin}/api/slow` }, impatient);

      expect(response.status).toBe(400);
      expect(errorOf(response)).toEqual({
        code: 'InvalidRequest',
        message: validationMessages.timedOut,
      });
    } finally {
      await impatient.stop();
    }
  });

  test('when PATCH changes notificationUrl, then the new URL is validated and a failing one leaves the subscription unchanged', async () => {
    const created = await create({ notificationUrl: `${receiver.origin}/api/notify` });
    const id = (created.json as { id: string }).id;
    const token = sim.issueToken(tenantA);
    const before = receiver.requests.length;

    const moved = await rawRequest(sim, 'PATCH', `/v1.0/subscriptions/${id}`, {
      token,
      body: { notificationUrl: `${receiver.origin}/api/moved` },
    });
    receiver.setHandler(() => ({ status: 404 }));
    const broken = await rawRequest(sim, 'PATCH', `/v1.0/subscriptions/${id}`, {
      token,
      body: { notificationUrl: `${receiver.origin}/api/broken` },
    });

    expect(moved.status).toBe(200);
    expect(receiver.requests[before]?.url).toMatch(/^\/api\/moved\?validationToken=/);
    expect(broken.status).toBe(400);
    expect(sim.subscriptions().find((s) => s.id === id)?.notificationUrl).toBe(
      `${receiver.origin}/api/moved`,
    );
  });
  test('when allowHttpLoopbackUrls is set, then an http loopback URL is validated over plain HTTP, and without it refused', async () => {
    const lenient = await startGraphSimulator({
      tls,
      throttling: false,
      allowHttpLoopbackUrls: true,
    });
    const plain = http.createServer((req, res) => {
      const token = new URL(req.url ?? '/', 'http://127.0.0.1').searchParams.get('validationToken');
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end(token ?? '');
    });
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(plain.address() as net.AddressInfo).port}/api/notify`;
    try {
      const accepted = await create({ notificationUrl: url }, lenient);
      const refused = await create({ notificationUrl: url });

      expect(accepted.status).toBe(201);
      expect(refused.status).toBe(400);
    } finally {
      await lenient.stop();
      plain.closeAllConnections();
      plain.close();
    }
  });
});

describe('lifecycle notifications', () => {
  test('when reauthorizationRequired is sent, then the lifecycle URL gets Graph’s payload, and a reauthorize clears the flag', async () => {
    const id = await createWithLifecycle();
    const before = receiver.requests.length;

    const answer = await sim.sendLifecycleEvent(id, 'reauthorizationRequired');

    expect(answer).toEqual({ status: 202, body: '' });
    const received = receiver.requests[before];
    expect(received?.url).toBe('/api/lifecycle');
    expect(received?.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(received?.body ?? '')).toEqual({
      value: [
        {
          subscriptionId: id,
          subscriptionExpirationDateTime: '2026-06-04T04:40:00.0000000+00:00',
          tenantId: tenantA,
          clientState: 'per-subscription-secret',
          lifecycleEvent: 'reauthorizationRequired',
        },
      ],
    });
    expect(sim.subscriptions().find((s) => s.id === id)?.reauthorizationRequiredAt).toEqual(now);

    await rawRequest(sim, 'POST', `/v1.0/subscriptions/${id}/reauthorize`, {
      token: sim.issueToken(tenantA),
    });

    expect(sim.subscriptions().find((s) => s.id === id)?.reauthorizationRequiredAt).toBeNull();
  });

  test('when the organizationId variant is sent, then the item has organizationId in place of tenantId', async () => {
    const id = await createWithLifecycle();
    const before = receiver.requests.length;

    await sim.sendLifecycleEvent(id, 'missed', { variant: 'organizationId' });

    const item = (JSON.parse(receiver.requests[before]?.body ?? '') as { value: unknown[] })
      .value[0];
    expect(item).toEqual(
      expect.objectContaining({ organizationId: tenantA, lifecycleEvent: 'missed' }),
    );
    expect(item).not.toHaveProperty('tenantId');
  });

  test('when the emptyResource variant is sent with a forged clientState, then the item carries resource "" and that clientState', async () => {
    const id = await createWithLifecycle();
    const before = receiver.requests.length;

    await sim.sendLifecycleEvent(id, 'reauthorizationRequired', {
      variant: 'emptyResource',
      clientState: 'forged',
    });

    const item = (JSON.parse(receiver.requests[before]?.body ?? '') as { value: unknown[] })
      .value[0];
    expect(item).toEqual(
      expect.objectContaining({ resource: '', clientState: 'forged', tenantId: tenantA }),
    );
  });

  test('when subscriptionRemoved is sent, then Graph has already removed the subscription', async () => {
    const id = await createWithLifecycle();
    receiver.setHandler(() => ({ status: 500, body: 'try later' }));

    const answer = await sim.sendLifecycleEvent(id, 'subscriptionRemoved');

    expect(answer).toEqual({ status: 500, body: 'try later' });
    const read = await rawRequest(sim, 'GET', `/v1.0/subscriptions/${id}`, {
      token: sim.issueToken(tenantA),
    });
    expect(read.status).toBe(404);
  });

  test('when several events are sent at once, then each lifecycle URL gets one POST carrying all its items', async () => {
    const first = await createWithLifecycle('/api/lifecycle-one');
    const second = await createWithLifecycle('/api/lifecycle-one');
    const third = await createWithLifecycle('/api/lifecycle-two');
    const before = receiver.requests.length;

    const answers = await sim.sendLifecycleEvents([
      { subscriptionId: first, event: 'reauthorizationRequired' },
      { subscriptionId: third, event: 'missed' },
      { subscriptionId: second, event: 'subscriptionRemoved' },
    ]);

    expect(answers.map((a) => [a.url, a.status])).toEqual([
      [`${receiver.origin}/api/lifecycle-one`, 202],
      [`${receiver.origin}/api/lifecycle-two`, 202],
    ]);
    const posts = receiver.requests.slice(before);
    expect(posts).toHaveLength(2);
    const firstBatch = JSON.parse(posts[0]?.body ?? '') as {
      value: Array<{ subscriptionId: string; lifecycleEvent: string }>;
    };
    expect(firstBatch.value.map((v) => [v.subscriptionId, v.lifecycleEvent])).toEqual([
      [first, 'reauthorizationRequired'],
      [second, 'subscriptionRemoved'],
    ]);
  });

  test('when the subscription has no lifecycle URL, or one off loopback, then sending is refused', async () => {
    const plain = await create({ notificationUrl: `${receiver.origin}/api/notify` });
    const remote = await create({
      notificationUrl: 'https://hooks.example.com/api/notify',
      lifecycleNotificationUrl: 'https://hooks.example.com/api/lifecycle',
    });

    await expect(
      sim.sendLifecycleEvent((plain.json as { id: string }).id, 'missed'),
    ).rejects.toThrow(/no lifecycleNotificationUrl/);
    await expect(
      sim.sendLifecycleEvent((remote.json as { id: string }).id, 'missed'),
    ).rejects.toThrow(/not on a loopback host/);
  });
});
