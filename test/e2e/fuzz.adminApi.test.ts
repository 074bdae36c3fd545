import type { TableClient } from '@azure/data-tables';
import fc from 'fast-check';
import { subscriptionsApiHandler } from '../../functions/subscriptionsApi';
import { runSweep } from '../../shared/renewal/sweep';
import type { StoredSubscription, SubscriptionDefinition } from '../../shared/subscriptions/model';
import { startHarness, type Harness } from '../../devkit/appHarness';
import {
  assertProperty,
  contentTypes,
  fuzzRequest,
  fuzzRuns,
  hostileString,
  hostileTenantId,
  invoke,
  isJsonContentType,
  jsonText,
  nestedJson,
  objectText,
  rawTable,
  snapshotWorld,
  utf8,
  type FuzzAnswer,
  type Handler,
} from '../support/fuzzing';

/**
 * Fuzzing the admin API (issue 9): generated requests go to the real handler
 * (`subscriptionsApiHandler(deps)`: every route, real `HttpRequest` with route parameters and a
 * real `InvocationContext`) on the real core, with Azurite and the Graph simulator. Route keys,
 * query strings (tenantId, status, pageSize, continuationToken, verify) and bodies (definitions
 * with every kind of wrong field, random bytes, truncated or deeply nested JSON, huge bodies,
 * wrong content types) are generated. Whatever arrives: no 5xx, no exception, the documented
 * answer (400, 404, 405, 409, 413 or 415 with `{ error: { code, message } }`; 200 for a read or
 * a valid no-op), no clientState, function key, URL key or app secret in an answer or a log
 * line, and nothing changed: every table row keeps its ETag, the simulator's subscriptions stay
 * as they were, and Graph is not called (a `GET ?verify=true` of a known key may read it).
 *
 * Requests that would create or delete a subscription are not generated: every definition sent
 * has at least one defect, is put under a key in use in another tenant (409), or is the stored
 * one sent again (200, unchanged); DELETE names a key that does not exist in the tenant asked.
 *
 * Each bug the fuzz found has a plain regression test below the property.
 *
 * FUZZ_RUNS sets the runs per property (default 200; `npm run fuzz`: 10,000), FUZZ_SEED the seed.
 */

const runs = fuzzRuns();
const otherTenant = '6f1f3a52-8d0c-4c43-a0c1-3f6b9a2e7d10';
/** The function key of the request URL, and the key in an owner's notification URL. */
const requestKey = 'admin-api-key-in-the-url';
const hookKey = 'hook-secret-key-of-the-owner';
const hookUrl = `https://hooks.example.com/api/notify?code=${hookKey}`;
/** The admin API's documented body cap (functions/support/adminApi.ts). */
const maxBodyBytes = 256 * 1024;
/** Documented formats (docs/admin-api.md#definitions, the definition schema's messages). */
const guid = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const keyFormat = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const statuses = [
  'pending',
  'active',
  'reauthorizationRequired',
  'removed',
  'failing',
  'failed',
  'deleting',
];

let h: Harness;
let handler: Handler;
let table: TableClient;
let seeded: StoredSubscription[];
let secrets: string[];

beforeAll(async () => {
  h = await startHarness({ clock: 'real' });
  await h.manage({ key: 'alpha', notificationUrl: hookUrl });
  await h.manage({ key: 'beta.2' });
  await h.manage({ key: 'gamma:3', tenantId: otherTenant });
  await runSweep(h.deps, h.deps.sweepOptions);
  seeded = [await h.read('alpha'), await h.read('beta.2'), await h.read('gamma:3', otherTenant)];
  for (const row of seeded) expect(row.status).toBe('active');
  handler = subscriptionsApiHandler(h.deps);
  table = rawTable(h.config.storage.table);
  secrets = [
    ...seeded.map((r) => r.clientState),
    hookKey,
    requestKey,
    'function-key', // in the harness's LIFECYCLE_NOTIFICATION_URL
    h.sim.clientSecret,
  ];
}, 60_000);

afterAll(async () => {
  await h.stop();
});

// ---- requests ----

type LengthHeader = 'exact' | 'none' | 'huge';

interface Body {
  readonly label: string;
  readonly bytes: Uint8Array;
}

