import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { settingsCatalog } from '../../shared/config';
import {
  bicepModules,
  bicepParams,
  bicepResources,
  bicepVar,
  objectOf,
  rawOf,
  withoutComments,
  type BicepValue,
} from '../support/bicepText';

/**
 * What can be checked of infra/ and azure.yaml without the Bicep CLI (none is reachable here):
 * the app settings, the identity each Graph credential needs, the settings Flex Consumption
 * rejects, azure.yaml, the role assignments against what the code calls, and the references
 * between the files. docs/deploy.md says what was not verified.
 */

const root = path.join(__dirname, '..', '..');
const infra = path.join(root, 'infra');
const read = (...parts: string[]) => readFileSync(path.join(root, ...parts), 'utf8');

function bicepFiles(dir = infra): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? bicepFiles(path.join(dir, e.name))
      : e.name.endsWith('.bicep')
        ? [path.join(dir, e.name)]
        : [],
  );
}

const api = read('infra', 'app', 'api.bicep');
const main = read('infra', 'main.bicep');
const rbac = read('infra', 'app', 'rbac.bicep');

/** Read by the Functions host and the Application Insights integration, not by our code. */
const platformSettings = [
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
  'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
];
/** Azure's identity-based connection convention: NAME__property. */
const connectionProperties = [
  'accountName',
  'blobServiceUri',
  'queueServiceUri',
  'tableServiceUri',
  'credential',
  'clientId',
];
const graphCredentials = [
  'managedIdentityFederation',
  'clientSecret',
  'clientCertificate',
  'managedIdentity',
];

function keysOf(value: BicepValue): string[] {
  return [...objectOf(value).keys()];
}

const settingVars = ['hostStorageSettings', 'stateSettings', 'monitoringSettings'];
const graphSettings = objectOf(bicepVar(api, 'graphSettingsByCredential'));

/** LIFECYCLE_NOTIFICATION_URL sits in a conditional object: read its text to the next var. */
function lifecycleSettingKeys(): string[] {
  const clean = withoutComments(api);
  const start = clean.indexOf('var lifecycleSettings');
  const end = clean.indexOf('\nvar ', start + 1);
  return [...clean.slice(start, end).matchAll(/^\s*([A-Z][A-Z0-9_]*)\s*:/gm)].map(
    (m) => m[1] ?? '',
  );
}

function settingsFor(credential: string): Map<string, string> {
  const all = new Map<string, string>();
  for (const name of settingVars) {
    for (const [k, v] of objectOf(bicepVar(api, name))) all.set(k, rawOf(v));
  }
  const graph = graphSettings.get(credential);
  if (graph === undefined) throw new Error(`no settings for ${credential}`);
  for (const [k, v] of objectOf(graph)) all.set(k, rawOf(v));
  return all;
}

