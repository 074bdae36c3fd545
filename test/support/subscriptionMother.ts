import type {
  ManagedSubscription,
  SubscriptionClaim,
  SubscriptionDefinition,
  SubscriptionError,
} from '../../shared/subscriptions/model';

/**
 * Object mother for subscriptions: valid data with one line, and only what a test cares about
 * spelled out.
 *
 *   aSubscription()                                  active, on Graph, due in 2 days
 *   aSubscription({ tenantId, key: 'orders', nextActionAt: minutesAfter(referenceTime, -5) })
 *   aPendingSubscription()                           stored, not yet on Graph
 *   aSubscriptionWithEveryField()                    every optional field set (round trips)
 *
 * Keys, Graph ids and clientStates are unique per call (a counter, so runs are repeatable);
 * tenant ids are GUIDs. Times are relative to `referenceTime`, never the wall clock. Nothing here
 * validates: a test may build invalid data on purpose.
 */

/** The "now" of tests that use this mother. Milliseconds set, so truncation would show. */
export const referenceTime = new Date('2026-06-01T12:00:00.123Z');

/** Fixed tenants for readable tests; `aTenantId()` for a fresh one. */
export const tenants = {
  contoso: '11111111-1111-4111-8111-111111111111',
  fabrikam: '22222222-2222-4222-8222-222222222222',
  northwind: '33333333-3333-4333-8333-333333333333',
} as const;

let sequence = 0;
function nextNumber(): number {
  sequence += 1;
  return sequence;
}

function guid(prefix: string, n: number): string {
  return `${prefix}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

/** A GUID no other call returns (in this test file). */
export function aTenantId(): string {
  return guid('7e4a0000', nextNumber());
}

/** A Graph subscription id (a GUID) no other call returns. */
export function aGraphSubscriptionId(): string {
  return guid('9a5b0000', nextNumber());
}

export function aKey(prefix = 'sub'): string {
  return `${prefix}-${nextNumber()}`;
}

export function minutesAfter(date: Date, minutes: number): Date {
  return new Date(date.getTime() + minutes * 60_000);
}

export function aDefinition(
  overrides: Partial<SubscriptionDefinition> = {},
): SubscriptionDefinition {
  return {
    key: aKey(),
    tenantId: tenants.contoso,
    resource: 'users/4f2d7b9e-8a61-4c1b-9d0e-2b7c5a3f1e10/messages',
    changeType: 'created,updated',
    notificationUrl: 'https://hooks.example.com/api/notifications',
    lifecycleNotificationUrl: 'https://keeper.example.com/api/lifecycle',
    includeResourceData: false,
    ...overrides,
  };
}

export function aLastError(overrides: Partial<SubscriptionError> = {}): SubscriptionError {
  return {
    code: 'Forbidden',
    message: 'Insufficient privileges to complete the operation.',
    status: 403,
    at: minutesAfter(referenceTime, -30),
    requiredPermissions: ['Mail.Read'],
    ...overrides,
  };
}

export function aClaim(overrides: Partial<SubscriptionClaim> = {}): SubscriptionClaim {
  return { owner: 'sweep-1', until: minutesAfter(referenceTime, 2), ...overrides };
}

export type SubscriptionOverrides = Partial<Omit<ManagedSubscription, 'definition'>> & {
  /** Merged into `aDefinition()`. */
  readonly definition?: Partial<SubscriptionDefinition>;
  /** Shortcuts for `definition.key` and `definition.tenantId`. */
  readonly key?: string;
  readonly tenantId?: string;
};

/** An active subscription, alive on Graph for 3 more days, next looked at in 2. */
export function aSubscription(overrides: SubscriptionOverrides = {}): ManagedSubscription {
  const { definition, key, tenantId, ...state } = overrides;
  const n = nextNumber();
  return {
    definition: aDefinition({
      key: key ?? `sub-${n}`,
      tenantId: tenantId ?? tenants.contoso,
      ...definition,
    }),
    clientState: `client-state-${n}-7d1f0c2e9b`,
    graphSubscriptionId: guid('9a5b0000', n),
    expiresAt: minutesAfter(referenceTime, 3 * 24 * 60),
    status: 'active',
    nextActionAt: minutesAfter(referenceTime, 2 * 24 * 60),
    failureCount: 0,
    lastError: undefined,
    lastRenewedAt: minutesAfter(referenceTime, -24 * 60),
    lastReauthorizedAt: undefined,
    generation: 1,
    resyncRequestedAt: undefined,
    resyncReason: undefined,
    resyncSignalledAt: undefined,
    pendingEvent: undefined,
    claim: undefined,
    createdAt: minutesAfter(referenceTime, -7 * 24 * 60),
    updatedAt: minutesAfter(referenceTime, -24 * 60),
    ...state,
  };
}

/** Stored, not yet created on Graph: no Graph id, no expiry, due now. */
export function aPendingSubscription(overrides: SubscriptionOverrides = {}): ManagedSubscription {
  return aSubscription({
    graphSubscriptionId: undefined,
    expiresAt: undefined,
    status: 'pending',
    nextActionAt: referenceTime,
    lastRenewedAt: undefined,
    generation: 0,
    createdAt: referenceTime,
    updatedAt: referenceTime,
    ...overrides,
  });
}

/** Every optional field set, to show that nothing is lost on the way through a store. */
export function aSubscriptionWithEveryField(
  overrides: SubscriptionOverrides = {},
): ManagedSubscription {
  return aSubscription({
    status: 'failing',
    failureCount: 3,
    lastError: aLastError({ requiredPermissions: ['Mail.Read', 'Mail.ReadBasic.All'] }),
    lastReauthorizedAt: minutesAfter(referenceTime, -90),
    generation: 4,
    resyncRequestedAt: minutesAfter(referenceTime, -15),
    resyncReason: 'subscriptionRemoved',
    resyncSignalledAt: undefined,
    pendingEvent: { name: 'reauthorizationRequired', receivedAt: minutesAfter(referenceTime, -1) },
    claim: aClaim(),
    ...overrides,
    definition: {
      includeResourceData: true,
      encryptionCertificate: 'MIIBszCCAVmgAwIBAgIUQ2VydGlmaWNhdGUgZm9yIHRlc3Rz',
      encryptionCertificateId: 'cert-2026-06',
      latestSupportedTlsVersion: 'v1_2',
      lifetimeMinutes: 4230,
      ...overrides.definition,
    },
  });
}