interface AdminCase {
  readonly label: string;
  readonly method: string;
  /** Route parameters as the host passes them; '' reads as absent. */
  readonly key: string | undefined;
  readonly action: string | undefined;
  readonly query: readonly (readonly [string, string])[];
  readonly contentType: string | undefined;
  readonly lengthHeader: LengthHeader;
  readonly body: Body | undefined;
  /**
   * What the body means to the definition routes: a definition with a defect, a definition
   * put under a key another tenant uses, the stored definition again, or anything else.
   */
  readonly meaning: 'defective' | 'crossTenant' | 'unchanged' | 'other';
}

const body = (label: string, text: string): Body => ({ label, bytes: utf8(text) });

function isHttpsUrl(text: string): boolean {
  try {
    return new URL(text).protocol === 'https:';
  } catch {
    return false;
  }
}

/** Keys for the route: the seeded ones, their near misses, hostile text, unknown valid keys. */
function routeKey(): fc.Arbitrary<string> {
  const known = seeded.map((r) => r.definition.key);
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...known) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        ...known.flatMap((k) => [`${k}'`, k.toUpperCase(), `${k} `, `${k}/..`, `${k}%27`]),
      ),
    },
    { weight: 3, arbitrary: hostileString() },
    { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,20}$/) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('a..', 'x:..', '0.-_:', 'a'.repeat(128), 'a'.repeat(129)),
    },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }) },
  );
}

/** `tenantId` query values: ours in any case, another GUID, hostile text, empty. */
function tenantQuery(): fc.Arbitrary<string> {
  const tenants = [h.tenantId, otherTenant];
  return fc.oneof(
    fc.constantFrom(...tenants),
    fc.constantFrom(...tenants.map((t) => t.toUpperCase())),
    fc.uuid(),
    hostileTenantId(tenants),
    fc.constant(''),
  );
}

function queryParams(route: 'list' | 'get' | 'other'): fc.Arbitrary<[string, string][]> {
  const param = fc.oneof(
    { weight: 4, arbitrary: tenantQuery().map((v): [string, string] => ['tenantId', v]) },
    {
      weight: route === 'list' ? 3 : 1,
      arbitrary: fc
        .oneof(
          fc.constantFrom(...statuses),
          fc.constantFrom('Active', 'ACTIVE', ''),
          hostileString(3),
        )
        .map((v): [string, string] => ['status', v]),
    },
    {
      weight: route === 'list' ? 3 : 1,
      arbitrary: fc
        .oneof(
          fc.integer({ min: 1, max: 1000 }).map(String),
          fc.constantFrom('0', '1001', '-1', '1.5', '1e3', ' 5', '05', '00001', '', 'NaN', '99999'),
          hostileString(3),
        )
        .map((v): [string, string] => ['pageSize', v]),
    },
    {
      weight: route === 'list' ? 3 : 1,
      arbitrary: fc
        .oneof(
          fc.base64String({ maxLength: 60 }),
          hostileString(),
          fc
            .record({
              t: hostileTenantId([h.tenantId, otherTenant]),
              c: fc.option(hostileString()),
            })
            .map((o) => Buffer.from(JSON.stringify(o)).toString('base64url')),
          fc
            .constantFrom(h.tenantId, otherTenant)
            .map((t) => Buffer.from(JSON.stringify({ t })).toString('base64url')),
          // NOTE: a position in a known tenant with a forged storage token, which reaches the SDK.
          fc
            .record({
              t: fc.constantFrom(h.tenantId, otherTenant),
              c: fc.oneof(
                hostileString(),
                fc.base64String({ minLength: 4, maxLength: 80 }),
                fc
                  .record({
                    nextPartitionKey: hostileString(),
                    nextRowKey: fc.option(hostileString(), { nil: undefined }),
                  })
                  .map((o) => Buffer.from(JSON.stringify(o)).toString('base64')),
              ),
            })
            .map((o) => Buffer.from(JSON.stringify(o)).toString('base64url')),
        )
        .map((v): [string, string] => ['continuationToken', v]),
    },
    {
      weight: route === 'get' ? 3 : 1,
      arbitrary: fc
        .oneof(fc.constantFrom('true', 'false', 'TRUE', '1', 'yes', ''), hostileString(2))
        .map((v): [string, string] => ['verify', v]),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(hostileString(2), hostileString(2)).filter(([k]) => k !== 'code'),
    },
  );
  return fc.array(param, { maxLength: 4 });
}

