import type { Clock } from '../../shared/clock';
import { graphPaceLimits, WritePacer } from '../../shared/renewal/writePacer';

const tenantA = 'tenant-a';
const tenantB = 'tenant-b';

/** Counts the most slots that fall in any window of `windowMs` (Graph's view of our calls). */
function maxInAnyWindow(slots: number[], windowMs: number): number {
  const sorted = [...slots].sort((a, b) => a - b);
  let best = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while ((sorted[end] ?? 0) - (sorted[start] ?? 0) >= windowMs) start++;
    best = Math.max(best, end - start + 1);
  }
  return best;
}

const unusedClock: Clock = {
  now: () => new Date(0),
  sleep: () => Promise.reject(new Error('reserve() does not sleep')),
};

describe('WritePacer', () => {
  test('when 2,000 writes for one tenant are reserved at once, then no 20 s window holds more than 500', () => {
    const pacer = new WritePacer(unusedClock);
    const slots = Array.from({ length: 2000 }, () => pacer.reserve('write', tenantA, 0));
    // With headroom for requests that arrive late: at most 475 in any window.
    expect(maxInAnyWindow(slots, 20_000)).toBeLessThanOrEqual(475);
    // 90% of the limit: 450 per window at the steady rate.
    const last = Math.max(...slots);
    expect(2000 / (last / 20_000)).toBeGreaterThanOrEqual(0.9 * 500);
  });

  test('when ten tenants write at once, then the app-wide limit of 2,000 per window holds', () => {
    const pacer = new WritePacer(unusedClock);
    const slots: number[] = [];
    for (let i = 0; i < 500; i++) {
      for (let t = 0; t < 10; t++) slots.push(pacer.reserve('write', `tenant-${t}`, 0));
    }
    expect(maxInAnyWindow(slots, 20_000)).toBeLessThanOrEqual(2000);
  });

  test('when one tenant has a full pool of workers waiting, then another tenant is not paced behind it', () => {
    // NOTE: each sweep worker holds at most one reservation, so a tenant has at most its pool
    // size of slots outstanding.
    const pacer = new WritePacer(unusedClock);
    for (let i = 0; i < 16; i++) pacer.reserve('write', tenantA, 0);
    expect(pacer.reserve('write', tenantB, 0)).toBe(0);
  });

  test('when reauthorize calls are paced, then they do not spend the write budget', () => {
    const pacer = new WritePacer(unusedClock);
    for (let i = 0; i < 600; i++) pacer.reserve('reauthorize', tenantA, 0);
    expect(pacer.reserve('write', tenantA, 0)).toBe(0);
  });

  test('when the window is scaled down, then the pace scales with it', () => {
    const pacer = new WritePacer(unusedClock, graphPaceLimits(0.9, 200));
    const slots = Array.from({ length: 1000 }, () => pacer.reserve('write', tenantA, 0));
    expect(maxInAnyWindow(slots, 200)).toBeLessThanOrEqual(500);
  });

  test('when a caller acquires a slot in the future, then it sleeps on the injected clock', async () => {
    const sleeps: number[] = [];
    const clock: Clock = {
      now: () => new Date(0),
      sleep: (ms) => (sleeps.push(ms), Promise.resolve()),
    };
    const pacer = new WritePacer(clock, graphPaceLimits(0.9, 20_000));
    for (let i = 0; i < 60; i++) await pacer.acquire('write', tenantA);
    expect(sleeps.length).toBeGreaterThan(0);
    // A burst of 25 (half the gap between 450 and 500), then one slot every 20 s / 450.
    expect(Math.max(...sleeps)).toBeCloseTo((60 - 25) * (20_000 / 450), 0);
  });
});
