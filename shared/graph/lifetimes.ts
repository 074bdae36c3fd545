/**
 * Maximum subscription lifetimes per resource (the table of
 * https://learn.microsoft.com/graph/api/resources/subscription), chosen from the resource
 * path. Graph rejects a create or renew beyond the maximum (400 ExtensionError), so every request
 * uses this table instead of relying on clamping.
 */

/** Graph raises a requested expiry under 45 minutes to request time + 45 minutes. */
export const minimumLifetimeMinutes = 45;

/**
 * Teams and Copilot resources need a `lifecycleNotificationUrl` when the expiry is more than
 * this far away, or creation fails (e.g.
 * https://learn.microsoft.com/graph/teams-changenotifications-chatmessage).
 */
export const lifecycleUrlRequiredAboveMinutes = 60;

/**
 * Used for a resource this table does not know. 4,230 is the smallest maximum shared by the
 * common resource kinds (callRecord, onlineMeeting, group conversation, print, todoTask): every
 * resource in the table allows at least this much except presence (60), Shifts (360), Outlook
 * with resource data and virtual events (1,440), and those are all recognised by their paths.
 * It is also the old Outlook limit, so an unknown resource is unlikely to reject it; if it does,
 * Graph's 400 names the real maximum. Callers warn on `known: false`.
 */
export const unknownResourceMaxMinutes = 4230;

export interface ResourceLifetime {
  /** Graph's resource type, e.g. `message`, `chatMessage`, `driveItem`; `unknown` when unknown. */
  readonly family: string;
  readonly maxMinutes: number;
  /** False when the resource is not in the table and `maxMinutes` is the conservative default. */
  readonly known: boolean;
}

export interface ResourceFamily {
  readonly family: string;
  readonly maxMinutes: number;
  /** Only Outlook documents a different maximum with resource data. */
  readonly maxMinutesWithResourceData?: number;
  /** Needs a lifecycleNotificationUrl above `lifecycleUrlRequiredAboveMinutes`. */
  readonly lifecycleUrlRequired: boolean;
  /** Change notifications exist only in the global cloud (todoTask). */
  readonly globalCloudOnly: boolean;
  /** False for a family we recognise by path but whose maximum the docs do not state. */
  readonly known: boolean;
}

function family(
  name: string,
  maxMinutes: number,
  extra: Partial<Omit<ResourceFamily, 'family' | 'maxMinutes'>> = {},
): ResourceFamily {
  return Object.freeze({
    family: name,
    maxMinutes,
    lifecycleUrlRequired: false,
    globalCloudOnly: false,
    known: true,
    ...extra,
  });
}

const teams = { lifecycleUrlRequired: true } as const;

/** Every row of the subscription resource's lifetime table, by Graph resource type. */
export const resourceFamilies = Object.freeze({
  aiInteraction: family('aiInteraction', 4320, teams),
  // NOTE: other Copilot resources (e.g. AI insights) need the lifecycle URL but their
  // maximum is not in the table.
  copilot: family('copilot', unknownResourceMaxMinutes, { ...teams, known: false }),
  securityAlert: family('securityAlert', 43200),
  approvalItem: family('approvalItem', 43200),
  callRecord: family('callRecord', 4230),
  // NOTE: the transcript/recording page also requires a lifecycle URL above 1 hour, although
  // the lifetime table does not say so.
  callRecording: family('callRecording', 4320, teams),
  callTranscript: family('callTranscript', 4320, teams),
  channel: family('channel', 4320, teams),
  chat: family('chat', 4320, teams),
  chatMessage: family('chatMessage', 4320, teams),
  conversationMember: family('conversationMember', 4320, teams),
  // NOTE: the table lists onlineMeeting twice (4,320 and 4,230); the lower one is safe.
  onlineMeeting: family('onlineMeeting', 4230),
  team: family('team', 4320, teams),
  teamsAppInstallation: family('teamsAppInstallation', 4320, teams),
  shift: family('shift', 360),
  openShiftChangeRequest: family('openShiftChangeRequest', 360),
  offerShiftRequest: family('offerShiftRequest', 360),
  swapShiftsChangeRequest: family('swapShiftsChangeRequest', 360),
  timeOffRequest: family('timeOffRequest', 360),
  // NOTE: other schedule entities are not in the table; the Shifts maximum is the safe guess.
  schedule: family('schedule', 360, { known: false }),
  groupConversation: family('groupConversation', 4230),
  driveItem: family('driveItem', 42300),
  list: family('list', 42300),
  message: family('message', 10080, { maxMinutesWithResourceData: 1440 }),
  event: family('event', 10080, { maxMinutesWithResourceData: 1440 }),
  contact: family('contact', 10080, { maxMinutesWithResourceData: 1440 }),
  user: family('user', 41760),
  group: family('group', 41760),
  directoryObject: family('directoryObject', 41760),
  presence: family('presence', 60),
  printer: family('printer', 4230),
  printTaskDefinition: family('printTaskDefinition', 4230),
  todoTask: family('todoTask', 4230, { globalCloudOnly: true }),
  healthMonitoringAlert: family('healthMonitoringAlert', 42300),
  baseTask: family('baseTask', 4230),
  // NOTE: not in the lifetime table; the virtual event page says "a day"
  // (https://learn.microsoft.com/graph/changenotifications-for-virtualevent).
  virtualEvent: family('virtualEvent', 1440),
  unknown: family('unknown', unknownResourceMaxMinutes, { known: false }),
} satisfies Record<string, ResourceFamily>);

export type ResourceFamilyName = keyof typeof resourceFamilies;

