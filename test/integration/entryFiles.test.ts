/* eslint-disable @typescript-eslint/no-require-imports -- the compiled entry files are loaded
   one configuration at a time, each in a fresh module registry, as the worker loads them. */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { globSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import type * as functionsLibrary from '@azure/functions';

/**
 * Every entry file that `package.json` `main` names is loaded into one registry, the way the
 * Azure Functions Node worker loads them, under settings that are missing, wrong, or shaped the
 * way Azure writes them (identity-based host storage, unresolved Key Vault references). Since
 * Node 20 the worker treats any load error as blocking and the host then indexes no function at
 * all, so the files must load and register whatever the settings say.
 *
 * The worker's side is `@azure/functions-core`, the module through which the library registers
 * each function (`registerFunction(metadata, handler)`); a stand-in for it records them. The
 * library itself and our modules run unchanged. The sources are compiled first, so what is
 * loaded is what would be deployed; a new function file is covered as soon as `main` matches it.
 */

const root = path.join(__dirname, '..', '..');
const outDir = path.join(root, 'node_modules', '.cache', `entry-files-${randomUUID()}`);

interface Registration {
  readonly name: string;
  readonly bindings: Record<string, { readonly type: string } & Record<string, unknown>>;
  readonly handler: (...args: unknown[]) => unknown;
  readonly file: string;
}

interface Loaded {
  readonly files: readonly string[];
  readonly registrations: readonly Registration[];
  readonly library: typeof functionsLibrary;
}

/** The entry files `main` matches, in the compiled output (`dist/` there is `outDir` here). */
function entryFiles(): string[] {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    main: string;
  };
  expect(pkg.main).toMatch(/^dist\//);
  return globSync(pkg.main.replace(/^dist\//, ''), { cwd: outDir })
    .map((f) => path.join(outDir, f))
    .sort();
}

/** Loads every entry file with `env` as the app settings, in a fresh module registry. */
function loadEntryFiles(env: Record<string, string>): Loaded {
  const registrations: Registration[] = [];
  let current = '';
  const files = entryFiles();
  let library: typeof functionsLibrary | undefined;
  process.env = { ...env };
  jest.isolateModules(() => {
    jest.doMock(
      '@azure/functions-core',
      () => ({
        setProgrammingModel: () => undefined,
        registerHook: () => ({ dispose: () => undefined }),
        log: () => undefined,
        registerFunction: (
          metadata: { name: string; bindings: Registration['bindings'] },
          handler: Registration['handler'],
        ) => {
          registrations.push({
            name: metadata.name,
            bindings: metadata.bindings,
            handler,
            file: current,
          });
          return { dispose: () => undefined };
        },
      }),
      { virtual: true },
    );
    library = require('@azure/functions') as typeof functionsLibrary;
    for (const file of files) {
      current = path.basename(file);
      require(file);
    }
  });
  if (library === undefined) throw new Error('the library did not load');
  return { files, registrations, library };
}

function triggerOf(r: Registration): { readonly type: string } & Record<string, unknown> {
  const trigger = Object.values(r.bindings).find((b) => b.type.endsWith('Trigger'));
  if (trigger === undefined) throw new Error(`${r.name} has no trigger`);
  return trigger;
}

function registration(loaded: Loaded, check: (r: Registration) => boolean): Registration {
  const found = loaded.registrations.find(check);
  if (found === undefined) throw new Error('no such registration');
  return found;
}

const lifecycleRoute = (r: Registration) => triggerOf(r).route === 'lifecycle';
const healthRoute = (r: Registration) => triggerOf(r).route === 'health';
const timer = (r: Registration) =>
  r.name === 'sweepSubscriptions' && triggerOf(r).type === 'timerTrigger';

const tenant = '84bd8158-6d4d-4958-8b9f-9d6445542f95';
const unresolved = '@Microsoft.KeyVault(VaultName=keeper-kv;SecretName=graph-client-secret)';

/** Settings an operator or Azure's templates may leave the app with. */
const configurations: ReadonlyArray<readonly [string, Record<string, string>]> = [
  ['no settings at all', {}],
  [
    'Flex Consumption host storage by identity, a 30-minute schedule, an unresolved secret',
    {
      FUNCTIONS_WORKER_RUNTIME: 'node',
      AzureWebJobsStorage__accountName: 'keeperstate',
      AzureWebJobsStorage__credential: 'managedidentity',
      AzureWebJobsStorage__clientId: '00000000-0000-4000-8000-0000000000aa',
      SWEEP_SCHEDULE: '0 */30 * * * *',
      GRAPH_TENANT_ID: tenant,
      GRAPH_CLIENT_ID: '00000000-0000-4000-8000-000000000001',
      GRAPH_CLIENT_SECRET: unresolved,
    },
  ],
  [
    'every kind of wrong value',
    {
      STORAGE_CONNECTION: 'https://keeperstate.table.core.windows.net',
      SWEEP_SCHEDULE: 'every five minutes',
      GRAPH_CLOUD: 'mars',
      GRAPH_CREDENTIAL: 'password',
      GRAPH_CLIENT_CERTIFICATE: 'not a PEM',
      LIFECYCLE_INLINE_BUDGET_MS: 'soon',
    },
  ],
];

beforeAll(() => {
  execFileSync(
    process.execPath,
    [
      path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      path.join(root, 'tsconfig.build.json'),
      '--outDir',
      outDir,
    ],
    { cwd: root, stdio: 'inherit' },
  );
}, 300_000);

afterAll(() => {
  rmSync(outDir, { recursive: true, force: true });
});

describe('entry files as the worker loads them', () => {
  const savedEnv = process.env;
  afterEach(() => {
    process.env = savedEnv;
  });

  test.each(configurations)(
    'when the settings are %s, then every entry file registers its functions and the handshake answers',
    async (_case, env) => {
      const loaded = loadEntryFiles(env);
      const { HttpRequest, InvocationContext } = loaded.library;

      expect(loaded.files.length).toBeGreaterThanOrEqual(4);
      for (const file of loaded.files) {
        expect(loaded.registrations.map((r) => r.file)).toContain(path.basename(file));
      }
      const names = loaded.registrations.map((r) => r.name);
      expect(new Set(names).size).toBe(names.length);
      expect(triggerOf(registration(loaded, timer)).schedule).toBe('0 */5 * * * *');

      const handshake = (await registration(loaded, lifecycleRoute).handler(
        new HttpRequest({
          method: 'POST',
          url: 'https://keeper.example/api/lifecycle?validationToken=token%20from%20Graph',
        }),
        new InvocationContext(),
      )) as { status?: number; body?: unknown };
      expect(handshake.status ?? 200).toBe(200);
      expect(handshake.body).toBe('token from Graph');
    },
  );

  test('when the settings are invalid, then health names every bad key and no value', async () => {
    const env = configurations[1]?.[1] ?? {};
    const loaded = loadEntryFiles(env);
    const { HttpRequest, InvocationContext } = loaded.library;

    const answer = (await registration(loaded, healthRoute).handler(
      new HttpRequest({ method: 'GET', url: 'https://keeper.example/api/health' }),
      new InvocationContext(),
    )) as { status: number; jsonBody: { configurationProblems: { key: string }[] } };

    expect(answer.status).toBe(503);
    expect(answer.jsonBody.configurationProblems.map((p) => p.key)).toEqual([
      'GRAPH_CLIENT_SECRET',
      'SWEEP_SCHEDULE',
    ]);
    expect(JSON.stringify(answer.jsonBody)).not.toContain('graph-client-secret');
  });

  test('when the settings are invalid, then a lifecycle POST is answered 503 with Retry-After', async () => {
    const loaded = loadEntryFiles({});
    const { HttpRequest, InvocationContext } = loaded.library;

    const answer = (await registration(loaded, lifecycleRoute).handler(
      new HttpRequest({
        method: 'POST',
        url: 'https://keeper.example/api/lifecycle',
        headers: { 'content-type': 'application/json' },
        body: { string: JSON.stringify({ value: [] }) },
      }),
      new InvocationContext(),
    )) as { status: number; headers: Record<string, string> };

    expect(answer.status).toBe(503);
    expect(answer.headers['Retry-After']).toMatch(/^\d+$/);
  });

  test('when the settings are invalid, then the sweep run fails naming the bad keys', async () => {
    const loaded = loadEntryFiles({
      STORAGE_CONNECTION: 'UseDevelopmentStorage=true',
      SWEEP_SCHEDULE: '0 0 * * * *',
    });
    const { InvocationContext } = loaded.library;

    await expect(
      Promise.resolve(
        registration(loaded, timer).handler(
          { isPastDue: false, scheduleStatus: undefined },
          new InvocationContext(),
        ),
      ),
    ).rejects.toThrow(/SWEEP_SCHEDULE: must run at least every 15 minutes/);
  });
});
