import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../../shared/config';
import { TableSubscriptionStore } from '../../shared/store/tableSubscriptionStore';
import type { StoredSubscription } from '../../shared/subscriptions/model';
import { subscriptionDefinitionSchema } from '../../shared/subscriptions/model';
import { newManagedSubscription } from '../../shared/subscriptions/newSubscription';
import {
  azuriteConnectionString,
  harnessTenant,
  simulatorAppSettings,
  uniqueTableName,
} from '../../devkit/appHarness';
import { startGraphSimulator, type GraphSimulator } from '../../devkit/graphSimulator';

/**
 * The built CLI (`node dist/cli/main.js`, what the package's `bin` runs) as an operator runs it:
 * a child process with nothing but app settings in its environment, against Azurite and the
 * Graph simulator over HTTPS (its CA trusted through NODE_EXTRA_CA_CERTS, tokens from its token
 * endpoint). The tests run in order and share one table: apply, list, show, sweep, status,
 * verify, delete, as a session at a terminal would. Exit codes, stdout and stderr are checked,
 * and at the end no output holds a clientState, the client secret, a token or a function key.
 */

const root = path.resolve(__dirname, '../..');
const cliPath = path.join(root, 'dist/cli/main.js');
const tenant = harnessTenant;
const minute = 60_000;
const lifecycleKey = `lifecycle-key-${randomUUID()}`;

let sim: GraphSimulator;
let workDir: string;
let env: Record<string, string>;
let store: TableSubscriptionStore;
const outputs: string[] = [];
const clientStates = new Set<string>();

interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built CLI in `workDir` (no local.settings.json there unless a test puts one). */
function cli(
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
) {
  return new Promise<CliRun>((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      cwd: options.cwd ?? workDir,
      env: options.env ?? env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      outputs.push(stdout, stderr);
      resolve({ code, stdout, stderr });
    });
  });
}

function json(run: CliRun): unknown {
  try {
    return JSON.parse(run.stdout) as unknown;
  } catch {
    throw new Error(
      `stdout is not one JSON document (exit ${String(run.code)}):\n${run.stdout}\n${run.stderr}`,
    );
  }
}

/** Builds dist/ when the CLI is missing or older than a source it is compiled from. */
function buildIfStale(): void {
  const newestSource = Math.max(
    ...['cli', 'shared'].flatMap((dir) => sourceTimes(path.join(root, dir))),
  );
  let built = 0;
  try {
    built = statSync(cliPath).mtimeMs;
  } catch {
    // not built yet
  }
  if (built >= newestSource) return;
  const tsc = spawnSync(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    { cwd: root, encoding: 'utf8' },
  );
  if (tsc.status !== 0) {
    throw new Error(
      `tsc -p tsconfig.build.json failed:\n${tsc.stdout}${tsc.stderr}`.slice(0, 4000),
    );
  }
}

function sourceTimes(dir: string): number[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceTimes(full);
    return entry.name.endsWith('.ts') ? [statSync(full).mtimeMs] : [];
  });
}

async function rows(): Promise<StoredSubscription[]> {
  const page = await store.list({ pageSize: 1000 });
  for (const row of page.items) clientStates.add(row.clientState);
  return [...page.items];
}

async function row(key: string): Promise<StoredSubscription> {
  const found = await store.get(tenant, key);
  if (found === undefined) throw new Error(`no row ${key}`);
  clientStates.add(found.clientState);
  return found;
}

/** Graph calls other than token and discovery requests. */
function graphCalls() {
  return sim.calls().filter((c) => c.kind !== 'token' && c.kind !== 'other');
}

function onGraph(key: string, rowsNow: readonly StoredSubscription[]) {
  const id = rowsNow.find((r) => r.definition.key === key)?.graphSubscriptionId;
  return sim.subscriptions(tenant).find((s) => s.id === id);
}

