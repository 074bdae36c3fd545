import { runSweep, type SweepSummary } from '../../shared/renewal/sweep';
import type { StoredSubscription } from '../../shared/subscriptions/model';
import { startHarness, type Harness } from '../../devkit/appHarness';

/**
 * Two app instances sweeping the same Azurite table at the same time (two workers, or a late
 * run overlapping the next): claims make one due time lead to exactly one Graph call, so Graph
 * sees one create per definition and one renewal per due time.
 */

const count = 200;
const keys = Array.from({ length: count }, (_, i) => `parallel-${String(i).padStart(3, '0')}`);

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ store: 'table' });
  await Promise.all(keys.map((key) => h.manage({ key })));
});

afterAll(async () => {
  await h.stop();
});

function sweepTwiceInParallel(): Promise<SweepSummary[]> {
  const other = h.anotherInstance();
  return Promise.all([runSweep(h.deps, h.deps.sweepOptions), runSweep(other, other.sweepOptions)]);
}

async function allRows(): Promise<StoredSubscription[]> {
  return Promise.all(keys.map((key) => h.read(key)));
}

function succeeded(summaries: readonly SweepSummary[], action: string): number {
  return summaries.reduce((n, s) => n + (s.counts[action]?.succeeded ?? 0), 0);
}

function countBy<T>(items: readonly T[], keyOf: (item: T) => string | undefined) {
  const counts = new Map<string, number>();
  for (const item of items) {
    const k = keyOf(item) ?? '(none)';
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
}

async function expectConsistentRows(rows: readonly StoredSubscription[]): Promise<void> {
  const onGraph = new Map(h.sim.subscriptions(h.tenantId).map((s) => [s.id, s]));
  expect(onGraph.size).toBe(count);
  expect(new Set(rows.map((r) => r.graphSubscriptionId)).size).toBe(count);
  for (const row of rows) {
    const graph = onGraph.get(row.graphSubscriptionId!);
    expect(row).toMatchObject({ status: 'active', generation: 1, claim: undefined });
    expect(graph?.resource).toBe(row.definition.resource);
    expect(graph?.clientState).toBe(row.clientState);
    expect(graph?.expirationDateTime).toEqual(row.expiresAt);
  }
  const indexed = await Promise.all(
    rows.map((r) => h.store.findByGraphId(r.graphSubscriptionId!, h.tenantId)),
  );
  expect(indexed.map((r) => r?.definition.key)).toEqual(rows.map((r) => r.definition.key));
  const stillDue: string[] = [];
  for await (const row of h.store.listDue(h.clock.now())) stillDue.push(row.definition.key);
  expect(stillDue).toEqual([]);
}

describe('sweep: two instances in parallel', () => {
  test('when two sweeps run in parallel over 200 pending subscriptions, then each is created exactly once', async () => {
    h.logs.length = 0;

    const summaries = await sweepTwiceInParallel();

    const creates = h.sim.calls().filter((c) => c.kind === 'create');
    expect(creates).toHaveLength(count);
    expect(creates.every((c) => c.status === 201)).toBe(true);
    expect(succeeded(summaries, 'create')).toBe(count);
    expect(summaries.map((s) => s.unexpectedErrors)).toEqual([0, 0]);
    // Both really overlapped: each found due rows, and the loser of each race skipped.
    expect(summaries.every((s) => s.due > 0)).toBe(true);
    const resources = h.sim.subscriptions(h.tenantId).map((s) => s.resource);
    expect(new Set(resources).size).toBe(count);
    await expectConsistentRows(await allRows());
    const createdLines = h.logs.filter(
      (l) => l.properties?.action === 'create' && l.properties.outcome === 'succeeded',
    );
    expect([...countBy(createdLines, (l) => String(l.properties?.key)).values()]).toEqual(
      Array.from({ length: count }, () => 1),
    );
  });

  test('when two sweeps run in parallel over 200 due subscriptions, then each is renewed exactly once', async () => {
    const before = await allRows();
    const latestDue = Math.max(...before.map((r) => r.nextActionAt.getTime()));
    h.clock.advanceTo(new Date(latestDue));
    h.sim.resetCalls();

    const summaries = await sweepTwiceInParallel();

    const updates = h.sim.calls().filter((c) => c.kind === 'update');
    const perSubscription = countBy(updates, (c) => c.subscriptionId);
    expect(perSubscription.size).toBe(count);
    expect([...perSubscription.values()].every((n) => n === 1)).toBe(true);
    expect(updates.every((c) => c.status === 200)).toBe(true);
    expect(h.sim.calls().filter((c) => c.kind === 'create')).toEqual([]);
    expect(succeeded(summaries, 'renew')).toBe(count);
    const after = await allRows();
    for (const [i, row] of after.entries()) {
      expect(row.graphSubscriptionId).toBe(before[i]!.graphSubscriptionId);
      expect(row.expiresAt!.getTime()).toBeGreaterThan(before[i]!.expiresAt!.getTime());
    }
    await expectConsistentRows(after);
  });
});
