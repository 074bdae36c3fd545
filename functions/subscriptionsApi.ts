import { randomUUID } from 'node:crypto';
import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import type { AppDependencies } from '../shared/composition';
import { parseDefinitionInput } from '../shared/operations/definitionInput';
import type { FieldProblem } from '../shared/operations/errors';
import {
  acknowledgeResync,
  applyDefinition,
  deleteSubscription,
  getByKey,
  type ApplyResult,
} from '../shared/operations/subscriptionOperations';
import { deleteUnreadableSubscription } from '../shared/operations/unreadableRows';
import { verifySubscription } from '../shared/operations/verify';
import type { ActionReport } from '../shared/renewal/reconcile';
import { isInvalidRowError } from '../shared/store/subscriptionEntity';
import { isStoreError, type SubscriptionPage } from '../shared/store/subscriptionStore';
import {
  subscriptionStatuses,
  tenantIdPattern,
  toView,
  type SubscriptionStatus,
} from '../shared/subscriptions/model';
import {
  adminApiRoute,
  errorResponse,
  jsonResponse,
  readJsonBody,
  type ApiHandler,
} from './support/adminApi';

/**
 * The admin API (function key), on the same operations as the CLI:
 *
 *   GET    /api/subscriptions?tenantId=&status=&pageSize=&continuationToken=   list, paged
 *   POST   /api/subscriptions                      put a definition under a generated key
 *   PUT    /api/subscriptions/{key}                put a definition under management (idempotent)
 *   GET    /api/subscriptions/{key}[?verify=true]  the view [and its drift from Graph's copy]
 *   DELETE /api/subscriptions/{key}                delete from Graph and from management
 *   POST   /api/subscriptions/{key}/resync-ack     the owner has resynced
 *
 * NOTE: one function serves every route, so the admin API has one function key to hand out and
 * rotate, apart from the lifecycle endpoint's key (which Graph holds) and the health check's.
 *
 * `subscriptionsApiHandler(deps)` is the same handler on given dependencies (tests, sandbox);
 * without them it builds the app's on first use.
 */

export interface SubscriptionsApiHandlers {
  readonly list: ApiHandler;
  readonly create: ApiHandler;
  readonly put: ApiHandler;
  readonly get: ApiHandler;
  readonly delete: ApiHandler;
  readonly resyncAck: ApiHandler;
}

export function subscriptionsApiHandlers(deps?: AppDependencies): SubscriptionsApiHandlers {
  return {
    list: adminApiRoute('list', deps, listRoute),
    create: adminApiRoute('create', deps, createRoute),
    put: adminApiRoute('put', deps, putRoute),
    get: adminApiRoute('get', deps, getRoute),
    delete: adminApiRoute('delete', deps, deleteRoute),
    resyncAck: adminApiRoute('resyncAck', deps, resyncAckRoute),
  };
}

/** Every route in one handler: dispatches on the route parameters and the method. */
export function subscriptionsApiHandler(deps?: AppDependencies): ApiHandler {
  const routes = subscriptionsApiHandlers(deps);
  return async (request, context) => {
    const key = present(request.params.key);
    const action = present(request.params.action);
    const method = request.method.toUpperCase();
    const allowed: Readonly<Record<string, ApiHandler>> =
      key === undefined
        ? { GET: routes.list, POST: routes.create }
        : action === undefined
          ? { GET: routes.get, PUT: routes.put, DELETE: routes.delete }
          : action === 'resync-ack'
            ? { POST: routes.resyncAck }
            : {};
    const handler = allowed[method];
    if (handler !== undefined) return handler(request, context);
    const methods = Object.keys(allowed);
    return methods.length === 0
      ? errorResponse(404, 'NotFound', 'No such route in the subscriptions API.')
      : errorResponse(
          405,
          'MethodNotAllowed',
          `This route answers ${methods.join(', ')}.`,
          undefined,
          { Allow: methods.join(', ') },
        );
  };
}

export const subscriptionsApi = subscriptionsApiHandler();

app.http('subscriptionsApi', {
  route: 'subscriptions/{key?}/{action?}',
  methods: ['GET', 'POST', 'PUT', 'DELETE'],
  authLevel: 'function',
  handler: subscriptionsApi,
});

// ---- routes ----

async function putRoute(request: HttpRequest, core: AppDependencies): Promise<HttpResponseInit> {
  const key = present(request.params.key) ?? '';
  const body = await readJsonBody(request, { required: true, invalidCode: 'InvalidDefinition' });
  if (!body.ok) return body.response;
  const input = parseDefinitionInput(body.value, { key, config: core.config });
  if (!input.ok) return invalidDefinition(input.problems);
  return applied(core, await applyDefinition(core, input.definition));
}