// ---- bodies ----

/** A definition that would be valid for a new key (the base every defect is applied to). */
function validDefinition(): fc.Arbitrary<[string, unknown][]> {
  return fc
    .record({
      id: fc.uuid(),
      lifetime: fc.option(fc.integer({ min: 60, max: 10080 }), { nil: undefined }),
      tls: fc.option(fc.constantFrom('v1_2', 'v1_3'), { nil: undefined }),
      tenant: fc.constantFrom(h.tenantId, otherTenant),
    })
    .map(({ id, lifetime, tls, tenant }) => {
      const entries: [string, unknown][] = [
        ['tenantId', tenant],
        ['resource', `users/${id}/messages`],
        ['changeType', 'created,updated'],
        ['notificationUrl', hookUrl],
      ];
      if (lifetime !== undefined) entries.push(['lifetimeMinutes', lifetime]);
      if (tls !== undefined) entries.push(['latestSupportedTlsVersion', tls]);
      return entries;
    });
}

type Defect =
  | { readonly kind: 'missing'; readonly field: string }
  | { readonly kind: 'set'; readonly field: string; readonly value: unknown }
  | { readonly kind: 'keyMismatch' };

const notHttpsUrl = fc
  .oneof(
    fc.constantFrom(
      'http://hooks.example.com/api/notify',
      'ftp://hooks.example.com/x',
      'hooks.example.com/api/notify',
      '//hooks.example.com/x',
      '',
      'javascript:alert(1)',
    ),
    hostileString(),
  )
  .filter((u) => !isHttpsUrl(u));

const fieldsOfStrings = [
  'tenantId',
  'resource',
  'changeType',
  'notificationUrl',
  'lifecycleNotificationUrl',
  'encryptionCertificate',
  'encryptionCertificateId',
  'latestSupportedTlsVersion',
];

/** One thing wrong with a definition; each is a 400 by the documented rules. */
function defect(): fc.Arbitrary<Defect> {
  return fc.oneof(
    fc.record({
      kind: fc.constant('missing' as const),
      field: fc.constantFrom('tenantId', 'resource', 'changeType', 'notificationUrl'),
    }),
    fc.record({
      kind: fc.constant('set' as const),
      field: fc.constantFrom(...fieldsOfStrings),
      value: fc.constantFrom<unknown>(1, true, null, [], { a: 1 }),
    }),
    fc.record({
      kind: fc.constant('set' as const),
      field: fc.constant('includeResourceData'),
      value: fc.constantFrom<unknown>('true', 1, null, [], 'yes'),
    }),
    fc.record({
      kind: fc.constant('set' as const),
      field: fc.constant('lifetimeMinutes'),
      value: fc.oneof(
        fc.constantFrom<unknown>('60', 0, -5, 1.5, null, true, [60], 'NaN'),
        fc.integer({ min: 10081, max: 10_000_000 }),
      ),
    }),
    fc.record({
      kind: fc.constant('set' as const),
      field: fc.constant('tenantId'),
      value: hostileTenantId([h.tenantId, otherTenant]).filter((t) => !guid.test(t)),
    }),
    fc.record({
      kind: fc.constant('set' as const),
      field: fc.constant('resource'),
      value: fc.oneof(
        fc.constantFrom<unknown>('', 'https://graph.microsoft.com/v1.0/users', 'HTTP://x/y'),
        fc.integer({ min: 1025, max: 3000 }).map((n) => 'r'.repeat(n)),
      ),
    }),
    fc.record({
      kind: fc.constant('set' as const),
      field: fc.constant('changeType'),
      value: fc.oneof(
        fc.constantFrom<unknown>(
          '',
          'create',
          'created,',
          ',created',
          'created updated',
          'created,,updated',
          'deleted;updated',
          // NOTE: not 'Created' or 'created, updated': Microsoft's pages write changeType that
          // way, so the app normalises them (docs/graph-rules.md) rather than refusing them.
        ),
        hostileString(3),
      ),
    }),
    fc.record({
      kind: fc.constant('set' as const),
      field: fc.constantFrom('notificationUrl', 'lifecycleNotificationUrl'),
      value: fc.oneof(
        notHttpsUrl,
        fc.integer({ min: 2049, max: 4000 }).map((n) => `https://h.example.com/${'p'.repeat(n)}`),
      ),
    }),
    fc.record({
      kind: fc.constant('set' as const),
      field: fc.constant('latestSupportedTlsVersion'),
      value: fc.constantFrom<unknown>('v1_4', 'tls1.2', '', 'V1_2', '1.2'),
    }),
    fc.record({
      kind: fc.constant('set' as const),
      field: fc.constant('encryptionCertificate'),
      value: fc.oneof(
        fc.constant(''),
        fc.integer({ min: 16385, max: 17000 }).map((n) => 'c'.repeat(n)),
      ),
    }),
    fc.record({
      kind: fc.constant('set' as const),
      field: fc.constant('encryptionCertificateId'),
      value: fc.oneof(
        fc.constant(''),
        fc.integer({ min: 129, max: 300 }).map((n) => 'i'.repeat(n)),
      ),
    }),
    // NOTE: rich notifications need a certificate and its id (docs/graph-rules.md#the-subscription-resource).
    fc.record({
      kind: fc.constant('set' as const),
      field: fc.constant('includeResourceData'),
      value: fc.constant<unknown>(true),
    }),
    fc.record({
      kind: fc.constant('set' as const),
      field: fc
        .oneof(
          fc.constantFrom(
            'clientState',
            'expirationDateTime',
            'id',
            'graphSubscriptionId',
            'status',
            'etag',
            '__proto__',
            'constructor',
            'Resource',
          ),
          hostileString(2),
        )
        .filter(
          (k) => !['key', ...fieldsOfStrings, 'includeResourceData', 'lifetimeMinutes'].includes(k),
        ),
      value: fc.jsonValue({ maxDepth: 2 }),
    }),
    fc.constant({ kind: 'keyMismatch' as const }),
  );
}

