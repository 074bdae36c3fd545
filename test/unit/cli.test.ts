import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { localSettingsValues, withLocalSettings } from '../../cli/localSettings';
import { runCli, type CliIo } from '../../cli/main';
import { redactSecrets } from '../../cli/redaction';
import { formatTable } from '../../cli/textTable';
import { coreDependencies, type AppDependencies } from '../../shared/composition';
import { loadConfig, type Config } from '../../shared/config';
import type { GraphSubscription, GraphSubscriptions } from '../../shared/graph/graphSubscriptions';
import { InMemorySubscriptionStore } from '../../devkit/inMemorySubscriptionStore';
import { InMemoryDriftRecords, InMemorySweepRecords } from '../../devkit/inMemoryRecords';
import type { ManagedSubscription } from '../../shared/subscriptions/model';
import {
  aLastError,
  aPendingSubscription,
  aSubscription,
  minutesAfter,
  referenceTime,
  tenants,
} from '../support/subscriptionMother';
import { TestClock } from '../../devkit/testClock';

/**
 * `runCli` in process, with the in-memory store and a Graph that must not be called: argument
 * handling, help, settings, and the commands that only read. The built CLI against Azurite and
 * the Graph simulator is tested in test/e2e/cli.test.ts.
 */

const settings = {
  STORAGE_CONNECTION: 'UseDevelopmentStorage=true',
  LIFECYCLE_NOTIFICATION_URL: 'https://keeper.example.com/api/lifecycle?code=function-key-1234',
};

/** Graph for commands that must not call it: every call fails the command. */
class UnusedGraph implements GraphSubscriptions {
  readonly calls: string[] = [];
  private refuse(name: string): Promise<never> {
    this.calls.push(name);
    return Promise.reject(new Error(`Graph ${name} called in a test that must not call Graph`));
  }
  create(): Promise<GraphSubscription> {
    return this.refuse('create');
  }
  get(): Promise<GraphSubscription> {
    return this.refuse('get');
  }
  update(): Promise<GraphSubscription> {
    return this.refuse('update');
  }
  reauthorize(): Promise<void> {
    return this.refuse('reauthorize');
  }
  delete(): Promise<void> {
    return this.refuse('delete');
  }
  // eslint-disable-next-line require-yield -- a list that fails on first use
  async *list(): AsyncIterable<GraphSubscription> {
    await this.refuse('list');
  }
}

interface World {
  readonly store: InMemorySubscriptionStore;
  readonly graph: UnusedGraph;
  readonly sweepRecords: InMemorySweepRecords;
  readonly clock: TestClock;
}

function aWorld(): World {
  return {
    store: new InMemorySubscriptionStore(),
    graph: new UnusedGraph(),
    sweepRecords: new InMemorySweepRecords(),
    clock: new TestClock(referenceTime),
  };
}

