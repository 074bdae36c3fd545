import {
  graphMessages,
  rawRequest,
  startGraphSimulator,
  type GraphSimulator,
  type RawResponse,
} from '../../devkit/graphSimulator';

/**
 * The subscription API as docs/graph-rules.md#the-subscription-resource, docs/graph-rules.md#lifetimes and docs/graph-rules.md#errors describe it. Notification URLs here
 * are on a non-loopback host, which the simulator accepts without a validation request (the
 * handshake itself is covered in graphSimulator.webhooks.test.ts).
 */

const tenantA = '0a0a0a0a-1111-4111-8111-111111111111';
const tenantB = '0b0b0b0b-2222-4222-8222-222222222222';
const tenantC = '0c0c0c0c-3333-4333-8333-333333333333';
const hookUrl = 'https://hooks.example.com/api/graph?code=function-key';
const lifecycleUrl = 'https://hooks.example.com/api/lifecycle?code=function-key';
const minute = 60_000;

let now = new Date('2026-06-01T10:00:00.000Z');
let sim: GraphSimulator;
let counter = 0;

function inMinutes(minutes: number): string {
  return new Date(now.getTime() + minutes * minute).toISOString();
}

function mailbox(): string {
  counter += 1;
  return `users/00000000-0000-4000-8000-${String(counter).padStart(12, '0')}/messages`;
}

function definition(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    changeType: 'created,updated',
    resource: mailbox(),
    notificationUrl: hookUrl,
    expirationDateTime: inMinutes(4000),
    clientState: 'per-subscription-secret',
    ...overrides,
  };
}

function call(
  method: string,
  path: string,
  body?: unknown,
  tenantId = tenantA,
): Promise<RawResponse> {
  return rawRequest(sim, method, path, { token: sim.issueToken(tenantId), body });
}

async function createOk(overrides: Record<string, unknown> = {}, tenantId = tenantA) {
  const response = await call('POST', '/v1.0/subscriptions', definition(overrides), tenantId);
  expect(response.status).toBe(201);
  return response.json as Record<string, string>;
}

/** Graph's `error.code` and `error.message` (the innerError ids are checked elsewhere). */
function errorOf(response: RawResponse): { code: string; message: string } {
  const { code, message } = (response.json as { error: { code: string; message: string } }).error;
  return { code, message };
}

beforeAll(async () => {
  sim = await startGraphSimulator({ now: () => now, throttling: false, listPageSize: 2 });
});

afterAll(async () => {
  await sim.stop();
});

