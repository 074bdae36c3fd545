import type { TableClient } from '@azure/data-tables';
import { z } from 'zod';
import type { Config } from '../config';
import { createTableIfMissing, subscriptionTableClient } from '../store/tableClient';

/** What a drift check found, for one tenant or summed over a run. */
export interface DriftCounts {
  /** Subscriptions Graph listed for the app. */
  readonly listed: number;
  /** Rows whose Graph id was gone (confirmed by a 404). */
  readonly gone: number;
  /** Of those, recreated by the check. */
  readonly recreated: number;
  readonly orphansFound: number;
  readonly orphansDeleted: number;
  /** Orphans reported and left alone: another deployment's, or unmarked. */
  readonly orphansReported: number;
  readonly drifted: number;
}

export const noDriftCounts: DriftCounts = {
  listed: 0,
  gone: 0,
  recreated: 0,
  orphansFound: 0,
  orphansDeleted: 0,
  orphansReported: 0,
  drifted: 0,
};

/**
 * When each tenant was last checked for drift, and what that check found: one row per tenant,
 * so `health` shows tenants the check has not reached and what it did.
 */
export interface TenantDriftRecord extends DriftCounts {
  readonly tenantId: string;
  readonly checkedAt: string;
  /** Graph's error code when the tenant could not be checked; null when it was. */
  readonly error: string | null;
}

export interface DriftRecords {
  record(record: TenantDriftRecord): Promise<void>;
  /** The last record of every tenant checked so far. */
  all(): Promise<readonly TenantDriftRecord[]>;
}

const count = z.number().int().nonnegative();
const recordSchema = z.object({
  tenantId: z.string(),
  checkedAt: z.string(),
  listed: count,
  gone: count,
  recreated: count,
  orphansFound: count,
  orphansDeleted: count,
  orphansReported: count,
  drifted: count,
  error: z.string().nullable(),
});

/** In the subscriptions table, in a partition of its own (tenant partitions are GUIDs). */
export const driftPartitionKey = '~drift';

export class TableDriftRecords implements DriftRecords {
  private tableReady: Promise<void> | undefined;

  constructor(private readonly client: TableClient) {}

  static fromConfig(storage: Config['storage']): TableDriftRecords {
    return new TableDriftRecords(subscriptionTableClient(storage.connection, storage.table));
  }

  async record(record: TenantDriftRecord): Promise<void> {
    await this.ready();
    await this.client.upsertEntity(
      { partitionKey: driftPartitionKey, rowKey: record.tenantId, record: JSON.stringify(record) },
      'Replace',
    );
  }

  async all(): Promise<readonly TenantDriftRecord[]> {
    await this.ready();
    const out: TenantDriftRecord[] = [];
    const rows = this.client.listEntities<{ record?: unknown }>({
      queryOptions: { filter: `PartitionKey eq '${driftPartitionKey}'` },
    });
    for await (const row of rows) {
      if (typeof row.record !== 'string') continue;
      const parsed = parseRecord(row.record);
      if (parsed !== undefined) out.push(parsed);
    }
    return out;
  }

  private ready(): Promise<void> {
    this.tableReady ??= createTableIfMissing(this.client).catch((e: unknown) => {
      this.tableReady = undefined;
      throw e;
    });
    return this.tableReady;
  }
}

function parseRecord(text: string): TenantDriftRecord | undefined {
  try {
    const parsed = recordSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
