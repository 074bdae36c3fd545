/* eslint-disable @typescript-eslint/no-require-imports -- the function files are loaded after the
   app settings are set, in an isolated registry, which static imports cannot do. */
import { randomUUID } from 'node:crypto';
import { InvocationContext, type Timer } from '@azure/functions';
import { healthHandler } from '../../functions/health';
import { coreDependencies, type AppDependencies } from '../../shared/composition';
import { loadConfig } from '../../shared/config';
import type { HealthView } from '../../shared/operations/health';
import { sweepAndRecord } from '../../shared/operations/sweepOperation';
import type { SweepSummary } from '../../shared/renewal/sweep';
import { rowKeys } from '../../shared/store/subscriptionEntity';
import type { SubscriptionStore } from '../../shared/store/subscriptionStore';
import { TableSweepRecords } from '../../shared/store/sweepRecords';
import { subscriptionTableClient } from '../../shared/store/tableClient';
import { TableSubscriptionStore } from '../../shared/store/tableSubscriptionStore';
import { newManagedSubscription } from '../../shared/subscriptions/newSubscription';
import {
  azuriteConnectionString,
  simulatorAppSettings,
  startHarness,
  uniqueTableName,
  type Harness,
} from '../../devkit/appHarness';
import { invokeHttp, urlFunctionKey, type HttpAnswer } from '../support/httpInvocation';
import { aDefinition } from '../support/subscriptionMother';

/**
 * `GET /api/health` as an availability test calls it: 200 when every subscription is alive and
 * the last sweep is recent and clean, 503 with the reasons otherwise. On the app's core wired to
 * Azurite (subscriptions and the sweep's record in the same table, as in production) and the
 * Graph simulator, on the harness's instant test clock.
 */

const minute = 60_000;
/** A 60-minute subscription an app-only keeper can keep (presence has no application permission). */
const channel = () => ({
  resource: `teams/${randomUUID()}/channels/19:${randomUUID().replace(/-/g, '')}@thread.tacv2/messages`,
  lifetimeMinutes: 60,
});
const mail = () => `users/${randomUUID()}/messages`;

let h: Harness;
let deps: AppDependencies;

beforeEach(async () => {
  h = await startHarness();
  deps = {
    ...coreDependencies({
      config: h.config,
      clock: h.clock,
      store: h.store,
      graph: h.deps.graph,
      sweepRecords: TableSweepRecords.fromConfig(h.config.storage),
    }),
    log: h.deps.log,
  };
});

afterEach(async () => {
  await h.stop();
});

const sweep = () => sweepAndRecord(deps, deps.sweepOptions);

async function health(using: AppDependencies = deps): Promise<HttpAnswer & { view: HealthView }> {
  const answer = await invokeHttp(
    healthHandler(using),
    { method: 'GET', path: '/api/health' },
    'health',
  );
  expect(answer.headers.get('cache-control')).toBe('no-store');
  expect(answer.text).not.toContain(urlFunctionKey);
  return { ...answer, view: answer.body as HealthView };
}