describe('create, get, patch, reauthorize, delete', () => {
  test('when a valid subscription is posted, then 201 returns Graph’s representation and GET returns the same', async () => {
    const resource = mailbox();
    const created = await call(
      'POST',
      '/v1.0/subscriptions',
      definition({ resource, expirationDateTime: '2026-06-03T10:00:00Z' }),
    );

    expect(created.status).toBe(201);
    expect(created.json).toEqual(
      expect.objectContaining({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown,
        resource,
        changeType: 'created,updated',
        notificationUrl: hookUrl,
        lifecycleNotificationUrl: null,
        expirationDateTime: '2026-06-03T10:00:00.0000000Z',
        clientState: 'per-subscription-secret',
        applicationId: sim.clientId,
        includeResourceData: false,
        latestSupportedTlsVersion: 'v1_2',
      }),
    );
    const id = (created.json as { id: string }).id;
    const read = await call('GET', `/v1.0/subscriptions/${id}`);
    expect(read.status).toBe(200);
    expect(read.json).toEqual(created.json);
    expect(sim.subscriptions(tenantA)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          id,
          tenantId: tenantA,
          appId: sim.clientId,
          clientState: 'per-subscription-secret',
          expirationDateTime: new Date('2026-06-03T10:00:00Z'),
          createdAt: now,
        }),
      ]),
    );
  });

  test('when the /beta root is used, then it serves the same subscriptions', async () => {
    const created = await createOk();

    const read = await call('GET', `/beta/subscriptions/${created.id}`);

    expect(read.status).toBe(200);
    expect(read.json).toEqual(expect.objectContaining({ id: created.id }));
  });

  test('when PATCH carries a new expirationDateTime, then 200 returns the subscription with the new expiry', async () => {
    const created = await createOk();

    const patched = await call('PATCH', `/v1.0/subscriptions/${created.id}`, {
      expirationDateTime: '2026-06-08T09:00:00.0000000+00:00',
    });

    expect(patched.status).toBe(200);
    expect(patched.json).toEqual(
      expect.objectContaining({
        id: created.id,
        expirationDateTime: '2026-06-08T09:00:00.0000000Z',
        clientState: 'per-subscription-secret',
      }),
    );
    const read = await call('GET', `/v1.0/subscriptions/${created.id}`);
    expect((read.json as { expirationDateTime: string }).expirationDateTime).toBe(
      '2026-06-08T09:00:00.0000000Z',
    );
  });

  test.each([
    ['an empty body', {}],
    ['only clientState', { clientState: 'other' }],
    ['an empty expirationDateTime', { expirationDateTime: '' }],
  ])(
    'when PATCH has %s, then 400 says expirationDateTime or notificationUrl is required',
    async (_case, body) => {
      const created = await createOk();

      const patched = await call('PATCH', `/v1.0/subscriptions/${created.id}`, body);

      expect(patched.status).toBe(400);
      expect(errorOf(patched).message).toBe(graphMessages.patchNeedsField);
    },
  );

  test('when PATCH tries to add a lifecycleNotificationUrl, then 400 and nothing changes', async () => {
    const created = await createOk();

    const patched = await call('PATCH', `/v1.0/subscriptions/${created.id}`, {
      expirationDateTime: inMinutes(5000),
      lifecycleNotificationUrl: lifecycleUrl,
    });

    expect(patched.status).toBe(400);
    expect(sim.subscriptions(tenantA).find((s) => s.id === created.id)).toEqual(
      expect.objectContaining({ lifecycleNotificationUrl: null }),
    );
  });

  test('when PATCH rotates the encryption certificate, then the new certificate id is kept', async () => {
    const created = await createOk({
      includeResourceData: true,
      encryptionCertificate: 'MIIBfakecertificate',
      encryptionCertificateId: 'key-2026-05',
      expirationDateTime: inMinutes(1000),
    });

    const patched = await call('PATCH', `/v1.0/subscriptions/${created.id}`, {
      expirationDateTime: inMinutes(1400),
      encryptionCertificate: 'MIIBnewcertificate',
      encryptionCertificateId: 'key-2026-06',
    });

    expect(patched.status).toBe(200);
    expect(patched.json).toEqual(
      expect.objectContaining({ encryptionCertificateId: 'key-2026-06' }),
    );
    expect(sim.subscriptions(tenantA).find((s) => s.id === created.id)).toEqual(
      expect.objectContaining({ encryptionCertificate: 'MIIBnewcertificate' }),
    );
  });

  test('when reauthorize is posted, then 204 with no body and the expiry does not move', async () => {
    const created = await createOk();

    const reauthorized = await call('POST', `/v1.0/subscriptions/${created.id}/reauthorize`);

    expect(reauthorized.status).toBe(204);
    expect(reauthorized.text).toBe('');
    const read = await call('GET', `/v1.0/subscriptions/${created.id}`);
    expect((read.json as { expirationDateTime: string }).expirationDateTime).toBe(
      created.expirationDateTime,
    );
    expect(sim.subscriptions(tenantA).find((s) => s.id === created.id)?.lastReauthorizedAt).toEqual(
      now,
    );
  });

  test('when a subscription is deleted, then 204 and afterwards every call on it is 404', async () => {
    const created = await createOk();

    const deleted = await call('DELETE', `/v1.0/subscriptions/${created.id}`);

    expect(deleted.status).toBe(204);
    for (const [method, suffix] of [
      ['GET', ''],
      ['DELETE', ''],
      ['POST', '/reauthorize'],
    ] as const) {
      const again = await call(method, `/v1.0/subscriptions/${created.id}${suffix}`);
      expect(again.status).toBe(404);
    }
    expect(sim.subscriptions().map((s) => s.id)).not.toContain(created.id);
  });

  test('when the id is unknown, then 404 itemNotFound in Graph’s error shape with a request-id header', async () => {
    const response = await call(
      'PATCH',
      '/v1.0/subscriptions/7f105c7d-2dc5-4530-97cd-4e7ae6534c07',
      { expirationDateTime: inMinutes(100) },
    );

    expect(response.status).toBe(404);
    expect(response.headers['request-id']).toEqual(expect.any(String));
    expect(response.json).toEqual({
      error: {
        code: 'itemNotFound',
        message: expect.any(String) as unknown,
        innerError: {
          'request-id': response.headers['request-id'],
          'client-request-id': expect.any(String) as unknown,
          date: '2026-06-01T10:00:00',
        },
      },
    });
  });
});

