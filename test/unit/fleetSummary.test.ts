import { FleetCounter, healthSummary } from '../../shared/operations/health';
import { InMemorySweepRecords } from '../../devkit/inMemoryRecords';
import type { SweepSummary } from '../../shared/renewal/sweep';
import { aSubscription, minutesAfter, referenceTime } from '../support/subscriptionMother';

const period = 5 * 60_000;

function count(...subs: Parameters<typeof aSubscription>[0][]) {
  const counter = new FleetCounter(referenceTime, period);
  for (const s of subs) counter.add(aSubscription(s));
  return counter.summary();
}

const cleanSweep: SweepSummary = {
  startedAt: minutesAfter(referenceTime, -2).toISOString(),
  finishedAt: minutesAfter(referenceTime, -1).toISOString(),
  durationMs: 60_000,
  dryRun: false,
  due: 0,
  counts: {},
  failures: [],
  failureCount: 0,
  invalidRows: 0,
  unexpectedErrors: 0,
};

describe('FleetCounter', () => {
  test('when subscriptions are counted, then statuses, lapsed, problems and expiry horizons add up', () => {
    const fleet = count(
      { expiresAt: minutesAfter(referenceTime, 30) },
      { expiresAt: minutesAfter(referenceTime, 5 * 60) },
      { expiresAt: minutesAfter(referenceTime, 3 * 24 * 60) },
      { expiresAt: minutesAfter(referenceTime, -1) },
      { status: 'failed', expiresAt: minutesAfter(referenceTime, 20 * 60) },
      { status: 'deleting', expiresAt: minutesAfter(referenceTime, 1) },
    );
    expect(fleet).toMatchObject({
      total: 6,
      statuses: { active: 4, failed: 1, deleting: 1, pending: 0 },
      lapsed: 1,
      problemCount: 2,
      soonestExpiry: minutesAfter(referenceTime, -1).toISOString(),
    });
    expect(fleet.expiringWithinHours).toEqual([
      { hours: 1, count: 1 },
      { hours: 6, count: 2 },
      { hours: 24, count: 3 },
      { hours: 72, count: 4 },
      { hours: 168, count: 4 },
    ]);
  });

  test('when resyncs wait for their owners, then the oldest request is kept', () => {
    const fleet = count(
      { resyncRequestedAt: minutesAfter(referenceTime, -90) },
      { resyncRequestedAt: minutesAfter(referenceTime, -10) },
      {},
    );
    expect(fleet.resyncsPending).toBe(2);
    expect(fleet.oldestUnacknowledgedResyncAt).toBe(minutesAfter(referenceTime, -90).toISOString());
  });
});

describe('healthSummary', () => {
  const clock = { now: () => referenceTime, sleep: () => Promise.resolve() };
  const config = { sweep: { periodMs: period } } as Parameters<typeof healthSummary>[0]['config'];

  test('when the kept fleet has a lapsed subscription, then it is unhealthy and says how many', async () => {
    const records = new InMemorySweepRecords();
    await records.record(cleanSweep, count({ expiresAt: minutesAfter(referenceTime, -1) }));
    const view = await healthSummary({ sweepRecords: records, clock, config });
    expect(view.healthy).toBe(false);
    expect(view.reasons).toEqual([
      '1 subscription(s) not alive at the last sweep (failing, failed, lapsed or stuck)',
    ]);
  });

  test('when the last sweep was clean and the fleet alive, then it is healthy', async () => {
    const records = new InMemorySweepRecords();
    await records.record(cleanSweep, count({}));
    const view = await healthSummary({ sweepRecords: records, clock, config });
    expect(view).toMatchObject({ healthy: true, reasons: [], fleet: { total: 1 } });
  });

  test('when a sweep could not count the fleet, then the previous counts are kept', async () => {
    const records = new InMemorySweepRecords();
    await records.record(cleanSweep, count({}, {}));
    await records.record(cleanSweep);
    expect((await records.kept()).fleet?.total).toBe(2);
  });
});
