import { loadConfig, type Config } from '../../shared/config';
import { parseDefinitionInput } from '../../shared/operations/definitionInput';

const lifecycleUrl = 'https://keeper.example.com/api/lifecycle?code=function-key';
const config: Config = loadConfig({
  STORAGE_CONNECTION: 'UseDevelopmentStorage=true',
  LIFECYCLE_NOTIFICATION_URL: lifecycleUrl,
});
const withoutLifecycleUrl: Config = loadConfig({
  STORAGE_CONNECTION: 'UseDevelopmentStorage=true',
});

const tenantId = '84bd8158-6d4d-4958-8b9f-9d6445542f95';

/** What an operator sends for an Outlook mail subscription. */
const mail = {
  key: 'orders-mail',
  tenantId,
  resource: 'users/4f2d7b9e-8a61-4c1b-9d0e-2b7c5a3f1e10/messages',
  changeType: 'created,updated',
  notificationUrl: 'https://hooks.example.com/api/notify',
};

function fieldsNamed(input: unknown, options: { key?: string; config?: Config } = {}): string[] {
  const parsed = parseDefinitionInput(input, { config, ...options });
  return parsed.ok ? [] : parsed.problems.map((p) => p.field);
}

describe('parseDefinitionInput', () => {
  test('when a minimal definition is sent, then it is accepted with the defaults filled in', () => {
    const parsed = parseDefinitionInput(mail, { config });

    expect(parsed).toEqual({
      ok: true,
      definition: { ...mail, includeResourceData: false, lifecycleNotificationUrl: lifecycleUrl },
      applicationPermissions: ['Mail.Read'],
      warnings: [],
    });
  });

  test('when the definition names its own lifecycle URL, then the app default does not replace it', () => {
    const own = 'https://other.example.com/api/lifecycle';
    const parsed = parseDefinitionInput({ ...mail, lifecycleNotificationUrl: own }, { config });

    expect(parsed.ok && parsed.definition.lifecycleNotificationUrl).toBe(own);
  });

  test('when LIFECYCLE_NOTIFICATION_URL is not set, then an Outlook definition has none', () => {
    const parsed = parseDefinitionInput(mail, { config: withoutLifecycleUrl });

    expect(parsed.ok && parsed.definition.lifecycleNotificationUrl).toBeUndefined();
  });

  test('when the tenant id is in upper case, then it is stored in lower case', () => {
    const parsed = parseDefinitionInput({ ...mail, tenantId: tenantId.toUpperCase() }, { config });

    expect(parsed.ok && parsed.definition.tenantId).toBe(tenantId);
  });

  test('when the key comes from the URL and the body has none, then the URL key is used', () => {
    const { key: _key, ...body } = mail;

    const parsed = parseDefinitionInput(body, { key: 'from-url', config });

    expect(parsed.ok && parsed.definition.key).toBe('from-url');
  });

  test('when the body repeats the URL key, then it is accepted', () => {
    expect(parseDefinitionInput(mail, { key: mail.key, config }).ok).toBe(true);
  });

  test('when the body key differs from the URL key, then key is named', () => {
    const parsed = parseDefinitionInput(mail, { key: 'another', config });

    expect(parsed).toEqual({
      ok: false,
      problems: [{ field: 'key', message: 'must match the key in the URL' }],
    });
  });

  test.each<[string, unknown]>([
    ['an array', [mail]],
    ['null', null],
    ['a string', 'users/x/messages'],
    ['a number', 42],
  ])('when the body is %s, then the body is named as not an object', (_name, input) => {
    expect(parseDefinitionInput(input, { config })).toEqual({
      ok: false,
      problems: [{ field: '(body)', message: 'must be a JSON object' }],
    });
  });

  test('when every field is wrong, then every one is named at once', () => {
    const named = fieldsNamed({
      key: 'has/slash',
      tenantId: 'contoso.onmicrosoft.com',
      resource: 'https://graph.microsoft.com/v1.0/users/x/messages',
      changeType: 'created,renamed',
      notificationUrl: 'http://hooks.example.com/api/notify',
      lifecycleNotificationUrl: 'ftp://keeper.example.com/life',
      includeResourceData: 'yes',
      latestSupportedTlsVersion: 'v2_0',
      lifetimeMinutes: 12.5,
      clientState: 'chosen-by-the-caller',
      expirationDateTime: '2030-01-01T00:00:00Z',
    });

    expect(named.sort()).toEqual(
      [
        'key',
        'tenantId',
        'resource',
        'changeType',
        'notificationUrl',
        'lifecycleNotificationUrl',
        'includeResourceData',
        'latestSupportedTlsVersion',
        'lifetimeMinutes',
        'clientState',
        'expirationDateTime',
      ].sort(),
    );
  });

  test('when required fields are missing, then each is named', () => {
    expect(fieldsNamed({}).sort()).toEqual(
      ['key', 'tenantId', 'resource', 'changeType', 'notificationUrl'].sort(),
    );
  });

  test('when clientState is sent, then it is refused: the service chooses it', () => {
    const parsed = parseDefinitionInput({ ...mail, clientState: 'mine' }, { config });

    expect(parsed).toEqual({
      ok: false,
      problems: [{ field: 'clientState', message: 'is not a field of a subscription definition' }],
    });
  });

  test("when the lifetime exceeds the resource's maximum, then lifetimeMinutes is named with the limit", () => {
    const parsed = parseDefinitionInput({ ...mail, lifetimeMinutes: 10_081 }, { config });

    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.problems).toEqual([
      {
        field: 'lifetimeMinutes',
        message: expect.stringContaining('at most 10080 minutes') as unknown,
      },
    ]);
  });

  test('when resource data is asked for without a certificate, then both certificate fields are named', () => {
    expect(fieldsNamed({ ...mail, includeResourceData: true }).sort()).toEqual([
      'encryptionCertificate',
      'encryptionCertificateId',
    ]);
  });

  test('when a shape problem and a Graph rule problem come together, then both are named', () => {
    const named = fieldsNamed({
      ...mail,
      notificationUrl: 'http://hooks.example.com/api/notify',
      lifetimeMinutes: 99_999,
      includeResourceData: true,
    });

    expect(named.sort()).toEqual(
      [
        'encryptionCertificate',
        'encryptionCertificateId',
        'lifetimeMinutes',
        'notificationUrl',
      ].sort(),
    );
  });

  test('when a Teams definition has no lifecycle URL anywhere, then lifecycleNotificationUrl is named', () => {
    const chat = { ...mail, resource: 'chats/getAllMessages' };

    expect(fieldsNamed(chat, { config: withoutLifecycleUrl })).toEqual([
      'lifecycleNotificationUrl',
    ]);
    expect(fieldsNamed(chat)).toEqual([]);
  });

  test('when a drive subscription asks for created, then changeType is named', () => {
    expect(fieldsNamed({ ...mail, resource: 'drives/{id}/root', changeType: 'created' })).toEqual([
      'changeType',
    ]);
  });

  test('when a field is wrong, then no message quotes the value (URLs may hold a key)', () => {
    const parsed = parseDefinitionInput(
      {
        ...mail,
        notificationUrl: 'http://hooks.example.com/api/notify?code=secret-key',
        lifecycleNotificationUrl: 'http://keeper.example.com/api/lifecycle?code=secret-key',
      },
      { config },
    );

    expect(JSON.stringify(parsed)).not.toContain('secret-key');
  });
});