describe('GET /api/health', () => {
  test('when nothing is managed yet, then it is healthy', async () => {
    const { status, view } = await health();

    expect(status).toBe(200);
    expect(view).toMatchObject({ healthy: true, reasons: [], total: 0, lastSweep: null });
  });

  test('when subscriptions are managed but no sweep has run, then 503 says so', async () => {
    await h.manage({ key: 'waiting', resource: mail() });

    const { status, view } = await health();

    expect(status).toBe(503);
    expect(view).toMatchObject({
      healthy: false,
      reasons: ['no sweep has been recorded yet'],
      total: 1,
      counts: { pending: 1 },
      problems: [],
    });
  });

  test('when every subscription is alive after a clean sweep, then 200 with counts, the soonest expiry and the sweep', async () => {
    await h.manage({ key: 'mail', resource: mail() });
    await h.manage({ key: 'channel', ...channel() });
    const summary = await sweep();

    const { status, view } = await health();

    expect(status).toBe(200);
    expect(view).toMatchObject({
      healthy: true,
      reasons: [],
      total: 2,
      counts: { active: 2, pending: 0, failed: 0 },
      problems: [],
      problemCount: 0,
      resyncsPending: 0,
      soonestExpiry: {
        tenantId: h.tenantId,
        key: 'channel',
        expirationDateTime: (await h.read('channel')).expiresAt?.toISOString(),
      },
    });
    expect(view.lastSweep).toEqual(summary);
    expect(view.lastSweep?.counts).toEqual({ create: { succeeded: 2 } });
  });

  test('when a subscription failed with 403, then 503 names it with the permission it needs', async () => {
    const tenant = randomUUID();
    h.sim.revokePermission(tenant);
    await h.manage({ key: 'healthy', resource: mail() });
    await h.manage({ key: 'denied', tenantId: tenant, resource: mail() });
    await sweep();

    const { status, view } = await health();

    expect(status).toBe(503);
    expect(view.reasons).toEqual([
      '1 subscription(s) not alive (failing, failed, lapsed or stuck)',
      'the last sweep had 1 failure(s) and 0 unexpected error(s)',
    ]);
    expect(view.counts).toMatchObject({ active: 1, failed: 1 });
    expect(view.problems).toEqual([
      expect.objectContaining({
        tenantId: tenant,
        key: 'denied',
        status: 'failed',
        problem: 'failed',
        expirationDateTime: null,
        lastError: expect.objectContaining({ status: 403 }) as unknown,
        requiredPermissions: ['Mail.Read'],
      }),
    ]);
    expect(view.lastSweep?.failures).toEqual([
      expect.objectContaining({ tenantId: tenant, key: 'denied', action: 'create', status: 403 }),
    ]);
  });

  test('when the last sweep is older than two sweep periods, then 503 says how long ago it ran', async () => {
    await h.manage({ key: 'mail', resource: mail() });
    await sweep();
    h.clock.advance(3 * h.config.sweep.periodMs);

    const { status, view } = await health();

    expect(status).toBe(503);
    expect(view.reasons).toEqual([
      `the last sweep finished ${(3 * h.config.sweep.periodMs) / minute} minutes ago`,
    ]);
    expect(view.problems).toEqual([]);
  });

  test('when the last sweep had a failure but every subscription is alive, then 503 names the sweep', async () => {
    await h.manage({ key: 'kept', resource: mail() });
    await h.manage({ key: 'unwanted', resource: mail() });
    await sweep();
    // The owner asked for `unwanted` to go; Graph fails the delete, so it stays `deleting`.
    const unwanted = await h.read('unwanted');
    const { etag, ...row } = unwanted;
    await h.store.update({ ...row, status: 'deleting', nextActionAt: h.clock.now() }, etag);
    h.sim.injectFault({ match: { method: 'DELETE' }, status: 500 });
    await sweep();

    const { status, view } = await health();

    expect(status).toBe(503);
    expect(view.reasons).toEqual(['the last sweep had 1 failure(s) and 0 unexpected error(s)']);
    expect(view.problems).toEqual([]);
    expect(view.counts).toMatchObject({ active: 1, deleting: 1 });
  });

  test('when a row is corrupted, then 503 counts it as unreadable, and names the last sweep that skipped it', async () => {
    await h.manage({ key: 'mail', resource: mail() });
    await h.manage({ key: 'broken', resource: mail() });
    await sweep();
    const table = subscriptionTableClient(azuriteConnectionString(), h.config.storage.table);
    // The row and its due copy, as a hand edit of both would leave them.
    const brokenRows = [rowKeys.subscription('broken')];
    for await (const e of table.listEntities({
      queryOptions: { filter: `PartitionKey eq '${h.tenantId}'` },
    })) {
      if (typeof e.rowKey === 'string' && /^due\|.*\|broken\|/.test(e.rowKey)) {
        brokenRows.push(e.rowKey);
      }
    }
    expect(brokenRows).toHaveLength(2);
    for (const rowKey of brokenRows) {
      await table.updateEntity({ partitionKey: h.tenantId, rowKey, status: 42 }, 'Merge');
    }
    // NOTE: due again, so the next sweep meets the broken due row.
    h.clock.advance(10 * 24 * 60 * minute);
    const summary = await sweep();
    expect(summary.invalidRows).toBeGreaterThan(0);

    const { status, view } = await health();

    expect(status).toBe(503);
    expect(view.healthy).toBe(false);
    expect(view.unreadableRows).toBe(1);
    expect(view.reasons).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^1 stored subscription row\(s\) cannot be read/),
        `the last sweep skipped ${summary.invalidRows} row(s) that cannot be read`,
      ]),
    );
  });

  test('when a subscription outlived its expiry without a sweep, then it is lapsed', async () => {
    await h.manage({ key: 'channel', ...channel() });
    await sweep();
    const { expiresAt } = await h.read('channel');
    h.clock.advanceTo(new Date((expiresAt?.getTime() ?? 0) + minute));

    const { status, view } = await health();

    expect(status).toBe(503);
    expect(view.problems).toEqual([
      expect.objectContaining({ key: 'channel', status: 'active', problem: 'lapsed' }),
    ]);
    expect(view.reasons).toHaveLength(2);
  });

  test('when a new subscription waits longer than two sweep periods, then it is stuck', async () => {
    await h.manage({ key: 'waiting', resource: mail() });
    h.clock.advance(2 * h.config.sweep.periodMs + minute);

    const { view } = await health();

    expect(view.problems).toEqual([
      expect.objectContaining({ key: 'waiting', status: 'pending', problem: 'stuck' }),
    ]);
  });

  test('when the store cannot be read, then 503 with a generic reason and only the error name logged', async () => {
    const detail = 'connection refused by https://acct.table.example.net/?sig=very-secret';
    const fail = () => Promise.reject(new Error(detail));
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

    const answer = await health({ ...deps, store: broken });

    expect(answer.status).toBe(503);
    expect(answer.view).toEqual({
      healthy: false,
      reasons: ['the state of the subscriptions could not be read (storage or settings)'],
    });
    expect(answer.logs).toEqual([
      { level: 'error', args: ['health could not be read {"error":"Error"}'] },
    ]);
    expect(answer.text).not.toContain('very-secret');
  });
});

