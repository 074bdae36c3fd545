import {
  assertStorable,
  isUnstorableSubscriptionError,
  readGraphIndexRow,
  readRegistryRow,
  readSubscriptionRow,
  rowKeys,
  toGraphIndexRow,
  toRegistryRow,
  toSubscriptionRow,
} from '../../shared/store/subscriptionEntity';
import {
  aPendingSubscription,
  aSubscription,
  aSubscriptionWithEveryField,
  minutesAfter,
  referenceTime,
  tenants,
} from '../support/subscriptionMother';

const revision = '0b7c7d3e-5f0a-4c1e-9d2b-6a8f4e1c2d3b';

describe('subscription rows', () => {
  test.each([
    ['every optional field set', aSubscriptionWithEveryField()],
    ['optional fields unset', aPendingSubscription()],
  ])(
    'when a subscription with %s is mapped to a row and back, then it is unchanged',
    (_case, s) => {
      for (const kind of ['sub', 'due'] as const) {
        const reading = readSubscriptionRow(toSubscriptionRow(s, revision, kind));

        expect(reading).toEqual({ ok: true, kind, subscription: s, revision });
      }
    },
  );

  test('when mapped, then the definition is flat with Graph names and undefined fields are absent', () => {
    const row = toSubscriptionRow(aPendingSubscription({ key: 'orders' }), revision, 'sub');

    expect(row).toMatchObject({
      partitionKey: tenants.contoso,
      rowKey: 'sub|orders',
      key: 'orders',
      changeType: 'created,updated',
      notificationUrl: 'https://hooks.example.com/api/notifications',
      status: 'pending',
    });
    expect(Object.keys(row)).not.toContain('graphSubscriptionId');
    expect(Object.keys(row)).not.toContain('lastErrorCode');
  });

  test('when due row keys are compared as strings, then they sort by time, then key', () => {
    const keys = [
      rowKeys.due(new Date('2026-06-01T12:00:00.000Z'), 'b', revision),
      rowKeys.due(new Date('2026-06-01T12:00:00.000Z'), 'a', revision),
      rowKeys.due(new Date('2026-05-31T23:59:59.999Z'), 'z', revision),
      rowKeys.due(new Date('2030-01-01T00:00:00.000Z'), 'a', revision),
    ];

    expect([...keys].sort()).toEqual([keys[2], keys[1], keys[0], keys[3]]);
  });

  test('when a due row is at or before the bound, then it falls in the range; after it, outside', () => {
    const bound = rowKeys.dueUpTo(referenceTime);

    expect(rowKeys.due(referenceTime, 'zzz-last.key', revision) <= bound).toBe(true);
    expect(rowKeys.due(minutesAfter(referenceTime, -1), 'a', revision) <= bound).toBe(true);
    expect(rowKeys.due(new Date(referenceTime.getTime() + 1), 'a', revision) <= bound).toBe(false);
  });

  test('when the bound is before any storable date, then no due row falls in the range', () => {
    const bound = rowKeys.dueUpTo(new Date('1500-01-01T00:00:00Z'));

    expect(rowKeys.due(new Date('1601-01-01T00:00:00Z'), 'a', revision) <= bound).toBe(false);
  });

  test.each([
    ['a property is missing', { status: undefined }, /status/],
    ['a status is unknown', { status: 'zombie' }, /status/],
    ['a date is a string', { nextActionAt: '2026-06-01T12:00:00Z' }, /nextActionAt/],
    ['half a lastError is stored', { lastErrorCode: 'Forbidden' }, /set together/],
    [
      'the permissions are not JSON',
      {
        lastErrorCode: 'Forbidden',
        lastErrorMessage: 'no',
        lastErrorAt: referenceTime,
        lastErrorRequiredPermissions: '[oops',
      },
      /JSON/,
    ],
    ['the RowKey names another key', { rowKey: 'sub|other' }, /RowKey/],
    ['the PartitionKey is another tenant', { partitionKey: tenants.fabrikam }, /PartitionKey/],
    [
      'the definition breaks its schema',
      { notificationUrl: 'http://insecure.example.com' },
      /notificationUrl/,
    ],
  ])(
    'when %s, then the row is invalid and the reason says which property',
    (_case, change, reason) => {
      const row = { ...toSubscriptionRow(aSubscription(), revision, 'sub'), ...change };

      const reading = readSubscriptionRow(row);

      expect(reading.ok).toBe(false);
      if (!reading.ok) {
        expect(reading.problem).toMatchObject({
          partitionKey: row.partitionKey,
          rowKey: row.rowKey,
        });
        expect(reading.problem.reason).toMatch(reason);
      }
    },
  );

  test("when a due row's time is not its nextActionAt, then it is invalid", () => {
    const s = aSubscription();
    const row = {
      ...toSubscriptionRow(s, revision, 'due'),
      rowKey: rowKeys.due(minutesAfter(s.nextActionAt, 1), s.definition.key, revision),
    };

    const reading = readSubscriptionRow(row);

    expect(reading.ok).toBe(false);
    expect(reading.ok ? '' : reading.problem.reason).toMatch(/RowKey/);
  });

  test('when a row holds a clientState, then no reason repeats it', () => {
    const s = aSubscription({ clientState: 'do-not-print-me' });
    const row = {
      ...toSubscriptionRow(s, revision, 'sub'),
      clientState: 'do-not-print-me'.repeat(20),
      status: 1,
    };

    const reading = readSubscriptionRow(row);

    expect(reading.ok).toBe(false);
    if (!reading.ok) {
      expect(reading.problem.reason).toMatch(/clientState/);
      expect(reading.problem.reason).not.toContain('do-not-print-me');
    }
  });

  test('when index and registry rows are read, then their pointers come back or the row is invalid', () => {
    expect(readGraphIndexRow(toGraphIndexRow(tenants.contoso, 'g-1', 'orders'))).toEqual({
      ok: true,
      key: 'orders',
    });
    expect(readGraphIndexRow({ key: 'orders/../x' })).toMatchObject({ ok: false });
    expect(readRegistryRow(toRegistryRow(tenants.contoso))).toEqual({
      ok: true,
      tenantId: tenants.contoso,
    });
    expect(
      readRegistryRow({
        partitionKey: '~registry',
        rowKey: `tenant|${tenants.fabrikam}`,
        tenantId: tenants.contoso,
      }),
    ).toMatchObject({ ok: false });
  });
});

describe('assertStorable', () => {
  test('when a subscription is valid, then it passes', () => {
    expect(() => {
      assertStorable(aSubscriptionWithEveryField());
    }).not.toThrow();
  });

  test.each([
    ['tenantId', aSubscription({ tenantId: 'not-a-guid' }), /tenantId must be a GUID/],
    ['key', aSubscription({ key: 'a#b' }), /key must be/],
    [
      'a date after 9999',
      aSubscription({ nextActionAt: new Date('+010000-01-01T00:00:00Z') }),
      /nextActionAt/,
    ],
    ['a long clientState', aSubscription({ clientState: 's'.repeat(129) }), /clientState/],
    [
      'a Graph id with a quote',
      aSubscription({ graphSubscriptionId: "a'b" }),
      /graphSubscriptionId/,
    ],
  ])(
    'when %s is not storable, then it throws UnstorableSubscriptionError saying so',
    (_case, s, message) => {
      let failure: unknown;
      try {
        assertStorable(s);
      } catch (e) {
        failure = e;
      }

      expect(isUnstorableSubscriptionError(failure)).toBe(true);
      expect((failure as Error).message).toMatch(message);
      expect((failure as Error).message).not.toContain(s.clientState);
    },
  );
});
