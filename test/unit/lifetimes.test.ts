import {
  lifecycleUrlRequiredAboveMinutes,
  maxLifetimeFor,
  minimumLifetimeMinutes,
  needsLifecycleUrl,
  resourceFamilies,
  unknownResourceMaxMinutes,
} from '../../shared/graph/lifetimes';

type Row = readonly [resource: string, family: string, maxMinutes: number];

// NOTE: one or more paths for every row of docs/graph-rules.md#lifetimes.
const basicRows: readonly Row[] = [
  ['copilot/interactionHistory/getAllEnterpriseInteractions', 'aiInteraction', 4320],
  ['copilot/users/{id}/interactionHistory/getAllEnterpriseInteractions', 'aiInteraction', 4320],
  ["security/alerts?$filter=status eq 'New'", 'securityAlert', 43200],
  ['security/alerts_v2', 'securityAlert', 43200],
  ['solutions/approval/approvalItems', 'approvalItem', 43200],
  ['communications/callRecords', 'callRecord', 4230],
  ['communications/onlineMeetings/getAllRecordings', 'callRecording', 4320],
  ['users/{id}/onlineMeetings/getAllRecordings', 'callRecording', 4320],
  ['communications/onlineMeetings/{id}/recordings', 'callRecording', 4320],
  ['appCatalogs/teamsApps/{id}/installedToOnlineMeetings/getAllRecordings', 'callRecording', 4320],
  ['communications/onlineMeetings/getAllTranscripts', 'callTranscript', 4320],
  ['communications/onlineMeetings/{id}/transcripts', 'callTranscript', 4320],
  ['teams/{id}/channels', 'channel', 4320],
  ['/teams/getAllChannels', 'channel', 4320],
  ['chats', 'chat', 4320],
  ['chats/{id}', 'chat', 4320],
  ['users/{id}/chats', 'chat', 4320],
  ['appCatalogs/teamsApps/{id}/installedToChats', 'chat', 4320],
  ['chats/getAllMessages?model=A', 'chatMessage', 4320],
  ['teams/{id}/channels/{id}/messages', 'chatMessage', 4320],
  ['chats/{id}/messages', 'chatMessage', 4320],
  ['teams/getAllMessages', 'chatMessage', 4320],
  ['users/{id}/chats/getAllMessages', 'chatMessage', 4320],
  ['appCatalogs/teamsApps/{id}/installedToChats/getAllMessages', 'chatMessage', 4320],
  ['chats/{id}/members', 'conversationMember', 4320],
  ['chats/getAllMembers', 'conversationMember', 4320],
  ['teams/{id}/members', 'conversationMember', 4320],
  ['teams/{id}/channels/getAllMembers', 'conversationMember', 4320],
  ['teams/getAllChannels/getAllMembers', 'conversationMember', 4320],
  [
    "communications/onlineMeetings/?$filter=JoinWebUrl eq 'https://teams/x?y=1'",
    'onlineMeeting',
    4230,
  ],
  [
    "communications/onlineMeetings(joinWebUrl='https://teams.microsoft.com/l/meetup-join/a/b')/meetingCallEvents",
    'onlineMeeting',
    4230,
  ],
  ['teams', 'team', 4320],
  ['teams/{id}', 'team', 4320],
  ['teams/{id}/installedApps', 'teamsAppInstallation', 4320],
  ['chats/{id}/installedApps', 'teamsAppInstallation', 4320],
  ['users/{id}/teamwork/installedApps', 'teamsAppInstallation', 4320],
  ['teams/{id}/schedule/shifts', 'shift', 360],
  ['teams/{id}/schedule/openShiftChangeRequests', 'openShiftChangeRequest', 360],
  ['teams/{id}/schedule/offerShiftRequests', 'offerShiftRequest', 360],
  ['teams/{id}/schedule/swapShiftsChangeRequests', 'swapShiftsChangeRequest', 360],
  ['teams/{id}/schedule/timeOffRequests', 'timeOffRequest', 360],
  ['groups/{id}/conversations', 'groupConversation', 4230],
  ["groups('{id}')/conversations", 'groupConversation', 4230],
  ['drives/{id}/root', 'driveItem', 42300],
  ['me/drive/root', 'driveItem', 42300],
  ['users/{id}/drive/root', 'driveItem', 42300],
  ['sites/{id}/lists/{id}', 'list', 42300],
  ['users/{id}/messages', 'message', 10080],
  ["me/mailFolders('Inbox')/messages", 'message', 10080],
  ['me/messages?$select=subject,from', 'message', 10080],
  ['me/events', 'event', 10080],
  ['users/{id}/calendar/events', 'event', 10080],
  ['users/{id}/contacts', 'contact', 10080],
  ['users', 'user', 41760],
  ['users/{id}', 'user', 41760],
  ['groups', 'group', 41760],
  ['groups/{id}', 'group', 41760],
  ['directory/deletedItems', 'directoryObject', 41760],
  ["communications/presences?$filter=id in ('a','b')", 'presence', 60],
  ['/communications/presences/{id}', 'presence', 60],
  ['print/printers/{id}/jobs', 'printer', 4230],
  ['print/taskDefinitions/{id}/tasks', 'printTaskDefinition', 4230],
  ['me/todo/lists/{id}/tasks', 'todoTask', 4230],
  ["reports/healthMonitoring/alerts?$filter=alertType eq 'x'", 'healthMonitoringAlert', 42300],
  ['me/tasks/lists/{id}/tasks', 'baseTask', 4230],
  ['solutions/virtualEvents/webinars/{id}', 'virtualEvent', 1440],
  ['solutions/virtualEvents/townhalls/{id}/sessions', 'virtualEvent', 1440],
];

