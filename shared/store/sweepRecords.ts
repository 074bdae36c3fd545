import type { TableClient } from '@azure/data-tables';
import { z } from 'zod';
import type { Config } from '../config';
import type { FleetSummary } from '../operations/health';
import type { SweepSummary } from '../renewal/sweep';
import { createTableIfMissing, statusOf, subscriptionTableClient } from './tableClient';

/**
 * Where the outcome of the last sweep is kept, so `health` (and `graph-subs status`) can say
 * whether the sweep runs and runs clean (the sweep flow's last step). Dry runs are not
 * recorded: they change nothing.
 */
export interface SweepRecords {
  /** Keeps the sweep's summary and, when given, the fleet counts taken after it (one row). */
  record(summary: SweepSummary, fleet?: FleetSummary): Promise<void>;
  /** The last sweep recorded, or undefined when none has been (or the record is unreadable). */
  last(): Promise<SweepSummary | undefined>;
  /** The last sweep and the last fleet counts, in one point read. */
  kept(): Promise<KeptRecord>;
}

export interface KeptRecord {
  readonly sweep?: SweepSummary;
  readonly fleet?: FleetSummary;
}

/** What is kept: the summary without the dry-run plan. */
export function recordable(summary: SweepSummary): SweepSummary {
  const { planned: _planned, ...rest } = summary;
  return rest;
}

/** In the subscriptions table, in a partition of its own (tenant partitions are GUIDs). */
export const runsPartitionKey = '~runs';
const lastSweepRowKey = 'sweep|last';

export class TableSweepRecords implements SweepRecords {
  private tableReady: Promise<void> | undefined;

  constructor(private readonly client: TableClient) {}

  static fromConfig(storage: Config['storage']): TableSweepRecords {
    return new TableSweepRecords(subscriptionTableClient(storage.connection, storage.table));
  }

  async record(summary: SweepSummary, fleet?: FleetSummary): Promise<void> {
    if (summary.dryRun) return;
    await this.ready();
    // NOTE: last writer wins: two overlapping sweeps each record their own outcome, in order of
    // finishing, which is what "the last sweep" means to a reader. Merge keeps the last fleet
    // counts when this sweep could not take them.
    await this.client.upsertEntity(
      {
        partitionKey: runsPartitionKey,
        rowKey: lastSweepRowKey,
        summary: JSON.stringify(recordable(summary)),
        ...(fleet === undefined ? {} : { fleet: JSON.stringify(fleet) }),
      },
      'Merge',
    );
  }

  async kept(): Promise<KeptRecord> {
    await this.ready();
    try {
      const entity = await this.client.getEntity<{ summary?: unknown; fleet?: unknown }>(
        runsPartitionKey,
        lastSweepRowKey,
      );
      return keptOf(entity);
    } catch (e) {
      if (statusOf(e) === 404) return {};
      throw e;
    }
  }

  async last(): Promise<SweepSummary | undefined> {
    await this.ready();
    try {
      const entity = await this.client.getEntity<{ summary?: unknown }>(
        runsPartitionKey,
        lastSweepRowKey,
      );
      return typeof entity.summary === 'string' ? parseSummary(entity.summary) : undefined;
    } catch (e) {
      if (statusOf(e) === 404) return undefined;
      throw e;
    }
  }

  private ready(): Promise<void> {
    this.tableReady ??= createTableIfMissing(this.client).catch((e: unknown) => {
      this.tableReady = undefined;
      throw e;
    });
    return this.tableReady;
  }
}

const count = z.number().int().nonnegative();
const summarySchema = z.object({
  startedAt: z.string(),
  finishedAt: z.string(),
  durationMs: z.number().nonnegative(),
  dryRun: z.boolean(),
  due: count,
  counts: z.record(z.string(), z.record(z.string(), count)),
  failures: z.array(
    z.object({
      tenantId: z.string(),
      key: z.string(),
      action: z.string(),
      code: z.string().optional(),
      status: z.number().optional(),
    }),
  ),
  failureCount: count,
  invalidRows: count,
  unexpectedErrors: count,
});

function parseSummary(text: string): SweepSummary | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = summarySchema.safeParse(json);
  // NOTE: the schema checks the shape; the action names are the sweep's own, written by it.
  return parsed.success ? (parsed.data as SweepSummary) : undefined;
}

const fleetSchema = z.object({
  computedAt: z.string(),
  total: count,
  statuses: z.record(z.string(), count),
  lapsed: count,
  problemCount: count,
  resyncsPending: count,
  oldestUnacknowledgedResyncAt: z.string().nullable(),
  soonestExpiry: z.string().nullable(),
  expiringWithinHours: z.array(z.object({ hours: z.number(), count })),
});

/** The kept record from its stored JSON texts; an unreadable part is left out. */
export function keptOf(row: { summary?: unknown; fleet?: unknown }): KeptRecord {
  const sweep = typeof row.summary === 'string' ? parseSummary(row.summary) : undefined;
  let fleet: FleetSummary | undefined;
  if (typeof row.fleet === 'string') {
    try {
      const parsed = fleetSchema.safeParse(JSON.parse(row.fleet));
      // NOTE: the schema checks the shape; the status names are the sweep's own, written by it.
      if (parsed.success) fleet = parsed.data as unknown as FleetSummary;
    } catch {
      fleet = undefined;
    }
  }
  return { ...(sweep === undefined ? {} : { sweep }), ...(fleet === undefined ? {} : { fleet }) };
}
