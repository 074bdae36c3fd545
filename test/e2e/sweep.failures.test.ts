import { randomUUID } from 'node:crypto';
import { runSweep } from '../../shared/renewal/sweep';
import type { StoredSubscription } from '../../shared/subscriptions/model';
import { startHarness, type Harness } from '../../devkit/appHarness';

/**
 * The sweep when Graph fails: throttling with Retry-After, a storm of 503s, a revoked permission
 * and a renewal that answers 200 without extending. On simulated time (the harness' TestClock in
 * 'instant' mode: sleeps move the clock), against the Graph simulator over HTTPS.
 */

const minute = 60_000;
const sweepPeriodMs = 5 * minute;
/** 60-minute channel-message subscriptions: short-lived, and kept alive with an app-only token. */
const channel = (key: string) => ({
  resource: `teams/${randomUUID()}/channels/19:${key}@thread.tacv2/messages`,
  lifetimeMinutes: 60,
});

/**
 * A small seeded PRNG (mulberry32) for the simulator's probabilistic faults: the same draws each
 * run (which request gets which draw follows arrival order, so assertions must not depend on it).
 */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let h: Harness;

beforeEach(async () => {
  h = await startHarness({ store: 'memory', simulator: { random: seeded(20261122) } });
});

afterEach(async () => {
  await h.stop();
});

const sweep = () => runSweep(h.deps, h.deps.sweepOptions);

function onGraph(id: string) {
  return h.sim.subscriptions(h.tenantId).find((s) => s.id === id);
}

function updatesOf(id: string) {
  return h.sim.calls().filter((c) => c.kind === 'update' && c.subscriptionId === id);
}

/** Manages, creates and returns the row, advanced to when its renewal is due. */
async function dueForRenewal(
  key: string,
  definition: { resource?: string; lifetimeMinutes?: number } = {},
): Promise<StoredSubscription> {
  await h.manage({ key, ...definition });
  await sweep();
  const row = await h.read(key);
  expect(row.status).toBe('active');
  h.clock.advanceTo(row.nextActionAt);
  h.sim.resetCalls();
  return row;
}

describe('sweep: 429 Retry-After', () => {
  test('when a renewal is throttled with Retry-After, then the client waits that long on the clock and the renewal goes through', async () => {
    const before = await dueForRenewal('throttled');
    const id = before.graphSubscriptionId!;
    h.sim.injectFault({ match: { kind: 'update' }, status: 429, retryAfterSeconds: 7, times: 1 });
    const sleepsBefore = h.clock.sleeps.length;

    await sweep();

    expect(h.clock.sleeps.slice(sleepsBefore)).toContain(7000);
    const updates = updatesOf(id);
    expect(updates.map((c) => c.status)).toEqual([429, 200]);
    expect(updates[1]!.at.getTime() - updates[0]!.at.getTime()).toBeGreaterThanOrEqual(7000);
    const after = await h.read('throttled');
    expect(after).toMatchObject({ status: 'active', failureCount: 0, lastError: undefined });
    expect(onGraph(id)?.expirationDateTime.getTime()).toBeGreaterThan(before.expiresAt!.getTime());
  });

  test('when Retry-After is longer than a call may wait, then the row is failing until then and a sweep after it renews', async () => {
    const before = await dueForRenewal('throttled-long');
    const id = before.graphSubscriptionId!;
    h.sim.injectFault({ match: { kind: 'update' }, status: 429, retryAfterSeconds: 120, times: 1 });

    await sweep();

    const throttled = await h.read('throttled-long');
    expect(throttled).toMatchObject({ status: 'failing', failureCount: 1 });
    expect(throttled.lastError).toMatchObject({ status: 429, code: 'TooManyRequests' });
    const retryAt = throttled.nextActionAt.getTime();
    expect(retryAt - throttled.lastError!.at.getTime()).toBeGreaterThanOrEqual(120_000);
    expect(updatesOf(id).map((c) => c.status)).toEqual([429]);

    h.clock.advance(60_000);
    await sweep();
    expect(updatesOf(id)).toHaveLength(1);

    h.clock.advanceTo(throttled.nextActionAt);
    await sweep();

    expect(updatesOf(id).map((c) => c.status)).toEqual([429, 200]);
    expect(updatesOf(id)[1]!.at.getTime()).toBeGreaterThanOrEqual(retryAt);
    expect(await h.read('throttled-long')).toMatchObject({ status: 'active', failureCount: 0 });
    expect(onGraph(id)?.expirationDateTime.getTime()).toBeGreaterThan(before.expiresAt!.getTime());
  });
});

