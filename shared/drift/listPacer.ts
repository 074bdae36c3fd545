import type { Clock } from '../clock';
import { WritePacer } from '../renewal/writePacer';

/**
 * Paces `GET /subscriptions` pages under Graph's list limit: 25 requests per 20 s per app per
 * tenant and 40 per 20 s per app across tenants
 * (https://learn.microsoft.com/graph/throttling-limits, "Subscription service limits"). It uses
 * 80% of each, with the same virtual-scheduling bucket as the write pacer, so a check of every
 * tenant meets no 429 and leaves room for the list calls that adoption after a 409 makes.
 */
export const graphListLimits = { perTenant: 25, perApp: 40, windowMs: 20_000 } as const;
export const listBudget = 0.8;

export class ListPacer {
  private readonly pacer: WritePacer;

  constructor(clock: Clock, windowMs: number = graphListLimits.windowMs) {
    const perTenant = { limit: graphListLimits.perTenant, budget: listBudget };
    const perApp = { limit: graphListLimits.perApp, budget: listBudget };
    // NOTE: a pacer of its own: list calls have their own limits, apart from writes.
    this.pacer = new WritePacer(clock, {
      windowMs,
      write: { perTenant, perApp },
      reauthorize: { perTenant, perApp },
    });
  }

  /** Waits until the next list page for this tenant may be asked for. */
  acquire(tenantId: string, signal?: AbortSignal): Promise<void> {
    return this.pacer.acquire('write', tenantId, signal);
  }

  /** List requests per window this pacer sends at most, app-wide (for reports). */
  static appRatePerWindow(): number {
    return Math.floor(graphListLimits.perApp * listBudget);
  }
}
