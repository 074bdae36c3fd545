import { z } from 'zod';
import { certificateReferenceSchema } from '../certificates/certificateReference';
import {
  subscriptionDefinitionSchema,
  subscriptionKeyPattern,
  subscriptionStatuses,
  tenantIdPattern,
  type ManagedSubscription,
  type SubscriptionDefinition,
} from '../subscriptions/model';
import { StoreError, type InvalidRow } from './subscriptionStore';

/**
 * The one place that maps Azure Table rows to and from `ManagedSubscription` (the layout is
 * described in tableSubscriptionStore.ts). Rows are validated with zod on read, and a subscription
 * is checked against the same schema before it is written, so the store never writes a row it
 * could not read back. Both stores use `assertStorable`, so they reject the same inputs.
 *
 * Reasons and messages built here name properties, never values: a row holds `clientState`.
 */

/** Holds one row per tenant that has (or had) subscriptions. `~` sorts after every GUID. */
export const registryPartitionKey = '~registry';

/**
 * Holds one reservation row per key (`key|{key}` -> tenant): keys are unique across tenants, and
 * a conditional insert here is what makes them so. The row `keys|complete` marks that every
 * subscription row written before reservations existed has one.
 */
export const keyReservationPartitionKey = '~keys';

/** A reservation left by a create that never wrote its row is taken over after this long. */
export const staleKeyReservationMs = 5 * 60_000;

/**
 * Graph subscription ids are GUIDs. We accept a little more, but only characters that are safe in
 * a RowKey and in a point-read URL, so an odd id cannot produce an unreadable index row.
 */
export const graphSubscriptionIdPattern = /^[A-Za-z0-9._:-]{1,256}$/;

/** Our per-write revision id (a random UUID in the table store); part of the due RowKey. */
export const revisionPattern = /^[A-Za-z0-9-]{1,64}$/;

/**
 * Edm.DateTime starts in 1601; a fixed-width ISO string (the due RowKey) ends in 9999. Every date
 * we store stays inside both.
 */
export const earliestStorableDate = new Date('1601-01-01T00:00:00.000Z');
export const latestStorableDate = new Date('9999-12-31T23:59:59.999Z');

/** Azure Tables caps a string property at 64 KiB of UTF-16. */
const maxTextLength = 32_000;

/** Ranges of RowKeys by prefix: `{prefix}|` up to `{prefix}}` (`}` is the character after `|`). */
export const rowKeyRanges = {
  subscription: { from: 'sub|', below: 'sub}' },
  due: { from: 'due|', below: 'due}' },
  tenant: { from: 'tenant|', below: 'tenant}' },
} as const;

/** RowKeys of each kind of row. */
export const rowKeys = {
  subscription: (key: string): string => `sub|${key}`,
  /**
   * `due|{nextActionAt ISO, 24 chars}|{key}|{revision}`: sorted by time, then key. The revision
   * makes the row key change on every write, which is what makes a delete of the old row a
   * condition inside a transaction (see tableSubscriptionStore.ts).
   */
  due: (nextActionAt: Date, key: string, revision: string): string =>
    `due|${fixedWidthIso(nextActionAt)}|${key}|${revision}`,
  /**
   * Upper bound (inclusive) of the due range at `before`: `~` sorts after any key character.
   * Before the earliest storable date nothing can be due, so the bound is the bare prefix.
   */
  dueUpTo: (before: Date): string =>
    before < earliestStorableDate
      ? rowKeyRanges.due.from
      : `due|${fixedWidthIso(before > latestStorableDate ? latestStorableDate : before)}|~`,
  graph: (graphSubscriptionId: string): string => `graph|${graphSubscriptionId}`,
  tenant: (tenantId: string): string => `tenant|${tenantId}`,
  keyReservation: (key: string): string => `key|${key}`,
  keyReservationsComplete: 'keys|complete',
} as const;

/** `toISOString()` is 24 characters for years 0000-9999, so string order is time order. */
export function fixedWidthIso(date: Date): string {
  return date.toISOString();
}

export function isStorableKey(tenantId: string, key: string): boolean {
  return tenantIdPattern.test(tenantId) && subscriptionKeyPattern.test(key);
}

/**
 * The properties of a `sub|` row and of its `due|` copy (identical by design): what `rowSchema`
 * (below) accepts, so the row's fields are listed once. JSON-text columns are strings here.
 */
