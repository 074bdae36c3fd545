import { randomUUID } from 'node:crypto';
import {
  harnessTenant,
  simulatorAppSettings,
  startHarness,
  type Harness,
} from '../../devkit/appHarness';
import {
  simulatorCredentialOptions,
  startGraphSimulator,
  type GraphSimulator,
} from '../../devkit/graphSimulator';
import { loadConfig, type Config } from '../../shared/config';
import { createGraphSubscriptions } from '../../shared/graph/createGraphSubscriptions';
import type {
  CreateSubscriptionRequest,
  GraphSubscriptions,
} from '../../shared/graph/graphSubscriptions';
import {
  applicationPermissionNames,
  withRequiredPermissions,
} from '../../shared/graph/permissions';
import { runSweep } from '../../shared/renewal/sweep';
import { graphErrorOf } from '../support/graphErrors';

/**
 * The simulator refuses what Graph refuses: app-only tokens carry the app roles granted in their
 * tenant, and create, renew (PATCH) and reauthorize are checked against them with the app's own
 * permission tables (docs/permissions.md#what-the-simulator-enforces). Every call goes through
 * the app's production Graph client (tokens through @azure/identity, real HTTPS).
 */

const minute = 60_000;
const start = new Date('2026-06-01T10:00:00.000Z');
const accessDenied = (operation: string) =>
  `Operation: ${operation}; Exception: [Status Code: Forbidden; Reason: Access denied]`;

let sim: GraphSimulator;
let config: Config;
/** Tenants whose grants the tests set; the rest have every application permission. */
const mailOnly = randomUUID();
const nothingGranted = randomUUID();
const filesReadOnly = randomUUID();

beforeAll(async () => {
  sim = await startGraphSimulator({
    now: () => start,
    throttling: false,
    appRoles: {
      [mailOnly]: ['Mail.Read'],
      [nothingGranted]: [],
      [filesReadOnly]: ['Files.Read.All'],
    },
  });
  config = loadConfig({
    STORAGE_CONNECTION: 'UseDevelopmentStorage=true',
    ...simulatorAppSettings(sim, mailOnly),
  });
});

afterAll(async () => {
  await sim.stop();
});

/** A new app instance: its own credential, so its own token cache. */
function newClient(): GraphSubscriptions {
  return createGraphSubscriptions(config, {
    credentialOptions: simulatorCredentialOptions(sim),
    trustedCaCertificates: sim.tls.ca,
    retry: { maxRetries: 0 },
  });
}

function request(resource: string, changeType = 'created,updated'): CreateSubscriptionRequest {
  return {
    resource,
    changeType,
    notificationUrl: 'https://hooks.example.com/api/notify',
    lifecycleNotificationUrl: 'https://hooks.example.com/api/lifecycle',
    expirationDateTime: new Date(start.getTime() + 55 * minute),
    clientState: `state-${randomUUID()}`,
  };
}

function rolesOf(token: string): unknown {
  const [, claims] = token.split('.');
  return (
    JSON.parse(Buffer.from(claims ?? '', 'base64url').toString('utf8')) as Record<string, unknown>
  ).roles;
}

describe('simulator tokens: the roles claim', () => {
  test('when a tenant has grants configured, then its tokens carry exactly them; none, no claim', () => {
    expect(rolesOf(sim.issueToken(mailOnly))).toEqual(['Mail.Read']);
    expect(rolesOf(sim.issueToken(nothingGranted))).toBeUndefined();
  });

  test('when a tenant has no grants configured, then its tokens carry every application permission', () => {
    expect(rolesOf(sim.issueToken(randomUUID()))).toEqual([...applicationPermissionNames]);
  });
});

describe('simulator: create, renew and reauthorize without the role', () => {
  test('when the role is not granted, then create is 403 ExtensionError and the app names the permission', async () => {
    const error = await graphErrorOf(
      newClient().create(nothingGranted, request(`users/${randomUUID()}/messages`)),
    );

    expect(error).toMatchObject({
      status: 403,
      code: 'ExtensionError',
      requiredPermissions: ['Mail.Read'],
    });
    expect(error.message).toContain(accessDenied('Create'));
    expect(error.message).toContain('(needs: Mail.Read)');
    expect(sim.subscriptions(nothingGranted)).toEqual([]);
  });

  test('when only another role is granted (Mail.Read), then a calendar subscription is refused naming Calendars.Read', async () => {
    const error = await graphErrorOf(
      newClient().create(mailOnly, request(`users/${randomUUID()}/events`)),
    );

    expect(error).toMatchObject({ status: 403, requiredPermissions: ['Calendars.Read'] });
  });

  test('when the role is withdrawn after create, then renew and reauthorize with a new token are 403, and the old token still works', async () => {
    const tenant = randomUUID();
    sim.setAppRoles(tenant, ['Mail.Read']);
    const before = newClient();
    const created = await before.create(tenant, request(`users/${randomUUID()}/messages`));

    sim.setAppRoles(tenant, []);
    const after = newClient();
    const renewError = await graphErrorOf(
      after.update(tenant, created.id, {
        expirationDateTime: new Date(start.getTime() + 100 * minute),
      }),
    );
    const reauthorizeError = await graphErrorOf(after.reauthorize(tenant, created.id));
    // NOTE: like Entra, a grant change shows in tokens issued afterwards only.
    await expect(before.reauthorize(tenant, created.id)).resolves.toBeUndefined();

    expect(renewError).toMatchObject({ status: 403, code: 'ExtensionError' });
    expect(renewError.message).toContain(accessDenied('Update'));
    expect(reauthorizeError).toMatchObject({ status: 403, code: 'ExtensionError' });
    expect(reauthorizeError.message).toContain(accessDenied('Reauthorize'));
    // The core knows the resource and names the permission (shared/renewal/reconcile.ts).
    expect(
      withRequiredPermissions(renewError, created.resource, 'update').requiredPermissions,
    ).toEqual(['Mail.Read']);
    expect(sim.subscriptions(tenant)[0]?.expirationDateTime).toEqual(created.expirationDateTime);
  });
});

