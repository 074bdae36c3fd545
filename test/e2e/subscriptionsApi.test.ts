import { withoutDeploymentMarker } from '../../shared/drift/deploymentMarker';
import { randomUUID } from 'node:crypto';
import type { QueueClient } from '@azure/storage-queue';
import { subscriptionsApiHandler } from '../../functions/subscriptionsApi';
import { coreDependencies, type AppDependencies } from '../../shared/composition';
import type { FieldProblem } from '../../shared/operations/errors';
import type { DriftReport } from '../../shared/operations/verify';
import { reconcileSubscription, writeOutcome } from '../../shared/renewal/reconcile';
import { runSweep } from '../../shared/renewal/sweep';
import {
  decodeResyncMessage,
  QueueResyncPublisher,
  resyncQueueClient,
} from '../../shared/resync/queueResyncPublisher';
import type { ResyncMessage } from '../../shared/resync/resyncPublisher';
import { rowKeys } from '../../shared/store/subscriptionEntity';
import type { SubscriptionStore } from '../../shared/store/subscriptionStore';
import { subscriptionTableClient } from '../../shared/store/tableClient';
import type { SubscriptionView } from '../../shared/subscriptions/model';
import {
  azuriteConnectionString,
  harnessTenant,
  startHarness,
  type Harness,
} from '../../devkit/appHarness';
import {
  invokeHttp,
  urlFunctionKey,
  type HttpAnswer,
  type HttpCall,
  type HttpHandler,
} from '../support/httpInvocation';

/**
 * The admin API as the Functions host calls it (real `HttpRequest`s, a real `InvocationContext`)
 * on the app's core wired to Azurite, the Graph simulator over HTTPS and a resync queue on
 * Azurite, on the harness's instant test clock. After every call: no clientState, function key,
 * notification URL key or app secret in the answer or in the invocation's log.
 */

interface ActionBody {
  readonly action: string;
  readonly outcome: string;
  readonly code: string | null;
  readonly status: number | null;
}

interface ApplyBody {
  readonly change: string;
  readonly complete: boolean;
  readonly subscription: SubscriptionView;
  readonly action: ActionBody | null;
}

interface ErrorBody {
  readonly error: {
    readonly code: string;
    readonly message: string;
    readonly details?: readonly FieldProblem[];
    readonly invocationId?: string;
  };
}

interface ListBody {
  readonly items: readonly SubscriptionView[];
  readonly continuationToken: string | null;
}

const hookKey = 'key-of-the-owners-webhook';
const hookUrl = `https://hooks.example.com/api/notify?code=${hookKey}`;
const hiddenHookUrl = 'https://hooks.example.com/api/notify?code=***';
const minute = 60_000;

let h: Harness;
let queue: QueueClient;
let deps: AppDependencies;
let handler: HttpHandler;

beforeAll(async () => {
  h = await startHarness();
  queue = resyncQueueClient(azuriteConnectionString(), `resync-${randomUUID().slice(0, 8)}`);
  deps = {
    ...coreDependencies({
      config: h.config,
      clock: h.clock,
      store: h.store,
      graph: h.deps.graph,
      resync: new QueueResyncPublisher(queue),
    }),
    log: h.deps.log,
  };
  handler = subscriptionsApiHandler(deps);
});

afterAll(async () => {
  await h.stop();
});

afterEach(() => {
  h.sim.clearFaults();
});

/** A tenant no other test uses (the simulator serves any tenant the app asks a token for). */
function aTenant(): string {
  return randomUUID();
}