describe('infra/: app settings', () => {
  test('when the app settings are assembled, then they come from the checked vars only', () => {
    const union = rawOf(bicepVar(api, 'allAppSettings'));
    const args = /^union\(([\s\S]*)\)$/.exec(union)?.[1] ?? union;
    expect(args.split(',').map((a) => a.trim())).toEqual([
      'hostStorageSettings',
      'stateSettings',
      'graphSettingsByCredential[graphCredential]',
      'monitoringSettings',
      'lifecycleSettings',
    ]);
    // Nowhere else are app settings written.
    const writers = bicepFiles().filter((f) =>
      /appSettingsKeyValuePairs|appSettings\s*:|Microsoft\.Web\/sites\/config/.test(
        withoutComments(readFileSync(f, 'utf8')),
      ),
    );
    expect(writers.map((f) => path.relative(infra, f))).toEqual([path.join('app', 'api.bicep')]);
    expect(withoutComments(api)).toMatch(/appSettingsKeyValuePairs:\s*allAppSettings\s*$/m);
  });

  test.each(graphCredentials)(
    'when the Graph credential is %s, then every setting infra sets is one the app or the platform reads',
    (credential) => {
      const catalogue = new Set(settingsCatalog.map((s) => s.name));
      const names = [...settingsFor(credential).keys(), ...lifecycleSettingKeys()];
      const unknown = names.filter((name) => {
        const [base, property, ...rest] = name.split('__');
        if (property !== undefined) {
          return !(
            rest.length === 0 &&
            catalogue.has(base ?? '') &&
            connectionProperties.includes(property)
          );
        }
        return !catalogue.has(name) && !platformSettings.includes(name);
      });
      expect(unknown).toEqual([]);
    },
  );

  test('when LIFECYCLE_NOTIFICATION_URL is known, then it is set, and it is a catalogue setting', () => {
    expect(lifecycleSettingKeys()).toEqual(['LIFECYCLE_NOTIFICATION_URL']);
    expect(settingsCatalog.map((s) => s.name)).toContain('LIFECYCLE_NOTIFICATION_URL');
  });

  test('when state and host storage are reached, then it is over the managed identity', () => {
    const s = settingsFor('managedIdentityFederation');
    expect(s.get('STORAGE_CONNECTION__tableServiceUri')).toMatch(/primaryEndpoints\.table$/);
    expect(s.get('STORAGE_CONNECTION__queueServiceUri')).toMatch(/primaryEndpoints\.queue$/);
    expect(s.get('STORAGE_CONNECTION__credential')).toBe("'managedidentity'");
    expect(s.get('STORAGE_CONNECTION__clientId')).toBe('identityClientId');
    expect(s.get('AzureWebJobsStorage__blobServiceUri')).toMatch(/primaryEndpoints\.blob$/);
    expect(s.get('AzureWebJobsStorage__credential')).toBe("'managedidentity'");
    expect(s.get('AzureWebJobsStorage__clientId')).toBe('identityClientId');
    expect(s.get('APPLICATIONINSIGHTS_AUTHENTICATION_STRING')).toBe(
      "'ClientId=${identityClientId};Authorization=AAD'",
    );
    for (const name of [
      'SUBSCRIPTIONS_TABLE',
      'RESYNC_QUEUE',
      'LIFECYCLE_QUEUE',
      'SWEEP_SCHEDULE',
    ]) {
      expect(s.has(name)).toBe(true);
    }
    // No connection string or account key anywhere.
    expect([...s.keys()]).not.toContain('AzureWebJobsStorage');
    expect([...s.keys()]).not.toContain('STORAGE_CONNECTION');
    expect(withoutComments(read('infra', 'main.bicep'))).toMatch(/allowSharedKeyAccess:\s*false/);
  });

  const needs: Record<string, Record<string, RegExp>> = {
    managedIdentityFederation: {
      GRAPH_CREDENTIAL: /^'managedIdentityFederation'$/,
      GRAPH_TENANT_ID: /^tenant\(\)\.tenantId$/,
      GRAPH_CLIENT_ID: /^graphClientId$/,
      GRAPH_MANAGED_IDENTITY_CLIENT_ID: /^identityClientId$/,
    },
    clientSecret: {
      GRAPH_CREDENTIAL: /^'clientSecret'$/,
      GRAPH_TENANT_ID: /^tenant\(\)\.tenantId$/,
      GRAPH_CLIENT_ID: /^graphClientId$/,
      GRAPH_CLIENT_SECRET:
        /^'@Microsoft\.KeyVault\(SecretUri=\$\{keyVaultUri\}secrets\/[a-z-]+\/\)'$/,
    },
    clientCertificate: {
      GRAPH_CREDENTIAL: /^'clientCertificate'$/,
      GRAPH_TENANT_ID: /^tenant\(\)\.tenantId$/,
      GRAPH_CLIENT_ID: /^graphClientId$/,
      GRAPH_CLIENT_CERTIFICATE:
        /^'@Microsoft\.KeyVault\(SecretUri=\$\{keyVaultUri\}secrets\/[a-z-]+\/\)'$/,
    },
    managedIdentity: {
      GRAPH_CREDENTIAL: /^'managedIdentity'$/,
      GRAPH_MANAGED_IDENTITY_CLIENT_ID: /^identityClientId$/,
    },
  };

  test.each(graphCredentials)(
    'when the Graph credential is %s, then exactly the Graph settings it needs are set',
    (credential) => {
      const graph = objectOf(graphSettings.get(credential) ?? { kind: 'raw', text: '' });
      const expected = needs[credential] ?? {};
      expect(keysOf({ kind: 'object', entries: graph }).sort()).toEqual(
        Object.keys(expected).sort(),
      );
      for (const [name, pattern] of Object.entries(expected)) {
        expect(rawOf(graph.get(name))).toMatch(pattern);
      }
    },
  );

  test('when a credential can be chosen, then main.bicep, api.bicep and the settings agree on the choices', () => {
    expect([...graphSettings.keys()].sort()).toEqual([...graphCredentials].sort());
    for (const source of [main, api]) {
      const allowed = /@allowed\(\[([^\]]*)\]\)\s*param graphCredential/.exec(
        withoutComments(source),
      );
      expect(
        allowed?.[1]
          ?.match(/'(\w+)'/g)
          ?.map((s) => s.slice(1, -1))
          .sort(),
      ).toEqual([...graphCredentials].sort());
    }
    // Key Vault references resolve through the user-assigned identity.
    expect(withoutComments(api)).toMatch(/keyVaultAccessIdentityResourceId:\s*identityId/);
  });

  test('when any infra file is read, then no setting Flex Consumption rejects is set', () => {
    // https://learn.microsoft.com/azure/azure-functions/functions-app-settings#flex-consumption-plan-deprecations
    const rejected = [
      'FUNCTIONS_WORKER_RUNTIME',
      'FUNCTIONS_EXTENSION_VERSION',
      'WEBSITE_RUN_FROM_PACKAGE',
      'WEBSITE_NODE_DEFAULT_VERSION',
      'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
      'WEBSITE_CONTENTSHARE',
      'FUNCTIONS_WORKER_RUNTIME_VERSION',
      'AzureWebJobsStorage__fileServiceUri',
    ];
    const files = [...bicepFiles(), path.join(infra, 'main.parameters.json')];
    for (const file of files) {
      const text = withoutComments(readFileSync(file, 'utf8'));
      expect({
        file: path.relative(root, file),
        found: rejected.filter((r) => text.includes(r)),
      }).toEqual({
        file: path.relative(root, file),
        found: [],
      });
    }
    for (const credential of graphCredentials) {
      expect([...settingsFor(credential).keys()].filter((k) => rejected.includes(k))).toEqual([]);
    }
  });
});

