import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ConfigError, isConfigError, loadConfig, settingsCatalog } from '../../shared/config';
import { knownSecret } from '../../devkit/testLogSink';

const root = path.join(__dirname, '..', '..');
const minimal = { STORAGE_CONNECTION: 'UseDevelopmentStorage=true' };

function configErrorOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (e) {
    if (isConfigError(e)) return e;
    throw e;
  }
  throw new Error('expected loadConfig to throw');
}

describe('loadConfig', () => {
  test('when only storage is set, then every other setting takes its documented default', () => {
    const config = loadConfig(minimal);
    expect(config).toEqual({
      storage: {
        connection: 'UseDevelopmentStorage=true',
        table: 'subscriptions',
        resyncQueue: 'subscription-resync',
      },
      graph: { cloud: 'global', baseUrl: undefined, apiVersion: 'v1.0' },
      identity: {
        tenantId: undefined,
        clientId: undefined,
        clientSecret: undefined,
        clientCertificatePath: undefined,
        authorityHost: undefined,
        disableInstanceDiscovery: false,
      },
      lifecycleNotificationUrl: undefined,
      sweep: {
        schedule: '0 */5 * * * *',
        periodMs: 300_000,
        renewalMarginMs: 300_000,
        tenantWritesPer20s: 450,
        appWritesPer20s: 1800,
        concurrencyPerTenant: 8,
        tenantsInParallel: 16,
      },
      graphTimeoutMs: 30_000,
      lifecycle: { inlineBudgetMs: 2000, maxBodyBytes: 1_048_576 },
      drift: {
        deploymentId: expect.stringMatching(/^d[0-9a-f]{15}$/) as unknown,
        schedule: '0 0 * * * *',
        periodMs: 3_600_000,
      },
    });
  });

  test('when three settings are bad at once, then one error names all three', () => {
    const error = configErrorOf({
      ...minimal,
      GRAPH_CLOUD: 'mars',
      GRAPH_BASE_URL: 'http://graph.example',
      SUBSCRIPTIONS_TABLE: '1-bad',
    });
    expect(error.problems.map((p) => p.key).sort()).toEqual([
      'GRAPH_BASE_URL',
      'GRAPH_CLOUD',
      'SUBSCRIPTIONS_TABLE',
    ]);
    expect(error.message).toMatch(/GRAPH_CLOUD: must be one of global, usgov, usgovdod, china/);
    expect(error.message).toMatch(/GRAPH_BASE_URL: must be an absolute https:\/\/ URL/);
    expect(error.message).toMatch(/SUBSCRIPTIONS_TABLE: must be 3 to 63 letters or digits/);
  });

  test('when a field and a cross-setting rule fail together, then both are named', () => {
    const error = configErrorOf({
      GRAPH_CLOUD: 'mars',
      AZURE_CLIENT_SECRET: knownSecret('clientSecret', 'not-a-real-secret'),
    });
    expect(error.problems.map((p) => p.key).sort()).toEqual([
      'AZURE_CLIENT_ID',
      'AZURE_TENANT_ID',
      'GRAPH_CLOUD',
      'STORAGE_CONNECTION',
    ]);
  });

  test('when storage is missing, then the error says how to point at Azurite', () => {
    const error = configErrorOf({});
    expect(error.problems).toEqual([expect.objectContaining({ key: 'STORAGE_CONNECTION' })]);
    expect(error.message).toContain('UseDevelopmentStorage=true');
  });

  test('when STORAGE_CONNECTION is unset, then AzureWebJobsStorage is used', () => {
    expect(
      loadConfig({ AzureWebJobsStorage: 'UseDevelopmentStorage=true' }).storage.connection,
    ).toBe('UseDevelopmentStorage=true');
  });

  test('when a setting is an empty string, then it counts as unset', () => {
    const config = loadConfig({ ...minimal, GRAPH_CLOUD: '', LIFECYCLE_NOTIFICATION_URL: ' ' });
    expect(config.graph.cloud).toBe('global');
    expect(config.lifecycleNotificationUrl).toBeUndefined();
  });

  test('when a client secret is set without tenant and client id, then both are named', () => {
    const error = configErrorOf({
      ...minimal,
      AZURE_CLIENT_SECRET: knownSecret('clientSecret', 'not-a-real-secret-value'),
    });
    expect(error.problems.map((p) => p.key).sort()).toEqual(['AZURE_CLIENT_ID', 'AZURE_TENANT_ID']);
  });

  test('when a secret setting is invalid, then its value never appears in the error', () => {
    const secret = 'http://user:hunter2-secret@lifecycle.example/api';
    const error = configErrorOf({ ...minimal, LIFECYCLE_NOTIFICATION_URL: secret });
    expect(error.problems.map((p) => p.key)).toEqual(['LIFECYCLE_NOTIFICATION_URL']);
    expect(error.message).not.toContain('hunter2');
  });

  test.each([
    ['AZURE_DISABLE_INSTANCE_DISCOVERY', 'yes', /must be true or false/],
    ['GRAPH_API_VERSION', 'v2.0', /must be one of v1.0, beta/],
    ['SWEEP_SCHEDULE', '*/5 * * * *', /six fields/],
    ['AZURE_AUTHORITY_HOST', 'login.microsoftonline.us', /https/],
    ['SWEEP_SCHEDULE', '0 0 * * * *', /at least every 15 minutes/],
    ['SWEEP_SCHEDULE', '0 */5 * * * 1-5', /every day/],
    ['GRAPH_TENANT_WRITES_PER_20S', '600', /at most 500/],
    ['RENEWAL_MARGIN_MINUTES', 'five', /whole number/],
    ['SWEEP_CONCURRENCY_PER_TENANT', '0', /at least 1/],
  ])('when %s is %p, then it is rejected with a reason', (key, value, reason) => {
    const error = configErrorOf({ ...minimal, [key]: value });
    expect(error.problems).toEqual([{ key, message: expect.stringMatching(reason) as string }]);
  });

  test('when settings are valid, then the config is frozen', () => {
    const config = loadConfig({ ...minimal, AZURE_DISABLE_INSTANCE_DISCOVERY: 'TRUE' });
    expect(config.identity.disableInstanceDiscovery).toBe(true);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.graph)).toBe(true);
  });
});

describe('settings documentation', () => {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const sample = JSON.parse(
    readFileSync(path.join(root, 'local.settings.sample.json'), 'utf8'),
  ) as {
    Values: Record<string, string>;
  };

  test.each(settingsCatalog.map((s) => [s.name]))(
    'when %s is a setting, then the README table and the sample settings carry it',
    (name) => {
      expect(readme).toMatch(new RegExp(`^\\| \`${name}\` \\|`, 'm'));
      expect(Object.keys(sample.Values)).toContain(name);
    },
  );

  test('when the sample settings are loaded, then they are valid and point at Azurite', () => {
    const config = loadConfig(sample.Values);
    expect(config.storage.connection).toBe('UseDevelopmentStorage=true');
  });
});