describe('sweep: 503 storm', () => {
  test('when renewals meet a storm of 503s over sweeps every 5 minutes, then they are retried while failing and no subscription expires', async () => {
    const keys = ['storm-a', 'storm-b', 'storm-c'];
    for (const key of keys) await h.manage({ key, ...channel(key) });
    await sweep();
    const created = await Promise.all(keys.map((k) => h.read(k)));
    const ids = created.map((r) => r.graphSubscriptionId!);
    // Each subscription's first renewal sweep fails outright (5 attempts a sweep), storm-a's
    // first two; then every update fails with probability 0.5, for three hours.
    for (const [i, id] of ids.entries()) {
      h.sim.injectFault({
        match: { kind: 'update', subscriptionId: id },
        status: 503,
        times: i === 0 ? 10 : 5,
      });
    }
    h.sim.injectFault({ match: { kind: 'update' }, status: 503, probability: 0.5 });
    const seen = new Map<string, Set<string>>(keys.map((k) => [k, new Set<string>()]));

    for (let step = 0; step < 36; step++) {
      h.clock.advance(sweepPeriodMs);
      for (const id of ids) expect(onGraph(id)).toBeDefined();
      await sweep();
      for (const [i, key] of keys.entries()) {
        const row = await h.read(key);
        seen.get(key)?.add(row.status);
        expect(row.graphSubscriptionId).toBe(ids[i]);
        expect(row.generation).toBe(1);
        expect(row.expiresAt!.getTime()).toBeGreaterThan(h.clock.now().getTime());
        expect(onGraph(ids[i]!)?.expirationDateTime).toEqual(row.expiresAt);
      }
    }

    for (const key of keys) expect(seen.get(key)).toEqual(new Set(['active', 'failing']));
    const failed = h.sim.calls().filter((c) => c.kind === 'update' && c.status === 503);
    expect(failed.length).toBeGreaterThan(20);
    expect(h.sim.calls().filter((c) => c.kind === 'create')).toHaveLength(3);

    h.sim.clearFaults();
    h.clock.advance(sweepPeriodMs);
    await sweep();
    for (const key of keys) {
      expect(await h.read(key)).toMatchObject({ status: 'active', failureCount: 0 });
    }
  });

  test('when a renewal fails with 503, then the row is failing with the error and retried with backoff before expiry', async () => {
    const before = await dueForRenewal('flaky', channel('flaky'));
    h.sim.injectFault({ match: { kind: 'update' }, status: 503, times: 5 });

    await sweep();

    const failing = await h.read('flaky');
    expect(failing).toMatchObject({ status: 'failing', failureCount: 1 });
    expect(failing.lastError).toMatchObject({ status: 503, code: 'ServiceNotAvailable' });
    expect(failing.nextActionAt.getTime()).toBeGreaterThan(h.clock.now().getTime());
    expect(failing.nextActionAt.getTime()).toBeLessThan(before.expiresAt!.getTime());
    expect(updatesOf(before.graphSubscriptionId!).map((c) => c.status)).toEqual([
      503, 503, 503, 503, 503,
    ]);

    h.clock.advanceTo(failing.nextActionAt);
    await sweep();

    expect(await h.read('flaky')).toMatchObject({ status: 'active', failureCount: 0 });
  });
});