describe('tenants and listing', () => {
  test('when tenant B uses a subscription id of tenant A, then every call is 404 and B’s list does not show it', async () => {
    const created = await createOk();

    for (const [method, suffix, body] of [
      ['GET', '', undefined],
      ['PATCH', '', { expirationDateTime: inMinutes(100) }],
      ['POST', '/reauthorize', undefined],
      ['DELETE', '', undefined],
    ] as const) {
      const response = await call(
        method,
        `/v1.0/subscriptions/${created.id}${suffix}`,
        body,
        tenantB,
      );
      expect(response.status).toBe(404);
    }
    const listB = await call('GET', '/v1.0/subscriptions', undefined, tenantB);
    expect((listB.json as { value: Array<{ id: string }> }).value.map((s) => s.id)).not.toContain(
      created.id,
    );
    expect(sim.subscriptions(tenantA).map((s) => s.id)).toContain(created.id);
    expect(sim.subscriptions(tenantB).map((s) => s.id)).not.toContain(created.id);
  });

  test('when a tenant has more subscriptions than a page, then @odata.nextLink pages through all of them without clientState', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) ids.push((await createOk({}, tenantC)).id ?? '');

    const seen: Array<Record<string, unknown>> = [];
    let next: string | undefined = '/v1.0/subscriptions';
    let pages = 0;
    while (next !== undefined) {
      const page = await call('GET', next, undefined, tenantC);
      expect(page.status).toBe(200);
      const json = page.json as {
        value: Array<Record<string, unknown>>;
        '@odata.nextLink'?: string;
      };
      seen.push(...json.value);
      next = json['@odata.nextLink'];
      if (next !== undefined)
        expect(next.startsWith(`${sim.graphUrl}/v1.0/subscriptions?`)).toBe(true);
      pages += 1;
    }

    expect(pages).toBe(3);
    expect(seen.map((s) => s.id)).toEqual(ids);
    expect(seen.every((s) => s.clientState === null)).toBe(true);
  });
});

