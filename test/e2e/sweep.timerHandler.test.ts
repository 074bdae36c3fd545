import { randomUUID } from 'node:crypto';
import { InvocationContext, type LogLevel, type Timer } from '@azure/functions';
import { loadConfig, type Config } from '../../shared/config';
import { TableSubscriptionStore } from '../../shared/store/tableSubscriptionStore';
import { parseLogLine } from '../../shared/logger';
import {
  subscriptionDefinitionSchema,
  type SubscriptionDefinition,
} from '../../shared/subscriptions/model';
import { newManagedSubscription } from '../../shared/subscriptions/newSubscription';
import {
  azuriteConnectionString,
  harnessTenant,
  simulatorAppSettings,
  uniqueTableName,
} from '../../devkit/appHarness';
import { startGraphSimulator, type GraphSimulator } from '../../devkit/graphSimulator';

/**
 * The timer handler as the Functions host calls it: the exported `sweepSubscriptions` with a
 * real `InvocationContext`, its dependencies built by the composition root from `process.env`.
 *
 * NOTE: the composition root has no setting for an extra trusted CA, so the handler's Graph
 * client cannot trust the simulator's certificate (NODE_EXTRA_CA_CERTS is read only when a
 * process starts). These tests therefore use rows the sweep settles without calling Graph: an
 * invalid definition (refused before any call) and a delete of a row that never reached Graph.
 * Renewals through the handler are covered by the harness-based sweep tests.
 */

type SweepModule = typeof import('../../functions/sweepSubscriptions');

interface ContextLine {
  readonly level: LogLevel;
  readonly args: readonly unknown[];
}

const savedEnv = { ...process.env };
let sim: GraphSimulator;
let env: Record<string, string>;
let config: Config;
let store: TableSubscriptionStore;

beforeEach(async () => {
  sim = await startGraphSimulator();
  env = {
    STORAGE_CONNECTION: azuriteConnectionString(),
    SUBSCRIPTIONS_TABLE: uniqueTableName(),
    ...simulatorAppSettings(sim),
    LIFECYCLE_NOTIFICATION_URL: 'https://keeper.example.com/api/lifecycle?code=function-key',
  };
  config = loadConfig(env);
  store = TableSubscriptionStore.fromConfig(config.storage);
});

afterEach(async () => {
  restoreEnv();
  await sim.stop();
});

function restoreEnv(): void {
  for (const name of Object.keys(process.env)) {
    if (!(name in savedEnv)) Reflect.deleteProperty(process.env, name);
  }
  Object.assign(process.env, savedEnv);
}

/** Loads the function file afresh with `settings` as the app settings, as a worker would. */
function loadSweepFunction(settings: Readonly<Record<string, string>>): SweepModule {
  Object.assign(process.env, settings);
  let loaded: SweepModule | undefined;
  // NOTE: @azure/functions warns once that it runs outside the host ("test mode").
  const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  try {
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded after the settings are set
      loaded = require('../../functions/sweepSubscriptions') as SweepModule;
    });
  } finally {
    warn.mockRestore();
  }
  if (loaded === undefined) throw new Error('functions/sweepSubscriptions did not load');
  return loaded;
}

function definition(
  overrides: Partial<SubscriptionDefinition> & { key: string },
): SubscriptionDefinition {
  return subscriptionDefinitionSchema.parse({
    tenantId: harnessTenant,
    resource: `users/${randomUUID()}/messages`,
    changeType: 'created,updated',
    notificationUrl: 'https://hooks.example.com/api/notify',
    lifecycleNotificationUrl: config.lifecycleNotificationUrl,
    ...overrides,
  });
}

function timer(isPastDue: boolean): Timer {
  const now = new Date().toISOString();
  return {
    isPastDue,
    schedule: { adjustForDST: true },
    scheduleStatus: { last: now, next: now, lastUpdated: now },
  };
}

