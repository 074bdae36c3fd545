import type { Clock } from '../clock';

/**
 * Paces Graph subscription calls under Graph's limits (docs/graph-rules.md#limits-and-throttling): writes (POST, PATCH,
 * DELETE) 500 per 20 s per app per tenant and 2,000 per app; reauthorize 1,000 and 4,000. By
 * default it uses 90% of each, so a large sweep runs as fast as Graph allows and meets no 429.
 *
 * Each limit is a GCRA (virtual-scheduling token bucket): a steady rate of `budget / window` with
 * a small burst. Burst + rate x window stays at or under the limit in any window, whatever the
 * alignment of Graph's own windows. Slots are reserved before sleeping, so waiting callers never
 * stampede.
 */

export type PacedCall = 'write' | 'reauthorize';

export interface PaceLimit {
  /** Graph's limit per window. */
  readonly limit: number;
  /** Fraction of the limit we use (0 < budget <= 1). */
  readonly budget: number;
}

export interface PaceLimits {
  readonly windowMs: number;
  readonly write: { readonly perTenant: PaceLimit; readonly perApp: PaceLimit };
  readonly reauthorize: { readonly perTenant: PaceLimit; readonly perApp: PaceLimit };
}

export function graphPaceLimits(budget = 0.9, windowMs = 20_000): PaceLimits {
  return {
    windowMs,
    write: { perTenant: { limit: 500, budget }, perApp: { limit: 2000, budget } },
    reauthorize: { perTenant: { limit: 1000, budget }, perApp: { limit: 4000, budget } },
  };
}

interface Cell {
  /** Time between calls at the steady rate. */
  readonly intervalMs: number;
  /** How far ahead of the steady schedule a burst may run. */
  readonly toleranceMs: number;
}

function cellFor(limit: PaceLimit, windowMs: number): Cell {
  const rate = Math.max(1, Math.floor(limit.limit * limit.budget));
  const intervalMs = windowMs / rate;
  // NOTE: burst + rate x window stays half the gap below the limit: Graph's window starts at the
  // first request it sees, and a burst that leaves together can arrive late (new connections),
  // so the requests at the end of our first window must not land in Graph's first one.
  const burst = Math.max(1, Math.min(rate, Math.floor((limit.limit - rate) / 2)));
  return { intervalMs, toleranceMs: (burst - 1) * intervalMs };
}

export class WritePacer {
  /** Theoretical arrival time per key (GCRA). */
  private readonly tat = new Map<string, number>();
  private readonly cells: Record<PacedCall, { perTenant: Cell; perApp: Cell }>;

  constructor(
    private readonly clock: Clock,
    limits: PaceLimits = graphPaceLimits(),
  ) {
    this.cells = {
      write: {
        perTenant: cellFor(limits.write.perTenant, limits.windowMs),
        perApp: cellFor(limits.write.perApp, limits.windowMs),
      },
      reauthorize: {
        perTenant: cellFor(limits.reauthorize.perTenant, limits.windowMs),
        perApp: cellFor(limits.reauthorize.perApp, limits.windowMs),
      },
    };
  }

  /** Waits until a call of this kind for this tenant may go out, and takes its slot. */
  async acquire(kind: PacedCall, tenantId: string, signal?: AbortSignal): Promise<void> {
    const wait = this.reserve(kind, tenantId, this.clock.now().getTime());
    if (wait > 0) await this.clock.sleep(wait, signal);
  }

  /** Reserves a slot and returns how long to wait for it, in ms. */
  reserve(kind: PacedCall, tenantId: string, now: number): number {
    const cells = this.cells[kind];
    const tenantKey = `${kind}|${tenantId}`;
    const appKey = kind;
    const slot = Math.max(
      this.allowedAt(tenantKey, cells.perTenant, now),
      this.allowedAt(appKey, cells.perApp, now),
    );
    this.take(tenantKey, cells.perTenant, slot);
    this.take(appKey, cells.perApp, slot);
    return slot - now;
  }

  private allowedAt(key: string, cell: Cell, now: number): number {
    const tat = this.tat.get(key) ?? now;
    return Math.max(now, tat - cell.toleranceMs);
  }

  private take(key: string, cell: Cell, slot: number): void {
    const tat = this.tat.get(key) ?? slot;
    this.tat.set(key, Math.max(tat, slot) + cell.intervalMs);
  }
}