/** A definition with 1 to 3 defects, as JSON text, for the route key `urlKey` (none on POST). */
function defectiveDefinition(urlKey: string | undefined): fc.Arbitrary<Body> {
  return fc
    .tuple(validDefinition(), fc.array(defect(), { minLength: 1, maxLength: 3 }))
    .map(([base, defects]) => {
      const entries = new Map<string, unknown>(base);
      for (const d of defects) {
        if (d.kind === 'missing') entries.delete(d.field);
        else if (d.kind === 'set') entries.set(d.field, d.value);
        else entries.set('key', urlKey === undefined ? 'chosen-key' : `${urlKey}-other`);
      }
      return body(
        `definition with ${defects.map((d) => (d.kind === 'keyMismatch' ? 'key' : `${d.kind} ${d.field}`)).join(', ')}`,
        objectText([...entries]),
      );
    });
}

/** Bodies that are not a definition at all. */
function junkBody(): fc.Arbitrary<Body> {
  return fc.oneof(
    fc.uint8Array({ maxLength: 1024 }).map((bytes) => ({ label: 'random bytes', bytes })),
    fc.jsonValue({ maxDepth: 3 }).map((v) => body('random JSON', jsonText(v))),
    fc.tuple(validDefinition(), fc.nat()).map(([entries, cut]) => {
      const full = objectText(entries);
      return body('truncated JSON', full.slice(0, cut % full.length));
    }),
    fc
      .record({
        depth: fc.integer({ min: 1, max: 20_000 }),
        kind: fc.constantFrom<'array' | 'object'>('array', 'object'),
      })
      .map(({ depth, kind }) => body(`nested ${kind}`, nestedJson(depth, kind))),
    fc.constantFrom(
      body('empty', ''),
      body('blank', ' \n\t '),
      body('null', 'null'),
      body('array', '[]'),
    ),
  );
}

/** A body over the cap, whatever it holds. */
const hugeBody: fc.Arbitrary<Body> = fc
  .integer({ min: maxBodyBytes + 1, max: maxBodyBytes + 4096 })
  .map((size) => body('body over the size cap', `{"resource":"${'x'.repeat(size)}"}`));

// ---- the cases, route by route ----