function aKey(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** An Outlook mail definition as an owner sends it: no key (the URL has it), no lifecycle URL. */
function mailDefinition(
  overrides: Readonly<Record<string, unknown>> = {},
): Record<string, unknown> {
  return {
    tenantId: h.tenantId,
    resource: `users/${randomUUID()}/messages`,
    changeType: 'created,updated',
    notificationUrl: hookUrl,
    ...overrides,
  };
}

/** Calls the API at `path` (route parameters taken from it, as the host's route would). */
async function api(
  method: string,
  path: string,
  body: Pick<HttpCall, 'json' | 'raw'> = {},
  apiHandler: HttpHandler = handler,
): Promise<HttpAnswer> {
  const [pathname = ''] = path.split('?');
  const [key, action] = pathname
    .replace(/^\/api\/subscriptions\/?/, '')
    .split('/')
    .filter((s) => s !== '')
    .map(decodeURIComponent);
  const params: Record<string, string> = {};
  if (key !== undefined) params.key = key;
  if (action !== undefined) params.action = action;
  const answer = await invokeHttp(
    apiHandler,
    { method, path, params, ...body },
    'subscriptionsApi',
  );
  await expectNoSecretIn(answer);
  return answer;
}

async function expectNoSecretIn(answer: HttpAnswer): Promise<void> {
  const logged = JSON.stringify(answer.logs);
  const secrets = [urlFunctionKey, hookKey, 'function-key', h.sim.clientSecret];
  for (const state of await allClientStates(h.store)) secrets.push(state);
  for (const secret of secrets) {
    expect(answer.text).not.toContain(secret);
    expect(logged).not.toContain(secret);
  }
}

async function allClientStates(store: SubscriptionStore): Promise<string[]> {
  const states: string[] = [];
  let continuationToken: string | undefined;
  do {
    const page = await store.list({ pageSize: 1000, continuationToken });
    states.push(...page.items.map((s) => s.clientState));
    continuationToken = page.continuationToken;
  } while (continuationToken !== undefined);
  return states;
}

const put = (key: string, definition: unknown) =>
  api('PUT', `/api/subscriptions/${encodeURIComponent(key)}`, { json: definition });

/** PUTs a new definition and returns the created view. */
async function created(
  key: string,
  definition: Record<string, unknown> = mailDefinition(),
): Promise<SubscriptionView> {
  const answer = await put(key, definition);
  expect(answer.status).toBe(201);
  return (answer.body as ApplyBody).subscription;
}

function onGraph(id: string | null, tenantId = h.tenantId) {
  return h.sim.subscriptions(tenantId).find((s) => s.id === id);
}

function graphWrites(): string[] {
  return h.sim
    .calls()
    .filter((c) => c.kind === 'create' || c.kind === 'update' || c.kind === 'delete')
    .map((c) => `${c.kind} ${c.status}`);
}

async function resyncMessagesFor(key: string): Promise<ResyncMessage[]> {
  const peeked = await queue.peekMessages({ numberOfMessages: 32 });
  return peeked.peekedMessageItems
    .map((m) => decodeResyncMessage(m.messageText) as ResyncMessage)
    .filter((m) => m.key === key);
}

function fieldsOf(answer: HttpAnswer): string[] {
  return ((answer.body as ErrorBody).error.details ?? []).map((d) => d.field).sort();
}

describe('PUT /api/subscriptions/{key}', () => {
  test('when a new definition is put, then it is created on Graph and answered 201 with its view', async () => {
    const key = aKey('mail');
    const definition = mailDefinition();

    const answer = await put(key, definition);

    expect(answer.status).toBe(201);
    expect(answer.headers.get('location')).toBe(`/api/subscriptions/${key}`);
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
    const body = answer.body as ApplyBody;
    expect(body).toMatchObject({
      change: 'created',
      complete: true,
      action: { action: 'create', outcome: 'succeeded', code: null, status: null },
      subscription: {
        key,
        tenantId: h.tenantId,
        resource: definition.resource,
        changeType: 'created,updated',
        notificationUrl: hiddenHookUrl,
        lifecycleNotificationUrl: 'https://keeper.example.com/api/lifecycle?code=***',
        status: 'active',
        lastError: null,
        resyncRequestedAt: null,
        generation: 1,
      },
    });
    const copy = onGraph(body.subscription.graphSubscriptionId);
    expect(copy).toMatchObject({ resource: definition.resource, notificationUrl: hookUrl });
    expect(copy?.clientState).toBe((await h.read(key)).clientState);
    expect(body.subscription.expirationDateTime).toBe(copy?.expirationDateTime.toISOString());
    expect(Object.keys(body.subscription)).not.toContain('clientState');
  });

  test('when the same definition is put again, then it is answered 200 unchanged and Graph is not called', async () => {
    const key = aKey('same');
    const definition = mailDefinition();
    const first = await created(key, definition);
    h.sim.resetCalls();

    const answer = await put(key, { ...definition, key });

    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      change: 'unchanged',
      complete: true,
      action: null,
      subscription: { graphSubscriptionId: first.graphSubscriptionId, status: 'active' },
    });
    expect(graphWrites()).toEqual([]);
  });

  test('when the notification URL changes, then Graph gets a PATCH and keeps its id', async () => {
    const key = aKey('moved');
    const definition = mailDefinition();
    const before = await created(key, definition);
    h.clock.advance(60 * minute);
    h.sim.resetCalls();
    const newUrl = `https://hooks2.example.com/api/notify?code=${hookKey}`;

    const answer = await put(key, { ...definition, notificationUrl: newUrl });

    expect(answer.status).toBe(200);
    const body = answer.body as ApplyBody;
    expect(body).toMatchObject({
      change: 'patched',
      complete: true,
      subscription: {
        graphSubscriptionId: before.graphSubscriptionId,
        notificationUrl: 'https://hooks2.example.com/api/notify?code=***',
        status: 'active',
        generation: 1,
        resyncRequestedAt: null,
      },
    });
    expect(graphWrites()).toEqual(['update 200']);
    const copy = onGraph(before.graphSubscriptionId);
    expect(copy?.notificationUrl).toBe(newUrl);
    // NOTE: the PATCH renews too: the expiry moved by the hour the clock advanced.
    expect(copy?.expirationDateTime.getTime()).toBeGreaterThan(
      Date.parse(before.expirationDateTime ?? ''),
    );
    expect(body.subscription.expirationDateTime).toBe(copy?.expirationDateTime.toISOString());
  });

  test.each<[string, Record<string, unknown>]>([
    ['resource', { resource: `users/${randomUUID()}/mailFolders('inbox')/messages` }],
    ['changeType', { changeType: 'created' }],
    [
      'lifecycleNotificationUrl',
      { lifecycleNotificationUrl: 'https://keeper2.example.com/api/lifecycle?code=function-key' },
    ],
  ])(
    'when the %s changes, then the subscription is recreated and the owner is asked to resync',
    async (field, change) => {
      const key = aKey(`recreate-${field}`);
      const definition = mailDefinition();
      const before = await created(key, definition);
      h.sim.resetCalls();

      const answer = await put(key, { ...definition, ...change });

      expect(answer.status).toBe(200);
      const body = answer.body as ApplyBody;
      expect(body).toMatchObject({
        change: 'recreated',
        complete: true,
        action: { action: 'create', outcome: 'succeeded' },
        subscription: { status: 'active', generation: 2, resyncReason: 'recreated' },
      });
      const newId = body.subscription.graphSubscriptionId;
      expect(newId).not.toBeNull();
      expect(newId).not.toBe(before.graphSubscriptionId);
      expect(graphWrites()).toEqual(['delete 204', 'create 201']);
      expect(onGraph(before.graphSubscriptionId)).toBeUndefined();
      const onGraphCopy = onGraph(newId);
      expect(onGraphCopy).toBeDefined();
      // NOTE: Graph holds the lifecycle URL with this deployment's marker added (docs/drift.md).
      const copy = onGraphCopy && {
        ...onGraphCopy,
        lifecycleNotificationUrl:
          onGraphCopy.lifecycleNotificationUrl === null
            ? null
            : withoutDeploymentMarker(onGraphCopy.lifecycleNotificationUrl),
      };
      expect(copy).toMatchObject(
        field === 'lifecycleNotificationUrl' ? change : { [field]: change[field] },
      );
      const requestedAt = body.subscription.resyncRequestedAt;
      expect(requestedAt).not.toBeNull();
      expect(await resyncMessagesFor(key)).toEqual([
        {
          type: 'resyncRequested',
          id: `${h.tenantId}|${key}|${requestedAt}`,
          tenantId: h.tenantId,
          key,
          graphSubscriptionId: newId,
          resource: copy?.resource,
          reason: 'recreated',
          requestedAt,
        },
      ]);
    },
  );

  test('when only the lifetime changes, then it is stored for the next renewal without a Graph call', async () => {
    const key = aKey('lifetime');
    const definition = mailDefinition();
    await created(key, definition);
    h.sim.resetCalls();

    const answer = await put(key, { ...definition, lifetimeMinutes: 120 });

    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      change: 'updated',
      complete: true,
      subscription: { lifetimeMinutes: 120 },
    });
    expect(graphWrites()).toEqual([]);
  });

  test('when the definition is bad in many ways, then 400 names every bad field and nothing is stored', async () => {
    const key = aKey('bad');

    const answer = await put(key, {
      key: 'another-key',
      tenantId: 'contoso.onmicrosoft.com',
      resource: 'https://graph.microsoft.com/v1.0/me/messages',
      changeType: 'renamed',
      notificationUrl: `http://hooks.example.com/api/notify?code=${hookKey}`,
      includeResourceData: true,
      lifetimeMinutes: 99_999,
      clientState: 'let-me-choose',
    });

    expect(answer.status).toBe(400);
    expect((answer.body as ErrorBody).error.code).toBe('InvalidDefinition');
    expect(fieldsOf(answer)).toEqual(
      [
        'changeType',
        'clientState',
        'encryptionCertificate',
        'encryptionCertificateId',
        'key',
        'lifetimeMinutes',
        'notificationUrl',
        'resource',
        'tenantId',
      ].sort(),
    );
    expect(answer.text).not.toContain('let-me-choose');
    expect(await h.store.get(h.tenantId, key)).toBeUndefined();
  });

  test('when the key in the URL is not a valid key, then 400 names key', async () => {
    const answer = await put('has spaces', mailDefinition());

    expect(answer.status).toBe(400);
    expect(fieldsOf(answer)).toEqual(['key']);
  });

  test.each<[string, HttpCall['raw'], number, string]>([
    [
      'not JSON',
      { text: '{"tenantId": ', contentType: 'application/json' },
      400,
      'InvalidDefinition',
    ],
    ['empty', { text: '', contentType: 'application/json' }, 400, 'InvalidDefinition'],
    ['a JSON array', { text: '[]', contentType: 'application/json' }, 400, 'InvalidDefinition'],
    ['sent as text/plain', { text: '{}', contentType: 'text/plain' }, 415, 'UnsupportedMediaType'],
    [
      'form-encoded (curl -d without a content type)',
      { text: '{}', contentType: 'application/x-www-form-urlencoded' },
      415,
      'UnsupportedMediaType',
    ],
    [
      'larger than 256 KB',
      {
        text: JSON.stringify({ tenantId: harnessTenant, padding: 'x'.repeat(300 * 1024) }),
        contentType: 'application/json',
      },
      413,
      'BodyTooLarge',
    ],
  ])('when the body is %s, then it is refused with %i', async (_what, raw, status, code) => {
    const key = aKey('body');

    const answer = await api('PUT', `/api/subscriptions/${key}`, { raw });

    expect(answer.status).toBe(status);
    expect((answer.body as ErrorBody).error.code).toBe(code);
    if (status === 400) expect(fieldsOf(answer)).toEqual(['(body)']);
    expect(await h.store.get(h.tenantId, key)).toBeUndefined();
  });

  test('when the key is already used in another tenant, then 409 and nothing changes', async () => {
    const key = aKey('taken');
    const first = await created(key);
    const otherTenant = aTenant();

    const answer = await put(key, mailDefinition({ tenantId: otherTenant }));

    expect(answer.status).toBe(409);
    expect((answer.body as ErrorBody).error.code).toBe('KeyInUse');
    expect(await h.store.get(otherTenant, key)).toBeUndefined();
    expect((await h.read(key)).graphSubscriptionId).toBe(first.graphSubscriptionId);
  });

  test('when Graph refuses the create with 403, then 202 with the error and the permission it needs', async () => {
    const tenant = aTenant();
    h.sim.revokePermission(tenant);
    const key = aKey('denied');
    const definition = mailDefinition({ tenantId: tenant });
    try {
      const answer = await put(key, definition);

      expect(answer.status).toBe(202);
      const body = answer.body as ApplyBody;
      expect(body).toMatchObject({
        change: 'created',
        complete: false,
        action: { action: 'create', outcome: 'failed', status: 403 },
        subscription: { status: 'failed', graphSubscriptionId: null },
      });
      expect(body.subscription.lastError).toMatchObject({ status: 403 });
      expect(body.subscription.lastError?.requiredPermissions).toEqual(['Mail.Read']);
    } finally {
      h.sim.restorePermission(tenant);
    }
    // The definition stays recorded; once access is granted, putting it again creates it now.
    const again = await put(key, definition);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({
      change: 'unchanged',
      complete: true,
      action: { action: 'create', outcome: 'succeeded' },
      subscription: { status: 'active', lastError: null },
    });
  });

  test('when Graph lost the subscription before a PATCH, then it is recreated with the new URL and a resync is requested', async () => {
    const key = aKey('patch-lost');
    const definition = mailDefinition();
    const before = await created(key, definition);
    h.sim.loseSubscription(before.graphSubscriptionId ?? '');
    const newUrl = 'https://hooks2.example.com/api/notify';

    const answer = await put(key, { ...definition, notificationUrl: newUrl });

    expect(answer.status).toBe(200);
    const body = answer.body as ApplyBody;
    expect(body).toMatchObject({
      change: 'patched',
      complete: true,
      subscription: { status: 'active', generation: 2, resyncReason: 'notFound' },
    });
    expect(body.subscription.graphSubscriptionId).not.toBe(before.graphSubscriptionId);
    expect(onGraph(body.subscription.graphSubscriptionId)?.notificationUrl).toBe(newUrl);
    expect((await resyncMessagesFor(key)).map((m) => m.reason)).toEqual(['notFound']);
  });

  test('when Graph refuses the PATCH of a new notification URL for now, then 202: the URL stays wanted and a later reconcile applies it', async () => {
    const key = aKey('patch-refused');
    const definition = mailDefinition();
    const before = await created(key, definition);
    const newUrl = 'https://hooks2.example.com/api/notify';
    h.sim.injectFault({ match: { method: 'PATCH' }, status: 503, retryAfterSeconds: 1 });

    const answer = await put(key, { ...definition, notificationUrl: newUrl });

    expect(answer.status).toBe(202);
    const body = answer.body as ApplyBody;
    expect(body).toMatchObject({ change: 'patched', complete: false });
    expect(body.action).toMatchObject({ action: 'patch', outcome: 'failed', status: 503 });
    const row = await h.read(key);
    expect(row.definition.notificationUrl).toBe(newUrl);
    expect(row.applied?.definition.notificationUrl).toBe(hookUrl);
    expect(row.claim).toBeUndefined();
    expect(onGraph(before.graphSubscriptionId)?.notificationUrl).toBe(hookUrl);

    h.sim.clearFaults();
    const backingOff = await h.read(key);
    h.clock.advance(backingOff.nextActionAt.getTime() - h.clock.now().getTime());
    const retried = await reconcileSubscription(deps, await h.read(key));

    expect(retried).toMatchObject({ action: 'patch', outcome: 'succeeded' });
    expect(onGraph(before.graphSubscriptionId)?.notificationUrl).toBe(newUrl);
    expect((await h.read(key)).applied?.definition.notificationUrl).toBe(newUrl);
  });
});

