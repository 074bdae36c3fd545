import { GraphError } from '../../shared/graph/graphError';
import {
  appOnlySupportFor,
  permissionsByTenant,
  permissionsFor,
  requiredPermissionsFor,
  withRequiredPermissions,
} from '../../shared/graph/permissions';

describe('requiredPermissionsFor', () => {
  test.each([
    ['users/{id}/messages', 'Mail.Read'],
    ["users/{id}/mailFolders('Inbox')/messages", 'Mail.Read'],
    ['users/{id}/events', 'Calendars.Read'],
    ['users/{id}/contacts', 'Contacts.Read'],
    ['users', 'User.Read.All'],
    ['groups', 'Group.Read.All'],
    ['directory/deletedItems', 'Directory.Read.All'],
    ['drives/{id}/root', 'Files.Read.All'],
    ['sites/{id}/lists/{id}', 'Sites.Read.All'],
    ['teams/{id}/channels/{id}/messages', 'ChannelMessage.Read.All'],
    ['teams/getAllMessages', 'ChannelMessage.Read.All'],
    ['chats/getAllMessages?model=A', 'Chat.Read.All'],
    ['chats/{id}/messages', 'Chat.Read.All'],
    ['users/{id}/chats/getAllMessages', 'Chat.Read.All'],
    ['appCatalogs/teamsApps/{id}/installedToChats/getAllMessages', 'Chat.Read.WhereInstalled'],
    ['chats', 'Chat.ReadBasic.All'],
    ['teams/{id}/channels', 'Channel.ReadBasic.All'],
    ['teams', 'Team.ReadBasic.All'],
    ['chats/{id}/members', 'ChatMember.Read.All'],
    ['teams/{id}/members', 'TeamMember.Read.All'],
    ['teams/{id}/channels/getAllMembers', 'ChannelMember.Read.All'],
    ['communications/callRecords', 'CallRecords.Read.All'],
    ['communications/onlineMeetings/getAllRecordings', 'OnlineMeetingRecording.Read.All'],
    ['communications/onlineMeetings/getAllTranscripts', 'OnlineMeetingTranscript.Read.All'],
    ['teams/{id}/schedule/shifts', 'Schedule.Read.All'],
    ['solutions/virtualEvents/webinars/{id}', 'VirtualEvent.Read.All'],
    ['security/alerts_v2', 'SecurityAlert.Read.All'],
    ["security/alerts?$filter=status eq 'New'", 'SecurityEvents.ReadWrite.All'],
    ['copilot/interactionHistory/getAllEnterpriseInteractions', 'AiEnterpriseInteraction.Read.All'],
    ['print/printers/{id}/jobs', 'Printer.Read.All'],
    ['print/taskDefinitions/{id}/tasks', 'PrintTaskDefinition.ReadWrite.All'],
    ['solutions/approval/approvalItems', 'ApprovalSolution.ReadWrite.All'],
    ['communications/onlineMeetings/?$filter=x', 'OnlineMeetings.Read.All'],
  ])('when the resource is %s, then the app needs %s', (resource, permission) => {
    expect(requiredPermissionsFor(resource)).toEqual([permission]);
  });

  test.each([
    ['communications/presences/{id}', 'Presence.Read.All (delegated only)'],
    ['groups/{id}/conversations', 'Group.Read.All (delegated only)'],
    ['me/todo/lists/{id}/tasks', 'Tasks.ReadWrite (delegated only)'],
    ["me/mailFolders('Inbox')/messages", 'Mail.Read (delegated only)'],
    ['me/drive/root', 'Files.Read.All (delegated only)'],
  ])('when %s has no application permission, then the delegated one is marked so', (r, p) => {
    expect(requiredPermissionsFor(r)).toEqual([p]);
    expect(permissionsFor(r).application).toEqual([]);
  });

  test('when a drive or list subscription is updated, then the ReadWrite permission is named', () => {
    expect(requiredPermissionsFor('drives/{id}/root', 'update')).toEqual(['Files.ReadWrite.All']);
    expect(requiredPermissionsFor('sites/{id}/lists/{id}', 'reauthorize')).toEqual([
      'Sites.ReadWrite.All',
    ]);
  });

  test('when the resource is unknown, then no permission is claimed', () => {
    expect(requiredPermissionsFor('subscriptions')).toEqual([]);
  });
});