describe('lifetimes (docs/graph-rules.md#lifetimes)', () => {
  test.each([
    ['users/{id}/messages', {}, 10080],
    ['users/{id}/events', {}, 10080],
    [
      "users/{id}/mailFolders('Inbox')/messages?$select=subject",
      {
        includeResourceData: true,
        encryptionCertificate: 'MIIBcert',
        encryptionCertificateId: 'k1',
      },
      1440,
    ],
    // NOTE: presence and group conversations have no application permission: the simulator
    // refuses them to app-only tokens before any lifetime check (graphSimulator.roles.test.ts).
    ['teams/{id}/schedule/shifts', {}, 360],
    ['chats/{id}/messages', { lifecycleNotificationUrl: lifecycleUrl }, 4320],
    ['teams/{id}/channels/{id}/messages', { lifecycleNotificationUrl: lifecycleUrl }, 4320],
    ['communications/callRecords', {}, 4230],
    [
      "communications/onlineMeetings(joinWebUrl='https://teams.example/l/x?y=1')/meetingCallEvents",
      {},
      4230,
    ],
    ['drives/{id}/root', {}, 42300],
    ['sites/{id}/lists/{id}', {}, 42300],
    ['users', {}, 41760],
    ['groups/{id}', {}, 41760],
    ["security/alerts?$filter=status eq 'New'", {}, 43200],
    ['users/{id}/todo/lists/{id}/tasks', {}, 4230],
    ['print/printers/{id}/jobs', {}, 4230],
    ['some/future/resource', {}, 4230],
  ])(
    'when %s asks for more than its maximum, then 400 ExtensionError names the maximum, and the maximum itself is accepted',
    async (template, extra, maxMinutes) => {
      counter += 1;
      const resource = template.replaceAll('{id}', `id-${counter}`);

      const tooLong = await call(
        'POST',
        '/v1.0/subscriptions',
        definition({ resource, ...extra, expirationDateTime: inMinutes(maxMinutes + 1) }),
      );
      const atMax = await call(
        'POST',
        '/v1.0/subscriptions',
        definition({ resource, ...extra, expirationDateTime: inMinutes(maxMinutes) }),
      );

      expect(tooLong.status).toBe(400);
      expect(errorOf(tooLong)).toEqual({
        code: 'ExtensionError',
        message: `Subscription expiration can only be ${maxMinutes} minutes in the future.`,
      });
      expect(atMax.status).toBe(201);
    },
  );

  test('when PATCH asks for more than the maximum, then 400 ExtensionError and the expiry stays', async () => {
    const created = await createOk();

    const patched = await call('PATCH', `/v1.0/subscriptions/${created.id}`, {
      expirationDateTime: inMinutes(10081),
    });

    expect(patched.status).toBe(400);
    expect(errorOf(patched).code).toBe('ExtensionError');
    expect(sim.subscriptions(tenantA).find((s) => s.id === created.id)?.expirationDateTime).toEqual(
      new Date(created.expirationDateTime ?? ''),
    );
  });

  test('when the expiry asked for is under 45 minutes, then it is raised to 45 minutes, and once that passes the subscription is gone', async () => {
    const created = await createOk({ expirationDateTime: inMinutes(10) });
    expect(new Date(created.expirationDateTime ?? '')).toEqual(
      new Date(now.getTime() + 45 * minute),
    );

    now = new Date(now.getTime() + 46 * minute);

    const read = await call('GET', `/v1.0/subscriptions/${created.id}`);
    expect(read.status).toBe(404);
    const renew = await call('PATCH', `/v1.0/subscriptions/${created.id}`, {
      expirationDateTime: inMinutes(100),
    });
    expect(renew.status).toBe(404);
    const list = await call('GET', '/v1.0/subscriptions');
    const ids: string[] = [];
    let page = list.json as { value: Array<{ id: string }>; '@odata.nextLink'?: string };
    ids.push(...page.value.map((s) => s.id));
    while (page['@odata.nextLink'] !== undefined) {
      page = (await call('GET', page['@odata.nextLink'])).json as typeof page;
      ids.push(...page.value.map((s) => s.id));
    }
    expect(ids).not.toContain(created.id);
    expect(sim.subscriptions().map((s) => s.id)).not.toContain(created.id);
  });
});

