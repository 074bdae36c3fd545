import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  ConfigError,
  isConfigError,
  loadConfig,
  settingsCatalog,
  sweepScheduleFor,
} from '../../shared/config';
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
        connection: {
          kind: 'connectionString',
          setting: 'STORAGE_CONNECTION',
          connectionString: 'UseDevelopmentStorage=true',
        },
        table: 'subscriptions',
        resyncQueue: 'subscription-resync',
        lifecycleQueue: 'lifecycle-intake',
      },
      graph: { cloud: 'global', baseUrl: undefined, apiVersion: 'v1.0' },
      identity: {
        credential: 'managedIdentity',
        credentialChosenBy: 'inferred',
        tenantId: undefined,
        clientId: undefined,
        clientSecret: undefined,
        clientCertificatePath: undefined,
        clientCertificate: undefined,
        managedIdentityClientId: undefined,
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
      GRAPH_CLIENT_SECRET: knownSecret('clientSecret', 'not-a-real-secret'),
    });
    expect(error.problems.map((p) => p.key).sort()).toEqual([
      'GRAPH_CLIENT_ID',
      'GRAPH_CLOUD',
      'GRAPH_TENANT_ID',
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
    ).toEqual({
      kind: 'connectionString',
      setting: 'AzureWebJobsStorage',
      connectionString: 'UseDevelopmentStorage=true',
    });
  });

  test('when a setting is an empty string, then it counts as unset', () => {
    const config = loadConfig({ ...minimal, GRAPH_CLOUD: '', LIFECYCLE_NOTIFICATION_URL: ' ' });
    expect(config.graph.cloud).toBe('global');
    expect(config.lifecycleNotificationUrl).toBeUndefined();
  });

  test('when a client secret is set without tenant and client id, then both are named', () => {
    const error = configErrorOf({
      ...minimal,
      GRAPH_CLIENT_SECRET: knownSecret('clientSecret', 'not-a-real-secret-value'),
    });
    expect(error.problems.map((p) => p.key).sort()).toEqual(['GRAPH_CLIENT_ID', 'GRAPH_TENANT_ID']);
  });

  test('when a secret setting is invalid, then its value never appears in the error', () => {
    const secret = 'http://user:hunter2-secret@lifecycle.example/api';
    const error = configErrorOf({ ...minimal, LIFECYCLE_NOTIFICATION_URL: secret });
    expect(error.problems.map((p) => p.key)).toEqual(['LIFECYCLE_NOTIFICATION_URL']);
    expect(error.message).not.toContain('hunter2');
  });

  test.each([
    ['GRAPH_DISABLE_INSTANCE_DISCOVERY', 'yes', /must be true or false/],
    ['GRAPH_API_VERSION', 'v2.0', /must be one of v1.0, beta/],
    ['SWEEP_SCHEDULE', '*/5 * * * *', /six fields/],
    ['GRAPH_AUTHORITY_HOST', 'login.microsoftonline.us', /https/],
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
    const config = loadConfig({ ...minimal, GRAPH_DISABLE_INSTANCE_DISCOVERY: 'TRUE' });
    expect(config.identity.disableInstanceDiscovery).toBe(true);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.graph)).toBe(true);
  });
});

const tenant = '84bd8158-6d4d-4958-8b9f-9d6445542f95';
const appId = '00000000-0000-4000-8000-000000000001';
const identityId = '00000000-0000-4000-8000-0000000000aa';

describe('loadConfig: storage as Azure sets it up', () => {
  test('when only the Flex Consumption host storage settings are set, then the state account is reached by that managed identity', () => {
    const config = loadConfig({
      AzureWebJobsStorage__accountName: 'keeperstate',
      AzureWebJobsStorage__credential: 'managedidentity',
      AzureWebJobsStorage__clientId: identityId,
    });
    expect(config.storage.connection).toEqual({
      kind: 'managedIdentity',
      setting: 'AzureWebJobsStorage',
      tableServiceUri: 'https://keeperstate.table.core.windows.net',
      queueServiceUri: 'https://keeperstate.queue.core.windows.net',
      clientId: identityId,
    });
  });

  test('when any STORAGE_CONNECTION field is set, then AzureWebJobsStorage is not used for state', () => {
    const config = loadConfig({
      AzureWebJobsStorage: 'UseDevelopmentStorage=true',
      STORAGE_CONNECTION__tableServiceUri: 'https://state.table.core.usgovcloudapi.net/',
      STORAGE_CONNECTION__queueServiceUri: 'https://state.queue.core.usgovcloudapi.net',
    });
    expect(config.storage.connection).toEqual({
      kind: 'managedIdentity',
      setting: 'STORAGE_CONNECTION',
      tableServiceUri: 'https://state.table.core.usgovcloudapi.net',
      queueServiceUri: 'https://state.queue.core.usgovcloudapi.net',
      clientId: undefined,
    });
  });

  test('when the identity-based fields are incomplete or wrong, then each is named', () => {
    const error = configErrorOf({
      STORAGE_CONNECTION__tableServiceUri: 'https://state.table.core.windows.net',
      STORAGE_CONNECTION__credential: 'connectionstring',
      STORAGE_CONNECTION__clientId: 'not-a-guid',
    });
    expect(error.problems.map((p) => p.key).sort()).toEqual([
      'STORAGE_CONNECTION__clientId',
      'STORAGE_CONNECTION__credential',
      'STORAGE_CONNECTION__queueServiceUri',
    ]);
  });

  test('when STORAGE_CONNECTION is a bare service URI, then it is refused with the identity-based names', () => {
    const error = configErrorOf({ STORAGE_CONNECTION: 'https://state.table.core.windows.net' });
    expect(error.problems).toEqual([
      { key: 'STORAGE_CONNECTION', message: expect.stringMatching(/__tableServiceUri/) as string },
    ]);
  });
});