// NOTE: mostly JSON and a truthful length, so that most bodies reach the definition's rules.
const lengthHeader = fc.oneof(
  { weight: 3, arbitrary: fc.constant<LengthHeader>('exact') },
  { weight: 4, arbitrary: fc.constant<LengthHeader>('none') },
  { weight: 1, arbitrary: fc.constant<LengthHeader>('huge') },
);
const contentType = fc.oneof(
  { weight: 3, arbitrary: fc.constant<string | undefined>('application/json') },
  { weight: 2, arbitrary: contentTypes },
);

function withTransport(
  c: Omit<AdminCase, 'contentType' | 'lengthHeader'>,
): fc.Arbitrary<AdminCase> {
  return fc.record({ type: contentType, length: lengthHeader }).map(({ type, length }) => ({
    ...c,
    contentType: type,
    lengthHeader: c.body === undefined ? 'none' : length,
  }));
}

const blank = fc.constantFrom<string | undefined>(undefined, '');

function listCases(): fc.Arbitrary<AdminCase> {
  return fc
    .record({
      key: blank,
      action: fc.option(hostileString(2), { nil: undefined }),
      query: queryParams('list'),
    })
    .chain((c) =>
      withTransport({ ...c, label: 'list', method: 'GET', body: undefined, meaning: 'other' }),
    );
}

function getCases(): fc.Arbitrary<AdminCase> {
  return fc
    .record({ key: routeKey(), action: blank, query: queryParams('get') })
    .chain((c) =>
      withTransport({ ...c, label: 'get', method: 'GET', body: undefined, meaning: 'other' }),
    );
}

/** DELETE only of keys that do not exist in the tenant asked (or with a bad tenant filter). */
function deleteCases(): fc.Arbitrary<AdminCase> {
  return fc
    .record({
      key: routeKey(),
      action: blank,
      query: queryParams('other'),
      body: fc.option(junkBody(), { nil: undefined }),
    })
    .filter((c) => {
      const query = parsedQuery(c.query);
      return tenantProblem(query) || found(c.key, tenantOf(query)) === undefined;
    })
    .chain((c) => withTransport({ ...c, label: 'delete', method: 'DELETE', meaning: 'other' }));
}

function putCases(): fc.Arbitrary<AdminCase> {
  const keyed = routeKey().chain((key) => {
    const present = key === '' ? undefined : key;
    const options: fc.Arbitrary<{ body: Body; meaning: AdminCase['meaning'] }>[] = [
      defectiveDefinition(present).map((b) => ({ body: b, meaning: 'defective' as const })),
      junkBody().map((b) => ({ body: b, meaning: 'other' as const })),
    ];
    if (present !== undefined && !keyFormat.test(present)) {
      // A definition valid in every field, under a key that is not one.
      options.push(
        validDefinition().map((entries) => ({
          body: body('valid definition, invalid key', objectText(entries)),
          meaning: 'defective' as const,
        })),
      );
    }
    const row = seeded.find((r) => r.definition.key === present);
    if (row !== undefined) {
      options.push(
        fc
          .constantFrom(...[h.tenantId, otherTenant, '00000000-0000-4000-8000-000000000000'])
          .filter((t) => t.toLowerCase() !== row.definition.tenantId)
          .map((t) => ({
            body: body(
              'definition under a key of another tenant',
              definitionText(row.definition, t),
            ),
            meaning: 'crossTenant' as const,
          })),
        fc.boolean().map((upper) => ({
          body: body(
            'the stored definition again',
            definitionText(
              row.definition,
              upper ? row.definition.tenantId.toUpperCase() : row.definition.tenantId,
            ),
          ),
          meaning: 'unchanged' as const,
        })),
      );
    }
    return fc
      .record({
        chosen: fc.oneof(...options),
        huge: fc.nat({ max: 40 }),
        bigBody: hugeBody,
        query: queryParams('other'),
      })
      .map(({ chosen, huge, bigBody, query }) => ({
        key,
        query,
        action: undefined,
        ...(huge === 0 ? { body: bigBody, meaning: 'other' as const } : chosen),
      }));
  });
  return keyed.chain((c) => withTransport({ ...c, label: 'put', method: 'PUT' }));
}