// NOTE: type aliases, not interfaces: the SDK wants entities assignable to Record<string, unknown>.
export type SubscriptionRowProperties = Readonly<
  Omit<z.input<typeof rowSchema>, 'partitionKey' | 'rowKey'>
>;

export type SubscriptionRow = SubscriptionRowProperties & {
  readonly partitionKey: string;
  readonly rowKey: string;
};

export type GraphIndexRow = {
  readonly partitionKey: string;
  readonly rowKey: string;
  /** Our key of the subscription that has this Graph id. */
  readonly key: string;
};

export type RegistryRow = {
  readonly partitionKey: string;
  readonly rowKey: string;
  readonly tenantId: string;
};

export type KeyReservationRow = {
  readonly partitionKey: string;
  readonly rowKey: string;
  readonly tenantId: string;
  readonly reservedAt: Date;
};

export function toKeyReservationRow(
  key: string,
  tenantId: string,
  reservedAt: Date,
): KeyReservationRow {
  return {
    partitionKey: keyReservationPartitionKey,
    rowKey: rowKeys.keyReservation(key),
    tenantId,
    reservedAt,
  };
}

const keyReservationSchema = z.object({
  tenantId: z.string().regex(tenantIdPattern),
  reservedAt: z.union([z.date(), z.iso.datetime().transform((v) => new Date(v))]),
});

/** The tenant a reservation row names, or undefined when the row is unusable. */
export function readKeyReservationRow(
  entity: Readonly<Record<string, unknown>>,
): { readonly tenantId: string; readonly reservedAt: Date } | undefined {
  const parsed = keyReservationSchema.safeParse(entity);
  return parsed.success ? parsed.data : undefined;
}

export type RowKind = 'sub' | 'due';

/** The `sub|` row (`kind: 'sub'`) or its `due|` copy (`kind: 'due'`) of one subscription state. */
export function toSubscriptionRow(
  subscription: ManagedSubscription,
  revision: string,
  kind: RowKind,
): SubscriptionRow {
  const d = subscription.definition;
  return {
    partitionKey: d.tenantId,
    rowKey:
      kind === 'sub'
        ? rowKeys.subscription(d.key)
        : rowKeys.due(subscription.nextActionAt, d.key, revision),
    ...toRowProperties(subscription, revision),
  };
}

export function toGraphIndexRow(
  tenantId: string,
  graphSubscriptionId: string,
  key: string,
): GraphIndexRow {
  return { partitionKey: tenantId, rowKey: rowKeys.graph(graphSubscriptionId), key };
}

export function toRegistryRow(tenantId: string): RegistryRow {
  return { partitionKey: registryPartitionKey, rowKey: rowKeys.tenant(tenantId), tenantId };
}

/** The definition's own fields of `source` (a definition, or a row that holds one flat). */
function pickDefinition(source: Readonly<Record<string, unknown>>): SubscriptionDefinition {
  // NOTE: the names come from the definition schema, so a new field needs no second list.
  return withoutUndefined(
    Object.fromEntries(definitionFields.map((name) => [name, source[name]])),
  ) as SubscriptionDefinition;
}

const definitionFields = Object.keys(subscriptionDefinitionSchema.shape);

function toRowProperties(s: ManagedSubscription, revision: string): SubscriptionRowProperties {
  const d = s.definition;
  return withoutUndefined({
    revision,
    // The definition, flat, with Graph's names.
    ...pickDefinition(d),
    encryptionCertificateSource:
      d.encryptionCertificateSource === undefined
        ? undefined
        : JSON.stringify(d.encryptionCertificateSource),
    clientState: s.clientState,
    graphSubscriptionId: s.graphSubscriptionId,
    expiresAt: s.expiresAt,
    status: s.status,
    nextActionAt: s.nextActionAt,
    failureCount: s.failureCount,
    lastErrorCode: s.lastError?.code,
    lastErrorMessage: s.lastError?.message,
    lastErrorStatus: s.lastError?.status,
    lastErrorAt: s.lastError?.at,
    lastErrorRequiredPermissions:
      s.lastError?.requiredPermissions === undefined
        ? undefined
        : JSON.stringify(s.lastError.requiredPermissions),
    lastRenewedAt: s.lastRenewedAt,
    lastReauthorizedAt: s.lastReauthorizedAt,
    generation: s.generation,
    resyncRequestedAt: s.resyncRequestedAt,
    resyncReason: s.resyncReason,
    resyncSignalledAt: s.resyncSignalledAt,
    pendingEventName: s.pendingEvent?.name,
    pendingEventReceivedAt: s.pendingEvent?.receivedAt,
    claimOwner: s.claim?.owner,
    claimUntil: s.claim?.until,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
    wantedRevision: s.wantedRevision,
    appliedDefinition: s.applied === undefined ? undefined : JSON.stringify(s.applied.definition),
    appliedWantedRevision: s.applied?.wantedRevision,
  });
}

