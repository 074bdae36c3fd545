import type { TenantDriftRecord, DriftRecords } from '../shared/drift/driftRecords';
import type { FleetSummary } from '../shared/operations/health';
import type { ResyncMessage, ResyncPublisher } from '../shared/resync/resyncPublisher';
import type { SweepSummary } from '../shared/renewal/sweep';
import {
  keptOf,
  recordable,
  type KeptRecord,
  type SweepRecords,
} from '../shared/store/sweepRecords';

/**
 * In-memory stand-ins for the app's small record ports: sweep records, drift records and the
 * resync queue. For core tests, the chaos run, the sandbox and benchmarks; production keeps these
 * in the state account (shared/store/sweepRecords.ts, shared/drift/driftRecords.ts,
 * shared/resync/queueResyncPublisher.ts).
 */

export class InMemorySweepRecords implements SweepRecords {
  private summary: string | undefined;
  private fleet: string | undefined;

  record(summary: SweepSummary, fleet?: FleetSummary): Promise<void> {
    if (summary.dryRun) return Promise.resolve();
    // NOTE: kept as JSON text, as the table keeps it, so a reader gets the same parse.
    this.summary = JSON.stringify(recordable(summary));
    if (fleet !== undefined) this.fleet = JSON.stringify(fleet);
    return Promise.resolve();
  }

  last(): Promise<SweepSummary | undefined> {
    return Promise.resolve(keptOf({ summary: this.summary }).sweep);
  }

  kept(): Promise<KeptRecord> {
    return Promise.resolve(keptOf({ summary: this.summary, fleet: this.fleet }));
  }
}

export class InMemoryDriftRecords implements DriftRecords {
  private readonly kept = new Map<string, TenantDriftRecord>();

  record(record: TenantDriftRecord): Promise<void> {
    this.kept.set(record.tenantId, { ...record });
    return Promise.resolve();
  }

  all(): Promise<readonly TenantDriftRecord[]> {
    return Promise.resolve([...this.kept.values()]);
  }
}

/** Keeps resync messages in memory. */
export class InMemoryResyncPublisher implements ResyncPublisher {
  readonly messages: ResyncMessage[] = [];
  /** Set to make `publish` fail (a queue outage). */
  failWith: Error | undefined;

  publish(message: ResyncMessage): Promise<void> {
    if (this.failWith !== undefined) return Promise.reject(this.failWith);
    this.messages.push(message);
    return Promise.resolve();
  }
}