const definition = (key: string, resource: string) => ({
  key,
  tenantId: tenant,
  resource,
  changeType: 'created,updated',
  notificationUrl: `https://hooks.example.com/api/notify?code=hook-key-${key}`,
});

beforeAll(async () => {
  buildIfStale();
  sim = await startGraphSimulator();
  workDir = mkdtempSync(path.join(tmpdir(), 'graph-subs-e2e-'));
  const caFile = path.join(workDir, 'simulator-ca.pem');
  writeFileSync(caFile, sim.tls.ca);
  env = {
    PATH: process.env.PATH ?? '',
    NODE_EXTRA_CA_CERTS: caFile,
    STORAGE_CONNECTION: azuriteConnectionString(),
    SUBSCRIPTIONS_TABLE: uniqueTableName(),
    RESYNC_QUEUE: `resync-${randomUUID()}`,
    LIFECYCLE_NOTIFICATION_URL: `https://keeper.example.com/api/lifecycle?code=${lifecycleKey}`,
    ...simulatorAppSettings(sim, tenant),
  };
  store = TableSubscriptionStore.fromConfig(loadConfig(env).storage);
}, 120_000);

afterAll(async () => {
  await sim.stop();
  rmSync(workDir, { recursive: true, force: true });
});

describe('graph-subs apply', () => {
  test('when a file holds two good definitions and an invalid one, then the good ones are created on Graph, the bad one is named by index, key and field, and it exits 1', async () => {
    const file = path.join(workDir, 'defs.json');
    writeFileSync(
      file,
      JSON.stringify([
        definition('mail-1', `users/${randomUUID()}/messages`),
        {
          key: 'bad-1',
          tenantId: 'contoso',
          resource: 'users',
          changeType: 'created',
          notificationUrl: 'http://hooks.example.com/api/notify',
        },
        definition('users-1', 'users'),
      ]),
    );

    const run = await cli(['apply', '--file', file, '--json']);

    expect(run.code).toBe(1);
    const results = json(run) as {
      index: number;
      key: string;
      ok: boolean;
      change?: string;
      complete?: boolean;
      status?: string;
      graphSubscriptionId?: string;
      error?: { code: string; problems?: { field: string }[] };
    }[];
    expect(results.map((r) => [r.index, r.key, r.ok, r.change, r.status])).toEqual([
      [0, 'mail-1', true, 'created', 'active'],
      [1, 'bad-1', false, undefined, undefined],
      [2, 'users-1', true, 'created', 'active'],
    ]);
    expect(results[1]!.error?.code).toBe('InvalidDefinition');
    expect(results[1]!.error?.problems?.map((p) => p.field)).toEqual(
      expect.arrayContaining(['tenantId', 'notificationUrl']),
    );
    const ids = sim.subscriptions(tenant).map((s) => s.id);
    expect(ids.sort()).toEqual(
      [results[0]!.graphSubscriptionId, results[2]!.graphSubscriptionId].sort(),
    );
    expect((await rows()).map((r) => r.definition.key).sort()).toEqual(['mail-1', 'users-1']);
  });

  test('when one definition is given as flags, then it is created and shown as a table row, exit 0', async () => {
    const run = await cli([
      'apply',
      '--key',
      'events-1',
      '--tenant',
      tenant.toUpperCase(),
      '--resource',
      `users/${randomUUID()}/events`,
      '--change-type',
      'created',
      '--notification-url',
      'https://hooks.example.com/api/events',
      '--lifetime-minutes',
      '4000',
    ]);

    expect(run).toMatchObject({ code: 0 });
    // The permission to grant is named before Graph is called (the only line on stderr).
    expect(run.stderr.trim()).toBe(
      `[0] events-1: needs application permissions in tenant ${tenant}: Calendars.Read`,
    );
    const [header, line] = run.stdout.split('\n');
    expect(header).toMatch(/^#\s+KEY\s+RESULT\s+CHANGE\s+STATUS\s+GRAPH ID\s+EXPIRES$/);
    expect(line).toMatch(
      /^0\s+events-1\s+ok\s+created\s+active\s+[0-9a-f-]{36}\s+\d{4}-\d{2}-\d{2} /,
    );
    expect(line!.indexOf('events-1')).toBe(header!.indexOf('KEY'));
    const created = await row('events-1');
    expect(created.definition.lifetimeMinutes).toBe(4000);
    expect(onGraph('events-1', [created])).toBeDefined();
  });
});

describe('graph-subs list and show', () => {
  test('when listed with --json, then every view is printed once, with URL query values hidden and no clientState', async () => {
    const run = await cli(['list', '--json']);

    expect(run.code).toBe(0);
    const views = json(run) as {
      key: string;
      notificationUrl: string;
      graphSubscriptionId: string;
    }[];
    expect(views.map((v) => v.key).sort()).toEqual(['events-1', 'mail-1', 'users-1']);
    expect(views.find((v) => v.key === 'mail-1')?.notificationUrl).toBe(
      'https://hooks.example.com/api/notify?code=***',
    );
    expect(run.stdout).not.toMatch(/clientState/i);
    expect(run.stdout).not.toContain('hook-key-');
    for (const v of views)
      expect(sim.subscriptions(tenant).map((s) => s.id)).toContain(v.graphSubscriptionId);
  });

  test('when listed as text with a status filter, then it prints an aligned table and a count', async () => {
    const run = await cli(['list', '--status', 'active', '--tenant', tenant]);

    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toMatch(/^KEY\s+TENANT\s+STATUS\s+EXPIRES\s+RESOURCE\s+LAST ERROR\s+RESYNC$/);
    expect(lines.slice(1, 4).map((l) => l.indexOf(tenant))).toEqual([
      lines[0]!.indexOf('TENANT'),
      lines[0]!.indexOf('TENANT'),
      lines[0]!.indexOf('TENANT'),
    ]);
    expect(run.stdout).toContain('3 subscriptions (3 active)');
  });

  test('when show --verify names a live subscription, then its view has an in-sync drift report, exit 0; an unknown key exits 1', async () => {
    const [shown, unknown] = await Promise.all([
      cli(['show', 'mail-1', '--verify', '--json']),
      cli(['show', 'no-such-key']),
    ]);

    expect(shown.code).toBe(0);
    expect(json(shown)).toMatchObject({
      key: 'mail-1',
      tenantId: tenant,
      status: 'active',
      drift: { state: 'inSync', differences: [] },
    });
    expect(unknown).toMatchObject({ code: 1, stdout: '' });
    expect(unknown.stderr).toContain('No managed subscription has the key no-such-key');
  });
});

describe('graph-subs sweep and status', () => {
  test('when no sweep has run yet, then status reports unhealthy and exits 1', async () => {
    const run = await cli(['status', '--json']);

    expect(run.code).toBe(1);
    expect(json(run)).toMatchObject({
      healthy: false,
      total: 3,
      reasons: ['no sweep has been recorded yet'],
    });
  });

  test('when subscriptions are due, then sweep --dry-run lists what it would create, renew and reauthorize and why, and changes nothing', async () => {
    const now = Date.now();
    // A definition stored but not on Graph yet.
    const pending = subscriptionDefinitionSchema.parse({
      ...definition('pending-1', `users/${randomUUID()}/messages`),
      lifecycleNotificationUrl: env.LIFECYCLE_NOTIFICATION_URL,
    });
    await store.create(newManagedSubscription(pending, new Date(now)));
    // Graph asked mail-1 for reauthorization (the last renewal long enough ago).
    const { etag: mailEtag, ...mail } = await row('mail-1');
    await store.update(
      {
        ...mail,
        status: 'reauthorizationRequired',
        lastRenewedAt: new Date(now - 20 * minute),
        nextActionAt: new Date(now),
      },
      mailEtag,
    );
    // users-1 is near its expiry by our record.
    const { etag: usersEtag, ...users } = await row('users-1');
    await store.update(
      { ...users, expiresAt: new Date(now + 30 * minute), nextActionAt: new Date(now) },
      usersEtag,
    );
    const before = await rows();
    sim.resetCalls();

    const run = await cli(['sweep', '--dry-run', '--json']);

    expect(run.code).toBe(0);
    const summary = json(run) as {
      dryRun: boolean;
      due: number;
      planned: { key: string; action: string; reason: string }[];
    };
    expect(summary).toMatchObject({ dryRun: true, due: 3 });
    expect(summary.planned.map((p) => [p.key, p.action, p.reason]).sort()).toEqual([
      ['mail-1', 'reauthorize', 'reauthorizationRequired'],
      ['pending-1', 'create', 'pending'],
      ['users-1', 'renew', 'due'],
    ]);
    expect(graphCalls()).toEqual([]);
    expect(await rows()).toEqual(before);
  });

  test('when the sweep runs, then it prints counts per action and outcome, exits 0, and status turns healthy', async () => {
    const run = await cli(['sweep', '--json']);

    expect(run.code).toBe(0);
    expect(json(run)).toMatchObject({
      dryRun: false,
      due: 3,
      counts: {
        create: { succeeded: 1 },
        renew: { succeeded: 1 },
        reauthorize: { succeeded: 1 },
      },
      failureCount: 0,
      unexpectedErrors: 0,
    });
    const after = await rows();
    expect(after.every((r) => r.status === 'active')).toBe(true);
    expect(onGraph('pending-1', after)).toBeDefined();
    expect(onGraph('users-1', after)!.expirationDateTime.getTime()).toBeGreaterThan(
      Date.now() + 24 * 60 * minute,
    );

    const [health, text] = await Promise.all([cli(['status', '--json']), cli(['status'])]);
    expect(health.code).toBe(0);
    expect(json(health)).toMatchObject({ healthy: true, reasons: [], total: 4, problemCount: 0 });
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^health\s+HEALTHY$/m);
    expect(text.stdout).toMatch(/^subscriptions\s+4 \(4 active\)$/m);
  });
});

