import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { appDependencies, type AppDependencies } from '../../shared/composition';
import { readBodyCapped } from '../../shared/lifecycle/readBody';
import { isOperationError, type FieldProblem } from '../../shared/operations/errors';
import { isInvalidRowError } from '../../shared/store/subscriptionEntity';
import { invocationLogger } from './invocationLogger';

/**
 * The admin API's HTTP conventions, in one place: JSON in (size-capped, JSON content type), JSON
 * out, never cached, and every refusal as `{ error: { code, message, details? } }`. Operation
 * errors map to their status; anything else is a 500 with a generic message, logged with the
 * error's name only (a message could quote a URL with its key).
 */

export type ApiHandler = (
  request: HttpRequest,
  context: InvocationContext,
) => Promise<HttpResponseInit>;

/** The largest body accepted: a definition with a 16 KB certificate fits many times over. */
export const maxApiBodyBytes = 256 * 1024;

export interface ApiErrorBody {
  readonly error: {
    readonly code: string;
    readonly message: string;
    readonly details?: readonly FieldProblem[];
    readonly invocationId?: string;
  };
}

/** Answers change with every write: no proxy or browser may keep one. */
const noStore = { 'Cache-Control': 'no-store' } as const;

export function jsonResponse(
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): HttpResponseInit {
  return { status, jsonBody: body, headers: { ...noStore, ...headers } };
}

export function errorResponse(
  status: number,
  code: string,
  message: string,
  details?: readonly FieldProblem[],
  headers: Readonly<Record<string, string>> = {},
): HttpResponseInit {
  const body: ApiErrorBody = {
    error: details === undefined ? { code, message } : { code, message, details },
  };
  return jsonResponse(status, body, headers);
}

export type JsonBody =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly response: HttpResponseInit };

export interface ReadJsonBodyOptions {
  /** An empty body is refused (a definition); otherwise it reads as `undefined`. */
  readonly required: boolean;
  /** The error code of a body that is not a JSON document. */
  readonly invalidCode: string;
}

/** Reads the request's JSON body, or the response that refuses it. */
export async function readJsonBody(
  request: HttpRequest,
  options: ReadJsonBodyOptions,
): Promise<JsonBody> {
  const refuse = (message: string): JsonBody => ({
    ok: false,
    response: errorResponse(400, options.invalidCode, `The request body ${message}.`, [
      { field: '(body)', message },
    ]),
  });
  const body = await readBodyCapped(
    request.body,
    request.headers.get('content-length'),
    maxApiBodyBytes,
  );
  if (!body.ok) {
    return body.reason === 'tooLarge'
      ? {
          ok: false,
          response: errorResponse(
            413,
            'BodyTooLarge',
            `The request body is larger than ${maxApiBodyBytes} bytes.`,
          ),
        }
      : refuse('is not UTF-8 text');
  }
  if (body.text.trim() === '') {
    return options.required
      ? refuse('is required (a JSON object)')
      : { ok: true, value: undefined };
  }
  // NOTE: checked once there is a body: `curl -d` sends form encoding unless told otherwise.
  if (!isJsonMediaType(request.headers.get('content-type'))) {
    return {
      ok: false,
      response: errorResponse(
        415,
        'UnsupportedMediaType',
        'Send the body as JSON with Content-Type: application/json.',
      ),
    };
  }
  try {
    return { ok: true, value: JSON.parse(body.text) as unknown };
  } catch {
    return refuse('is not valid JSON');
  }
}

function isJsonMediaType(contentType: string | null): boolean {
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  return mediaType === 'application/json' || (mediaType?.endsWith('+json') ?? false);
}

/**
 * Wraps an admin API route: resolves the dependencies (the app's, built on first use, unless
 * given), with the invocation's logger, and turns what the route throws into a response.
 */
export function adminApiRoute(
  operation: string,
  deps: AppDependencies | undefined,
  route: (request: HttpRequest, core: AppDependencies) => Promise<HttpResponseInit>,
): ApiHandler {
  return async (request, context) => {
    const log = invocationLogger(context);
    let core: AppDependencies;
    try {
      core = { ...(deps ?? (await appDependencies())), log };
    } catch (e) {
      log.error('admin API could not start its dependencies', { operation, error: errorName(e) });
      return errorResponse(
        503,
        'Unavailable',
        'The service cannot reach its storage or settings now; retry later.',
        undefined,
        { 'Retry-After': '30' },
      );
    }
    try {
      return await route(request, core);
    } catch (e) {
      if (isOperationError(e)) {
        return errorResponse(
          e.status,
          e.code,
          e.message,
          e.details,
          e.status === 503 ? { 'Retry-After': '30' } : {},
        );
      }
      if (isInvalidRowError(e)) {
        // NOTE: a hand-edited or corrupted row: the operator can see why and remove it, rather
        // than get a 500 (the reason names fields and what is wrong, never a stored value).
        log.warn('admin API found a row it cannot read', { operation, rowKey: e.problem.rowKey });
        return errorResponse(
          409,
          'UnreadableRow',
          `The stored row of this subscription cannot be read (${e.problem.reason}); DELETE removes it.`,
        );
      }
      log.error('admin API request failed unexpectedly', { operation, error: errorName(e) });
      const body: ApiErrorBody = {
        error: {
          code: 'InternalError',
          message:
            'The request failed unexpectedly; the function logs have the details under this invocation id.',
          invocationId: context.invocationId,
        },
      };
      return jsonResponse(500, body);
    }
  };
}

/** Only the name: messages of unexpected errors may quote URLs (and their keys) or payloads. */
export function errorName(e: unknown): string {
  return e instanceof Error ? e.name : typeof e;
}
