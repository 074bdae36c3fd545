import type { CallKind, FaultRule } from './types';

/** What a request looks like to a fault rule. */
export interface FaultTarget {
  readonly method: string;
  readonly kind: CallKind;
  readonly tenantId: string | undefined;
  readonly subscriptionId: string | undefined;
  /** True for /v1.0 and /beta requests; false for the identity endpoints. */
  readonly graphApi: boolean;
}

interface ActiveRule {
  readonly rule: FaultRule;
  remaining: number;
}

/**
 * Injected faults, tried in the order they were added: the first rule that matches the request,
 * passes its probability draw and is not spent is taken (and one of its `times` used).
 */
export class FaultBook {
  private rules: ActiveRule[] = [];

  constructor(private readonly random: () => number) {}

  add(rule: FaultRule): void {
    const kind = rule.kind ?? 'status';
    if (
      kind === 'status' &&
      (rule.status === undefined || rule.status < 100 || rule.status > 599)
    ) {
      throw new Error("A 'status' fault needs a status between 100 and 599.");
    }
    if (rule.probability !== undefined && (rule.probability < 0 || rule.probability > 1)) {
      throw new Error('A fault probability is between 0 and 1.');
    }
    if (rule.times !== undefined && (!Number.isInteger(rule.times) || rule.times < 1)) {
      throw new Error('A fault applies a positive whole number of times.');
    }
    this.rules.push({
      rule: { ...rule, match: { ...rule.match } },
      remaining: rule.times ?? Infinity,
    });
  }

  clear(): void {
    this.rules = [];
  }

  take(target: FaultTarget): FaultRule | undefined {
    for (const active of this.rules) {
      if (active.remaining <= 0 || !matches(active.rule, target)) continue;
      if (this.random() >= (active.rule.probability ?? 1)) continue;
      active.remaining -= 1;
      return active.rule;
    }
    return undefined;
  }
}

function matches(rule: FaultRule, target: FaultTarget): boolean {
  const m = rule.match ?? {};
  if (m.kind === undefined ? !target.graphApi : m.kind !== target.kind) return false;
  if ((rule.kind ?? 'status') === 'ignoreExpiry' && target.kind !== 'update') return false;
  if (m.method !== undefined && m.method.toUpperCase() !== target.method.toUpperCase()) {
    return false;
  }
  if (m.tenantId !== undefined && m.tenantId.toLowerCase() !== target.tenantId?.toLowerCase()) {
    return false;
  }
  if (m.subscriptionId !== undefined && m.subscriptionId !== target.subscriptionId) return false;
  return true;
}

/** Graph's error code for a status when the rule names none (docs/graph-rules.md#limits-and-throttling, docs/graph-rules.md#errors). */
export function defaultFaultCode(status: number): string {
  switch (status) {
    case 400:
      return 'BadRequest';
    case 401:
      return 'InvalidAuthenticationToken';
    case 403:
      return 'ExtensionError';
    case 404:
      return 'itemNotFound';
    case 409:
      return 'Conflict';
    case 429:
      return 'TooManyRequests';
    case 502:
      return 'BadGateway';
    case 503:
      return 'ServiceNotAvailable';
    case 504:
      return 'GatewayTimeout';
    default:
      return status >= 500 ? 'generalException' : 'BadRequest';
  }
}

/** `operation` is Graph's name for the call in ExtensionError messages, e.g. 'Create'. */
export function defaultFaultMessage(status: number, operation: string): string {
  switch (status) {
    case 403:
      return accessDeniedMessage(operation);
    case 429:
      return 'Please retry again later.';
    case 503:
      return 'The service is temporarily unavailable. Please retry later.';
    default:
      return `Simulated fault (HTTP ${status}).`;
  }
}

/** The 403 text Graph gives when the app lacks permission (docs/graph-rules.md#errors). */
export function accessDeniedMessage(operation: string): string {
  return `Operation: ${operation}; Exception: [Status Code: Forbidden; Reason: Access denied]`;
}

/** Graph's name for an operation in ExtensionError messages (docs/graph-rules.md#errors). */
export function operationName(kind: CallKind): string {
  switch (kind) {
    case 'create':
      return 'Create';
    case 'get':
      return 'Get';
    case 'list':
      return 'List';
    case 'update':
      return 'Update';
    case 'reauthorize':
      return 'Reauthorize';
    case 'delete':
      return 'Delete';
    default:
      return 'Request';
  }
}