describe('parseDefinitionInput and the app-only credential', () => {
  const refusal = (resource: string) => {
    const parsed = parseDefinitionInput({ ...mail, resource }, { config });
    if (parsed.ok) throw new Error('expected a refusal');
    const problem = parsed.problems.find((p) => p.field === 'resource');
    if (problem === undefined) throw new Error('expected resource to be named');
    return problem.message;
  };

  test('when presence is applied, then it is refused with why and what would work', () => {
    const message = refusal('communications/presences/{id}');
    expect(message).toContain('Presence.Read.All');
    expect(message).toContain('app-only');
    expect(message).toContain('chats/getAllMessages');
  });

  test('when a group conversation is applied, then it is refused as delegated only', () => {
    const message = refusal('groups/{id}/conversations');
    expect(message).toContain('Group.Read.All');
    expect(message).toContain('groups/{id}/events');
  });

  test.each(['me/messages', "me/mailFolders('Inbox')/messages", 'me/events', '/me/contacts'])(
    'when %s is applied, then it is refused: an app-only token has no signed-in user',
    (resource) => {
      expect(refusal(resource)).toContain('signed-in user');
    },
  );

  test('when the personal OneDrive me/drive/root is applied, then it is refused with the business drive named', () => {
    expect(refusal('me/drive/root')).toContain('drives/{id}/root');
  });

  test('when a todoTask is applied, then it is refused because renew and reauthorize are delegated only', () => {
    const message = refusal('users/{id}/todo/lists/{id}/tasks');
    expect(message).toContain('renew, reauthorize');
    expect(message).toContain('lapse at its first renewal');
  });

  test.each([
    ['drives/{id}/root', 'updated', ['Files.ReadWrite.All']],
    ['users/{id}/drive/root', 'updated', ['Files.ReadWrite.All']],
    ['sites/{id}/lists/{id}', 'updated', ['Sites.ReadWrite.All']],
    ['chats/getAllMessages', 'created', ['Chat.Read.All']],
    ['users', 'updated', ['User.Read.All']],
  ])(
    'when %s is accepted, then it names %j, covering create, renew and reauthorize',
    (resource, changeType, permissions) => {
      const parsed = parseDefinitionInput({ ...mail, resource, changeType }, { config });
      expect(parsed).toMatchObject({ ok: true, applicationPermissions: permissions });
    },
  );

  test('when no lifecycle URL is set anywhere, then the definition is accepted with a warning', () => {
    const parsed = parseDefinitionInput(mail, { config: withoutLifecycleUrl });
    if (!parsed.ok) throw new Error('expected acceptance');
    expect(parsed.warnings).toHaveLength(1);
    expect(parsed.warnings[0]).toMatch(/^lifecycleNotificationUrl: .*no lifecycle event/);
  });

  test('when the resource is not in the table, then it is accepted with a warning and no permission', () => {
    const parsed = parseDefinitionInput({ ...mail, resource: 'some/future/resource' }, { config });
    if (!parsed.ok) throw new Error('expected acceptance');
    expect(parsed.applicationPermissions).toEqual([]);
    expect(parsed.warnings).toEqual([
      expect.stringMatching(/^resource: .*fallback lifetime of 4230/),
    ]);
  });
});