describe('POST /api/subscriptions', () => {
  test('when a definition without a key is posted, then it is created under a generated key', async () => {
    const answer = await api('POST', '/api/subscriptions', { json: mailDefinition() });

    expect(answer.status).toBe(201);
    const body = answer.body as ApplyBody;
    expect(body.change).toBe('created');
    expect(body.subscription.key).toMatch(/^sub-[0-9a-f-]{36}$/);
    expect(answer.headers.get('location')).toBe(`/api/subscriptions/${body.subscription.key}`);
    expect(onGraph(body.subscription.graphSubscriptionId)).toBeDefined();
  });

  test('when the posted definition has a key and other problems, then 400 names the key and the rest', async () => {
    const answer = await api('POST', '/api/subscriptions', {
      json: mailDefinition({ key: 'chosen', changeType: 'sometimes' }),
    });

    expect(answer.status).toBe(400);
    expect(fieldsOf(answer)).toEqual(['changeType', 'key']);
  });
});

describe('GET /api/subscriptions', () => {
  let tenantA: string;
  let tenantB: string;
  let activeKey: string;
  let pendingKeys: string[];

  beforeAll(async () => {
    tenantA = aTenant();
    tenantB = aTenant();
    activeKey = aKey('list-active');
    await created(activeKey, mailDefinition({ tenantId: tenantA }));
    pendingKeys = [aKey('list-pending'), aKey('list-pending')];
    for (const key of pendingKeys) await h.manage({ key, tenantId: tenantA });
    await h.manage({ key: aKey('list-other'), tenantId: tenantB });
  });

  const list = async (query: string) => {
    const answer = await api('GET', `/api/subscriptions?${query}`);
    expect(answer.status).toBe(200);
    return answer.body as ListBody;
  };

  test('when listed by tenant, then only that tenant appears, as views', async () => {
    const body = await list(`tenantId=${tenantA}`);

    expect(body.items.map((v) => v.key).sort()).toEqual([activeKey, ...pendingKeys].sort());
    expect(body.items.every((v) => v.tenantId === tenantA)).toBe(true);
    expect(body.continuationToken).toBeNull();
  });

  test('when the tenant id is in upper case, then the same tenant is listed', async () => {
    const body = await list(`tenantId=${tenantA.toUpperCase()}`);

    expect(body.items).toHaveLength(3);
  });

  test('when listed by tenant and status, then only those match', async () => {
    expect(
      (await list(`tenantId=${tenantA}&status=pending`)).items.map((v) => v.key).sort(),
    ).toEqual([...pendingKeys].sort());
    expect((await list(`tenantId=${tenantA}&status=active`)).items.map((v) => v.key)).toEqual([
      activeKey,
    ]);
    expect((await list(`tenantId=${tenantB}&status=active`)).items).toEqual([]);
  });

  test('when a tenant is listed a page at a time, then the pages hold every item once', async () => {
    const first = await list(`tenantId=${tenantA}&pageSize=2`);
    expect(first.items).toHaveLength(2);
    expect(first.continuationToken).not.toBeNull();

    const second = await list(
      `tenantId=${tenantA}&pageSize=2&continuationToken=${encodeURIComponent(first.continuationToken ?? '')}`,
    );

    expect(second.items).toHaveLength(1);
    expect(second.continuationToken).toBeNull();
    expect([...first.items, ...second.items].map((v) => v.key).sort()).toEqual(
      [activeKey, ...pendingKeys].sort(),
    );
  });

  test('when every tenant is listed a page at a time, then every stored subscription appears once', async () => {
    const keys: string[] = [];
    let token: string | null = null;
    do {
      const query: string =
        token === null ? 'pageSize=3' : `pageSize=3&continuationToken=${encodeURIComponent(token)}`;
      const page = await list(query);
      expect(page.items.length).toBeLessThanOrEqual(3);
      keys.push(...page.items.map((v) => v.key));
      token = page.continuationToken;
    } while (token !== null);

    const stored = await h.store.list({ pageSize: 1000 });
    expect(keys.sort()).toEqual(stored.items.map((s) => s.definition.key).sort());
    expect(new Set(keys).size).toBe(keys.length);
  });

  test('when the filters are bad, then 400 names each of them', async () => {
    const answer = await api('GET', '/api/subscriptions?tenantId=contoso&status=alive&pageSize=0');

    expect(answer.status).toBe(400);
    expect((answer.body as ErrorBody).error.code).toBe('InvalidQuery');
    expect(fieldsOf(answer)).toEqual(['pageSize', 'status', 'tenantId']);
  });

  test.each(['1001', '2.5', 'ten', '-1'])(
    'when the page size is %s, then 400 names pageSize',
    async (pageSize) => {
      const answer = await api('GET', `/api/subscriptions?pageSize=${pageSize}`);

      expect(answer.status).toBe(400);
      expect(fieldsOf(answer)).toEqual(['pageSize']);
    },
  );

  test('when the continuation token was not issued by the API, then 400 names continuationToken', async () => {
    const answer = await api('GET', '/api/subscriptions?continuationToken=forged');

    expect(answer.status).toBe(400);
    expect(fieldsOf(answer)).toEqual(['continuationToken']);
  });

  test("when a token from one tenant's listing is used for another tenant, then 400 names continuationToken", async () => {
    const first = await list(`tenantId=${tenantA}&pageSize=1`);

    const answer = await api(
      'GET',
      `/api/subscriptions?tenantId=${tenantB}&continuationToken=${encodeURIComponent(first.continuationToken ?? '')}`,
    );

    expect(answer.status).toBe(400);
    expect(fieldsOf(answer)).toEqual(['continuationToken']);
  });
});

