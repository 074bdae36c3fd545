import { recordLifecycleEvent } from '../../shared/renewal/outcomes';
import { runSweep } from '../../shared/renewal/sweep';
import type { StoredSubscription } from '../../shared/subscriptions/model';
import { startHarness, type Harness } from '../../devkit/appHarness';
import type { SimulatedCall } from '../../devkit/graphSimulator';

/**
 * `reauthorizationRequired` as the sweep answers it (docs/graph-rules.md#lifecycle-notifications): a renew PATCH when the
 * renewal is due (it reauthorizes too), a reauthorize POST otherwise, and never a reauthorize and
 * a PATCH on one subscription within 10 minutes. The event is recorded on the row as the
 * lifecycle endpoint records it (`recordLifecycleEvent`), then the sweep acts.
 */

const minute = 60_000;
const tenMinutes = 10 * minute;

let h: Harness;

beforeEach(async () => {
  h = await startHarness({ store: 'memory' });
});

afterEach(async () => {
  await h.stop();
});

const sweep = () => runSweep(h.deps, h.deps.sweepOptions);

async function created(key: string, resource?: string): Promise<StoredSubscription> {
  await h.manage(resource === undefined ? { key } : { key, resource });
  await sweep();
  const row = await h.read(key);
  expect(row.status).toBe('active');
  return row;
}

async function recordReauthorizationRequired(key: string): Promise<void> {
  const { etag, ...row } = await h.read(key);
  await h.store.update(recordLifecycleEvent(row, 'reauthorizationRequired', h.clock.now()), etag);
}

function callsOf(id: string): SimulatedCall[] {
  return h.sim
    .calls()
    .filter((c) => c.subscriptionId === id && (c.kind === 'update' || c.kind === 'reauthorize'));
}

function onGraph(id: string) {
  return h.sim.subscriptions(h.tenantId).find((s) => s.id === id);
}

/** docs/graph-rules.md#lifecycle-notifications: no reauthorize and PATCH on one subscription within 10 minutes. */
function expectTenMinuteRule(id: string): void {
  const calls = callsOf(id);
  const reauthorizes = calls.filter((c) => c.kind === 'reauthorize');
  const patches = calls.filter((c) => c.kind === 'update');
  expect(reauthorizes.length).toBeGreaterThan(0);
  expect(patches.length).toBeGreaterThan(0);
  for (const r of reauthorizes) {
    for (const p of patches) {
      expect(Math.abs(r.at.getTime() - p.at.getTime())).toBeGreaterThanOrEqual(tenMinutes);
    }
  }
}

/** Sweeps every minute until `until`, as an impatient schedule would. */
async function sweepEveryMinuteUntil(until: Date): Promise<void> {
  while (h.clock.now().getTime() < until.getTime()) {
    h.clock.advance(minute);
    await sweep();
  }
}

describe('sweep: reauthorizationRequired', () => {
  test('when reauthorization is required while the renewal is due, then it is answered by one renew PATCH', async () => {
    const before = await created('due');
    const id = before.graphSubscriptionId!;
    h.clock.advanceTo(before.nextActionAt);
    await recordReauthorizationRequired('due');
    expect((await h.read('due')).status).toBe('reauthorizationRequired');
    h.sim.resetCalls();

    await sweep();

    expect(callsOf(id).map((c) => [c.kind, c.status])).toEqual([['update', 200]]);
    const after = await h.read('due');
    expect(after).toMatchObject({ status: 'active', pendingEvent: undefined });
    expect(after.expiresAt!.getTime()).toBeGreaterThan(before.expiresAt!.getTime());
    expect(onGraph(id)?.expirationDateTime).toEqual(after.expiresAt);
  });

  test('when reauthorization is required while the renewal is not due, then it is answered by one reauthorize and the expiry stays', async () => {
    const before = await created('not-due');
    const id = before.graphSubscriptionId!;
    h.clock.advance(60 * minute);
    await recordReauthorizationRequired('not-due');
    h.sim.resetCalls();

    await sweep();

    expect(callsOf(id).map((c) => [c.kind, c.status])).toEqual([['reauthorize', 204]]);
    const after = await h.read('not-due');
    expect(after).toMatchObject({ status: 'active', pendingEvent: undefined });
    expect(after.lastReauthorizedAt).toBeInstanceOf(Date);
    expect(after.expiresAt).toEqual(before.expiresAt);
    expect(after.nextActionAt).toEqual(before.nextActionAt);
    expect(onGraph(id)?.lastReauthorizedAt).toBeInstanceOf(Date);
  });

  test('when reauthorization is required within 10 minutes of a renew PATCH, then it is answered at once with another PATCH, never a reauthorize', async () => {
    const before = await created('after-patch');
    const id = before.graphSubscriptionId!;
    h.clock.advanceTo(before.nextActionAt);
    await sweep();
    const renewed = await h.read('after-patch');
    expect(callsOf(id).map((c) => c.kind)).toEqual(['update']);
    h.clock.advance(3 * minute);
    await recordReauthorizationRequired('after-patch');

    await sweep();

    expect(callsOf(id).map((c) => [c.kind, c.status])).toEqual([
      ['update', 200],
      ['update', 200],
    ]);
    expect(h.sim.spacingViolations()).toEqual([]);
    const after = await h.read('after-patch');
    expect(after).toMatchObject({ status: 'active', pendingEvent: undefined });
    expect(after.expiresAt!.getTime()).toBeGreaterThan(renewed.expiresAt!.getTime());
  });

  test('when a renewal comes due within 10 minutes of a reauthorize, then the PATCH waits until the window has passed and still comes before expiry', async () => {
    // NOTE: presence (60 minutes) makes the renewal come due soon after a reauthorize.
    const before = await created('before-patch', 'communications/presences/user-1');
    const id = before.graphSubscriptionId!;
    h.clock.advanceTo(new Date(before.nextActionAt.getTime() - 5 * minute));
    await recordReauthorizationRequired('before-patch');
    await sweep();
    expect(callsOf(id).map((c) => c.kind)).toEqual(['reauthorize']);

    await sweepEveryMinuteUntil(new Date(before.expiresAt!.getTime() - 3 * minute));

    expect(callsOf(id).map((c) => [c.kind, c.status])).toEqual([
      ['reauthorize', 204],
      ['update', 200],
    ]);
    expectTenMinuteRule(id);
    const [, patch] = callsOf(id);
    expect(patch!.at.getTime()).toBeLessThan(before.expiresAt!.getTime());
    const after = await h.read('before-patch');
    expect(after.status).toBe('active');
    expect(after.expiresAt!.getTime()).toBeGreaterThan(before.expiresAt!.getTime());
  });
});
