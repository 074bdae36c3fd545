import { maxLifetimeFor, resourceFamilyOf } from '../../shared/graph/lifetimes';
import { appOnlySupportFor } from '../../shared/graph/permissions';

/**
 * Every resource path Microsoft documents for change notifications, classified as the keeper
 * uses it: Graph resource type, maximum lifetime (basic notifications), whether Graph requires a
 * lifecycle URL above one hour, and the application permissions an app-only keeper needs across
 * create, renew and reauthorize ('refused' when it cannot keep the subscription alive). Each row
 * names the learn.microsoft.com page it comes from; lifetimes are from the subscription
 * resource's table, permissions from the create, update and reauthorize pages.
 */

const learn = 'https://learn.microsoft.com/graph';
const page = {
  overview: `${learn}/change-notifications-overview`,
  subscription: `${learn}/api/resources/subscription`,
  create: `${learn}/api/subscription-post-subscriptions`,
  update: `${learn}/api/subscription-update`,
  reauthorize: `${learn}/api/subscription-reauthorize`,
  outlook: `${learn}/outlook-change-notifications-overview`,
  chatMessage: `${learn}/teams-changenotifications-chatmessage`,
  chat: `${learn}/teams-changenotifications-chat`,
  teamAndChannel: `${learn}/teams-changenotifications-team-and-channel`,
  teamMembership: `${learn}/teams-changenotifications-teammembership`,
  chatMembership: `${learn}/teams-changenotifications-chatmembership`,
  channelMembership: `${learn}/teams-changenotifications-channelmembership`,
  appInstallation: `${learn}/teams-changenotifications-appinstallation`,
  recordingTranscript: `${learn}/teams-changenotifications-callrecording-and-calltranscript`,
  onlineMeeting: `${learn}/changenotifications-for-onlinemeeting`,
  aiInteraction: `${learn}/aiinteraction-changenotifications-overview`,
  virtualEvent: `${learn}/changenotifications-for-virtualevent`,
} as const;

type Row = [
  path: string,
  family: string,
  maxMinutes: number,
  lifecycleUrlRequired: boolean,
  permissions: readonly string[] | 'refused',
  source: string,
];