describe('parseDefinitionInput normalises and accepts Graph fields', () => {
  test.each([
    ['created, updated', 'created,updated'],
    ['Updated,Deleted,Created', 'created,deleted,updated'],
    [' updated ', 'updated'],
    ['updated,UPDATED, updated', 'updated'],
    ['deleted,created', 'created,deleted'],
  ])('when changeType is %j, then %j is stored', (changeType, stored) => {
    const parsed = parseDefinitionInput({ ...mail, changeType }, { config });
    expect(parsed).toMatchObject({ ok: true, definition: { changeType: stored } });
  });

  test.each(['created,,updated', 'moved', '', 'created;updated'])(
    'when changeType is %j, then changeType is named',
    (changeType) => {
      expect(fieldsNamed({ ...mail, changeType })).toEqual(['changeType']);
    },
  );

  test('when a drive subscription writes "Updated " then it is the only supported change type', () => {
    expect(fieldsNamed({ ...mail, resource: 'drives/{id}/root', changeType: 'Updated ' })).toEqual(
      [],
    );
  });

  test('when notificationQueryOptions and notificationUrlAppId are sent, then they are kept', () => {
    const parsed = parseDefinitionInput(
      {
        ...mail,
        resource: 'print/printers/{id}/jobs',
        notificationQueryOptions: '$filter=isFetchable eq true',
        notificationUrlAppId: '1f3c5b2a-6d4e-4f80-9a7b-0c1d2e3f4a5b',
      },
      { config },
    );
    expect(parsed).toMatchObject({
      ok: true,
      definition: {
        notificationQueryOptions: '$filter=isFetchable eq true',
        notificationUrlAppId: '1f3c5b2a-6d4e-4f80-9a7b-0c1d2e3f4a5b',
      },
    });
  });

  test('when notificationUrlAppId is not a GUID, then it is named', () => {
    expect(fieldsNamed({ ...mail, notificationUrlAppId: 'my-app' })).toEqual([
      'notificationUrlAppId',
    ]);
  });
});
