import { formatReport } from '../../tools/chaos/chaosReport';
import {
  replayCommand,
  runChaosProcess,
  type ChaosArguments,
} from '../../tools/chaos/chaosProcess';
import { failingCount } from '../../tools/chaos/invariantLedger';
import { knownCoreIssues } from '../../tools/chaos/knownIssues';

/**
 * Issue 9's chaos run, shortened: 3 simulated days, 100 subscriptions in 5 tenants, fixed seeds.
 * The real core (sweep, reconcile, lifecycle function) runs against the Graph simulator over
 * HTTPS with 10% 5xx, 5% 429, 1% timeouts, lifecycle events, silent losses, a revoked and
 * restored permission, overlapping sweeps and crashes between store writes; the invariants are
 * checked after every tick. `npm run chaos` is the full run (30 days, 1,000 subscriptions).
 *
 * Each seed runs in a child process (tools/chaos/chaosProcess.ts), whose NODE_EXTRA_CA_CERTS
 * trusts the simulator, so the app's Graph client is built as in production. Concurrent I/O
 * makes interleavings differ from run to run: a seed fixes the schedule of faults, events and
 * crashes, not every interleaving.
 */

const seeds = [20260901, 20260902, 20260903];
const perSeedTimeoutMs = 120_000;

describe('chaos run over 3 simulated days (100 subscriptions, 5 tenants)', () => {
  it.each(seeds)(
    'when seed %i runs, then every invariant holds',
    async (seed) => {
      const args: ChaosArguments = { days: 3, subscriptions: 100, tenants: 5, seed };
      const { code, report, output } = await runChaosProcess(args, {
        extra: { knownIssues: knownCoreIssues },
        timeoutMs: perSeedTimeoutMs - 5_000,
      });
      const replay = replayCommand(args);
      if (report === undefined) {
        throw new Error(
          `Seed ${seed}: the run stopped (exit ${code}). Replay: ${replay}\n${output}`,
        );
      }
      const broken = report.invariants.filter((i) => failingCount(i) > 0);
      if (broken.length > 0) {
        throw new Error(
          `Seed ${seed} broke ${broken.map((i) => `${i.name} (${failingCount(i)})`).join(', ')}. ` +
            `Replay: ${replay}\n${formatReport(report)}`,
        );
      }
      for (const i of report.invariants) {
        if (i.known !== undefined) {
          // NOTE: a reported core issue (tools/chaos/knownIssues.ts); shown, not failing.
          console.warn(`seed ${seed}: ${i.name} ${i.known.count} (known issue: ${i.known.reason})`);
        }
      }
      // The run did what it says: chaos of every kind happened, and the app kept working.
      const t = report.totals;
      expect(code).toBe(0);
      expect(t.simulatedDays).toBe(3);
      expect(t.renewals).toBeGreaterThan(500);
      expect(t.recreations).toBeGreaterThan(0);
      expect(t.crashes).toBeGreaterThan(0);
      expect(t.overlappingSweeps).toBeGreaterThan(0);
      expect(t.silentLosses).toBeGreaterThan(0);
      expect(t.faults.serverErrors).toBeGreaterThan(0);
      expect(t.faults.tooManyRequests).toBeGreaterThan(0);
      expect(t.faults.timeouts).toBeGreaterThan(0);
      expect(t.events.subscriptionRemoved + t.events.missed).toBeGreaterThan(0);
      expect(report.facts['failed in the revoked tenant']).not.toBe(0);
      expect(t.adminOperations.patch + t.adminOperations.recreate).toBeGreaterThan(0);
      expect(t.adminOperations.delete).toBeGreaterThan(0);
      expect(t.driftChecks).toBeGreaterThan(0);
      expect(report.invariants.map((i) => i.name)).toEqual(
        expect.arrayContaining(['orphans', 'lapsedBeyondDrift']),
      );
    },
    perSeedTimeoutMs,
  );
});