describe('creation rules', () => {
  test('when the same changeType and resource are created again, then 409 names the existing subscription id', async () => {
    const resource = mailbox();
    const first = await createOk({ resource, changeType: 'created,updated' });

    const again = await call(
      'POST',
      '/v1.0/subscriptions',
      definition({ resource, changeType: 'updated,created' }),
    );
    const otherTenant = await call(
      'POST',
      '/v1.0/subscriptions',
      definition({ resource }),
      tenantB,
    );

    expect(again.status).toBe(409);
    expect(errorOf(again).message).toBe(
      `Subscription Id ${first.id ?? ''} already exists for the requested combination`,
    );
    expect(otherTenant.status).toBe(201);
  });

  test('when a Teams chat subscription asks for more than 1 hour without a lifecycle URL, then 400 with Graph’s message', async () => {
    counter += 1;
    const resource = `chats/19:chat-${counter}@thread.v2/messages`;

    const withoutUrl = await call(
      'POST',
      '/v1.0/subscriptions',
      definition({ resource, expirationDateTime: inMinutes(61) }),
    );
    const shortWithoutUrl = await call(
      'POST',
      '/v1.0/subscriptions',
      definition({ resource, expirationDateTime: inMinutes(59) }),
    );
    counter += 1;
    const withUrl = await call(
      'POST',
      '/v1.0/subscriptions',
      definition({
        resource: `teams/team-${counter}/channels/c1/messages`,
        expirationDateTime: inMinutes(4000),
        lifecycleNotificationUrl: lifecycleUrl,
      }),
    );

    expect(withoutUrl.status).toBe(400);
    expect(errorOf(withoutUrl).message).toBe(graphMessages.lifecycleUrlRequired);
    expect(shortWithoutUrl.status).toBe(201);
    expect(withUrl.status).toBe(201);
  });

  test.each(['chats/{id}/messages', 'teams/{id}/members', 'teams/{id}/channels/{id}/messages'])(
    'when %s asks for resource data without an encryption certificate, then 400, and with one 201',
    async (template) => {
      counter += 1;
      const resource = template.replaceAll('{id}', `id-${counter}`);
      const base = {
        resource,
        includeResourceData: true,
        lifecycleNotificationUrl: lifecycleUrl,
        expirationDateTime: inMinutes(55),
      };

      const withoutCertificate = await call('POST', '/v1.0/subscriptions', definition(base));
      const withCertificate = await call(
        'POST',
        '/v1.0/subscriptions',
        definition({ ...base, encryptionCertificate: 'MIIBcert', encryptionCertificateId: 'k1' }),
      );

      expect(withoutCertificate.status).toBe(400);
      expect(withCertificate.status).toBe(201);
    },
  );

  test.each([
    ['an http notificationUrl', { notificationUrl: 'http://hooks.example.com/api/graph' }],
    [
      'an http lifecycleNotificationUrl',
      { lifecycleNotificationUrl: 'http://hooks.example.com/l' },
    ],
    ['a clientState of 129 characters', { clientState: 'x'.repeat(129) }],
    ['no resource', { resource: undefined }],
    ['a full URL as resource', { resource: 'https://graph.microsoft.com/v1.0/users' }],
    ['an unknown changeType', { changeType: 'created,moved' }],
    ['a Web Push property', { vapidPublicKey: 'BPx' }],
    ['an unreadable expirationDateTime', { expirationDateTime: 'next tuesday' }],
  ])('when the create body has %s, then 400 and nothing is created', async (_case, overrides) => {
    const before = sim.subscriptions().length;

    const response = await call('POST', '/v1.0/subscriptions', definition(overrides));

    expect(response.status).toBe(400);
    expect(errorOf(response).code).toEqual(expect.any(String));
    expect(sim.subscriptions()).toHaveLength(before);
  });

  test('when the create body is not JSON, then 400 BadRequest', async () => {
    const response = await call('POST', '/v1.0/subscriptions', '{"resource": ');

    expect(response.status).toBe(400);
    expect(errorOf(response).code).toBe('BadRequest');
  });

  test('when a clientState of exactly 128 characters is sent, then it is accepted', async () => {
    const created = await createOk({ clientState: 'y'.repeat(128) });

    expect(created.clientState).toHaveLength(128);
  });
});

describe('simulated incidents', () => {
  test('when a subscription is lost, then GET, PATCH, reauthorize and DELETE are 404 and list omits it', async () => {
    const created = await createOk();

    sim.loseSubscription(created.id ?? '');

    for (const [method, suffix, body] of [
      ['GET', '', undefined],
      ['PATCH', '', { expirationDateTime: inMinutes(100) }],
      ['POST', '/reauthorize', undefined],
      ['DELETE', '', undefined],
    ] as const) {
      const response = await call(method, `/v1.0/subscriptions/${created.id ?? ''}${suffix}`, body);
      expect(response.status).toBe(404);
    }
    expect(sim.subscriptions().map((s) => s.id)).not.toContain(created.id);
  });

  test('when permission is revoked for a tenant, then its subscription calls are 403 access denied until restored', async () => {
    const created = await createOk({}, tenantB);

    sim.revokePermission(tenantB);
    const denied = await call('GET', `/v1.0/subscriptions/${created.id ?? ''}`, undefined, tenantB);
    const deniedCreate = await call('POST', '/v1.0/subscriptions', definition(), tenantB);
    const otherTenant = await call('GET', '/v1.0/subscriptions', undefined, tenantA);
    sim.restorePermission(tenantB);
    const restored = await call(
      'GET',
      `/v1.0/subscriptions/${created.id ?? ''}`,
      undefined,
      tenantB,
    );

    expect(denied.status).toBe(403);
    expect(errorOf(denied)).toEqual({
      code: 'ExtensionError',
      message: 'Operation: Get; Exception: [Status Code: Forbidden; Reason: Access denied]',
    });
    expect(deniedCreate.status).toBe(403);
    expect(errorOf(deniedCreate).message).toMatch(/^Operation: Create;/);
    expect(otherTenant.status).toBe(200);
    expect(restored.status).toBe(200);
  });
});