describe('GET /api/subscriptions/{key}', () => {
  test('when the key is known, then its view is answered', async () => {
    const key = aKey('show');
    const view = await created(key);

    const answer = await api('GET', `/api/subscriptions/${key}`);

    expect(answer.status).toBe(200);
    expect(answer.body).toEqual(view);
  });

  test('when the tenant is given and matches, then its view is answered; in another tenant it is 404', async () => {
    const key = aKey('show-tenant');
    await created(key);

    expect((await api('GET', `/api/subscriptions/${key}?tenantId=${h.tenantId}`)).status).toBe(200);
    const elsewhere = await api('GET', `/api/subscriptions/${key}?tenantId=${aTenant()}`);
    expect(elsewhere.status).toBe(404);
  });

  test('when the key is unknown, then 404 NotFound', async () => {
    const answer = await api('GET', '/api/subscriptions/no-such-key');

    expect(answer.status).toBe(404);
    expect((answer.body as ErrorBody).error.code).toBe('NotFound');
  });

  test('when the query is bad, then 400 names tenantId and verify', async () => {
    const answer = await api('GET', '/api/subscriptions/any?tenantId=x&verify=yes');

    expect(answer.status).toBe(400);
    expect(fieldsOf(answer)).toEqual(['tenantId', 'verify']);
  });

  test('when verified and Graph agrees, then the drift is inSync', async () => {
    const key = aKey('verify');
    const view = await created(key);

    const answer = await api('GET', `/api/subscriptions/${key}?verify=true`);

    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      ...view,
      drift: {
        key,
        tenantId: h.tenantId,
        graphSubscriptionId: view.graphSubscriptionId,
        state: 'inSync',
        differences: [],
        error: null,
      },
    });
  });

  test('when verified after Graph lost the subscription, then the drift is missingOnGraph', async () => {
    const key = aKey('verify-lost');
    const view = await created(key);
    h.sim.loseSubscription(view.graphSubscriptionId ?? '');

    const answer = await api('GET', `/api/subscriptions/${key}?verify=true`);

    expect((answer.body as { drift: DriftReport }).drift).toMatchObject({
      state: 'missingOnGraph',
      differences: [],
    });
  });

  test('when verified after a PATCH made behind our back, then the drift names the field with its key hidden', async () => {
    const key = aKey('verify-drift');
    const view = await created(key);
    await h.deps.graph.update(h.tenantId, view.graphSubscriptionId ?? '', {
      notificationUrl: `https://elsewhere.example.com/hook?code=${hookKey}`,
    });

    const answer = await api('GET', `/api/subscriptions/${key}?verify=true`);

    expect((answer.body as { drift: DriftReport }).drift).toMatchObject({
      state: 'drifted',
      differences: [
        {
          field: 'notificationUrl',
          ours: hiddenHookUrl,
          graph: 'https://elsewhere.example.com/hook?code=***',
        },
      ],
    });
  });

  test('when verifying while Graph answers 403, then the drift reports the error', async () => {
    const key = aKey('verify-denied');
    await created(key);
    h.sim.injectFault({ match: { method: 'GET', kind: 'get' }, status: 403 });

    const answer = await api('GET', `/api/subscriptions/${key}?verify=true`);

    expect(answer.status).toBe(200);
    expect((answer.body as { drift: DriftReport }).drift).toMatchObject({
      state: 'error',
      error: { status: 403 },
    });
  });
});

