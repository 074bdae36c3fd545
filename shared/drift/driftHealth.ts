import type { DriftRecords } from './driftRecords';

/**
 * The drift section of the health view: when each tenant was last checked, orphans found and
 * recreations by the drift check (from each tenant's last check), and tenants not checked within
 * two drift periods.
 */
export interface DriftHealth {
  readonly periodMinutes: number;
  readonly orphansFound: number;
  readonly orphansReported: number;
  readonly recreatedByDrift: number;
  readonly tenants: readonly {
    readonly tenantId: string;
    readonly lastCheckedAt: string | null;
    readonly error: string | null;
  }[];
  /** Tenants with subscriptions whose last check is older than two periods, or missing. */
  readonly notCheckedWithinTwoPeriods: readonly string[];
}

export async function driftHealth(
  records: DriftRecords,
  tenants: readonly string[],
  periodMs: number,
  now: Date,
): Promise<{ readonly view: DriftHealth; readonly reasons: readonly string[] }> {
  const all = await records.all();
  const byTenant = new Map(all.map((r) => [r.tenantId, r]));
  const stale = tenants.filter((t) => {
    const record = byTenant.get(t);
    return record === undefined || now.getTime() - Date.parse(record.checkedAt) > 2 * periodMs;
  });
  const view: DriftHealth = {
    periodMinutes: Math.round(periodMs / 60_000),
    orphansFound: sum(all.map((r) => r.orphansFound)),
    orphansReported: sum(all.map((r) => r.orphansReported)),
    recreatedByDrift: sum(all.map((r) => r.recreated)),
    tenants: tenants.map((tenantId) => ({
      tenantId,
      lastCheckedAt: byTenant.get(tenantId)?.checkedAt ?? null,
      error: byTenant.get(tenantId)?.error ?? null,
    })),
    notCheckedWithinTwoPeriods: stale,
  };
  // NOTE: before the first drift check has recorded anything (a fresh deployment), "never
  // checked" is expected and not a reason to fail the availability test; after it, it is.
  const reasons =
    all.length > 0 && stale.length > 0
      ? [`${stale.length} tenant(s) not checked for drift within two drift periods`]
      : [];
  return { view, reasons };
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