describe('graph-subs verify and delete', () => {
  test('when Graph lost a subscription, then verify reports it missing, the others in sync, and exits 1', async () => {
    const lost = await row('users-1');
    sim.loseSubscription(lost.graphSubscriptionId!);

    const [all, one] = await Promise.all([cli(['verify', '--json']), cli(['verify', 'users-1'])]);

    expect(all.code).toBe(1);
    const reports = json(all) as { key: string; state: string }[];
    expect(reports.map((r) => [r.key, r.state]).sort()).toEqual([
      ['events-1', 'inSync'],
      ['mail-1', 'inSync'],
      ['pending-1', 'inSync'],
      ['users-1', 'missingOnGraph'],
    ]);
    expect(one.code).toBe(1);
    expect(one.stdout).toMatch(/^KEY\s+TENANT\s+GRAPH ID\s+STATE$/m);
    expect(one.stdout).toMatch(/users-1\s.*missing on Graph \(404\)/);
  });

  test('when a subscription is deleted, then it is gone from Graph and the store, and the result says so', async () => {
    const doomed = await row('events-1');

    const run = await cli(['delete', 'events-1', '--json']);

    expect(run.code).toBe(0);
    expect(json(run)).toEqual({
      key: 'events-1',
      tenantId: tenant,
      deleted: true,
      action: expect.objectContaining({ action: 'delete', outcome: 'succeeded' }) as unknown,
      subscription: null,
    });
    expect(sim.subscriptions(tenant).map((s) => s.id)).not.toContain(doomed.graphSubscriptionId);
    expect(await store.get(tenant, 'events-1')).toBeUndefined();
  });
});