interface Run {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

async function run(
  argv: string[],
  options: {
    env?: Record<string, string>;
    world?: World;
    cwd?: string;
    files?: Record<string, string>;
    progress?: (line: string | undefined) => void;
  } = {},
): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const world = options.world ?? aWorld();
  const io: CliIo = {
    env: options.env ?? settings,
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    cwd: options.cwd,
    progress: options.progress,
    dependencies: (config: Config, log): AppDependencies => ({
      ...coreDependencies({
        config,
        clock: world.clock,
        store: world.store,
        graph: world.graph,
        sweepRecords: world.sweepRecords,
        driftRecords: new InMemoryDriftRecords(),
      }),
      log,
    }),
    readFile: (p) => {
      const text = options.files?.[p];
      if (text === undefined) throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
      return text;
    },
  };
  const code = await runCli(argv, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

async function stored(world: World, ...subs: ManagedSubscription[]): Promise<void> {
  for (const s of subs) await world.store.create(s);
}

describe('graph-subs check-config', () => {
  test('when the settings are valid, then it prints the non-secret configuration and exits 0', async () => {
    const secret = 'not-a-real-client-secret';
    const result = await run(['check-config', '--json'], {
      env: {
        STORAGE_CONNECTION: 'UseDevelopmentStorage=true',
        GRAPH_TENANT_ID: '84bd8158-6d4d-4958-8b9f-9d6445542f95',
        GRAPH_CLIENT_ID: '00000000-0000-4000-8000-000000000001',
        GRAPH_CLIENT_SECRET: secret,
      },
    });
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.out) as { ok: boolean; config: { clientSecretSet: boolean } };
    expect(doc).toMatchObject({ ok: true, config: { clientSecretSet: true } });
    expect(result.out).not.toContain(secret);
    expect(result.out).not.toContain('UseDevelopmentStorage');
  });

  test('when a setting is bad, then it names it and exits 1', async () => {
    const result = await run(['check-config', '--json'], { env: { GRAPH_CLOUD: 'mars' } });
    expect(result.code).toBe(1);
    const doc = JSON.parse(result.out) as { ok: boolean; problems: { key: string }[] };
    expect(doc.ok).toBe(false);
    expect(doc.problems.map((p) => p.key).sort()).toEqual(['GRAPH_CLOUD', 'STORAGE_CONNECTION']);
  });

  test('when the command is unknown, then it prints usage on stderr and exits 2', async () => {
    const result = await run(['renew-everything']);
    expect(result.code).toBe(2);
    expect(result.err).toContain('Usage: graph-subs');
    expect(result.out).toBe('');
  });

  test('when asked for help, then it prints usage and exits 0', async () => {
    const result = await run(['--help']);
    expect(result.code).toBe(0);
    expect(result.out).toContain('check-config');
  });
});

describe('graph-subs usage', () => {
  const commands = [
    'apply',
    'list',
    'show',
    'delete',
    'sweep',
    'status',
    'verify',
    'resync-ack',
    'check-config',
  ];

  test.each(commands)(
    'when %s --help is asked, then its own usage goes to stdout and it exits 0',
    async (command) => {
      const result = await run([command, '--help']);
      expect(result).toMatchObject({ code: 0, err: '' });
      expect(result.out).toContain(`Usage: graph-subs ${command}`);
      expect(result.out).toContain('Exit codes:');
      expect(result.out).toContain('local.settings.json');
    },
  );

  test('when the general usage is printed, then it lists every command', async () => {
    const result = await run(['help']);
    expect(result.code).toBe(0);
    for (const c of commands) expect(result.out).toContain(`  ${c} `);
  });

  test('when help names a command, then that command is explained', async () => {
    expect((await run(['help', 'sweep'])).out).toContain('Usage: graph-subs sweep');
  });

  test.each([
    [['show'], 'missing KEY'],
    [['show', 'a', 'b'], 'unexpected argument b'],
    [['list', '--colour'], 'unknown option --colour'],
    [['list', '--status', 'sleeping'], '--status must be one of'],
    [['list', '--tenant', 'contoso'], '--tenant must be a tenant id'],
    [['list', '--tenant'], '--tenant needs a value'],
    [['list', '--json', '--json'], '--json is given more than once'],
    [['sweep', '--dry-run=yes'], '--dry-run takes no value'],
    [['apply'], 'missing --file FILE or definition flags'],
    [['apply', '--file', 'a.json', '--key', 'k'], 'use either --file or definition flags'],
    [['apply', '--key', 'k'], 'missing --tenant, --resource, --change-type, --notification-url'],
    [['resync-ack', 'k', '--requested-at', 'yesterday'], '--requested-at must be an ISO 8601'],
    [['show', 'no/slashes'], 'KEY must be'],
  ])(
    'when the command line is %j, then it says "%s" with the usage on stderr and exits 2',
    async (argv, message) => {
      const result = await run(argv);
      expect(result.code).toBe(2);
      expect(result.out).toBe('');
      expect(result.err).toContain(message);
      expect(result.err).toContain(`Usage: graph-subs ${argv[0]}`);
    },
  );

  test('when no command is given, then the usage goes to stderr and it exits 2', async () => {
    const result = await run([]);
    expect(result).toMatchObject({ code: 2, out: '' });
    expect(result.err).toContain('Usage: graph-subs <command>');
  });

  test('when an unknown option carries a value, then only its name is echoed', async () => {
    const result = await run(['list', '--client-secret=hunter2-secret']);
    expect(result.code).toBe(2);
    expect(result.err).toContain('--client-secret');
    expect(result.err).not.toContain('hunter2');
  });
});

describe('graph-subs settings', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'graph-subs-cli-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const writeLocalSettings = (values: unknown) => {
    writeFileSync(
      path.join(dir, 'local.settings.json'),
      JSON.stringify({ IsEncrypted: false, Values: values }),
    );
  };

