import { diffDefinitions } from '../../shared/operations/subscriptionOperations';
import type { SubscriptionDefinition } from '../../shared/subscriptions/model';
import { aDefinition } from '../support/subscriptionMother';

/**
 * How a changed definition is applied: what Graph can PATCH (notification URL, certificate), what
 * needs a delete and a create (everything else Graph holds), and what only we hold (lifetime).
 */

const stored = aDefinition({ key: 'orders', changeType: 'created,updated' });

const none = { recreate: [], patch: [], local: [] };

describe('diffDefinitions', () => {
  test('when nothing changed, then nothing is to be done', () => {
    expect(diffDefinitions(stored, { ...stored })).toEqual(none);
  });

  test.each<[string, Partial<SubscriptionDefinition>]>([
    ['resource', { resource: 'users/0a4c7f1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b/messages' }],
    ['changeType', { changeType: 'created' }],
    ['lifecycleNotificationUrl', { lifecycleNotificationUrl: 'https://new.example.com/life' }],
    ['includeResourceData', { includeResourceData: true }],
    ['latestSupportedTlsVersion', { latestSupportedTlsVersion: 'v1_3' }],
  ])('when %s changes, then it is applied by recreating', (field, change) => {
    expect(diffDefinitions(stored, { ...stored, ...change })).toEqual({
      ...none,
      recreate: [field],
    });
  });

  test.each<[string, Partial<SubscriptionDefinition>]>([
    ['notificationUrl', { notificationUrl: 'https://hooks.example.com/api/v2/notify' }],
    ['encryptionCertificate', { encryptionCertificate: 'TUlJQ2VydA==' }],
    ['encryptionCertificateId', { encryptionCertificateId: 'key-2' }],
  ])('when %s changes, then it is applied by a PATCH', (field, change) => {
    expect(diffDefinitions(stored, { ...stored, ...change })).toEqual({ ...none, patch: [field] });
  });

  test('when only the lifetime changes, then it is stored for the next renewal', () => {
    expect(diffDefinitions(stored, { ...stored, lifetimeMinutes: 120 })).toEqual({
      ...none,
      local: ['lifetimeMinutes'],
    });
  });

  test('when the lifecycle URL is removed, then it is applied by recreating', () => {
    expect(
      diffDefinitions(stored, { ...stored, lifecycleNotificationUrl: undefined }).recreate,
    ).toEqual(['lifecycleNotificationUrl']);
  });

  test.each([
    ['in another order', 'updated,created'],
    ['in another case', 'Created,UPDATED'],
    ['with spaces', 'created, updated'],
    ['with a repeat', 'created,updated,created'],
  ])(
    'when the change types are the same set %s, then nothing is to be done',
    (_how, changeType) => {
      expect(diffDefinitions(stored, { ...stored, changeType })).toEqual(none);
    },
  );

  test('when a recreate field and a PATCH field change together, then both are listed', () => {
    const diff = diffDefinitions(stored, {
      ...stored,
      changeType: 'updated',
      notificationUrl: 'https://hooks.example.com/api/v2/notify',
      lifetimeMinutes: 60,
    });

    expect(diff).toEqual({
      recreate: ['changeType'],
      patch: ['notificationUrl'],
      local: ['lifetimeMinutes'],
    });
  });
});
