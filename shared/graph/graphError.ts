/**
 * The one error type for Graph failures. Decisions branch on `status` and `code`, never on
 * `message` (Graph's messages are not a contract, docs/graph-rules.md#errors).
 */
export class GraphError extends Error {
  /** HTTP status; 0 when there was no response (network error, timeout, abort). */
  readonly status: number;
  /** Graph's `error.code` (or the inner code when more specific); ours when there was no body. */
  readonly code: string;
  readonly requestId: string | undefined;
  /** From Retry-After on 429/503/504, in milliseconds. */
  readonly retryAfterMs: number | undefined;
  /** On 403: the permissions the resource needs, so an operator knows what to grant. */
  readonly requiredPermissions: readonly string[] | undefined;

  constructor(init: {
    status: number;
    code: string;
    message: string;
    requestId?: string | undefined;
    retryAfterMs?: number | undefined;
    requiredPermissions?: readonly string[] | undefined;
    cause?: unknown;
  }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'GraphError';
    this.status = init.status;
    this.code = init.code;
    this.requestId = init.requestId;
    this.retryAfterMs = init.retryAfterMs;
    this.requiredPermissions = init.requiredPermissions;
  }

  /** Compares codes case-insensitively: Graph sends both `itemNotFound` and `ItemNotFound`. */
  hasCode(code: string): boolean {
    return this.code.toLowerCase() === code.toLowerCase();
  }
}

export function isGraphError(e: unknown): e is GraphError {
  return e instanceof GraphError;
}

/** Codes we use when Graph gave no error body. */
export const localGraphErrorCodes = {
  network: 'NetworkError',
  timeout: 'Timeout',
  aborted: 'Aborted',
  invalidResponse: 'InvalidResponse',
  invalidDefinition: 'InvalidDefinition',
} as const;