describe('loadConfig: Key Vault references', () => {
  test('when secrets are unresolved Key Vault references, then each is named and none is used', () => {
    const reference = '@Microsoft.KeyVault(VaultName=kv;SecretName=graph-secret)';
    const error = configErrorOf({
      ...minimal,
      GRAPH_CREDENTIAL: 'clientSecret',
      GRAPH_TENANT_ID: tenant,
      GRAPH_CLIENT_ID: appId,
      GRAPH_CLIENT_SECRET: reference,
      LIFECYCLE_NOTIFICATION_URL: reference,
    });
    expect(error.problems).toEqual([
      {
        key: 'GRAPH_CLIENT_SECRET',
        message: expect.stringMatching(/Key Vault reference/) as string,
      },
      {
        key: 'LIFECYCLE_NOTIFICATION_URL',
        message: expect.stringMatching(/Key Vault reference/) as string,
      },
    ]);
    expect(error.message).not.toContain('graph-secret');
  });

  test('when the storage connection is an unresolved reference, then it is named', () => {
    const error = configErrorOf({
      STORAGE_CONNECTION: '@Microsoft.KeyVault(SecretUri=https://kv/x)',
    });
    expect(error.problems.map((p) => p.key)).toContain('STORAGE_CONNECTION');
    expect(error.problems[0]?.message).toMatch(/Key Vault reference/);
  });
});

describe('loadConfig: the Graph credential', () => {
  test.each([
    [{ GRAPH_CLIENT_ID: appId, GRAPH_CLIENT_SECRET: 'x-secret-x' }, 'clientSecret'],
    [
      { GRAPH_CLIENT_ID: appId, GRAPH_CLIENT_CERTIFICATE_PATH: '/certs/app.pem' },
      'clientCertificate',
    ],
    [
      { GRAPH_CLIENT_ID: appId, GRAPH_MANAGED_IDENTITY_CLIENT_ID: identityId },
      'managedIdentityFederation',
    ],
    [{ GRAPH_MANAGED_IDENTITY_CLIENT_ID: identityId }, 'managedIdentity'],
  ])('when GRAPH_CREDENTIAL is empty and %p is set, then %s is inferred', (settings, kind) => {
    const config = loadConfig({ ...minimal, GRAPH_TENANT_ID: tenant, ...settings });
    expect(config.identity.credential).toBe(kind);
    expect(config.identity.credentialChosenBy).toBe('inferred');
  });

  test('when the federated credential lacks its managed identity, then that setting is named', () => {
    const error = configErrorOf({
      ...minimal,
      GRAPH_CREDENTIAL: 'managedIdentityFederation',
      GRAPH_TENANT_ID: tenant,
      GRAPH_CLIENT_ID: appId,
      GRAPH_CLIENT_SECRET: 'left-over-secret',
    });
    expect(error.problems.map((p) => p.key).sort()).toEqual([
      'GRAPH_CLIENT_SECRET',
      'GRAPH_MANAGED_IDENTITY_CLIENT_ID',
    ]);
    expect(error.message).not.toContain('left-over-secret');
  });

  test('when a plain managed identity is given the app registration id, then it is refused as ambiguous', () => {
    const error = configErrorOf({
      ...minimal,
      GRAPH_CREDENTIAL: 'managedIdentity',
      GRAPH_TENANT_ID: tenant,
      GRAPH_CLIENT_ID: appId,
    });
    expect(error.problems).toEqual([
      { key: 'GRAPH_CLIENT_ID', message: expect.stringMatching(/not used/) as string },
    ]);
  });

  test('when a certificate is given both as a path and as PEM text, then it is refused', () => {
    const pem =
      '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n';
    const error = configErrorOf({
      ...minimal,
      GRAPH_TENANT_ID: tenant,
      GRAPH_CLIENT_ID: appId,
      GRAPH_CLIENT_CERTIFICATE: pem,
      GRAPH_CLIENT_CERTIFICATE_PATH: '/certs/app.pem',
    });
    expect(error.problems.map((p) => p.key)).toEqual(['GRAPH_CLIENT_CERTIFICATE']);
  });
});

describe('sweepScheduleFor', () => {
  test.each([
    [undefined, '0 */5 * * * *'],
    ['', '0 */5 * * * *'],
    ['0 */10 * * * *', '0 */10 * * * *'],
    ['0 */30 * * * *', '0 */5 * * * *'],
    ['often', '0 */5 * * * *'],
  ])('when SWEEP_SCHEDULE is %p, then the timer gets %p without throwing', (value, schedule) => {
    expect(sweepScheduleFor(value === undefined ? {} : { SWEEP_SCHEDULE: value })).toBe(schedule);
  });
});

describe('settings documentation', () => {
  const settingsDoc = readFileSync(path.join(root, 'docs', 'settings.md'), 'utf8');
  const sample = JSON.parse(
    readFileSync(path.join(root, 'local.settings.sample.json'), 'utf8'),
  ) as {
    Values: Record<string, string>;
  };

  test.each(settingsCatalog.map((s) => [s.name]))(
    'when %s is a setting, then docs/settings.md describes it once and the sample settings carry it',
    (name) => {
      const rows = settingsDoc.match(new RegExp(`^\\| \`${name}\` \\|`, 'gm')) ?? [];
      expect(rows).toHaveLength(1);
      expect(Object.keys(sample.Values)).toContain(name);
    },
  );

  test('when the sample settings are loaded, then they are valid and point at Azurite', () => {
    const config = loadConfig(sample.Values);
    expect(config.storage.connection).toEqual(
      expect.objectContaining({ connectionString: 'UseDevelopmentStorage=true' }),
    );
  });
});