/**
 * NOTE: an absent property is how Azure Tables says "unset"; writing `undefined` would depend on
 * how the SDK serializes it, and Replace removes whatever a row no longer carries.
 */
function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

const storableDate = z.date().refine((d) => d >= earliestStorableDate && d <= latestStorableDate, {
  message: 'must be between 1601-01-01 and 9999-12-31',
});
const text = z.string().max(maxTextLength);
const nonNegativeInt32 = z.number().int().min(0).max(2_147_483_647);

/** A row property that holds JSON text, parsed and then checked by `schema`. */
function jsonText<T extends z.ZodType>(schema: T, expected: string) {
  return z
    .string()
    .max(maxTextLength)
    .transform((value, ctx): unknown => {
      try {
        return JSON.parse(value);
      } catch {
        ctx.addIssue({ code: 'custom', message: `must be ${expected}` });
        return z.NEVER;
      }
    })
    .pipe(schema);
}

const permissionsJson = jsonText(z.array(z.string().min(1).max(256)), 'a JSON array of strings');
const definitionJson = jsonText(subscriptionDefinitionSchema, 'a JSON subscription definition');
const certificateSourceJson = jsonText(certificateReferenceSchema, 'a JSON certificate reference');

const rowSchema = z
  .object({
    ...subscriptionDefinitionSchema.shape,
    encryptionCertificateSource: certificateSourceJson.optional(),
    partitionKey: z.string().optional(),
    rowKey: z.string().optional(),
    revision: z.string().regex(revisionPattern),
    clientState: z.string().min(1).max(128),
    graphSubscriptionId: z.string().regex(graphSubscriptionIdPattern).optional(),
    expiresAt: storableDate.optional(),
    status: z.enum(subscriptionStatuses),
    nextActionAt: storableDate,
    failureCount: nonNegativeInt32,
    lastErrorCode: z.string().min(1).max(256).optional(),
    lastErrorMessage: text.optional(),
    lastErrorStatus: z.number().int().min(100).max(599).optional(),
    lastErrorAt: storableDate.optional(),
    lastErrorRequiredPermissions: permissionsJson.optional(),
    lastRenewedAt: storableDate.optional(),
    lastReauthorizedAt: storableDate.optional(),
    generation: nonNegativeInt32,
    resyncRequestedAt: storableDate.optional(),
    resyncReason: text.optional(),
    resyncSignalledAt: storableDate.optional(),
    pendingEventName: z.string().min(1).max(256).optional(),
    pendingEventReceivedAt: storableDate.optional(),
    claimOwner: z.string().min(1).max(256).optional(),
    claimUntil: storableDate.optional(),
    createdAt: storableDate,
    updatedAt: storableDate,
    wantedRevision: nonNegativeInt32.optional(),
    appliedDefinition: definitionJson.optional(),
    appliedWantedRevision: nonNegativeInt32.optional(),
  })
  .superRefine((row, ctx) => {
    // A group is stored as several properties; half of one is a damaged row, not a value.
    const groups: readonly (readonly [string, readonly unknown[]])[] = [
      [
        'lastErrorCode, lastErrorMessage and lastErrorAt',
        [row.lastErrorCode, row.lastErrorMessage, row.lastErrorAt],
      ],
      [
        'pendingEventName and pendingEventReceivedAt',
        [row.pendingEventName, row.pendingEventReceivedAt],
      ],
      ['claimOwner and claimUntil', [row.claimOwner, row.claimUntil]],
      [
        'appliedDefinition and appliedWantedRevision',
        [row.appliedDefinition, row.appliedWantedRevision],
      ],
    ];
    for (const [names, values] of groups) {
      const present = values.filter((v) => v !== undefined).length;
      if (present !== 0 && present !== values.length) {
        ctx.addIssue({ code: 'custom', message: `${names} must be set together` });
      }
    }
    const errorDetails = row.lastErrorStatus ?? row.lastErrorRequiredPermissions;
    if (errorDetails !== undefined && row.lastErrorCode === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: 'lastErrorStatus and lastErrorRequiredPermissions need lastErrorCode',
      });
    }
  });

