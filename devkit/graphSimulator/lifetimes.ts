/**
 * The simulator's own reading of a subscription `resource` path: which Graph resource family it
 * names, its maximum lifetime and the creation rules that depend on it. Deliberately written
 * apart from the app's lifetime table, so the two can disagree and a test can catch it.
 *
 * Numbers: docs/graph-rules.md#lifetimes (the lifetimes table); rules: docs/graph-rules.md#the-subscription-resource and docs/graph-rules.md#lifetimes.
 */

export interface ResourceRules {
  /** A short name for messages and tests, e.g. 'outlook', 'chatMessage', 'directory'. */
  readonly family: string;
  readonly maxMinutes: number;
  /** Teams and Copilot: lifecycleNotificationUrl required above 1 h (docs/graph-rules.md#lifetimes). */
  readonly lifecycleUrlRequiredOverOneHour: boolean;
}

/** A requested expiry less than this far ahead is raised to it (docs/graph-rules.md#lifetimes, learn.microsoft.com/graph/api/resources/subscription). */
export const minimumLifetimeMinutes = 45;

/** The Teams/Copilot lifecycle URL rule applies above this (docs/graph-rules.md#lifetimes). */
export const lifecycleUrlThresholdMinutes = 60;

function rules(
  family: string,
  maxMinutes: number,
  flags: { lifecycle?: boolean } = {},
): ResourceRules {
  return {
    family,
    maxMinutes,
    lifecycleUrlRequiredOverOneHour: flags.lifecycle === true,
  };
}

const shiftsEntities = new Set([
  'shifts',
  'offershiftrequests',
  'openshiftchangerequests',
  'swapshiftschangerequests',
  'timeoffrequests',
]);

const directoryRoots = new Set([
  'users',
  'groups',
  'directory',
  'directoryobjects',
  'serviceprincipals',
  'applications',
  'devices',
  'administrativeunits',
  'contacts', // organizational contacts at the root; mailbox contacts are under users/{id}
]);

/**
 * Lower-cased path segments with OData key or function syntax reduced to the name, e.g.
 * `mailFolders('Inbox')` -> `mailfolders`, `onlineMeetings(joinWebUrl='...')` -> `onlinemeetings`.
 * The query string (`?$select=...`, `?$filter=...`) is dropped.
 */
export function resourceSegments(resource: string): string[] {
  // NOTE: keys are removed before the query, as a key may hold a URL with '/' and '?' in it.
  const withoutKeys = resource.replace(/\((?:'[^']*'|[^)'])*\)/g, '');
  const path = withoutKeys.split('?')[0] ?? '';
  return path
    .split('/')
    .filter((s) => s.length > 0)
    .map((s) => s.toLowerCase());
}

/** Maximum lifetime and creation rules for a resource path (docs/graph-rules.md#lifetimes). */
export function classifyResource(resource: string, includeResourceData: boolean): ResourceRules {
  const s = resourceSegments(resource);
  const first = s[0] ?? '';
  const last = s[s.length - 1] ?? '';
  const has = (name: string) => s.includes(name);

  if (first === 'copilot') return rules('copilot', 4320, { lifecycle: true });
  if ((first === 'communications' && s[1] === 'presences') || last === 'presence') {
    return rules('presence', 60);
  }
  if (first === 'communications' && s[1] === 'callrecords') return rules('callRecord', 4230);
  if (has('onlinemeetings')) {
    if (has('getallrecordings') || has('recordings')) return rules('callRecording', 4320);
    if (has('getalltranscripts') || has('transcripts')) return rules('callTranscript', 4320);
    // NOTE: Graph's lifetime table (docs/graph-rules.md#lifetimes) lists onlineMeeting as both 4,320 and 4,230; 4,230 is the safe one.
    return rules('onlineMeeting', 4230);
  }
  if (first === 'solutions' && s[1] === 'approval') return rules('approvalItem', 43200);
  if (first === 'solutions' && s[1] === 'virtualevents') return rules('virtualEvent', 1440);
  const schedule = s.indexOf('schedule');
  if (schedule >= 0 && shiftsEntities.has(s[schedule + 1] ?? '')) return rules('shifts', 360);

  const teamsPath = first === 'teams' || has('chats') || has('channels');
  if (has('getallmessages') || (teamsPath && has('messages'))) {
    return rules('chatMessage', 4320, { lifecycle: true });
  }
  if (has('getallmembers') || (teamsPath && has('members'))) {
    return rules('conversationMember', 4320, { lifecycle: true });
  }
  if (has('installedapps') || has('installedtochats')) {
    return rules('teamsAppInstallation', 4320, { lifecycle: true });
  }
  if (has('getallchannels') || has('channels')) {
    return rules('channel', 4320, { lifecycle: true });
  }
  if (has('chats') || has('getallchats')) {
    return rules('chat', 4320, { lifecycle: true });
  }
  if (first === 'teams') return rules('team', 4320, { lifecycle: true });

  if (first === 'security' && (s[1] === 'alerts' || s[1] === 'alerts_v2')) {
    return rules('securityAlert', 43200);
  }
  if (first === 'reports' && s[1] === 'healthmonitoring') {
    return rules('healthMonitoringAlert', 42300);
  }
  if ((has('drive') || has('drives')) && has('root')) return rules('driveItem', 42300);
  if (first === 'sites' && has('lists')) return rules('list', 42300);
  if (first === 'print') return rules('print', 4230);
  if (has('todo')) return rules('todoTask', 4230);
  if ((first === 'users' || first === 'me') && has('tasks')) return rules('baseTask', 4230);
  if (first === 'groups' && (has('conversations') || has('threads'))) {
    return rules('groupConversation', 4230);
  }
  const outlookRoot = first === 'users' || first === 'me' || first === 'groups';
  if (outlookRoot && (has('messages') || has('events') || has('contacts'))) {
    // Basic 10,080 minutes; with resource data 1,440 (docs/graph-rules.md#lifetimes).
    return includeResourceData ? rules('outlookRich', 1440) : rules('outlook', 10080);
  }
  if (directoryRoots.has(first) || first === 'me') return rules('directory', 41760);
  // Unknown resources: the most common Graph lifetime (docs/graph-rules.md#lifetimes).
  return rules('unknown', 4230);
}
