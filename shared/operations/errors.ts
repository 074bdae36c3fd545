/**
 * Refusals of the admin operations, each with the HTTP status the API answers and a message that
 * names no secret. The CLI maps them to exit code 1.
 */
export class OperationError extends Error {
  constructor(
    readonly status: 400 | 404 | 409 | 502 | 503,
    readonly code: string,
    message: string,
    readonly details?: readonly FieldProblem[],
  ) {
    super(message);
    this.name = 'OperationError';
  }
}

export interface FieldProblem {
  readonly field: string;
  readonly message: string;
}

export const isOperationError = (e: unknown): e is OperationError => e instanceof OperationError;

export function notFound(key: string): OperationError {
  return new OperationError(404, 'NotFound', `No managed subscription has the key ${key}`);
}