describe('infra/: the function app', () => {
  test('when the site is declared, then it is Flex Consumption on Node 24 with warm HTTP functions', () => {
    const clean = withoutComments(api);
    expect(clean).toMatch(/runtime:\s*\{\s*name:\s*'node'\s*version:\s*'24'\s*\}/);
    expect(clean).toMatch(
      /alwaysReady:\s*\[\s*\{\s*name:\s*'http'\s*instanceCount:\s*alwaysReadyHttpInstances/,
    );
    expect(withoutComments(main)).toMatch(/name:\s*'FC1'\s*tier:\s*'FlexConsumption'/);
    const max = Number(bicepParams(api).get('maximumInstanceCount'));
    expect(max).toBeGreaterThan(0);
    expect(max).toBeLessThanOrEqual(40);
    // The reason sits beside it.
    expect(api).toMatch(/write pacer[\s\S]{0,600}param maximumInstanceCount/);
    expect(Number(bicepParams(api).get('alwaysReadyHttpInstances'))).toBeGreaterThanOrEqual(1);
  });

  test('when App Service checks health, then the path is an anonymous route of the app', () => {
    const healthPath = /healthCheckPath:\s*'([^']+)'/.exec(withoutComments(api))?.[1];
    expect(healthPath).toBe('/api/live');
    const sources = readdirSync(path.join(root, 'functions'))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => read('functions', f));
    const route = healthPath?.replace(/^\/api\//, '');
    expect(
      sources.some((s) =>
        new RegExp(`route:\\s*'${route}',[\\s\\S]{0,200}authLevel:\\s*'anonymous'`).test(s),
      ),
    ).toBe(true);
  });

  test('when monitoring is declared, then ingestion is Entra-only and the Key Vault uses RBAC', () => {
    expect(withoutComments(main)).toMatch(/disableLocalAuth:\s*true/);
    expect(withoutComments(read('infra', 'app', 'keyVault.bicep'))).toMatch(
      /enableRbacAuthorization:\s*true/,
    );
  });
});