describe('withRequiredPermissions', () => {
  const forbidden = new GraphError({
    status: 403,
    code: 'ExtensionError',
    message: 'Access denied',
    requestId: 'req-1',
  });

  test('when a 403 is for mail, then the error gains Mail.Read and keeps its fields', () => {
    const enriched = withRequiredPermissions(forbidden, 'users/{id}/messages');
    expect(enriched.requiredPermissions).toEqual(['Mail.Read']);
    expect(enriched).toMatchObject({ status: 403, code: 'ExtensionError', requestId: 'req-1' });
    expect(enriched.message).toContain('Mail.Read');
  });

  test('when the error is a 404, then it is returned unchanged', () => {
    const notFound = new GraphError({ status: 404, code: 'NotFound', message: 'gone' });
    expect(withRequiredPermissions(notFound, 'users/{id}/messages')).toBe(notFound);
  });

  test('when the error is not a GraphError, then it is returned unchanged', () => {
    const other = new Error('boom');
    expect(withRequiredPermissions(other as unknown, 'users')).toBe(other);
  });
});

describe('appOnlySupportFor', () => {
  test.each([
    ['drives/{id}/root', ['Files.ReadWrite.All']],
    ['sites/{id}/lists/{id}', ['Sites.ReadWrite.All']],
    ['users/{id}/messages', ['Mail.Read']],
    ['teams/getAllMessages', ['ChannelMessage.Read.All']],
  ])('when %s is kept alive, then the keeper needs %j', (resource, permissions) => {
    expect(appOnlySupportFor(resource)).toEqual(
      expect.objectContaining({
        supported: true,
        known: true,
        applicationPermissions: permissions,
      }),
    );
  });

  test.each([
    ['communications/presences/{id}', ['create', 'update', 'reauthorize']],
    ['groups/{id}/threads', ['create', 'update', 'reauthorize']],
    ['users/{id}/todo/lists/{id}/tasks', ['update', 'reauthorize']],
    ['users/{id}/tasks/lists/{id}/tasks', ['create', 'update', 'reauthorize']],
    ['me/events', ['create', 'update', 'reauthorize']],
  ])('when %s is kept alive app-only, then %j are delegated only', (resource, operations) => {
    expect(appOnlySupportFor(resource)).toMatchObject({
      supported: false,
      delegatedOnlyOperations: operations,
    });
  });

  test('when the resource is unknown, then it is supported without a known permission', () => {
    expect(appOnlySupportFor('some/future/resource')).toEqual({
      supported: true,
      family: 'unknown',
      known: false,
      applicationPermissions: [],
    });
  });

  test('when todoTask is created app-only, then create alone has an application permission', () => {
    expect(permissionsFor('users/{id}/todo/lists/{id}/tasks', 'create').application).toEqual([
      'Tasks.Read.All',
    ]);
    expect(permissionsFor('users/{id}/todo/lists/{id}/tasks', 'update').application).toEqual([]);
  });
});

describe('permissionsByTenant', () => {
  const a = '84bd8158-6d4d-4958-8b9f-9d6445542f95';
  const b = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

  test('when definitions span tenants, then each tenant gets the union, sorted, with the keys that need it', () => {
    expect(
      permissionsByTenant([
        { key: 'mail-1', tenantId: a, resource: 'users/u1/messages' },
        { key: 'drive', tenantId: a, resource: 'drives/d1/root' },
        { key: 'mail-2', tenantId: a, resource: 'users/u2/messages' },
        { key: 'odd', tenantId: a, resource: 'some/future/resource' },
        { key: 'presence', tenantId: b, resource: 'communications/presences/u1' },
        { key: 'chats', tenantId: b, resource: 'chats/getAllMessages' },
      ]),
    ).toEqual([
      {
        tenantId: b,
        applicationPermissions: [{ permission: 'Chat.Read.All', keys: ['chats'] }],
        unknownResources: [],
        notKeepable: [
          { key: 'presence', reason: expect.stringContaining('Presence.Read.All') as unknown },
        ],
      },
      {
        tenantId: a,
        applicationPermissions: [
          { permission: 'Files.ReadWrite.All', keys: ['drive'] },
          { permission: 'Mail.Read', keys: ['mail-1', 'mail-2'] },
        ],
        unknownResources: ['odd'],
        notKeepable: [],
      },
    ]);
  });
});