describe('sweep: 403', () => {
  test('when the permission is revoked, then the renewal is failed naming Mail.Read, retried on a slow schedule, and active again once restored', async () => {
    const before = await dueForRenewal('denied');
    const id = before.graphSubscriptionId!;
    h.sim.revokePermission(h.tenantId);

    await sweep();

    const denied = await h.read('denied');
    expect(denied).toMatchObject({ status: 'failed', failureCount: 1 });
    expect(denied.lastError).toMatchObject({ status: 403, code: 'ExtensionError' });
    expect(denied.lastError?.requiredPermissions).toContain('Mail.Read');
    expect(denied.nextActionAt.getTime() - denied.lastError!.at.getTime()).toBe(30 * minute);
    expect(updatesOf(id).map((c) => c.status)).toEqual([403]);

    // Slow schedule: sweeps before the retry time leave it alone.
    for (let i = 0; i < 5; i++) {
      h.clock.advance(sweepPeriodMs);
      await sweep();
    }
    expect(updatesOf(id)).toHaveLength(1);

    h.clock.advanceTo(denied.nextActionAt);
    await sweep();
    const stillDenied = await h.read('denied');
    expect(stillDenied).toMatchObject({ status: 'failed', failureCount: 2 });
    expect(updatesOf(id).map((c) => c.status)).toEqual([403, 403]);

    h.sim.restorePermission(h.tenantId);
    h.clock.advanceTo(stillDenied.nextActionAt);
    await sweep();

    const restored = await h.read('denied');
    expect(restored).toMatchObject({
      status: 'active',
      failureCount: 0,
      lastError: undefined,
      graphSubscriptionId: id,
    });
    expect(updatesOf(id).map((c) => c.status)).toEqual([403, 403, 200]);
    expect(onGraph(id)?.expirationDateTime).toEqual(restored.expiresAt);
    expect(restored.expiresAt!.getTime()).toBeGreaterThan(before.expiresAt!.getTime());
  });

  test('when the renewal of a drive root is denied, then the row names the permission a renewal needs (ReadWrite), not the one a create needs', async () => {
    await h.manage({
      key: 'denied-drive',
      resource: `drives/${randomUUID()}/root`,
      changeType: 'updated',
    });
    await sweep();
    const before = await h.read('denied-drive');
    expect(before.status).toBe('active');
    h.clock.advanceTo(before.nextActionAt);
    h.sim.revokePermission(h.tenantId);

    await sweep();
    h.sim.restorePermission(h.tenantId);

    const denied = await h.read('denied-drive');
    expect(denied).toMatchObject({
      status: 'failed',
      graphSubscriptionId: before.graphSubscriptionId,
    });
    expect(denied.lastError).toMatchObject({
      status: 403,
      requiredPermissions: ['Files.ReadWrite.All'],
    });
  });

  test('when the permission is missing at create, then the row is failed naming Mail.Read and created once restored', async () => {
    await h.manage({ key: 'denied-create' });
    h.sim.revokePermission(h.tenantId);

    await sweep();

    const denied = await h.read('denied-create');
    expect(denied).toMatchObject({ status: 'failed', graphSubscriptionId: undefined });
    expect(denied.lastError).toMatchObject({ status: 403, requiredPermissions: ['Mail.Read'] });

    h.sim.restorePermission(h.tenantId);
    h.clock.advanceTo(denied.nextActionAt);
    await sweep();

    const created = await h.read('denied-create');
    expect(created).toMatchObject({ status: 'active', generation: 1, lastError: undefined });
    expect(onGraph(created.graphSubscriptionId!)).toBeDefined();
  });
});