function createCases(): fc.Arbitrary<AdminCase> {
  return fc
    .record({
      key: blank,
      action: blank,
      query: queryParams('other'),
      chosen: fc.oneof(
        defectiveDefinition(undefined).map((b) => ({ body: b, meaning: 'defective' as const })),
        // NOTE: a POST body with a key is refused, however valid the rest (PUT chooses keys).
        fc.tuple(validDefinition(), routeKey()).map(([entries, key]) => ({
          body: body('valid definition with a key', objectText([['key', key], ...entries])),
          meaning: 'defective' as const,
        })),
        junkBody().map((b) => ({ body: b, meaning: 'other' as const })),
      ),
    })
    .chain(({ chosen, ...c }) =>
      withTransport({ ...c, ...chosen, label: 'create', method: 'POST' }),
    );
}

function ackCases(): fc.Arbitrary<AdminCase> {
  const ackBody = fc.oneof(
    fc.constant<Body | undefined>(undefined),
    fc.constantFrom(
      body('empty', ''),
      body('empty object', '{}'),
      body('a valid time', JSON.stringify({ resyncRequestedAt: '2026-11-22T12:00:00.000Z' })),
      body('an offset time', JSON.stringify({ resyncRequestedAt: '2026-11-22T13:00:00+01:00' })),
      body('not a time', JSON.stringify({ resyncRequestedAt: 'yesterday' })),
      body('a number', JSON.stringify({ resyncRequestedAt: 1_763_812_800_000 })),
      body('an impossible time', JSON.stringify({ resyncRequestedAt: '2026-13-45T99:99:99Z' })),
      body('another field', JSON.stringify({ acknowledged: true })),
    ),
    junkBody(),
  );
  return fc.record({ key: routeKey(), query: queryParams('other'), body: ackBody }).chain((c) =>
    withTransport({
      ...c,
      action: 'resync-ack',
      label: 'resync-ack',
      method: 'POST',
      meaning: 'other',
    }),
  );
}

/** Methods a route does not serve, and actions that do not exist. */
function wrongRouteCases(): fc.Arbitrary<AdminCase> {
  return fc
    .record({
      method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'post'),
      key: fc.option(routeKey(), { nil: undefined }),
      action: fc.option(
        fc.oneof(
          fc.constantFrom('resync-ack', 'Resync-Ack', 'resync-ack/', 'verify'),
          hostileString(2),
        ),
        { nil: undefined },
      ),
      query: queryParams('other'),
      body: fc.option(junkBody(), { nil: undefined }),
    })
    .map((c) => ({
      ...c,
      // NOTE: a GET or HEAD request cannot carry a body (the Fetch API refuses to build one).
      body: c.method.toUpperCase() === 'GET' ? undefined : c.body,
    }))
    .filter((c) => routeOf(c.method, c.key, c.action).kind === 'refused')
    .chain((c) => withTransport({ ...c, label: 'wrong route', meaning: 'other' }));
}

function cases(): fc.Arbitrary<AdminCase> {
  return fc.oneof(
    { weight: 3, arbitrary: listCases() },
    { weight: 3, arbitrary: getCases() },
    { weight: 2, arbitrary: deleteCases() },
    { weight: 5, arbitrary: putCases() },
    { weight: 3, arbitrary: createCases() },
    { weight: 3, arbitrary: ackCases() },
    { weight: 2, arbitrary: wrongRouteCases() },
  );
}

/** The definition as JSON, with the tenant given (the stored one, in any case, or another). */
function definitionText(definition: SubscriptionDefinition, tenantId: string): string {
  return JSON.stringify({ ...definition, tenantId });
}

// ---- the oracle: the API's documented answers ----

const present = (v: string | null | undefined): string | undefined =>
  v === null || v === undefined || v === '' ? undefined : v;

type Route =
  | { readonly kind: 'list' | 'create' }
  | { readonly kind: 'get' | 'put' | 'delete' | 'ack'; readonly key: string }
  | { readonly kind: 'refused'; readonly status: 404 | 405 };