/**
 * The maximum lifetime Graph allows for `resource`, a path relative to the version root as it
 * goes into `subscription.resource`. Case-insensitive; a leading `/`, the query string
 * (`?$filter=...`, `?model=A`, `$select`) and OData keys (`mailFolders('Inbox')`) are ignored.
 */
export function maxLifetimeFor(
  resource: string,
  options: { readonly includeResourceData: boolean },
): ResourceLifetime {
  const f = resourceFamilyOf(resource);
  const maxMinutes =
    options.includeResourceData && f.maxMinutesWithResourceData !== undefined
      ? f.maxMinutesWithResourceData
      : f.maxMinutes;
  return { family: f.family, maxMinutes, known: f.known };
}

/** True when a subscription on `resource` living `lifetimeMinutes` needs a lifecycle URL. */
export function needsLifecycleUrl(resource: string, lifetimeMinutes: number): boolean {
  return (
    resourceFamilyOf(resource).lifecycleUrlRequired &&
    lifetimeMinutes > lifecycleUrlRequiredAboveMinutes
  );
}

export function resourceFamilyOf(resource: string): ResourceFamily {
  return resourceFamilies[classify(resourceSegments(resource))];
}

/**
 * Splits a resource path into lower-case segments without keys or query: `me/...` becomes
 * `users/{id}/...` so both forms classify alike.
 */
export function resourceSegments(resource: string): string[] {
  // NOTE: keys go first; a key can hold a URL with slashes or a `?` (joinWebUrl='https://...').
  const withoutKeys = resource.replace(/\((?:'[^']*'|[^()'])*\)/g, '');
  const path = withoutKeys.split('?')[0] ?? '';
  const segments = path
    .toLowerCase()
    .split('/')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return segments[0] === 'me' ? ['users', '{id}', ...segments.slice(1)] : segments;
}

const schedulePaths: Readonly<Record<string, ResourceFamilyName>> = {
  shifts: 'shift',
  openshiftchangerequests: 'openShiftChangeRequest',
  offershiftrequests: 'offerShiftRequest',
  swapshiftschangerequests: 'swapShiftsChangeRequest',
  timeoffrequests: 'timeOffRequest',
};

const directoryRoots = new Set(['directory', 'directoryobjects']);

function classify(segments: readonly string[]): ResourceFamilyName {
  const first = segments[0];
  const has = (...names: string[]) => names.some((n) => segments.includes(n));
  if (first === undefined) return 'unknown';

  if (first === 'copilot') {
    return has('interactionhistory', 'getallenterpriseinteractions') ? 'aiInteraction' : 'copilot';
  }
  if (first === 'security') return has('alerts', 'alerts_v2') ? 'securityAlert' : 'unknown';
  if (first === 'reports') return has('healthmonitoring') ? 'healthMonitoringAlert' : 'unknown';
  if (has('approvalitems')) return 'approvalItem';
  if (first === 'solutions') return has('virtualevents') ? 'virtualEvent' : 'unknown';
  if (first === 'print') {
    if (has('printers')) return 'printer';
    return has('taskdefinitions') ? 'printTaskDefinition' : 'unknown';
  }
  if (has('callrecords')) return 'callRecord';
  if (has('presences', 'presence')) return 'presence';
  // NOTE: before onlineMeetings and Teams: recordings live under both.
  if (has('recordings', 'getallrecordings')) return 'callRecording';
  if (has('transcripts', 'getalltranscripts')) return 'callTranscript';
  if (has('onlinemeetings')) return 'onlineMeeting';
  if (first === 'teams' && has('schedule')) {
    const last = segments[segments.length - 1] ?? '';
    return schedulePaths[last] ?? 'schedule';
  }
  const teamsFamily = classifyTeams(segments);
  if (teamsFamily !== undefined) return teamsFamily;

  if (first === 'groups') {
    if (has('conversations', 'threads')) return 'groupConversation';
    if (has('drive', 'drives')) return 'driveItem';
    if (has('events', 'calendar', 'calendars')) return 'event';
    return segments.length <= 2 ? 'group' : 'unknown';
  }
  if (has('todo')) return 'todoTask';
  if (first === 'drives' || has('drive')) return 'driveItem';
  if (first === 'sites') return has('lists') ? 'list' : 'unknown';
  if (first === 'users') {
    if (has('tasks')) return 'baseTask';
    if (has('messages')) return 'message';
    if (has('events')) return 'event';
    if (has('contacts')) return 'contact';
    return segments.length <= 2 ? 'user' : 'unknown';
  }
  if (directoryRoots.has(first)) return 'directoryObject';
  return 'unknown';
}

/** Teams paths: under /teams, /chats, /appCatalogs, or a user's chats and teamwork. */
function classifyTeams(segments: readonly string[]): ResourceFamilyName | undefined {
  const first = segments[0];
  const has = (...names: string[]) => names.some((n) => segments.includes(n));
  const isTeams =
    first === 'teams' || first === 'chats' || first === 'appcatalogs' || has('chats', 'teamwork');
  if (!isTeams) return undefined;
  if (has('messages', 'getallmessages', 'replies', 'getallretainedmessages')) return 'chatMessage';
  if (has('members', 'getallmembers')) return 'conversationMember';
  // NOTE: /appCatalogs/teamsApps/{id}/installations is the documented tenant-wide path
  // (https://learn.microsoft.com/graph/teams-changenotifications-appinstallation).
  if (has('installedapps', 'installations')) return 'teamsAppInstallation';
  if (has('channels', 'getallchannels')) return 'channel';
  if (has('chats', 'installedtochats')) return 'chat';
  if (first === 'teams') return 'team';
  return 'unknown';
}