describe('graph-subs apply when Graph refuses', () => {
  test('when Graph answers the create with 403, then apply reports it failed with the permission it needs, keeps it stored for the sweep, and exits 1', async () => {
    sim.injectFault({ match: { kind: 'create' }, status: 403, times: 1 });
    const file = path.join(workDir, 'refused.json');
    writeFileSync(
      file,
      JSON.stringify([definition('refused-1', `users/${randomUUID()}/messages`)]),
    );

    const run = await cli(['apply', '--file', file]);

    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^0\s+refused-1\s+failed\s+created\s+failed\s/m);
    expect(run.stdout).toMatch(
      /^ {2}\[0\] refused-1: \S+ \(HTTP 403\): .*Mail\.Read.*the sweep retries it/m,
    );
    const kept = await row('refused-1');
    expect(kept).toMatchObject({ status: 'failed', graphSubscriptionId: undefined });
    expect(kept.lastError?.status).toBe(403);
  });
});

describe('graph-subs usage, help and settings', () => {
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

  test('when --help is asked of each command, then each prints its usage and exits 0', async () => {
    const runs = await Promise.all([cli(['--help']), ...commands.map((c) => cli([c, '--help']))]);

    expect(runs.map((r) => r.code)).toEqual(runs.map(() => 0));
    expect(runs[0].stdout).toContain('Usage: graph-subs <command>');
    commands.forEach((c, i) => {
      expect(runs[i + 1]!.stdout).toContain(`Usage: graph-subs ${c}`);
    });
  });

  test('when the command line is wrong, then the usage goes to stderr, nothing to stdout, and it exits 2', async () => {
    const runs = await Promise.all([
      cli(['renew-everything']),
      cli(['list', '--colour', 'blue']),
      cli(['show']),
      cli([]),
    ]);

    for (const r of runs) {
      expect(r).toMatchObject({ code: 2, stdout: '' });
      expect(r.stderr).toContain('Usage: graph-subs');
    }
    expect(runs[2].stderr).toContain('missing KEY');
  });

  test('when local.settings.json is next to the operator, then it fills in unset settings; bad settings are named and exit 1', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'graph-subs-local-'));
    try {
      writeFileSync(
        path.join(dir, 'local.settings.json'),
        JSON.stringify({
          IsEncrypted: false,
          Values: { ...env, SUBSCRIPTIONS_TABLE: 'fromLocalFile', GRAPH_CLOUD: 'mars' },
        }),
      );
      const bare = { PATH: env.PATH!, SUBSCRIPTIONS_TABLE: env.SUBSCRIPTIONS_TABLE! };

      const [bad, good] = await Promise.all([
        cli(['list'], { cwd: dir, env: bare }),
        cli(['check-config', '--json'], { cwd: dir, env: { ...bare, GRAPH_CLOUD: 'global' } }),
      ]);

      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain('GRAPH_CLOUD: must be one of');
      expect(bad.stderr).not.toContain('mars');
      expect(good.code).toBe(0);
      expect(json(good)).toMatchObject({
        ok: true,
        config: {
          storageTable: env.SUBSCRIPTIONS_TABLE,
          graphCloud: 'global',
          clientSecretSet: true,
        },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('graph-subs output', () => {
  test('when every run above is read again, then none printed a clientState, the client secret, a token or a URL key', async () => {
    await rows();
    const text = outputs.join('\n');

    expect(outputs.length).toBeGreaterThan(20);
    expect(clientStates.size).toBeGreaterThanOrEqual(4);
    for (const secret of clientStates) expect(text).not.toContain(secret);
    expect(text).not.toContain(sim.clientSecret);
    expect(text).not.toMatch(/eyJ[\w-]+\.[\w-]+/);
    expect(text).not.toContain(lifecycleKey);
    expect(text).not.toContain('hook-key-');
    expect(text).not.toContain('AccountKey=');
  });
});