describe('timer handler: sweepSubscriptions', () => {
  test('when the timer fires, then the handler sweeps the configured table and logs each outcome through the invocation', async () => {
    const now = new Date();
    const invalid = await store.create(
      newManagedSubscription(definition({ key: 'invalid', lifetimeMinutes: 999_999 }), now),
    );
    const pending = await store.create(
      newManagedSubscription(definition({ key: 'unwanted' }), now),
    );
    const { etag, ...unwanted } = pending;
    await store.update({ ...unwanted, status: 'deleting' }, etag);
    const later = newManagedSubscription(definition({ key: 'later' }), now);
    await store.create({ ...later, nextActionAt: new Date(now.getTime() + 3_600_000) });
    const lines: ContextLine[] = [];
    const context = new InvocationContext({
      functionName: 'sweepSubscriptions',
      logHandler: (level, ...args) => {
        lines.push({ level, args });
      },
    });
    const { sweepSubscriptions } = loadSweepFunction(env);

    const summary = await sweepSubscriptions(timer(true), context);

    expect(summary).toMatchObject({
      due: 2,
      unexpectedErrors: 0,
      counts: { create: { failed: 1 }, delete: { succeeded: 1 } },
    });
    const failed = await store.get(harnessTenant, 'invalid');
    expect(failed).toMatchObject({ status: 'failed', graphSubscriptionId: undefined });
    expect(failed?.lastError?.code).toBe('InvalidDefinition');
    expect(await store.get(harnessTenant, 'unwanted')).toBeUndefined();
    expect((await store.get(harnessTenant, 'later'))?.status).toBe('pending');
    expect(sim.calls().filter((c) => c.kind !== 'token' && c.kind !== 'other')).toEqual([]);

    expect(lines).toContainEqual({ level: 'warning', args: ['sweep is running late (past due)'] });
    const outcomes = lines
      .map((l) => (typeof l.args[0] === 'string' ? parseLogLine(l.args[0]).properties : undefined))
      .filter((p): p is Readonly<Record<string, unknown>> => p !== undefined)
      .filter((p) => typeof p.key === 'string');
    expect(outcomes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          tenantId: harnessTenant,
          key: 'invalid',
          action: 'create',
          outcome: 'failed',
          code: 'InvalidDefinition',
        }),
        expect.objectContaining({
          tenantId: harnessTenant,
          key: 'unwanted',
          action: 'delete',
          outcome: 'succeeded',
        }),
      ]),
    );
    for (const properties of outcomes) {
      expect(Object.keys(properties)).toEqual(
        expect.arrayContaining(['tenantId', 'key', 'graphId', 'action', 'outcome', 'ms']),
      );
    }
    const logged = JSON.stringify(lines);
    expect(logged).not.toContain(invalid.clientState);
    expect(logged).not.toContain(pending.clientState);
    expect(logged).not.toContain(sim.clientSecret);
  });

  test('when the timer is on time, then no past-due warning is logged', async () => {
    const lines: ContextLine[] = [];
    const context = new InvocationContext({
      logHandler: (level, ...args) => {
        lines.push({ level, args });
      },
    });
    const { sweepSubscriptions } = loadSweepFunction(env);

    const summary = await sweepSubscriptions(timer(false), context);

    expect(summary.due).toBe(0);
    expect(lines.filter((l) => l.level === 'warning')).toEqual([]);
  });

  test('when a setting is invalid, then the function still loads and its run fails naming the bad keys', async () => {
    const withoutStorage = Object.fromEntries(
      Object.entries(env).filter(([name]) => name !== 'STORAGE_CONNECTION'),
    );
    Reflect.deleteProperty(process.env, 'STORAGE_CONNECTION');
    Reflect.deleteProperty(process.env, 'AzureWebJobsStorage');

    const { sweepSubscriptions } = loadSweepFunction({
      ...withoutStorage,
      SWEEP_SCHEDULE: '0 0 */2 * * *',
    });
    let failure: unknown;
    try {
      await sweepSubscriptions(timer(false), new InvocationContext());
    } catch (e) {
      failure = e;
    }

    // NOTE: the module was loaded in its own registry, so its ConfigError is another class.
    expect(failure).toMatchObject({ name: 'ConfigError' });
    const message = failure instanceof Error ? failure.message : '';
    expect(message).toContain('STORAGE_CONNECTION');
    expect(message).toContain('SWEEP_SCHEDULE');
    expect(message).not.toContain(sim.clientSecret);
  });
});
