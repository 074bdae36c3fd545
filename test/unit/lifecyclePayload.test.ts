import { parseLifecycleBody } from '../../shared/lifecycle/lifecyclePayload';

/**
 * The lifecycle payload: a changeNotificationCollection, parsed tolerantly (`organizationId` for
 * `tenantId`, an empty `resource`, unknown fields, `null` wherever Graph's SDK models allow it);
 * an unusable item is skipped and reported, and only a body that is not a collection at all is
 * refused, with a message naming the field.
 */

const tenant = '84bd8158-6d4d-4958-8b9f-9d6445542f95';
const graphId = '7f105c7d-2dc5-4530-97cd-4e7ae6534c07';

function item(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    subscriptionId: graphId,
    subscriptionExpirationDateTime: '2026-06-03T10:15:00.0000000+00:00',
    tenantId: tenant,
    clientState: 'my-secret-client-state',
    lifecycleEvent: 'reauthorizationRequired',
    ...overrides,
  };
}

describe('parseLifecycleBody accepts', () => {
  test('when the payload is the documented sample, then each item becomes a notification', () => {
    expect(parseLifecycleBody({ value: [item()] })).toEqual({
      ok: true,
      notifications: [
        {
          subscriptionId: graphId,
          tenantId: tenant,
          clientState: 'my-secret-client-state',
          lifecycleEvent: 'reauthorizationRequired',
        },
      ],
      skipped: [],
    });
  });

  test('when organizationId stands in for tenantId, then it is taken as the tenant', () => {
    const parsed = parseLifecycleBody({
      value: [item({ tenantId: undefined, organizationId: tenant })],
    });

    expect(parsed).toMatchObject({ ok: true, notifications: [{ tenantId: tenant }] });
  });

  test('when both tenantId and organizationId are present, then tenantId wins', () => {
    const parsed = parseLifecycleBody({
      value: [item({ organizationId: '00000000-0000-4000-8000-000000000000' })],
    });

    expect(parsed).toMatchObject({ ok: true, notifications: [{ tenantId: tenant }] });
  });

  test('when resource is present and empty, and unknown fields abound, then the item is accepted', () => {
    const parsed = parseLifecycleBody({
      validationTokens: null,
      '@odata.context': 'whatever',
      value: [
        item({
          resource: '',
          id: 'lsgTZMr9KwAAA',
          sequenceNumber: 7,
          resourceData: null,
          somethingNew: { nested: [1, 2, 3] },
        }),
      ],
    });

    expect(parsed).toMatchObject({
      ok: true,
      notifications: [{ subscriptionId: graphId, lifecycleEvent: 'reauthorizationRequired' }],
    });
  });

  test('when an item has no tenant and a null clientState, then both are undefined (the lookup and check decide)', () => {
    const parsed = parseLifecycleBody({
      value: [item({ tenantId: undefined, clientState: null })],
    });

    expect(parsed).toMatchObject({
      ok: true,
      notifications: [{ tenantId: undefined, clientState: undefined }],
    });
  });

  test('when an item is a change notification (changeType, no lifecycleEvent), then it is kept without an event', () => {
    const parsed = parseLifecycleBody({
      value: [item({ lifecycleEvent: undefined, changeType: 'created', resource: 'users/x' })],
    });

    expect(parsed).toMatchObject({ ok: true, notifications: [{ lifecycleEvent: undefined }] });
  });

  test('when a batch mixes events and subscriptions, then every item is kept in order', () => {
    const parsed = parseLifecycleBody({
      value: [
        item({ lifecycleEvent: 'missed', subscriptionId: 'a' }),
        item({ lifecycleEvent: 'subscriptionRemoved', subscriptionId: 'b' }),
        item({ lifecycleEvent: 'reauthorizationRequired', subscriptionId: 'c' }),
      ],
    });

    expect(parsed.ok && parsed.notifications.map((n) => n.lifecycleEvent)).toEqual([
      'missed',
      'subscriptionRemoved',
      'reauthorizationRequired',
    ]);
  });
});

