import type { CallKind, ThrottleLimits } from './types';

/** Graph's subscription API limits per 20 s (docs/graph-rules.md#limits-and-throttling, learn.microsoft.com/graph/throttling-limits). */
export const graphThrottleLimits: ThrottleLimits = {
  windowMs: 20_000,
  writesPerTenant: 500,
  writesPerApp: 2000,
  reauthorizePerTenant: 1000,
  reauthorizePerApp: 4000,
  getPerTenant: 500,
  getPerApp: 2000,
  listPerTenant: 25,
  listPerApp: 40,
};

type Bucket = 'write' | 'reauthorize' | 'get' | 'list';

function bucketOf(kind: CallKind): Bucket | undefined {
  switch (kind) {
    case 'create':
    case 'update':
    case 'delete':
      return 'write';
    case 'reauthorize':
      return 'reauthorize';
    case 'get':
      return 'get';
    case 'list':
      return 'list';
    default:
      return undefined;
  }
}

function limitsOf(limits: ThrottleLimits, bucket: Bucket): { tenant: number; app: number } {
  switch (bucket) {
    case 'write':
      return { tenant: limits.writesPerTenant, app: limits.writesPerApp };
    case 'reauthorize':
      return { tenant: limits.reauthorizePerTenant, app: limits.reauthorizePerApp };
    case 'get':
      return { tenant: limits.getPerTenant, app: limits.getPerApp };
    case 'list':
      return { tenant: limits.listPerTenant, app: limits.listPerApp };
  }
}

interface Window {
  startMs: number;
  count: number;
}

/**
 * Fixed windows of `windowMs` per (bucket, app, tenant) and per (bucket, app), each starting at
 * its first request. Every call counts, throttled ones too: "immediate retries still count
 * against your quota" (docs/graph-rules.md#limits-and-throttling). A throttled call learns how long until the
 * fullest of its windows starts over.
 */
export class Throttle {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly limits: ThrottleLimits | false,
    private readonly now: () => Date,
  ) {}

  /** Counts the call; returns the wait in ms when it is over a limit, else undefined. */
  admit(kind: CallKind, appId: string, tenantId: string): number | undefined {
    if (this.limits === false) return undefined;
    const bucket = bucketOf(kind);
    if (bucket === undefined) return undefined;
    const nowMs = this.now().getTime();
    const { tenant, app } = limitsOf(this.limits, bucket);
    const waits = [
      this.count(`${bucket}|${appId}|${tenantId}`, tenant, nowMs),
      this.count(`${bucket}|${appId}`, app, nowMs),
    ].filter((w): w is number => w !== undefined);
    return waits.length === 0 ? undefined : Math.max(...waits);
  }

  private count(key: string, limit: number, nowMs: number): number | undefined {
    const windowMs = this.limits === false ? 0 : this.limits.windowMs;
    let window = this.windows.get(key);
    if (window === undefined || nowMs >= window.startMs + windowMs || nowMs < window.startMs) {
      window = { startMs: nowMs, count: 0 };
      this.windows.set(key, window);
    }
    window.count += 1;
    return window.count > limit ? window.startMs + windowMs - nowMs : undefined;
  }
}

/** Retry-After in seconds, fractional allowed (docs/graph-rules.md#limits-and-throttling: e.g. `2.128`). */
export function formatRetryAfterSeconds(ms: number): string {
  const seconds = Math.max(ms, 1) / 1000;
  return String(Math.round(seconds * 1000) / 1000);
}