describe('DELETE /api/subscriptions/{key}', () => {
  test('when a subscription is deleted, then it is gone from Graph and from the store', async () => {
    const key = aKey('delete');
    const view = await created(key);

    const answer = await api('DELETE', `/api/subscriptions/${key}`);

    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ deleted: true });
    expect(onGraph(view.graphSubscriptionId)).toBeUndefined();
    expect(await h.store.get(h.tenantId, key)).toBeUndefined();
    expect((await api('GET', `/api/subscriptions/${key}`)).status).toBe(404);
  });

  test('when its row is corrupted, then GET answers 409 naming the problem, and DELETE removes every row of it and its Graph subscription', async () => {
    const key = aKey('corrupted');
    const definition = mailDefinition();
    const view = await created(key, definition);
    const table = subscriptionTableClient(azuriteConnectionString(), h.config.storage.table);
    await table.updateEntity(
      { partitionKey: h.tenantId, rowKey: rowKeys.subscription(key), status: 42, expiresAt: 'x' },
      'Merge',
    );

    const got = await api('GET', `/api/subscriptions/${key}`);
    expect(got.status).toBe(409);
    expect((got.body as ErrorBody).error.code).toBe('UnreadableRow');
    expect((got.body as ErrorBody).error.message).toMatch(/status/);

    const answer = await api('DELETE', `/api/subscriptions/${key}`);

    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      deleted: true,
      unreadableRow: true,
      graphSubscriptionDeleted: true,
    });
    expect(onGraph(view.graphSubscriptionId)).toBeUndefined();
    const left: string[] = [];
    for await (const e of table.listEntities({
      queryOptions: { filter: `PartitionKey eq '${h.tenantId}'` },
    })) {
      if (typeof e.rowKey === 'string' && e.rowKey.includes(key)) left.push(e.rowKey);
    }
    expect(left).toEqual([]);
    expect((await api('GET', `/api/subscriptions/${key}`)).status).toBe(404);
    // The key's reservation went too: the key can be used again.
    expect((await put(key, definition)).status).toBe(201);
  });

  test('when the key is unknown, then 404', async () => {
    const answer = await api('DELETE', `/api/subscriptions/${aKey('never')}`);

    expect(answer.status).toBe(404);
    expect((answer.body as ErrorBody).error.code).toBe('NotFound');
  });

  test('when Graph fails the delete, then 202 leaves it deleting for the sweep, which finishes it', async () => {
    const key = aKey('delete-later');
    const definition = mailDefinition();
    const view = await created(key, definition);
    h.sim.injectFault({ match: { method: 'DELETE' }, status: 500 });

    const answer = await api('DELETE', `/api/subscriptions/${key}`);

    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({
      deleted: false,
      subscription: { key, status: 'deleting', lastError: { status: 500 } },
      action: { action: 'delete', outcome: 'failed', status: 500 },
    });
    expect(onGraph(view.graphSubscriptionId)).toBeDefined();

    const again = await put(key, definition);
    expect(again.status).toBe(409);
    expect((again.body as ErrorBody).error.code).toBe('BeingDeleted');

    h.sim.clearFaults();
    h.clock.advanceTo((await h.read(key)).nextActionAt);
    await runSweep(deps, deps.sweepOptions);
    expect(onGraph(view.graphSubscriptionId)).toBeUndefined();
    expect(await h.store.get(h.tenantId, key)).toBeUndefined();
  });
});