describe('maxLifetimeFor', () => {
  test.each(basicRows)(
    'when the resource is %s without resource data, then it is %s with %i minutes',
    (resource, family, maxMinutes) => {
      expect(maxLifetimeFor(resource, { includeResourceData: false })).toEqual({
        family,
        maxMinutes,
        known: true,
      });
    },
  );

  test.each([
    ['users/{id}/messages', 'message'],
    ["me/mailFolders('Inbox')/messages?$select=subject", 'message'],
    ['me/events', 'event'],
    ['users/{id}/contacts', 'contact'],
  ])('when %s includes resource data, then Outlook allows 1,440 minutes', (resource, family) => {
    expect(maxLifetimeFor(resource, { includeResourceData: true })).toEqual({
      family,
      maxMinutes: 1440,
      known: true,
    });
  });

  test('when a non-Outlook resource includes resource data, then its maximum is unchanged', () => {
    expect(maxLifetimeFor('chats/getAllMessages', { includeResourceData: true }).maxMinutes).toBe(
      4320,
    );
  });

  test.each([
    'USERS/{ID}/MESSAGES',
    '/users/{id}/messages',
    'Users/{id}/Messages/',
    'users/{id}/messages?$filter=isRead eq false',
  ])('when the path is written as %s, then it still classifies as message', (resource) => {
    expect(maxLifetimeFor(resource, { includeResourceData: false }).family).toBe('message');
  });

  test.each(['subscriptions', 'users/{id}/planner/plans/x/y', 'copilot/something', ''])(
    'when the resource %p is not in the table, then the conservative default is returned as unknown',
    (resource) => {
      expect(maxLifetimeFor(resource, { includeResourceData: false })).toEqual(
        expect.objectContaining({ maxMinutes: unknownResourceMaxMinutes, known: false }),
      );
    },
  );

  test('when the default is compared with the table, then every family larger than it is recognised by path', () => {
    // NOTE: the default must not exceed any maximum except those found by path (presence,
    // Shifts, Outlook rich and virtual events), so an unknown resource is never over-asked.
    const smaller = Object.values(resourceFamilies)
      .filter((f) => f.known && f.maxMinutes < unknownResourceMaxMinutes)
      .map((f) => f.family)
      .sort();
    expect(smaller).toEqual(
      [
        'offerShiftRequest',
        'openShiftChangeRequest',
        'presence',
        'shift',
        'swapShiftsChangeRequest',
        'timeOffRequest',
        'virtualEvent',
      ].sort(),
    );
    expect(unknownResourceMaxMinutes).toBe(4230);
  });
});

describe('lifetime facts', () => {
  test('when the floor and lifecycle threshold are read, then they are 45 and 60 minutes', () => {
    expect(minimumLifetimeMinutes).toBe(45);
    expect(lifecycleUrlRequiredAboveMinutes).toBe(60);
  });

  test.each([
    ['chats/getAllMessages', 61, true],
    ['chats/getAllMessages', 60, false],
    ['teams/{id}/channels', 4320, true],
    ['teams', 120, true],
    ['chats/{id}/members', 120, true],
    ['teams/{id}/installedApps', 120, true],
    ['copilot/interactionHistory/getAllEnterpriseInteractions', 120, true],
    ['communications/onlineMeetings/getAllTranscripts', 120, true],
    ['users/{id}/messages', 10080, false],
    ['communications/callRecords', 4230, false],
  ] as const)(
    'when %s lives %i minutes, then needing a lifecycle URL is %s',
    (resource, minutes, expected) => {
      expect(needsLifecycleUrl(resource, minutes)).toBe(expected);
    },
  );
});