  test('when local.settings.json exists, then its Values fill in what the environment leaves unset or empty', async () => {
    writeLocalSettings({
      STORAGE_CONNECTION: 'UseDevelopmentStorage=true',
      SUBSCRIPTIONS_TABLE: 'fromLocalSettings',
      GRAPH_CLOUD: 'usgov',
      RESYNC_QUEUE: 'from-local-settings',
    });
    const result = await run(['check-config', '--json'], {
      env: { GRAPH_CLOUD: 'china', RESYNC_QUEUE: '' },
      cwd: dir,
    });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.out)).toMatchObject({
      config: {
        storageTable: 'fromLocalSettings',
        graphCloud: 'china',
        resyncQueue: 'from-local-settings',
      },
    });
  });

  test('when local.settings.json sets a bad value, then the key is named and the value is not shown', async () => {
    writeLocalSettings({
      STORAGE_CONNECTION: 'UseDevelopmentStorage=true',
      GRAPH_BASE_URL: 'http://secret-proxy',
    });
    const result = await run(['list'], { env: {}, cwd: dir });
    expect(result.code).toBe(1);
    expect(result.err).toContain('GRAPH_BASE_URL: must be an absolute https:// URL');
    expect(result.err).not.toContain('secret-proxy');
  });

  test('when local.settings.json is not JSON, then the file is named, its text is not, and it exits 1', async () => {
    writeFileSync(
      path.join(dir, 'local.settings.json'),
      '{ "Values": { "GRAPH_CLIENT_SECRET": "s3cr3t-value", } ',
    );
    const result = await run(['status', '--json'], { env: {}, cwd: dir });
    expect(result.code).toBe(1);
    expect(result.err).toContain('local.settings.json is not valid JSON');
    expect(JSON.parse(result.out)).toMatchObject({ error: { code: 'InvalidLocalSettings' } });
    expect(result.out + result.err).not.toContain('s3cr3t');
  });

  test('when the environment already has a non-empty value, then it wins over local.settings.json', () => {
    const env = withLocalSettings(
      { A: 'from-env', B: '', C: undefined },
      { A: 'local', B: 'local', C: 'local', D: 'local' },
    );
    expect(env).toEqual({ A: 'from-env', B: 'local', C: 'local', D: 'local' });
  });

  test('when local.settings.json is encrypted, then it says how to decrypt it', () => {
    expect(() => localSettingsValues('{"IsEncrypted": true, "Values": {}}', 'x.json')).toThrow(
      /func settings decrypt/,
    );
  });

  test('when a command runs with bad settings, then every bad key is named and it exits 1', async () => {
    const result = await run(['list', '--json'], {
      env: { GRAPH_CLOUD: 'mars', SWEEP_SCHEDULE: 'often' },
    });
    expect(result.code).toBe(1);
    const doc = JSON.parse(result.out) as { error: { code: string; problems: { key: string }[] } };
    expect(doc.error.code).toBe('InvalidConfiguration');
    expect(doc.error.problems.map((p) => p.key).sort()).toEqual([
      'GRAPH_CLOUD',
      'STORAGE_CONNECTION',
      'SWEEP_SCHEDULE',
    ]);
    expect(result.err).toContain('  GRAPH_CLOUD: must be one of');
    expect(result.err).not.toContain('mars');
  });
});