describe('while another instance works on the subscription', () => {
  /** Another worker (a sweep renewing it) holds the row's claim. */
  async function claimedElsewhere(key: string) {
    const other = h.anotherInstance();
    const row = await h.read(key);
    const now = h.clock.now();
    const claimed = await h.store.claim(row, {
      owner: other.instanceId,
      now,
      until: new Date(now.getTime() + minute),
    });
    return { other, claimed };
  }

  test('when it is deleted meanwhile, then 202: the delete is stored, the renewal that finishes keeps it, and the next reconcile deletes', async () => {
    const key = aKey('delete-busy');
    const view = await created(key);
    const { other, claimed } = await claimedElsewhere(key);

    const answer = await api('DELETE', `/api/subscriptions/${key}`);

    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({
      deleted: false,
      subscription: { status: 'deleting' },
      action: { outcome: 'skipped' },
    });
    // The other worker records its renewal; the delete stays wanted, due now.
    const recorded = await writeOutcome(other, claimed, (sub, now) => ({
      ...sub,
      status: 'active',
      claim: undefined,
      updatedAt: now,
    }));
    expect(recorded?.status).toBe('deleting');
    const report = await reconcileSubscription(deps, await h.read(key));
    expect(report).toMatchObject({ action: 'delete', outcome: 'succeeded' });
    expect(await h.store.get(h.tenantId, key)).toBeUndefined();
    expect(onGraph(view.graphSubscriptionId)).toBeUndefined();
  });

  test('when its notification URL is changed meanwhile, then 202 with no Graph call, and the URL is PATCHed once the claim is released', async () => {
    const key = aKey('patch-busy');
    const definition = mailDefinition();
    const view = await created(key, definition);
    const { other, claimed } = await claimedElsewhere(key);
    h.sim.resetCalls();
    const newUrl = 'https://hooks2.example.com/api/notify';

    const answer = await put(key, { ...definition, notificationUrl: newUrl });

    expect(answer.status).toBe(202);
    expect(answer.body).toMatchObject({ change: 'patched', complete: false });
    expect(graphWrites()).toEqual([]);
    expect((await h.read(key)).definition.notificationUrl).toBe(newUrl);
    // The other worker finishes (a renewal that changed nothing on the URL): the change stays due.
    const recorded = await writeOutcome(other, claimed, (sub, now) => ({
      ...sub,
      claim: undefined,
      nextActionAt: new Date(now.getTime() + 60 * minute),
      updatedAt: now,
    }));
    expect(recorded?.nextActionAt.getTime()).toBeLessThanOrEqual(h.clock.now().getTime());
    await reconcileSubscription(deps, await h.read(key));
    expect(graphWrites()).toEqual(['update 200']);
    expect(onGraph(view.graphSubscriptionId)?.notificationUrl).toBe(newUrl);
  });
});