type ParsedRow = z.output<typeof rowSchema>;

function toSubscription(row: ParsedRow): ManagedSubscription {
  const definition = pickDefinition(row);
  return {
    definition,
    clientState: row.clientState,
    graphSubscriptionId: row.graphSubscriptionId,
    expiresAt: row.expiresAt,
    status: row.status,
    nextActionAt: row.nextActionAt,
    failureCount: row.failureCount,
    lastError:
      row.lastErrorCode === undefined ||
      row.lastErrorMessage === undefined ||
      row.lastErrorAt === undefined
        ? undefined
        : {
            code: row.lastErrorCode,
            message: row.lastErrorMessage,
            status: row.lastErrorStatus,
            at: row.lastErrorAt,
            requiredPermissions: row.lastErrorRequiredPermissions,
          },
    lastRenewedAt: row.lastRenewedAt,
    lastReauthorizedAt: row.lastReauthorizedAt,
    generation: row.generation,
    resyncRequestedAt: row.resyncRequestedAt,
    resyncReason: row.resyncReason,
    resyncSignalledAt: row.resyncSignalledAt,
    pendingEvent:
      row.pendingEventName === undefined || row.pendingEventReceivedAt === undefined
        ? undefined
        : { name: row.pendingEventName, receivedAt: row.pendingEventReceivedAt },
    claim:
      row.claimOwner === undefined || row.claimUntil === undefined
        ? undefined
        : { owner: row.claimOwner, until: row.claimUntil },
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    wantedRevision: row.wantedRevision,
    applied:
      row.appliedDefinition === undefined || row.appliedWantedRevision === undefined
        ? undefined
        : { definition: row.appliedDefinition, wantedRevision: row.appliedWantedRevision },
  };
}

/** Names each failing property and why; never a value (a row holds `clientState`). */
function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.map(String).join('.');
      return path === '' ? issue.message : `${path}: ${issue.message}`;
    })
    .join('; ');
}

export type SubscriptionRowReading =
  | {
      readonly ok: true;
      readonly kind: RowKind;
      readonly subscription: ManagedSubscription;
      readonly revision: string;
    }
  | { readonly ok: false; readonly problem: InvalidRow };

/**
 * Reads a `sub|` or `due|` row as the SDK returns it. Checks every property, and that the row's
 * own keys agree with its content (a `sub|` row of another key, or a due row whose time is not
 * its `nextActionAt`, would make an index lie).
 */
export function readSubscriptionRow(
  entity: Readonly<Record<string, unknown>>,
): SubscriptionRowReading {
  const partitionKey = typeof entity.partitionKey === 'string' ? entity.partitionKey : '';
  const rowKey = typeof entity.rowKey === 'string' ? entity.rowKey : '';
  const invalid = (reason: string): SubscriptionRowReading => ({
    ok: false,
    problem: { partitionKey, rowKey, reason },
  });
  const kind: RowKind | undefined = rowKey.startsWith(rowKeyRanges.subscription.from)
    ? 'sub'
    : rowKey.startsWith(rowKeyRanges.due.from)
      ? 'due'
      : undefined;
  if (kind === undefined) return invalid('not a sub| or due| row');

  const parsed = rowSchema.safeParse(entity);
  if (!parsed.success) return invalid(describeIssues(parsed.error));
  const row = parsed.data;
  const subscription = toSubscription(row);
  if (partitionKey !== row.tenantId) return invalid('PartitionKey is not the row tenantId');
  const expectedRowKey =
    kind === 'sub'
      ? rowKeys.subscription(row.key)
      : rowKeys.due(row.nextActionAt, row.key, row.revision);
  if (rowKey !== expectedRowKey) {
    return invalid(
      kind === 'sub'
        ? 'RowKey is not sub|{key}'
        : 'RowKey is not due|{nextActionAt}|{key}|{revision}',
    );
  }
  return { ok: true, kind, subscription, revision: row.revision };
}

const graphIndexSchema = z.object({ key: z.string().regex(subscriptionKeyPattern) });

/** The key a `graph|` index row points at, or why the row is unusable. */
export function readGraphIndexRow(
  entity: Readonly<Record<string, unknown>>,
): { readonly ok: true; readonly key: string } | { readonly ok: false; readonly reason: string } {
  const parsed = graphIndexSchema.safeParse(entity);
  return parsed.success
    ? { ok: true, key: parsed.data.key }
    : { ok: false, reason: describeIssues(parsed.error) };
}