const rows: Row[] = [
  // Teams messages
  [
    'teams/{id}/channels/{id}/messages',
    'chatMessage',
    4320,
    true,
    ['ChannelMessage.Read.All'],
    page.chatMessage,
  ],
  [
    'teams/{id}/channels/{id}/messages/{id}/replies',
    'chatMessage',
    4320,
    true,
    ['ChannelMessage.Read.All'],
    page.chatMessage,
  ],
  [
    'teams/getAllMessages',
    'chatMessage',
    4320,
    true,
    ['ChannelMessage.Read.All'],
    page.chatMessage,
  ],
  ['chats/{id}/messages', 'chatMessage', 4320, true, ['Chat.Read.All'], page.chatMessage],
  ['chats/getAllMessages', 'chatMessage', 4320, true, ['Chat.Read.All'], page.chatMessage],
  [
    'users/{id}/chats/getAllMessages',
    'chatMessage',
    4320,
    true,
    ['Chat.Read.All'],
    page.chatMessage,
  ],
  [
    'appCatalogs/teamsApps/{id}/installedToChats/getAllMessages',
    'chatMessage',
    4320,
    true,
    ['Chat.Read.WhereInstalled'],
    page.chatMessage,
  ],
  // Teams chats, teams, channels
  ['chats', 'chat', 4320, true, ['Chat.ReadBasic.All'], page.chat],
  ['chats/{id}', 'chat', 4320, true, ['Chat.ReadBasic.All'], page.chat],
  ['users/{id}/chats', 'chat', 4320, true, ['Chat.ReadBasic.All'], page.chat],
  [
    'appCatalogs/teamsApps/{id}/installedToChats',
    'chat',
    4320,
    true,
    ['Chat.ReadBasic.WhereInstalled'],
    page.chat,
  ],
  ['teams', 'team', 4320, true, ['Team.ReadBasic.All'], page.teamAndChannel],
  ['teams/{id}', 'team', 4320, true, ['Team.ReadBasic.All'], page.teamAndChannel],
  ['teams/getAllChannels', 'channel', 4320, true, ['Channel.ReadBasic.All'], page.teamAndChannel],
  ['teams/{id}/channels', 'channel', 4320, true, ['Channel.ReadBasic.All'], page.teamAndChannel],
  // Teams membership
  [
    'teams/{id}/members',
    'conversationMember',
    4320,
    true,
    ['TeamMember.Read.All'],
    page.teamMembership,
  ],
  [
    'chats/{id}/members',
    'conversationMember',
    4320,
    true,
    ['ChatMember.Read.All'],
    page.chatMembership,
  ],
  [
    'chats/getAllMembers',
    'conversationMember',
    4320,
    true,
    ['ChatMember.Read.All'],
    page.chatMembership,
  ],
  [
    'teams/{id}/channels/getAllMembers',
    'conversationMember',
    4320,
    true,
    ['ChannelMember.Read.All'],
    page.channelMembership,
  ],
  [
    'teams/{id}/channels/{id}/members',
    'conversationMember',
    4320,
    true,
    ['ChannelMember.Read.All'],
    page.channelMembership,
  ],
  // Teams app installations: the tenant-wide path was "unknown" (4,230) before
  [
    'appCatalogs/teamsApps/{id}/installations',
    'teamsAppInstallation',
    4320,
    true,
    [
      'TeamsAppInstallation.ReadForUser.All',
      'TeamsAppInstallation.ReadForTeam.All',
      'TeamsAppInstallation.ReadForChat.All',
    ],
    page.appInstallation,
  ],
  [
    'teams/{id}/installedApps',
    'teamsAppInstallation',
    4320,
    true,
    ['TeamsAppInstallation.ReadForTeam.All'],
    page.appInstallation,
  ],
  [
    'chats/{id}/installedApps',
    'teamsAppInstallation',
    4320,
    true,
    ['TeamsAppInstallation.ReadForChat.All'],
    page.appInstallation,
  ],
  [
    'users/{id}/teamwork/installedApps',
    'teamsAppInstallation',
    4320,
    true,
    ['TeamsAppInstallation.ReadForUser.All'],
    page.appInstallation,
  ],
  // Meetings
  [
    'communications/onlineMeetings/getAllTranscripts',
    'callTranscript',
    4320,
    true,
    ['OnlineMeetingTranscript.Read.All'],
    page.recordingTranscript,
  ],
  [
    'communications/onlineMeetings/{id}/transcripts',
    'callTranscript',
    4320,
    true,
    ['OnlineMeetingTranscript.Read.All'],
    page.recordingTranscript,
  ],
  [
    'users/{id}/onlineMeetings/getAllTranscripts',
    'callTranscript',
    4320,
    true,
    ['OnlineMeetingTranscript.Read.All'],
    page.recordingTranscript,
  ],
  [
    'communications/onlineMeetings/getAllRecordings',
    'callRecording',
    4320,
    true,
    ['OnlineMeetingRecording.Read.All'],
    page.recordingTranscript,
  ],
  [
    'communications/onlineMeetings/{id}/recordings',
    'callRecording',
    4320,
    true,
    ['OnlineMeetingRecording.Read.All'],
    page.recordingTranscript,
  ],
  [
    'users/{id}/onlineMeetings/getAllRecordings',
    'callRecording',
    4320,
    true,
    ['OnlineMeetingRecording.Read.All'],
    page.recordingTranscript,
  ],
  [
    "communications/onlineMeetings/?$filter=JoinWebUrl eq '{url}'",
    'onlineMeeting',
    4230,
    false,
    ['OnlineMeetings.Read.All'],
    page.onlineMeeting,
  ],
  ['communications/callRecords', 'callRecord', 4230, false, ['CallRecords.Read.All'], page.create],
  // Copilot
  [
    'copilot/interactionHistory/getAllEnterpriseInteractions',
    'aiInteraction',
    4320,
    true,
    ['AiEnterpriseInteraction.Read.All'],
    page.aiInteraction,
  ],
  [
    'copilot/users/{id}/interactionHistory/getAllEnterpriseInteractions',
    'aiInteraction',
    4320,
    true,
    ['AiEnterpriseInteraction.Read.All'],
    page.aiInteraction,
  ],
  // Shifts and approvals
  ['teams/{id}/schedule/shifts', 'shift', 360, false, ['Schedule.Read.All'], page.overview],
  [
    'teams/{id}/schedule/openShiftChangeRequests',
    'openShiftChangeRequest',
    360,
    false,
    ['Schedule.Read.All'],
    page.overview,
  ],
  [
    'teams/{id}/schedule/offerShiftRequests',
    'offerShiftRequest',
    360,
    false,
    ['Schedule.Read.All'],
    page.overview,
  ],
  [
    'teams/{id}/schedule/swapShiftsChangeRequests',
    'swapShiftsChangeRequest',
    360,
    false,
    ['Schedule.Read.All'],
    page.overview,
  ],
  [
    'teams/{id}/schedule/timeOffRequests',
    'timeOffRequest',
    360,
    false,
    ['Schedule.Read.All'],
    page.overview,
  ],
  [
    'solutions/approval/approvalItems',
    'approvalItem',
    43200,
    false,
    ['ApprovalSolution.ReadWrite.All'],
    page.overview,
  ],
  // Outlook
  ['users/{id}/messages', 'message', 10080, false, ['Mail.Read'], page.outlook],
  [
    "users/{id}/mailFolders('inbox')/messages",
    'message',
    10080,
    false,
    ['Mail.Read'],
    page.outlook,
  ],
  ['users/{id}/events', 'event', 10080, false, ['Calendars.Read'], page.outlook],
  ['groups/{id}/calendar/events', 'event', 10080, false, ['Calendars.Read'], page.outlook],
  ['users/{id}/contacts', 'contact', 10080, false, ['Contacts.Read'], page.outlook],
  // Directory
  ['users', 'user', 41760, false, ['User.Read.All'], page.create],
  ['users/{id}', 'user', 41760, false, ['User.Read.All'], page.create],
  ['groups', 'group', 41760, false, ['Group.Read.All'], page.create],
  ['groups/{id}', 'group', 41760, false, ['Group.Read.All'], page.create],
  [
    'directory/deletedItems',
    'directoryObject',
    41760,
    false,
    ['Directory.Read.All'],
    page.subscription,
  ],
  // Files and lists: created with Read.All, renewed and reauthorized with ReadWrite.All
  ['drives/{id}/root', 'driveItem', 42300, false, ['Files.ReadWrite.All'], page.update],
  ['users/{id}/drive/root', 'driveItem', 42300, false, ['Files.ReadWrite.All'], page.update],
  ['groups/{id}/drive/root', 'driveItem', 42300, false, ['Files.ReadWrite.All'], page.update],
  ['sites/{id}/lists/{id}', 'list', 42300, false, ['Sites.ReadWrite.All'], page.reauthorize],
  // Security, health, print, virtual events
  [
    "security/alerts?$filter=status eq 'New'",
    'securityAlert',
    43200,
    false,
    ['SecurityEvents.ReadWrite.All'],
    page.create,
  ],
  ['security/alerts_v2', 'securityAlert', 43200, false, ['SecurityAlert.Read.All'], page.overview],
  [
    'reports/healthMonitoring/alerts',
    'healthMonitoringAlert',
    42300,
    false,
    ['HealthMonitoringAlert.Read.All'],
    page.overview,
  ],
  ['print/printers/{id}/jobs', 'printer', 4230, false, ['Printer.Read.All'], page.create],
  [
    'print/taskDefinitions/{id}/tasks',
    'printTaskDefinition',
    4230,
    false,
    ['PrintTaskDefinition.ReadWrite.All'],
    page.create,
  ],
  [
    'solutions/virtualEvents/webinars/{id}/sessions',
    'virtualEvent',
    1440,
    false,
    ['VirtualEvent.Read.All'],
    page.virtualEvent,
  ],
  [
    'solutions/virtualEvents/townhalls/{id}/sessions',
    'virtualEvent',
    1440,
    false,
    ['VirtualEvent.Read.All'],
    page.virtualEvent,
  ],
  // Delegated only for some or all of a subscription's life: refused for the app-only keeper
  ['communications/presences/{id}', 'presence', 60, false, 'refused', page.create],
  [
    "communications/presences?$filter=id in ('{id}')",
    'presence',
    60,
    false,
    'refused',
    page.create,
  ],
  ['groups/{id}/conversations', 'groupConversation', 4230, false, 'refused', page.create],
  ['groups/{id}/threads', 'groupConversation', 4230, false, 'refused', page.create],
  ['users/{id}/todo/lists/{id}/tasks', 'todoTask', 4230, false, 'refused', page.update],
  ['me/drive/root', 'driveItem', 42300, false, 'refused', page.create],
  ['me/messages', 'message', 10080, false, 'refused', page.create],
];