describe('parseLifecycleBody with null fields', () => {
  test('when every nullable field is null, then the item is kept and the nulls read as absent', () => {
    const parsed = parseLifecycleBody({
      value: [
        item({
          subscriptionExpirationDateTime: null,
          tenantId: null,
          organizationId: null,
          clientState: null,
          resource: null,
          resourceData: null,
          changeType: null,
          id: null,
          encryptedContent: null,
        }),
      ],
      validationTokens: null,
    });

    expect(parsed).toEqual({
      ok: true,
      notifications: [
        {
          subscriptionId: graphId,
          tenantId: undefined,
          clientState: undefined,
          lifecycleEvent: 'reauthorizationRequired',
        },
      ],
      skipped: [],
    });
  });

  test('when tenantId is null and organizationId is set, then organizationId is the tenant', () => {
    const parsed = parseLifecycleBody({
      value: [item({ tenantId: null, organizationId: tenant })],
    });

    expect(parsed).toMatchObject({ ok: true, notifications: [{ tenantId: tenant }] });
  });

  test('when lifecycleEvent is null on a change notification, then it is kept without an event', () => {
    const parsed = parseLifecycleBody({
      value: [item({ lifecycleEvent: null, changeType: 'updated', resource: 'users/x' })],
    });

    expect(parsed).toMatchObject({ ok: true, notifications: [{ lifecycleEvent: undefined }] });
  });
});

describe('parseLifecycleBody skips an unusable item and keeps the rest', () => {
  test.each([
    ['an item without subscriptionId', item({ subscriptionId: undefined }), /subscriptionId/],
    ['a null subscriptionId', item({ subscriptionId: null }), /subscriptionId/],
    ['an empty subscriptionId', item({ subscriptionId: '' }), /subscriptionId/],
    ['a numeric lifecycleEvent', item({ lifecycleEvent: 3 }), /lifecycleEvent/],
    ['an item that is a string', 'missed', /^item: /],
    ['an item that is null', null, /^item: /],
    ['an oversize clientState', item({ clientState: 's'.repeat(1025) }), /clientState/],
  ])(
    'when the collection holds %s, then that item is skipped with the field named',
    (_n, bad, field) => {
      const parsed = parseLifecycleBody({
        value: [item({ subscriptionId: 'a' }), bad, item({ subscriptionId: 'c' })],
      });

      expect(parsed.ok).toBe(true);
      if (!parsed.ok) return;
      expect(parsed.notifications.map((n) => n.subscriptionId)).toEqual(['a', 'c']);
      expect(parsed.skipped).toHaveLength(1);
      expect(parsed.skipped[0]?.index).toBe(1);
      expect(parsed.skipped[0]?.reason).toMatch(field);
    },
  );

  test('when an item is skipped, then its reason never echoes a clientState', () => {
    const parsed = parseLifecycleBody({
      value: [item({ subscriptionId: 5, clientState: 'top-secret-value' })],
    });

    expect(parsed).toMatchObject({ ok: true, notifications: [] });
    expect(JSON.stringify(parsed)).not.toContain('top-secret-value');
  });
});

describe('parseLifecycleBody refuses', () => {
  test.each([
    ['an array', [item()], /body/],
    ['null', null, /body/],
    ['a body without value', { items: [item()] }, /value/],
    ['an empty value', { value: [] }, /value/],
    ['value as a string', { value: 'x' }, /value/],
    ['value as null', { value: null }, /value/],
    ['more than 1000 items', { value: Array.from({ length: 1001 }, () => item()) }, /value/],
  ])(
    'when the body is %s, then it is not a collection and the message names the field',
    (_name, body, field) => {
      const parsed = parseLifecycleBody(body);

      expect(parsed.ok).toBe(false);
      expect(!parsed.ok && parsed.message).toMatch(/^Not a change-notification collection\./);
      expect(!parsed.ok && parsed.message).toMatch(field);
    },
  );
});
