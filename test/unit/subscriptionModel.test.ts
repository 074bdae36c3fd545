import {
  subscriptionDefinitionSchema,
  toView,
  withoutQuery,
} from '../../shared/subscriptions/model';
import { newClientState, newManagedSubscription } from '../../shared/subscriptions/newSubscription';

const valid = {
  key: 'orders-mail',
  tenantId: '84BD8158-6D4D-4958-8B9F-9D6445542F95',
  resource: 'users/622eaaff-0683-4862-9de4-f2ec83c2bd98/messages',
  changeType: 'created,updated',
  notificationUrl: 'https://hooks.example.com/notify?code=secret-key',
};

describe('subscriptionDefinitionSchema', () => {
  test('when the tenant id is upper case, then it is stored lower case', () => {
    expect(subscriptionDefinitionSchema.parse(valid).tenantId).toBe(
      '84bd8158-6d4d-4958-8b9f-9d6445542f95',
    );
  });

  test('when several fields are bad, then each is named', () => {
    const result = subscriptionDefinitionSchema.safeParse({
      ...valid,
      key: "o'brien/x",
      changeType: 'modified',
      notificationUrl: 'http://hooks.example.com',
      resource: 'https://graph.microsoft.com/v1.0/users',
      extra: true,
    });
    expect(result.success).toBe(false);
    const paths = result.error?.issues.map((i) => i.path.join('.') || i.code) ?? [];
    expect(paths).toEqual(
      expect.arrayContaining([
        'key',
        'changeType',
        'notificationUrl',
        'resource',
        'unrecognized_keys',
      ]),
    );
  });
});

describe('views', () => {
  test('when a subscription is shown, then clientState is absent and URL query values are hidden', () => {
    const sub = newManagedSubscription(
      subscriptionDefinitionSchema.parse(valid),
      new Date('2026-11-22T12:00:00Z'),
      'the-client-state-secret',
    );
    const view = toView(sub);
    expect(JSON.stringify(view)).not.toContain('the-client-state-secret');
    expect(JSON.stringify(view)).not.toContain('secret-key');
    expect(view.notificationUrl).toBe('https://hooks.example.com/notify?code=***');
    expect(view).toMatchObject({ status: 'pending', graphSubscriptionId: null, generation: 0 });
  });

  test('when a URL has no query, then it is shown as it is', () => {
    expect(withoutQuery('https://hooks.example.com/notify')).toBe(
      'https://hooks.example.com/notify',
    );
  });
});

describe('newClientState', () => {
  test('when generated twice, then the values differ and fit Graph’s 128 characters', () => {
    const a = newClientState();
    const b = newClientState();
    expect(a).not.toBe(b);
    expect(a.length).toBeLessThanOrEqual(128);
    expect(a.length).toBeGreaterThanOrEqual(32);
  });
});