describe('infra/: role assignments', () => {
  // Built-in role ids: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
  const builtIn: Record<string, string> = {
    'b7e6dc6d-f1e8-4753-8033-0f276bb0955b': 'Storage Blob Data Owner',
    '974c5e8b-45b9-4653-ba55-5f855dd0fb88': 'Storage Queue Data Contributor',
    '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3': 'Storage Table Data Contributor',
    '3913510d-42f4-4e42-8a64-420c390055eb': 'Monitoring Metrics Publisher',
    '4633458b-17de-408a-b874-0445c86b69e6': 'Key Vault Secrets User',
    '21090545-7ca7-4776-b22c-e363652d74d2': 'Key Vault Reader',
  };
  const roles = new Map(
    [...objectOf(bicepVar(rbac, 'roles'))].map(([k, v]) => [k, rawOf(v).replace(/'/g, '')]),
  );
  const roleName = (ref: string) => builtIn[roles.get(ref.replace(/^roles\./, '')) ?? ''] ?? ref;

  /** Every role the managed identity gets, by built-in name. */
  function rolesOfApp(): string[] {
    const list = bicepVar(rbac, 'storageRolesOfApp');
    if (list.kind !== 'array') throw new Error('storageRolesOfApp is not an array');
    const single = [
      ...withoutComments(rbac).matchAll(/principalId:\s*managedIdentityPrincipalId/g),
    ];
    const singles = [
      ...withoutComments(rbac).matchAll(
        /guid\(\w+\.id, managedIdentityPrincipalId, (roles\.\w+)\)/g,
      ),
    ].map((m) => m[1] ?? '');
    // One loop over storageRolesOfApp plus one resource per single role.
    expect(single.length).toBe(1 + singles.length);
    return [...list.items.map((i) => rawOf(i)), ...singles].map(roleName).sort();
  }

  test('when role ids are written, then each is the built-in role its name says', () => {
    for (const [name, id] of roles) {
      expect({ name, known: builtIn[id] !== undefined }).toEqual({ name, known: true });
    }
  });

  test('when the code and the host call storage, monitoring and Key Vault, then the identity has exactly those roles', () => {
    const shared = (dir: string): string =>
      readdirSync(path.join(root, 'shared', dir))
        .filter((f) => f.endsWith('.ts'))
        .map((f) => read('shared', dir, f))
        .join('\n');
    const code = ['store', 'resync', 'graph', 'lifecycle', 'renewal', 'operations', 'certificates']
      .map(shared)
      .join('\n');
    const expected = [
      // The Functions host on Flex Consumption: the deployment container and the timer's locks.
      'Storage Blob Data Owner',
      // Application Insights with local authentication disabled.
      'Monitoring Metrics Publisher',
      // Key Vault references of the clientSecret and clientCertificate credentials.
      'Key Vault Secrets User',
    ];
    if (code.includes("from '@azure/data-tables'")) expected.push('Storage Table Data Contributor');
    // Encryption certificates read from Key Vault (public part only).
    if (code.includes("from '@azure/keyvault-certificates'")) expected.push('Key Vault Reader');
    if (code.includes("from '@azure/storage-queue'"))
      expected.push('Storage Queue Data Contributor');
    // Our code never reaches blobs or files itself: the blob role is the host's alone.
    expect(code).not.toMatch(/from '@azure\/storage-(blob|file-share)'/);
    expect(rolesOfApp()).toEqual(expected.sort());
  });

  test('when any infra file assigns a role, then it is in rbac.bicep', () => {
    const assigning = bicepFiles().filter((f) =>
      bicepResources(readFileSync(f, 'utf8')).some((r) =>
        r.type.startsWith('Microsoft.Authorization/roleAssignments'),
      ),
    );
    expect(assigning.map((f) => path.relative(infra, f))).toEqual([path.join('app', 'rbac.bicep')]);
  });
});

describe('infra/: files and references', () => {
  test('when main.bicep uses modules and loads files, then each local one exists', () => {
    for (const file of bicepFiles()) {
      const source = readFileSync(file, 'utf8');
      for (const m of bicepModules(source)) {
        if (m.path.startsWith('br/') || m.path.startsWith('br:')) {
          expect(m.path).toMatch(/^br\/public:avm\/res\/[\w/-]+:\d+\.\d+\.\d+$/);
        } else {
          expect(existsSync(path.join(path.dirname(file), m.path))).toBe(true);
        }
      }
      for (const m of withoutComments(source).matchAll(/load(?:Text|Json)Content\('([^']+)'\)/g)) {
        expect(existsSync(path.join(path.dirname(file), m[1] ?? ''))).toBe(true);
      }
    }
    const workbook = JSON.parse(read('infra', 'workbook.json')) as { items: unknown[] };
    expect(workbook.items.length).toBeGreaterThan(4);
  });

  test('when azd passes parameters, then each is a main.bicep parameter and each required one is passed', () => {
    const file = JSON.parse(read('infra', 'main.parameters.json')) as {
      parameters: Record<string, { value: string }>;
    };
    const params = bicepParams(main);
    for (const name of Object.keys(file.parameters)) expect(params.has(name)).toBe(true);
    for (const [name, fallback] of params) {
      if (fallback === undefined) expect(Object.keys(file.parameters)).toContain(name);
    }
  });

  test('when a module uses the Graph extension, then bicepconfig.json names it', () => {
    const config = JSON.parse(read('infra', 'bicepconfig.json')) as {
      extensions: Record<string, string>;
    };
    const graphApp = withoutComments(read('infra', 'app', 'graphApp.bicep'));
    expect(graphApp).toMatch(/^extension microsoftGraphV1$/m);
    expect(config.extensions.microsoftGraphV1).toMatch(
      /^br:mcr\.microsoft\.com\/bicep\/extensions\/microsoftgraph\/v1\.0:\d+\.\d+\.\d+/,
    );
    const types = bicepResources(graphApp).map((r) => r.type);
    expect(types).toEqual(
      expect.arrayContaining([
        'Microsoft.Graph/applications@v1.0',
        'federatedIdentityCredentials@v1.0',
        'Microsoft.Graph/servicePrincipals@v1.0',
        'Microsoft.Graph/appRoleAssignedTo@v1.0',
      ]),
    );
    // The federated credential trusts the managed identity, for Entra's token exchange audience.
    expect(graphApp).toMatch(/subject:\s*managedIdentityPrincipalId/);
    expect(graphApp).toMatch(/audiences:\s*\['api:\/\/AzureADTokenExchange'\]/);
  });
});

describe('azure.yaml', () => {
  const doc = parseYaml(read('azure.yaml')) as {
    name?: string;
    services?: Record<string, { project?: string; language?: string; host?: string }>;
    hooks?: Record<string, Record<string, { shell?: string; run?: string }>>;
  };

  test('when parsed, then it names one service: TypeScript on Azure Functions from this folder', () => {
    expect(doc.name).toBe('graph-subscription-keeper');
    expect(Object.keys(doc.services ?? {})).toEqual(['api']);
    expect(doc.services?.api).toMatchObject({ project: '.', language: 'ts', host: 'function' });
    // The service name matches the tag azd finds the app by.
    expect(api).toMatch(/'azd-service-name': 'api'/);
  });

  test('when deployed, then the postdeploy hook has a script for each shell and each exists', () => {
    const hook = doc.hooks?.postdeploy ?? {};
    expect(Object.keys(hook).sort()).toEqual(['posix', 'windows']);
    for (const entry of Object.values(hook)) {
      expect(existsSync(path.join(root, entry.run ?? 'missing'))).toBe(true);
    }
    for (const script of ['postdeploy.sh', 'postdeploy.ps1']) {
      const text = read('infra', 'hooks', script);
      expect(text).toMatch(/--function-name lifecycleNotifications/);
      expect(text).toMatch(/LIFECYCLE_NOTIFICATION_URL/);
      // The key is never echoed: the only line that prints shows `code=...`.
      expect(text).not.toMatch(/(echo|Write-Host)[^\n]*\$\{?(url|key)\b/i);
    }
    // The hook's URL is the lifecycle function's route.
    expect(read('functions', 'lifecycleNotifications.ts')).toMatch(/route: 'lifecycle'/);
  });

  test('when azd reads outputs, then the hook variables are main.bicep outputs', () => {
    for (const name of ['AZURE_RESOURCE_GROUP', 'AZURE_FUNCTION_NAME']) {
      expect(main).toMatch(new RegExp(`^output ${name} `, 'm'));
    }
  });
});