describe('graph-subs apply (definitions checked before anything is stored)', () => {
  test('when every definition in the file is invalid, then each is reported by index and key with every bad field, nothing is stored, and it exits 1', async () => {
    const world = aWorld();
    const file = JSON.stringify([
      { key: 'mail-a', tenantId: 'contoso', resource: 'users/a/messages', changeType: 'created' },
      {
        tenantId: tenants.contoso,
        resource: 'https://graph.microsoft.com/v1.0/users',
        changeType: 'sometimes',
        notificationUrl: 'http://hooks.example.com/?code=hook-key-123',
        colour: 'blue',
      },
    ]);
    const result = await run(['apply', '--file', 'defs.json', '--json'], {
      world,
      files: { 'defs.json': file },
    });
    expect(result.code).toBe(1);
    const outcomes = JSON.parse(result.out) as {
      index: number;
      key: string | null;
      ok: boolean;
      error: { code: string; problems: { field: string }[] };
    }[];
    expect(outcomes.map((o) => [o.index, o.key, o.ok, o.error.code])).toEqual([
      [0, 'mail-a', false, 'InvalidDefinition'],
      [1, null, false, 'InvalidDefinition'],
    ]);
    expect(outcomes[0]!.error.problems.map((p) => p.field).sort()).toEqual([
      'notificationUrl',
      'tenantId',
    ]);
    expect(outcomes[1]!.error.problems.map((p) => p.field).sort()).toEqual([
      'changeType',
      'colour',
      'key',
      'notificationUrl',
      'resource',
    ]);
    expect(result.out).not.toContain('hook-key-123');
    expect((await world.store.list()).items).toHaveLength(0);
    expect(world.graph.calls).toEqual([]);
  });

  test('when a drive definition is applied, then the ReadWrite permission is named on stderr before Graph is called', async () => {
    const world = aWorld();
    const seen: string[] = [];
    const graph = world.graph;
    const create = graph.create.bind(graph);
    graph.create = () => {
      seen.push('graph create');
      return create();
    };
    const file = JSON.stringify([
      {
        key: 'drive-a',
        tenantId: tenants.contoso,
        resource: 'drives/d1/root',
        changeType: 'Updated',
        notificationUrl: 'https://hooks.example.com/api/notify',
      },
    ]);
    const out: string[] = [];
    const result = await runCli(['apply', '--file', 'defs.json', '--json'], {
      env: settings,
      out: (t) => out.push(t),
      err: (t) => seen.push(t),
      dependencies: (config, log) => ({
        ...coreDependencies({
          config,
          clock: world.clock,
          store: world.store,
          graph,
          sweepRecords: world.sweepRecords,
          driftRecords: new InMemoryDriftRecords(),
        }),
        log,
      }),
      readFile: () => file,
    });
    expect(result).toBe(1);
    const named = seen.findIndex((l) =>
      l.includes(`needs application permissions in tenant ${tenants.contoso}: Files.ReadWrite.All`),
    );
    expect(named).toBeGreaterThanOrEqual(0);
    expect(named).toBeLessThan(seen.indexOf('graph create'));
    const [outcome] = JSON.parse(out.join('\n')) as { applicationPermissions: string[] }[];
    expect(outcome?.applicationPermissions).toEqual(['Files.ReadWrite.All']);
  });

  test('when two definitions share a key, then neither is applied and both are named', async () => {
    const world = aWorld();
    const definition = {
      key: 'dup',
      tenantId: tenants.contoso,
      resource: 'users/a/messages',
      changeType: 'created',
      notificationUrl: 'https://hooks.example.com/api/notify',
    };
    const result = await run(['apply', '--file', 'defs.json'], {
      world,
      files: { 'defs.json': JSON.stringify([definition, definition]) },
    });
    expect(result.code).toBe(1);
    expect(result.out).toContain(
      '[0] dup: key: is used by more than one definition in the file (indexes 0, 1)',
    );
    expect(result.out).toContain('[1] dup: key:');
    expect(world.graph.calls).toEqual([]);
  });

  test.each([
    ['missing.json', undefined, 'FileUnreadable'],
    ['broken.json', '[{"key": "a",', 'InvalidJson'],
    ['object.json', '{"key": "a"}', 'NotAnArray'],
  ])('when the file %s cannot be used, then it says why and exits 1', async (name, text, code) => {
    const result = await run(['apply', '--file', name, '--json'], {
      files: text === undefined ? {} : { [name]: text },
    });
    expect(result.code).toBe(1);
    expect(JSON.parse(result.out)).toMatchObject({ error: { code } });
    expect(result.err).toContain(name);
  });

  test('when the flags give a lifetime that is not a number, then lifetimeMinutes is named', async () => {
    const result = await run([
      'apply',
      '--key',
      'k1',
      '--tenant',
      tenants.contoso,
      '--resource',
      'users/a/messages',
      '--change-type',
      'created',
      '--notification-url',
      'https://hooks.example.com/api/notify',
      '--lifetime-minutes',
      'forever',
    ]);
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/\[0\] k1: lifetimeMinutes: /);
  });
});

