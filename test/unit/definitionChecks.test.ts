import {
  assertValidDefinition,
  checkDefinition,
  type DefinitionToCheck,
} from '../../shared/graph/definitionChecks';
import { isGraphError } from '../../shared/graph/graphError';

const mail: DefinitionToCheck = {
  resource: 'users/{id}/messages',
  changeType: 'created',
  notificationUrl: 'https://hooks.example.com/api/notify?code=secret-key',
};

const chatMessages: DefinitionToCheck = {
  resource: 'chats/getAllMessages',
  changeType: 'created,updated',
  notificationUrl: 'https://hooks.example.com/api/notify',
  lifecycleNotificationUrl: 'https://hooks.example.com/api/lifecycle',
};

/** The chat definition without a lifecycle URL. */
const chatMessagesWithoutLifecycle: DefinitionToCheck = {
  ...chatMessages,
  lifecycleNotificationUrl: undefined,
};

const certificate = { encryptionCertificate: 'MIIBase64==', encryptionCertificateId: 'key-1' };

function fields(definition: DefinitionToCheck, options = {}): string[] {
  return checkDefinition(definition, options).map((p) => p.field);
}

describe('checkDefinition', () => {
  test('when an Outlook definition is complete, then there are no problems', () => {
    expect(checkDefinition(mail)).toEqual([]);
  });

  test('when the notification URL is plain http, then notificationUrl is named', () => {
    expect(fields({ ...mail, notificationUrl: 'http://hooks.example.com/x' })).toEqual([
      'notificationUrl',
    ]);
  });

  test('when the notification URL is not a URL, then notificationUrl is named', () => {
    expect(fields({ ...mail, notificationUrl: 'hooks.example.com/x' })).toEqual([
      'notificationUrl',
    ]);
  });

  test('when the lifecycle URL is plain http, then lifecycleNotificationUrl is named', () => {
    expect(
      fields({ ...chatMessages, lifecycleNotificationUrl: 'http://hooks.example.com/life' }),
    ).toEqual(['lifecycleNotificationUrl']);
  });

  test('when clientState has 129 characters, then clientState is named with the limit', () => {
    const problems = checkDefinition({ ...mail, clientState: 'x'.repeat(129) });
    expect(problems).toEqual([{ field: 'clientState', message: 'must be at most 128 characters' }]);
  });

  test('when clientState has 128 characters, then it is accepted', () => {
    expect(checkDefinition({ ...mail, clientState: 'x'.repeat(128) })).toEqual([]);
  });

  test('when lifetimeMinutes exceeds the Outlook maximum, then the maximum is named', () => {
    const problems = checkDefinition({ ...mail, lifetimeMinutes: 10081 });
    expect(problems).toEqual([
      {
        field: 'lifetimeMinutes',
        message: 'must be at most 10080 minutes, the maximum for message',
      },
    ]);
  });

  test('when lifetimeMinutes equals the maximum, then it is accepted', () => {
    expect(checkDefinition({ ...mail, lifetimeMinutes: 10080 })).toEqual([]);
  });

  test('when Outlook includes resource data beyond 1,440 minutes, then the rich maximum is named', () => {
    const problems = checkDefinition({
      ...mail,
      ...certificate,
      includeResourceData: true,
      lifetimeMinutes: 1441,
    });
    expect(problems).toEqual([
      {
        field: 'lifetimeMinutes',
        message: 'must be at most 1440 minutes, the maximum for message with resource data',
      },
    ]);
  });

  test.each([
    'chats/getAllMessages',
    'chats/{id}/members',
    'teams',
    'teams/{id}/channels',
    'chats',
    'communications/presences/{id}',
    'users/{id}/messages',
  ])(
    'when %s includes resource data without a certificate, then both certificate fields are named',
    (resource) => {
      const definition = {
        ...chatMessages,
        resource,
        includeResourceData: true,
        lifetimeMinutes: 60,
      };
      expect(fields(definition)).toEqual(['encryptionCertificate', 'encryptionCertificateId']);
    },
  );

  test('when resource data comes with a certificate and its id, then it is accepted', () => {
    expect(checkDefinition({ ...chatMessages, ...certificate, includeResourceData: true })).toEqual(
      [],
    );
  });

  test('when a certificate id is missing, then only encryptionCertificateId is named', () => {
    expect(
      fields({
        ...chatMessages,
        includeResourceData: true,
        encryptionCertificate: 'MIIBase64==',
      }),
    ).toEqual(['encryptionCertificateId']);
  });

  test('when a Teams resource lives the default maximum without a lifecycle URL, then lifecycleNotificationUrl is named', () => {
    const withoutLifecycle = chatMessagesWithoutLifecycle;
    const problems = checkDefinition(withoutLifecycle);
    expect(problems).toEqual([
      expect.objectContaining({
        field: 'lifecycleNotificationUrl',
        message: expect.stringContaining('chatMessage') as unknown,
      }),
    ]);
  });

  test('when a Teams resource lives 60 minutes without a lifecycle URL, then it is accepted', () => {
    const withoutLifecycle = chatMessagesWithoutLifecycle;
    expect(checkDefinition({ ...withoutLifecycle, lifetimeMinutes: 60 })).toEqual([]);
  });

  test('when the caller supplies a default lifecycle URL, then a Teams resource without one is accepted', () => {
    const withoutLifecycle = chatMessagesWithoutLifecycle;
    expect(
      checkDefinition(withoutLifecycle, {
        defaultLifecycleNotificationUrl: 'https://hooks.example.com/api/lifecycle',
      }),
    ).toEqual([]);
  });

  test('when a Copilot resource has no lifecycle URL, then lifecycleNotificationUrl is named', () => {
    expect(
      fields({
        resource: 'copilot/interactionHistory/getAllEnterpriseInteractions',
        changeType: 'created',
        notificationUrl: 'https://hooks.example.com/api/notify',
      }),
    ).toEqual(['lifecycleNotificationUrl']);
  });

  test('when todoTask is used outside the global cloud, then resource is named', () => {
    const todo = { ...mail, resource: 'me/todo/lists/{id}/tasks' };
    expect(fields(todo, { cloud: 'usgov' })).toEqual(['resource']);
    expect(fields(todo, { cloud: 'global' })).toEqual([]);
  });

  test('when a drive root asks for created, then changeType is named', () => {
    expect(fields({ ...mail, resource: 'drives/{id}/root', changeType: 'created' })).toEqual([
      'changeType',
    ]);
    expect(fields({ ...mail, resource: 'drives/{id}/root', changeType: 'updated' })).toEqual([]);
  });

  test('when several fields are bad, then every one is named and no value is echoed', () => {
    const problems = checkDefinition({
      ...mail,
      notificationUrl: 'http://hooks.example.com/?code=secret-key',
      clientState: 's'.repeat(200),
      lifetimeMinutes: 99999,
    });
    expect(problems.map((p) => p.field)).toEqual([
      'notificationUrl',
      'clientState',
      'lifetimeMinutes',
    ]);
    expect(JSON.stringify(problems)).not.toContain('secret-key');
    expect(JSON.stringify(problems)).not.toContain('sss');
  });
});

describe('assertValidDefinition', () => {
  test('when the definition is fine, then it returns without throwing', () => {
    expect(() => {
      assertValidDefinition(mail);
    }).not.toThrow();
  });

  test('when fields are bad, then a GraphError InvalidDefinition with status 0 names each', () => {
    let thrown: unknown;
    try {
      assertValidDefinition({
        ...chatMessages,
        lifecycleNotificationUrl: undefined,
        notificationUrl: 'http://x.example.com',
      });
    } catch (e) {
      thrown = e;
    }
    expect(isGraphError(thrown)).toBe(true);
    if (!isGraphError(thrown)) return;
    expect(thrown.status).toBe(0);
    expect(thrown.code).toBe('InvalidDefinition');
    expect(thrown.message).toContain('notificationUrl:');
    expect(thrown.message).toContain('lifecycleNotificationUrl:');
    expect(thrown.message).toContain('2 problems');
  });
});