/** Routes: /subscriptions (GET, POST), /{key} (GET, PUT, DELETE), /{key}/resync-ack (POST). */
function routeOf(method: string, rawKey: string | undefined, rawAction: string | undefined): Route {
  const key = present(rawKey);
  const action = present(rawAction);
  const m = method.toUpperCase();
  if (key === undefined) {
    if (m === 'GET') return { kind: 'list' };
    if (m === 'POST') return { kind: 'create' };
    return { kind: 'refused', status: 405 };
  }
  if (action === undefined) {
    if (m === 'GET') return { kind: 'get', key };
    if (m === 'PUT') return { kind: 'put', key };
    if (m === 'DELETE') return { kind: 'delete', key };
    return { kind: 'refused', status: 405 };
  }
  if (action === 'resync-ack') {
    return m === 'POST' ? { kind: 'ack', key } : { kind: 'refused', status: 405 };
  }
  return { kind: 'refused', status: 404 };
}

function parsedQuery(query: readonly (readonly [string, string])[]): URLSearchParams {
  return new URL(urlFor(undefined, undefined, query)).searchParams;
}

function tenantProblem(query: URLSearchParams): boolean {
  const t = present(query.get('tenantId'));
  return t !== undefined && !guid.test(t);
}

function tenantOf(query: URLSearchParams): string | undefined {
  const t = present(query.get('tenantId'));
  return t === undefined || !guid.test(t) ? undefined : t.toLowerCase();
}

/** The seeded subscription a key (and tenant filter) names, if any. */
function found(
  key: string | undefined,
  tenantId: string | undefined,
): StoredSubscription | undefined {
  const k = present(key);
  if (k === undefined || !keyFormat.test(k)) return undefined;
  return seeded.find(
    (r) => r.definition.key === k && (tenantId === undefined || r.definition.tenantId === tenantId),
  );
}

/** How the body of a body-reading route reads: refused with a status, or a JSON value. */
function readBody(c: AdminCase, required: boolean): { status: number } | { value: unknown } {
  const bytes = c.body?.bytes ?? new Uint8Array();
  if (c.lengthHeader === 'huge' || bytes.byteLength > maxBodyBytes) return { status: 413 };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { status: 400 };
  }
  if (text.trim() === '') return required ? { status: 400 } : { value: undefined };
  if (!isJsonContentType(c.contentType)) return { status: 415 };
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return { status: 400 };
  }
}

interface Expected {
  /** Allowed statuses. */
  readonly statuses: readonly number[];
  /** Graph may be read (GET ?verify=true of a known key). */
  readonly graphRead: boolean;
}

const only = (...statuses: number[]): Expected => ({ statuses, graphRead: false });

function expectedFor(c: AdminCase): Expected {
  const route = routeOf(c.method, c.key, c.action);
  const query = parsedQuery(c.query);
  switch (route.kind) {
    case 'refused':
      return only(route.status);
    case 'list': {
      const status = present(query.get('status'));
      const pageSize = present(query.get('pageSize'));
      const bad =
        tenantProblem(query) ||
        (status !== undefined && !statuses.includes(status)) ||
        (pageSize !== undefined &&
          !(/^\d{1,4}$/.test(pageSize) && Number(pageSize) >= 1 && Number(pageSize) <= 1000));
      if (bad) return only(400);
      // NOTE: a token the store did not issue (or issued for another filter) is a 400; one that
      // happens to decode to a valid position (generated on purpose) lists from there.
      return present(query.get('continuationToken')) === undefined ? only(200) : only(200, 400);
    }
    case 'get': {
      const verify = present(query.get('verify'));
      if (
        tenantProblem(query) ||
        (verify !== undefined && verify !== 'true' && verify !== 'false')
      ) {
        return only(400);
      }
      const row = found(route.key, tenantOf(query));
      if (row === undefined) return only(404);
      return { statuses: [200], graphRead: verify === 'true' };
    }
    case 'delete':
      return tenantProblem(query) ? only(400) : only(404);
    case 'ack': {
      if (tenantProblem(query)) return only(400);
      const read = readBody(c, false);
      if ('status' in read) return only(read.status);
      const v = read.value;
      if (v !== undefined) {
        if (typeof v !== 'object' || v === null || Array.isArray(v)) return only(400);
        const fields = Object.keys(v);
        if (fields.some((f) => f !== 'resyncRequestedAt')) return only(400);
        const at = (v as { resyncRequestedAt?: unknown }).resyncRequestedAt;
        if (
          at !== undefined &&
          !(
            typeof at === 'string' &&
            /^\d{4}-\d{2}-\d{2}T/.test(at) &&
            !Number.isNaN(Date.parse(at))
          )
        ) {
          return only(400);
        }
      }
      // NOTE: nothing was requested on the seeded rows, so there is nothing to clear: 200 with
      // `acknowledged: false`, and nothing changes.
      return found(route.key, tenantOf(query)) === undefined ? only(404) : only(200);
    }
    case 'put':
    case 'create': {
      const read = readBody(c, true);
      if ('status' in read) return only(read.status);
      if (c.meaning === 'crossTenant') return only(409);
      if (c.meaning === 'unchanged') return only(200);
      return only(400);
    }
  }
}