describe('sweep: renewal not extended', () => {
  test('when a renewal answers 200 without moving the expiry, then it is recorded as NotExtended and a later sweep renews it', async () => {
    const before = await dueForRenewal('stuck');
    const id = before.graphSubscriptionId!;
    h.sim.injectFault({ match: { kind: 'update' }, kind: 'ignoreExpiry', times: 1 });

    await sweep();

    const stuck = await h.read('stuck');
    expect(stuck).toMatchObject({ status: 'failing', failureCount: 1 });
    expect(stuck.lastError?.code).toBe('NotExtended');
    expect(stuck.expiresAt).toEqual(before.expiresAt);
    expect(onGraph(id)?.expirationDateTime).toEqual(before.expiresAt);
    expect(updatesOf(id).map((c) => c.status)).toEqual([200]);

    h.clock.advanceTo(stuck.nextActionAt);
    await sweep();

    const renewed = await h.read('stuck');
    expect(renewed).toMatchObject({ status: 'active', failureCount: 0, lastError: undefined });
    expect(renewed.expiresAt!.getTime()).toBeGreaterThan(before.expiresAt!.getTime());
    expect(onGraph(id)?.expirationDateTime).toEqual(renewed.expiresAt);
  });
});

describe('sweep: logs', () => {
  test('when a sweep acts on several subscriptions, then each outcome is one structured line and no line holds a clientState', async () => {
    const rows = await Promise.all([
      h.manage({ key: 'log-created' }),
      h.manage({ key: 'log-throttled' }),
      // NOTE: over the maximum lifetime: refused before any Graph call.
      h.manage({ key: 'log-invalid', lifetimeMinutes: 999_999 }),
    ]);
    h.sim.injectFault({ match: { kind: 'create' }, status: 503, retryAfterSeconds: 60, times: 1 });
    h.logs.length = 0;

    await sweep();

    const lines = h.logs.filter((l) => typeof l.properties?.key === 'string');
    expect(lines.map((l) => l.properties?.key).sort()).toEqual([
      'log-created',
      'log-invalid',
      'log-throttled',
    ]);
    for (const line of lines) {
      expect(Object.keys(line.properties ?? {})).toEqual(
        expect.arrayContaining(['tenantId', 'key', 'graphId', 'action', 'outcome', 'ms']),
      );
      expect(line.properties).toMatchObject({ tenantId: h.tenantId, action: 'create' });
      expect(typeof line.properties?.ms).toBe('number');
    }
    expect(lines.map((l) => l.properties?.outcome).sort()).toEqual([
      'failed',
      'failed',
      'succeeded',
    ]);
    const logged = JSON.stringify(h.logs);
    for (const row of rows) expect(logged).not.toContain(row.clientState);
  });
});

describe('sweep: Graph allows less than our lifetime table', () => {
  test('when Graph answers that the expiry is too far, then the create is retried with its maximum, which is kept for the renewals', async () => {
    await h.manage({ key: 'shorter' });
    h.sim.injectFault({
      match: { kind: 'create' },
      status: 400,
      code: 'ExtensionError',
      message: 'Subscription expiration can only be 2000 minutes in the future.',
      times: 1,
    });

    await sweep();

    const created = await h.read('shorter');
    const creates = h.sim.calls().filter((c) => c.kind === 'create');
    expect(creates.map((c) => c.status)).toEqual([400, 201]);
    expect(created).toMatchObject({ status: 'active', failureCount: 0 });
    expect(created.definition.lifetimeMinutes).toBe(2000);
    const lifetime = created.expiresAt!.getTime() - h.clock.now().getTime();
    expect(lifetime).toBeLessThanOrEqual(2000 * minute);
    expect(lifetime).toBeGreaterThan(1900 * minute);
    // Scheduled by the shorter lifetime: a quarter of it before expiry.
    expect(created.expiresAt!.getTime() - created.nextActionAt.getTime()).toBe(500 * minute);

    h.clock.advanceTo(created.nextActionAt);
    await sweep();

    const renewed = await h.read('shorter');
    expect(renewed).toMatchObject({ status: 'active', failureCount: 0 });
    expect(renewed.expiresAt!.getTime() - h.clock.now().getTime()).toBeLessThanOrEqual(
      2000 * minute,
    );
    expect(h.sim.calls().filter((c) => c.status === 400)).toHaveLength(1);
  });
});