const registrySchema = z.object({
  rowKey: z.string(),
  tenantId: z.string().regex(tenantIdPattern),
});

export function readRegistryRow(
  entity: Readonly<Record<string, unknown>>,
):
  | { readonly ok: true; readonly tenantId: string }
  | { readonly ok: false; readonly problem: InvalidRow } {
  const partitionKey = typeof entity.partitionKey === 'string' ? entity.partitionKey : '';
  const rowKey = typeof entity.rowKey === 'string' ? entity.rowKey : '';
  const parsed = registrySchema.safeParse(entity);
  if (!parsed.success) {
    return { ok: false, problem: { partitionKey, rowKey, reason: describeIssues(parsed.error) } };
  }
  if (parsed.data.rowKey !== rowKeys.tenant(parsed.data.tenantId)) {
    return {
      ok: false,
      problem: { partitionKey, rowKey, reason: 'RowKey is not tenant|{tenantId}' },
    };
  }
  return { ok: true, tenantId: parsed.data.tenantId };
}

/** A subscription that cannot be stored as it is: bad key, tenant, date range, or shape. */
export class UnstorableSubscriptionError extends Error {
  constructor(
    readonly tenantId: string,
    readonly key: string,
    readonly reason: string,
  ) {
    super(`Subscription ${key} in tenant ${tenantId} cannot be stored: ${reason}`);
    this.name = 'UnstorableSubscriptionError';
  }
}

export const isUnstorableSubscriptionError = (e: unknown): e is UnstorableSubscriptionError =>
  e instanceof UnstorableSubscriptionError;

/** A row that one specific lookup (`get`) found and could not read. */
export class InvalidRowError extends Error {
  constructor(readonly problem: InvalidRow) {
    super(
      `Row ${problem.rowKey} in partition ${problem.partitionKey} failed validation: ${problem.reason}`,
    );
    this.name = 'InvalidRowError';
  }
}

export const isInvalidRowError = (e: unknown): e is InvalidRowError => e instanceof InvalidRowError;

/**
 * Throws `UnstorableSubscriptionError` unless the subscription maps to a row that reads back:
 * the same schema as on read, so nothing is written that a later read would reject.
 */
export function assertStorable(subscription: ManagedSubscription): void {
  const d = subscription.definition;
  const { tenantId, key } = d;
  // Keys first, with a message of their own: they are what a caller most often gets wrong.
  if (!tenantIdPattern.test(tenantId)) {
    throw new UnstorableSubscriptionError(tenantId, key, 'tenantId must be a GUID');
  }
  if (!subscriptionKeyPattern.test(key)) {
    throw new UnstorableSubscriptionError(
      tenantId,
      key.slice(0, 200),
      'key must be 1-128 letters, digits, ".", "_", ":" or "-", starting with a letter or digit',
    );
  }
  const parsed = rowSchema.safeParse(toRowProperties(subscription, 'check'));
  if (!parsed.success) {
    throw new UnstorableSubscriptionError(tenantId, key, describeIssues(parsed.error));
  }
}

/**
 * A deep copy: stores hand out and keep copies, so a caller that mutates what it got (types say
 * readonly, JavaScript does not enforce it) cannot change stored state.
 */
export function copySubscription(s: ManagedSubscription): ManagedSubscription {
  // NOTE: the store's token is not part of the state.
  const { etag: _etag, ...state } = s as ManagedSubscription & { readonly etag?: string };
  return copyData(state);
}

/**
 * A deep copy of plain data (strings, numbers, Dates, arrays, objects), field by field whatever
 * the fields are. Not `structuredClone`: its Dates fail `instanceof Date` inside a jest sandbox.
 */
function copyData<T>(value: T): T {
  if (value instanceof Date) return new Date(value.getTime()) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => copyData(v)) as T;
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([name, v]: [string, unknown]) => [name, copyData(v)]),
    ) as T;
  }
  return value;
}

/** Page size of `list`: default 100, at most 1,000 (the port's contract, shared by both stores). */
export function listPageSize(requested: number | undefined): number {
  if (requested === undefined) return 100;
  if (!Number.isInteger(requested) || requested < 1 || requested > 1000) {
    throw new StoreError('badInput', {}, 'pageSize must be an integer from 1 to 1000');
  }
  return requested;
}