async function createRoute(request: HttpRequest, core: AppDependencies): Promise<HttpResponseInit> {
  const body = await readJsonBody(request, { required: true, invalidCode: 'InvalidDefinition' });
  if (!body.ok) return body.response;
  const problems: FieldProblem[] = [];
  let fields = body.value;
  if (isRecord(fields) && fields.key !== undefined) {
    problems.push({
      field: 'key',
      message: 'is generated on POST; to choose it, use PUT /api/subscriptions/{key}',
    });
    const { key: _key, ...rest } = fields;
    fields = rest;
  }
  // NOTE: random, so a retried POST creates a second subscription; PUT is the idempotent way.
  const input = parseDefinitionInput(fields, { key: `sub-${randomUUID()}`, config: core.config });
  if (!input.ok) problems.push(...input.problems);
  if (!input.ok || problems.length > 0) return invalidDefinition(problems);
  return applied(core, await applyDefinition(core, input.definition));
}

async function listRoute(request: HttpRequest, core: AppDependencies): Promise<HttpResponseInit> {
  const query = request.query;
  const problems: FieldProblem[] = [];
  const tenantId = tenantFilter(query, problems);
  const statusText = present(query.get('status'));
  const status = statusText !== undefined && isStatus(statusText) ? statusText : undefined;
  if (statusText !== undefined && status === undefined) {
    problems.push({
      field: 'status',
      message: `must be one of ${subscriptionStatuses.join(', ')}`,
    });
  }
  const pageSizeText = present(query.get('pageSize'));
  const pageSize = pageSizeText === undefined ? undefined : Number(pageSizeText);
  if (
    pageSize !== undefined &&
    !(/^\d{1,4}$/.test(pageSizeText ?? '') && pageSize >= 1 && pageSize <= 1000)
  ) {
    problems.push({ field: 'pageSize', message: 'must be a whole number from 1 to 1000' });
  }
  if (problems.length > 0) return invalidQuery(problems);
  const continuationToken = present(query.get('continuationToken'));
  let page: SubscriptionPage;
  try {
    page = await core.store.list({
      tenantId,
      status,
      pageSize,
      continuationToken,
      onInvalid: (row) => {
        core.log.warn('skipped an invalid row', {
          partitionKey: row.partitionKey,
          rowKey: row.rowKey,
          reason: row.reason,
        });
      },
    });
  } catch (e) {
    // NOTE: the store refuses a token it did not issue, or one issued for another tenant filter.
    if (!isStoreError(e, 'badInput')) throw e;
    return invalidQuery([
      {
        field: 'continuationToken',
        message: 'is not one this API issued for these filters; list again without it',
      },
    ]);
  }
  return jsonResponse(200, {
    items: page.items.map(toView),
    continuationToken: page.continuationToken ?? null,
  });
}

async function getRoute(request: HttpRequest, core: AppDependencies): Promise<HttpResponseInit> {
  const problems: FieldProblem[] = [];
  const tenantId = tenantFilter(request.query, problems);
  const verify = present(request.query.get('verify'));
  if (verify !== undefined && verify !== 'true' && verify !== 'false') {
    problems.push({ field: 'verify', message: 'must be true or false' });
  }
  if (problems.length > 0) return invalidQuery(problems);
  const sub = await getByKey(core, present(request.params.key) ?? '', tenantId);
  if (verify !== 'true') return jsonResponse(200, toView(sub));
  return jsonResponse(200, { ...toView(sub), drift: await verifySubscription(core, sub) });
}

async function deleteRoute(request: HttpRequest, core: AppDependencies): Promise<HttpResponseInit> {
  const problems: FieldProblem[] = [];
  const tenantId = tenantFilter(request.query, problems);
  if (problems.length > 0) return invalidQuery(problems);
  const key = present(request.params.key) ?? '';
  let result: Awaited<ReturnType<typeof deleteSubscription>>;
  try {
    result = await deleteSubscription(core, key, tenantId);
  } catch (e) {
    if (!isInvalidRowError(e)) throw e;
    const removed = await deleteUnreadableSubscription(core, e.problem, key);
    return jsonResponse(200, {
      deleted: true,
      unreadableRow: true,
      graphSubscriptionDeleted: removed.graphDeleted,
    });
  }
  if (result.deleted) return jsonResponse(200, { deleted: true });
  // The Graph step failed: the row stays `deleting`, and the sweep retries the delete.
  return jsonResponse(202, {
    deleted: false,
    subscription: result.subscription === undefined ? null : toView(result.subscription),
    action: actionView(result.action),
  });
}