describe('POST /api/subscriptions/{key}/resync-ack', () => {
  /** A subscription recreated by a definition change: a resync is requested. */
  async function withResyncRequested(key: string): Promise<string> {
    const definition = mailDefinition();
    await created(key, definition);
    const answer = await put(key, { ...definition, changeType: 'updated' });
    const requestedAt = (answer.body as ApplyBody).subscription.resyncRequestedAt;
    expect(requestedAt).not.toBeNull();
    return requestedAt ?? '';
  }

  const ack = (key: string, json?: unknown) =>
    api('POST', `/api/subscriptions/${key}/resync-ack`, json === undefined ? {} : { json });

  test('when the owner acknowledges the pending request, then it is cleared; again, nothing is left to clear', async () => {
    const key = aKey('ack');
    const requestedAt = await withResyncRequested(key);

    const answer = await ack(key, { resyncRequestedAt: requestedAt });

    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      acknowledged: true,
      subscription: { key, resyncRequestedAt: null, resyncReason: null, status: 'active' },
    });
    expect((await h.read(key)).resyncRequestedAt).toBeUndefined();

    const again = await ack(key);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ acknowledged: false, subscription: { key } });
  });

  test('when the acknowledgement has no body, then the pending request is cleared', async () => {
    const key = aKey('ack-any');
    await withResyncRequested(key);

    const answer = await ack(key);

    expect(answer.body).toMatchObject({ acknowledged: true });
  });

  test('when the acknowledged time is not the pending request, then 409 and the request stays', async () => {
    const key = aKey('ack-old');
    const requestedAt = await withResyncRequested(key);

    const answer = await ack(key, { resyncRequestedAt: '2020-01-01T00:00:00Z' });

    expect(answer.status).toBe(409);
    expect((answer.body as ErrorBody).error.code).toBe('NewerResync');
    expect((await h.read(key)).resyncRequestedAt?.toISOString()).toBe(requestedAt);
  });

  test('when the acknowledgement body is bad, then 400 names each field', async () => {
    const answer = await ack(aKey('ack-bad'), { resyncRequestedAt: 'yesterday', by: 'me' });

    expect(answer.status).toBe(400);
    expect((answer.body as ErrorBody).error.code).toBe('InvalidRequest');
    expect(fieldsOf(answer)).toEqual(['by', 'resyncRequestedAt']);
  });

  test('when the key is unknown, then 404', async () => {
    expect((await ack(aKey('ack-unknown'))).status).toBe(404);
  });
});