// ---- the property ----

function urlFor(
  key: string | undefined,
  action: string | undefined,
  query: readonly (readonly [string, string])[],
): string {
  const path = [key, action]
    .filter((p): p is string => p !== undefined && p !== '')
    .map((p) => encodeURIComponent(p.replace(/[\ud800-\udfff]/g, '\ufffd')))
    .join('/');
  const url = new URL(
    `https://keeper.example.com/api/subscriptions${path === '' ? '' : `/${path}`}`,
  );
  url.searchParams.set('code', requestKey);
  for (const [k, v] of query) url.searchParams.append(k, v);
  return url.toString();
}

function headersFor(c: AdminCase): Record<string, string> {
  const headers: Record<string, string> = {};
  if (c.contentType !== undefined) headers['content-type'] = c.contentType;
  const size = c.body?.bytes.byteLength ?? 0;
  if (c.lengthHeader === 'exact') headers['content-length'] = String(size);
  if (c.lengthHeader === 'huge') headers['content-length'] = String(maxBodyBytes * 4);
  return headers;
}

function expectNoLeak(answer: FuzzAnswer): void {
  const everything = [answer.text, JSON.stringify(answer.headers), ...answer.logs].join('\n');
  for (const secret of secrets) expect(everything.includes(secret)).toBe(false);
}

describe('fuzzing the admin API', () => {
  test(`when ${runs} generated requests arrive (route keys, query strings, definitions with every kind of wrong field, bad bodies), then each gets its documented answer and nothing changes`, async () => {
    await assertProperty(
      'admin API requests',
      fc.asyncProperty(cases(), async (c) => {
        const expected = expectedFor(c);
        const params: Record<string, string> = {};
        if (c.key !== undefined) params.key = c.key;
        if (c.action !== undefined) params.action = c.action;
        const before = await snapshotWorld(table, h.sim);
        h.sim.resetCalls();
        const answer = await invoke(
          handler,
          fuzzRequest({
            method: c.method,
            url: urlFor(c.key, c.action, c.query),
            headers: headersFor(c),
            body: c.body?.bytes,
            params,
          }),
        );
        expectNoLeak(answer);
        expect(answer.status).toBeLessThan(500);
        expect({ label: c.label, body: c.body?.label, status: answer.status }).toEqual({
          label: c.label,
          body: c.body?.label,
          status: expected.statuses.includes(answer.status) ? answer.status : expected.statuses,
        });
        if (answer.status >= 400) {
          expect(answer.json).toEqual({
            error: expect.objectContaining({
              code: expect.any(String) as unknown,
              message: expect.any(String) as unknown,
            }) as unknown,
          });
        }
        const calls = h.sim.calls();
        const allowed = expected.graphRead ? ['get', 'token', 'other'] : [];
        expect(calls.filter((call) => !allowed.includes(call.kind))).toEqual([]);
        expect(await snapshotWorld(table, h.sim)).toEqual(before);
      }),
      runs,
    );
  }, 900_000);

  // Found by this fuzz: the storage token inside ours went to the SDK unchecked (500).
  test('when a continuation token carries a forged storage token, then 400 names continuationToken', async () => {
    const token = Buffer.from(JSON.stringify({ t: h.tenantId, c: 'AAAA' })).toString('base64url');
    const answer = await invoke(
      handler,
      fuzzRequest({
        method: 'GET',
        url: urlFor(undefined, undefined, [['continuationToken', token]]),
        headers: {},
        body: undefined,
        params: {},
      }),
    );
    expect(answer.status).toBe(400);
  });
});