async function resyncAckRoute(
  request: HttpRequest,
  core: AppDependencies,
): Promise<HttpResponseInit> {
  const problems: FieldProblem[] = [];
  const tenantId = tenantFilter(request.query, problems);
  if (problems.length > 0) return invalidQuery(problems);
  const body = await readJsonBody(request, { required: false, invalidCode: 'InvalidRequest' });
  if (!body.ok) return body.response;
  const ack = parseAcknowledgement(body.value);
  if (!ack.ok) {
    return errorResponse(400, 'InvalidRequest', describe(ack.problems), ack.problems);
  }
  const result = await acknowledgeResync(core, present(request.params.key) ?? '', {
    tenantId,
    requestedAt: ack.requestedAt,
  });
  return jsonResponse(200, {
    acknowledged: result.acknowledged,
    subscription: toView(result.subscription),
  });
}

// ---- reading input, shaping answers ----

function applied(core: AppDependencies, result: ApplyResult): HttpResponseInit {
  const { tenantId, key } = result.subscription.definition;
  core.log.info('definition applied', {
    tenantId,
    key,
    change: result.change,
    complete: result.complete,
  });
  // NOTE: 202 when the definition is stored but Graph does not have it as defined yet: the
  // sweep retries; the view's status and lastError say why.
  const status = !result.complete ? 202 : result.change === 'created' ? 201 : 200;
  const headers: Record<string, string> =
    result.change === 'created'
      ? { Location: `/api/subscriptions/${encodeURIComponent(key)}` }
      : {};
  return jsonResponse(
    status,
    {
      change: result.change,
      complete: result.complete,
      subscription: toView(result.subscription),
      action: actionView(result.action),
    },
    headers,
  );
}

function actionView(action: ActionReport | undefined): {
  readonly action: string;
  readonly outcome: string;
  readonly code: string | null;
  readonly status: number | null;
} | null {
  if (action === undefined) return null;
  return {
    action: action.action,
    outcome: action.outcome,
    code: action.code ?? null,
    status: action.status ?? null,
  };
}

function invalidDefinition(problems: readonly FieldProblem[]): HttpResponseInit {
  return errorResponse(400, 'InvalidDefinition', describe(problems), problems);
}

function invalidQuery(problems: readonly FieldProblem[]): HttpResponseInit {
  return errorResponse(400, 'InvalidQuery', describe(problems), problems);
}

function describe(problems: readonly FieldProblem[]): string {
  const fields = [...new Set(problems.map((p) => p.field))];
  return `${problems.length} problem(s) with ${fields.join(', ')}; see details.`;
}

/** `?tenantId=`: a tenant id, lower-cased as stored; a malformed one is named in `problems`. */
function tenantFilter(query: URLSearchParams, problems: FieldProblem[]): string | undefined {
  const tenantId = present(query.get('tenantId'));
  if (tenantId === undefined) return undefined;
  if (!tenantIdPattern.test(tenantId)) {
    problems.push({ field: 'tenantId', message: 'must be a tenant id (GUID)' });
    return undefined;
  }
  return tenantId.toLowerCase();
}

type Acknowledgement =
  | { readonly ok: true; readonly requestedAt: Date | undefined }
  | { readonly ok: false; readonly problems: readonly FieldProblem[] };

const isoTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/** The optional body of resync-ack: `{ "resyncRequestedAt": ISO time }`. */
function parseAcknowledgement(value: unknown): Acknowledgement {
  if (value === undefined) return { ok: true, requestedAt: undefined };
  if (!isRecord(value)) {
    return { ok: false, problems: [{ field: '(body)', message: 'must be a JSON object' }] };
  }
  const problems: FieldProblem[] = Object.keys(value)
    .filter((k) => k !== 'resyncRequestedAt')
    .map((k) => ({ field: k, message: 'is not a field of a resync acknowledgement' }));
  const requested = value.resyncRequestedAt;
  let requestedAt: Date | undefined;
  if (requested !== undefined) {
    const time =
      typeof requested === 'string' && isoTime.test(requested) ? Date.parse(requested) : NaN;
    if (Number.isNaN(time)) {
      problems.push({
        field: 'resyncRequestedAt',
        message: "must be an ISO 8601 time: the subscription's resyncRequestedAt",
      });
    } else {
      requestedAt = new Date(time);
    }
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, requestedAt };
}

function isStatus(value: string): value is SubscriptionStatus {
  return (subscriptionStatuses as readonly string[]).includes(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A route or query value, with an empty one read as absent. */
function present(value: string | null | undefined): string | undefined {
  return value === null || value === undefined || value === '' ? undefined : value;
}