describe('routing and failures', () => {
  test('when a route has no such action, then 404', async () => {
    const answer = await api('POST', '/api/subscriptions/some-key/renew-now');

    expect(answer.status).toBe(404);
  });

  test('when a method is not served on a route, then 405 names the allowed methods', async () => {
    const answer = await api('PUT', '/api/subscriptions');

    expect(answer.status).toBe(405);
    expect(answer.headers.get('allow')).toBe('GET, POST');
    const onKey = await api('POST', '/api/subscriptions/some-key');
    expect(onKey.headers.get('allow')).toBe('GET, PUT, DELETE');
  });

  test('when the store fails unexpectedly, then 500 with a generic message and only the error name is logged', async () => {
    const detail = `table unreachable at https://acct.table.example.net/?sig=${hookKey}`;
    const fail = () => Promise.reject(new TypeError(detail));
    const broken: SubscriptionStore = {
      create: fail,
      get: fail,
      findByKey: fail,
      findByGraphId: fail,
      update: fail,
      claim: fail,
      delete: fail,
      removeUnreadable: fail,
      listDue: () => ({ [Symbol.asyncIterator]: () => ({ next: fail }) }),
      list: fail,
      tenants: fail,
    };
    const failing = subscriptionsApiHandler({ ...deps, store: broken });

    const answer = await api('GET', '/api/subscriptions/any-key', {}, failing);

    expect(answer.status).toBe(500);
    expect(answer.body).toEqual({
      error: {
        code: 'InternalError',
        message: expect.stringContaining('invocation id') as unknown,
        invocationId: answer.invocationId,
      },
    });
    expect(answer.text).not.toContain('unreachable');
    const errors = answer.logs.filter((l) => l.level === 'error');
    expect(errors).toEqual([
      {
        level: 'error',
        args: ['admin API request failed unexpectedly {"operation":"get","error":"TypeError"}'],
      },
    ]);
    expect(JSON.stringify(answer.logs)).not.toContain('unreachable');
  });
});