describe('the timer and health functions as the host loads them', () => {
  type Functions = {
    readonly sweepSubscriptions: (typeof import('../../functions/sweepSubscriptions'))['sweepSubscriptions'];
    readonly health: (typeof import('../../functions/health'))['health'];
  };
  const savedEnv = { ...process.env };

  afterEach(() => {
    for (const name of Object.keys(process.env)) {
      if (!(name in savedEnv)) Reflect.deleteProperty(process.env, name);
    }
    Object.assign(process.env, savedEnv);
  });

  /** Loads both function files afresh with `settings`, sharing one composition root. */
  function loadFunctions(settings: Readonly<Record<string, string>>): Functions {
    Object.assign(process.env, settings);
    let loaded: Functions | undefined;
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      jest.isolateModules(() => {
        const timer = require('../../functions/sweepSubscriptions') as Pick<
          Functions,
          'sweepSubscriptions'
        >;
        const healthFunction = require('../../functions/health') as Pick<Functions, 'health'>;
        loaded = { sweepSubscriptions: timer.sweepSubscriptions, health: healthFunction.health };
      });
    } finally {
      warn.mockRestore();
    }
    if (loaded === undefined) throw new Error('the function files did not load');
    return loaded;
  }

  test('when the timer has swept, then its summary is recorded and the health function reports it', async () => {
    const settings = {
      STORAGE_CONNECTION: azuriteConnectionString(),
      SUBSCRIPTIONS_TABLE: uniqueTableName(),
      ...simulatorAppSettings(h.sim),
    };
    const config = loadConfig(settings);
    // NOTE: a row the sweep settles without Graph (its composition root cannot trust the
    // simulator's test CA): a delete of a subscription that never reached Graph.
    const store = TableSubscriptionStore.fromConfig(config.storage);
    const unwanted = newManagedSubscription(aDefinition({ tenantId: h.tenantId }), new Date());
    await store.create({ ...unwanted, status: 'deleting' });
    const functions = loadFunctions(settings);
    const now = new Date().toISOString();
    const timer: Timer = {
      isPastDue: false,
      schedule: { adjustForDST: true },
      scheduleStatus: { last: now, next: now, lastUpdated: now },
    };

    const summary: SweepSummary = await functions.sweepSubscriptions(
      timer,
      new InvocationContext({ logHandler: () => undefined }),
    );
    const answer = await invokeHttp(functions.health, { method: 'GET', path: '/api/health' });

    expect(summary.counts).toEqual({ delete: { succeeded: 1 } });
    expect(await TableSweepRecords.fromConfig(config.storage).last()).toEqual(summary);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ healthy: true, total: 0, lastSweep: summary });
  });
});
