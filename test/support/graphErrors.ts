import { isGraphError, type GraphError } from '../../shared/graph/graphError';

/** The `GraphError` a call rejects with; fails the test when it resolves or throws anything else. */
export async function graphErrorOf(promise: Promise<unknown>): Promise<GraphError> {
  try {
    await promise;
  } catch (e) {
    if (isGraphError(e)) return e;
    throw e;
  }
  throw new Error('expected a GraphError');
}