describe('every documented change-notification resource', () => {
  test.each(rows)(
    'when the resource is %s, then it is %s, lives at most %d minutes, lifecycle URL rule %s, needs %j (%s)',
    (path, family, maxMinutes, lifecycleUrlRequired, permissions) => {
      const f = resourceFamilyOf(path);
      expect(f.family).toBe(family);
      expect(f.known).toBe(true);
      expect(maxLifetimeFor(path, { includeResourceData: false }).maxMinutes).toBe(maxMinutes);
      expect(f.lifecycleUrlRequired).toBe(lifecycleUrlRequired);
      const support = appOnlySupportFor(path);
      if (permissions === 'refused') {
        expect(support.supported).toBe(false);
      } else {
        expect(support).toEqual({
          supported: true,
          family,
          known: true,
          applicationPermissions: permissions,
        });
      }
    },
  );

  test('when a path is not documented, then the safe fallback is used and nothing is claimed', () => {
    expect(resourceFamilyOf('solutions/someFutureThing').known).toBe(false);
    expect(maxLifetimeFor('solutions/someFutureThing', { includeResourceData: false })).toEqual({
      family: 'unknown',
      maxMinutes: 4230,
      known: false,
    });
    expect(appOnlySupportFor('solutions/someFutureThing')).toMatchObject({
      supported: true,
      known: false,
      applicationPermissions: [],
    });
  });
});