describe('graph-subs list, show, status, sweep --dry-run, resync-ack (no Graph call)', () => {
  test('when subscriptions are stored, then list --json prints every view and never clientState', async () => {
    const world = aWorld();
    const subs = [
      aSubscription({
        key: 'a-1',
        definition: { notificationUrl: 'https://h.example.com/n?code=k3y-value' },
      }),
      aSubscription({ key: 'b-1', tenantId: tenants.fabrikam }),
      aPendingSubscription({ key: 'c-1' }),
    ];
    await stored(world, ...subs);
    const result = await run(['list', '--json'], { world });
    expect(result.code).toBe(0);
    const views = JSON.parse(result.out) as { key: string; notificationUrl: string }[];
    expect(views.map((v) => v.key).sort()).toEqual(['a-1', 'b-1', 'c-1']);
    expect(views.find((v) => v.key === 'a-1')?.notificationUrl).toBe(
      'https://h.example.com/n?code=***',
    );
    expect(result.out).not.toMatch(/clientState/i);
    for (const s of subs) expect(result.out).not.toContain(s.clientState);
    expect(result.out).not.toContain('k3y-value');
  });

  test('when list is filtered by tenant and status, then only those are printed, as an aligned table', async () => {
    const world = aWorld();
    await stored(
      world,
      aSubscription({ key: 'a-1' }),
      aSubscription({ key: 'a-22', status: 'failing', lastError: aLastError() }),
      aSubscription({ key: 'b-1', tenantId: tenants.fabrikam, status: 'failing' }),
    );
    const result = await run(['list', '--tenant', tenants.contoso, '--status', 'failing'], {
      world,
    });
    expect(result.code).toBe(0);
    const lines = result.out.split('\n');
    expect(lines[0]).toMatch(/^KEY\s+TENANT\s+STATUS\s+EXPIRES\s+RESOURCE\s+LAST ERROR\s+RESYNC$/);
    expect(lines[1]).toContain('a-22');
    expect(lines[1]).toContain('Forbidden (HTTP 403)');
    expect(lines[1]!.indexOf(tenants.contoso)).toBe(lines[0]!.indexOf('TENANT'));
    expect(result.out).toContain('1 subscription (1 failing)');
    expect(result.out).not.toContain('b-1');
  });

  test('when show names an unknown key, then it says so on stderr, prints an error document, and exits 1', async () => {
    const result = await run(['show', 'nobody', '--json']);
    expect(result.code).toBe(1);
    expect(result.err).toContain('No managed subscription has the key nobody');
    expect(JSON.parse(result.out)).toEqual({
      error: { code: 'NotFound', message: 'No managed subscription has the key nobody' },
    });
  });

  test('when show names a key, then its details are printed without clientState', async () => {
    const world = aWorld();
    const sub = aSubscription({
      key: 'mail-a',
      resyncRequestedAt: referenceTime,
      resyncReason: 'missed',
    });
    await stored(world, sub);
    const result = await run(['show', 'mail-a'], { world });
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/^key\s+mail-a$/m);
    expect(result.out).toMatch(/^status\s+active$/m);
    expect(result.out).toContain('resync-ack mail-a --requested-at 2026-06-01T12:00:00.123Z');
    expect(result.out).not.toContain(sub.clientState);
  });

  test('when nothing is stored and no sweep ran, then status is healthy and exits 0', async () => {
    const result = await run(['status', '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.out)).toMatchObject({ healthy: true, total: 0 });
  });

  test('when definitions are stored in two tenants, then permissions prints per tenant what to grant, ReadWrite for drives', async () => {
    const world = aWorld();
    await stored(
      world,
      aSubscription({ key: 'mail-a', definition: { resource: 'users/u1/messages' } }),
      aSubscription({
        key: 'drive-a',
        definition: { resource: 'drives/d1/root', changeType: 'updated' },
      }),
      aSubscription({
        key: 'chats-b',
        tenantId: tenants.fabrikam,
        definition: { resource: 'chats/getAllMessages' },
      }),
    );
    const result = await run(['permissions'], { world });
    expect(result.code).toBe(0);
    expect(result.out).toContain(`Tenant ${tenants.contoso}\n`);
    expect(result.out).toContain('  Files.ReadWrite.All, Mail.Read\n');
    expect(result.out).toMatch(new RegExp(`Tenant ${tenants.fabrikam}\\n.*\\n  Chat.Read.All\\n`));
    expect(result.out).not.toContain('Files.Read.All');
    expect(world.graph.calls).toEqual([]);
  });

  test('when a stored definition cannot be kept alive app-only, then permissions names it and exits 1', async () => {
    const world = aWorld();
    await stored(
      world,
      aSubscription({ key: 'presence-a', definition: { resource: 'communications/presences/u1' } }),
    );
    const result = await run(['permissions', '--json'], { world });
    expect(result.code).toBe(1);
    expect(JSON.parse(result.out)).toEqual([
      {
        tenantId: tenants.contoso,
        applicationPermissions: [],
        unknownResources: [],
        notKeepable: [
          { key: 'presence-a', reason: expect.stringContaining('Presence.Read.All') as unknown },
        ],
      },
    ]);
  });

  test('when a subscription has no lifecycle URL, then status is unhealthy and says why', async () => {
    const world = aWorld();
    await stored(
      world,
      aSubscription({ key: 'no-lifecycle', definition: { lifecycleNotificationUrl: undefined } }),
    );
    const result = await run(['status', '--json'], { world });
    expect(result.code).toBe(1);
    const health = JSON.parse(result.out) as { reasons: string[] };
    expect(health.reasons).toContain(
      '1 subscription(s) have no lifecycle URL: Graph sends them no lifecycle event, so a removal is noticed only at the next renewal',
    );
  });

  test('when a subscription failed, then status names it with the permission it needs and exits 1', async () => {
    const world = aWorld();
    await stored(
      world,
      aSubscription({ key: 'mail-x', status: 'failed', lastError: aLastError() }),
    );
    const result = await run(['status'], { world });
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/^health\s+UNHEALTHY$/m);
    expect(result.out).toContain('mail-x');
    expect(result.out).toContain('Mail.Read');
  });

  test('when something is due, then sweep --dry-run lists it with the reason and changes nothing', async () => {
    const world = aWorld();
    await stored(
      world,
      aPendingSubscription({ key: 'new-1' }),
      aSubscription({
        key: 'reauth-1',
        status: 'reauthorizationRequired',
        nextActionAt: referenceTime,
      }),
      aSubscription({ key: 'later-1' }),
    );
    const before = await world.store.list();
    const result = await run(['sweep', '--dry-run'], { world });
    expect(result.code).toBe(0);
    expect(result.out).toContain('Dry run: 2 subscriptions due');
    expect(result.out).toMatch(/new-1\s.*create\s+pending: stored, not yet created on Graph/);
    expect(result.out).toMatch(/reauth-1\s.*reauthorize\s+reauthorizationRequired: Graph asked/);
    expect(result.out).not.toContain('later-1');
    expect(world.graph.calls).toEqual([]);
    expect(await world.store.list()).toEqual(before);
    expect(await world.sweepRecords.last()).toBeUndefined();
  });

  test('when a sweep runs long on a terminal, then a progress line is shown and cleared before the summary', async () => {
    const world = aWorld();
    await stored(world, ...['p-1', 'p-2', 'p-3'].map((key) => aPendingSubscription({ key })));
    // NOTE: every reading of the clock is 700 ms later, so the run counts as long at once.
    const now = world.clock.now.bind(world.clock);
    world.clock.now = () => {
      world.clock.advance(700);
      return now();
    };
    const lines: (string | undefined)[] = [];
    const result = await run(['sweep', '--dry-run'], {
      world,
      progress: (line) => lines.push(line),
    });
    expect(result.code).toBe(0);
    expect(lines.some((l) => l?.startsWith('sweeping: ') === true)).toBe(true);
    expect(lines.at(-1)).toBeUndefined();
  });

  test('when a resync is acknowledged with an older time than requested, then nothing is cleared and it exits 1', async () => {
    const world = aWorld();
    const requested = minutesAfter(referenceTime, -5);
    await stored(
      world,
      aSubscription({ key: 'r-1', resyncRequestedAt: requested, resyncReason: 'missed' }),
    );
    const stale = await run(
      ['resync-ack', 'r-1', '--requested-at', minutesAfter(requested, -60).toISOString(), '--json'],
      { world },
    );
    expect(stale.code).toBe(1);
    expect(JSON.parse(stale.out)).toMatchObject({ error: { code: 'NewerResync' } });

    const ack = await run(
      ['resync-ack', 'r-1', '--requested-at', requested.toISOString(), '--json'],
      {
        world,
      },
    );
    expect(ack.code).toBe(0);
    expect(JSON.parse(ack.out)).toMatchObject({
      key: 'r-1',
      acknowledged: true,
      subscription: { resyncRequestedAt: null },
    });
  });
});