describe('simulator: delegated-only resources refuse app-only tokens', () => {
  test.each([
    [
      'presence',
      'communications/presences/{id}',
      'updated',
      ['Presence.Read.All (delegated only)'],
    ],
    [
      'a group conversation',
      'groups/{id}/conversations',
      'created',
      ['Group.Read.All (delegated only)'],
    ],
    [
      'a baseTask',
      'users/{id}/tasks/lists/{id}/tasks',
      'created',
      ['Tasks.ReadWrite (delegated only)'],
    ],
    ['"me/messages"', 'me/messages', 'created', ['Mail.Read (delegated only)']],
    ['a personal OneDrive ("me/drive/root")', 'me/drive/root', 'updated', undefined],
  ])(
    'when %s is subscribed with every application permission granted, then create is 403',
    async (_label, template, changeType, named) => {
      const tenant = randomUUID();
      const resource = template.replaceAll('{id}', randomUUID());

      const error = await graphErrorOf(newClient().create(tenant, request(resource, changeType)));

      expect(error).toMatchObject({ status: 403, code: 'ExtensionError' });
      expect(error.message).toContain(accessDenied('Create'));
      if (named !== undefined) expect(error.requiredPermissions).toEqual(named);
      expect(sim.subscriptions(tenant)).toEqual([]);
    },
  );

  test('when a todoTask subscription is created app-only, then create works but renew and reauthorize are 403', async () => {
    const tenant = randomUUID();
    const graph = newClient();
    const created = await graph.create(
      tenant,
      request(`users/${randomUUID()}/todo/lists/${randomUUID()}/tasks`),
    );

    const renewError = await graphErrorOf(
      graph.update(tenant, created.id, {
        expirationDateTime: new Date(start.getTime() + 100 * minute),
      }),
    );
    const reauthorizeError = await graphErrorOf(graph.reauthorize(tenant, created.id));

    expect(renewError.status).toBe(403);
    expect(reauthorizeError.status).toBe(403);
    expect(
      withRequiredPermissions(reauthorizeError, created.resource, 'reauthorize')
        .requiredPermissions,
    ).toEqual(['Tasks.ReadWrite (delegated only)']);
  });
});

describe('the keeper: a drive item created with Files.Read.All', () => {
  let h: Harness;

  beforeEach(async () => {
    h = await startHarness({
      store: 'memory',
      simulator: { appRoles: { [harnessTenant]: ['Files.Read.All'] } },
    });
  });

  afterEach(async () => {
    await h.stop();
  });

  test('when only Files.Read.All is granted, then create works, and the first renewal is refused with Files.ReadWrite.All named', async () => {
    expect(h.sim.appRoles(h.tenantId)).toEqual(['Files.Read.All']);
    await h.manage({ key: 'docs', resource: 'drives/b!docs/root', changeType: 'updated' });
    await runSweep(h.deps, h.deps.sweepOptions);
    const created = await h.read('docs');
    expect(created).toMatchObject({ status: 'active', generation: 1 });
    h.clock.advanceTo(created.nextActionAt);
    h.sim.resetCalls();

    await runSweep(h.deps, h.deps.sweepOptions);

    expect(h.sim.calls().filter((c) => c.kind === 'update')).toEqual([
      expect.objectContaining({ status: 403, subscriptionId: created.graphSubscriptionId }),
    ]);
    const refused = await h.read('docs');
    expect(refused.status).toBe('failed');
    expect(refused.lastError).toMatchObject({
      status: 403,
      code: 'ExtensionError',
      requiredPermissions: ['Files.ReadWrite.All'],
    });
    expect(refused.expiresAt).toEqual(created.expiresAt);
  });
});

describe('the simulator against tenants with no grants configured', () => {
  test('when a tenant has no grants configured, then a drive item is created, renewed and reauthorized', async () => {
    const tenant = randomUUID();
    const graph = newClient();
    const created = await graph.create(tenant, request('drives/b!all/root', 'updated'));

    const renewed = await graph.update(tenant, created.id, {
      expirationDateTime: new Date(start.getTime() + 100 * minute),
    });
    await graph.reauthorize(tenant, created.id);

    expect(renewed.expirationDateTime.getTime()).toBeGreaterThan(
      created.expirationDateTime.getTime(),
    );
  });
});