describe('CLI text and redaction', () => {
  test('when a table is formatted, then columns align and no line ends in spaces', () => {
    expect(
      formatTable(
        ['KEY', 'STATUS', 'NOTE'],
        [
          ['a', 'active', null],
          ['longer-key', 'failed', 'multi\nline'],
        ],
      ),
    ).toBe(
      ['KEY         STATUS  NOTE', 'a           active  -', 'longer-key  failed  multi line'].join(
        '\n',
      ),
    );
  });

  test('when an error message quotes secrets, then they are masked', () => {
    const config = loadConfig({
      STORAGE_CONNECTION:
        'DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=QUJDREVGR0hJSktMTU5PUA==;EndpointSuffix=core.windows.net',
      GRAPH_TENANT_ID: tenants.contoso,
      GRAPH_CLIENT_ID: '00000000-0000-4000-8000-000000000001',
      GRAPH_CLIENT_SECRET: 'client-secret-value',
    });
    const text = redactSecrets(
      'failed: AccountKey=QUJDREVGR0hJSktMTU5PUA== client-secret-value https://x.example.com/a?sig=abc&sv=1 Bearer eyJhbGciOiJSUzI1NiJ9.eyJ0aWQiOiJ4In0.c2ln',
      config,
    );
    expect(text).not.toContain('QUJDREVGR0hJSktMTU5PUA');
    expect(text).not.toContain('client-secret-value');
    expect(text).not.toContain('sig=abc');
    expect(text).not.toContain('eyJ');
    expect(text).toContain('https://x.example.com/a?sig=***&sv=***');
  });
});
