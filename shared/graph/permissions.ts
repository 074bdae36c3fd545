import { GraphError, isGraphError } from './graphError';
import { resourceFamilyOf, resourceSegments } from './lifetimes';

/**
 * Permissions a subscription needs, so a 403 can say what to grant (docs/permissions.md and
 * the permission table of "Create subscription"). Subscriptions need read permission on the
 * resource; Graph refuses write permissions where read is enough (learn.microsoft.com/graph/api/subscription-post-subscriptions).
 */

export type SubscriptionOperation = 'create' | 'get' | 'update' | 'reauthorize' | 'delete';

export interface ResourcePermissions {
  readonly family: string;
  /** Least-privileged application permission(s) to grant; empty when app-only is unsupported. */
  readonly application: readonly string[];
  /** Delegated permissions, for resources that support only delegated access. */
  readonly delegated: readonly string[];
}

function app(family: string, ...application: string[]): ResourcePermissions {
  return { family, application, delegated: [] };
}

function delegatedOnly(family: string, ...delegated: string[]): ResourcePermissions {
  return { family, application: [], delegated };
}

/**
 * The permissions for `resource` and, where Graph differs by operation, `operation`:
 * OneDrive and SharePoint subscriptions are created with `.Read.All` but updated and
 * reauthorized with `.ReadWrite.All` (learn.microsoft.com/graph/api/subscription-update, learn.microsoft.com/graph/api/subscription-reauthorize).
 */
export function permissionsFor(
  resource: string,
  operation: SubscriptionOperation = 'create',
): ResourcePermissions {
  const { family } = resourceFamilyOf(resource);
  const segments = resourceSegments(resource);
  const has = (name: string) => segments.includes(name);
  const manages = operation === 'update' || operation === 'reauthorize';
  switch (family) {
    case 'aiInteraction':
      return app(family, 'AiEnterpriseInteraction.Read.All');
    case 'securityAlert':
      // NOTE: the subscription docs list SecurityEvents.ReadWrite.All for the legacy
      // /security/alerts (an exception to "read is enough"); alerts_v2 uses SecurityAlert.
      return has('alerts_v2')
        ? app(family, 'SecurityAlert.Read.All')
        : app(family, 'SecurityEvents.ReadWrite.All');
    case 'approvalItem':
      return app(family, 'ApprovalSolution.ReadWrite.All');
    case 'callRecord':
      return app(family, 'CallRecords.Read.All');
    case 'callRecording':
      return app(family, 'OnlineMeetingRecording.Read.All');
    case 'callTranscript':
      return app(family, 'OnlineMeetingTranscript.Read.All');
    case 'channel':
      return app(family, 'Channel.ReadBasic.All');
    case 'chat':
      return has('installedtochats')
        ? app(family, 'Chat.ReadBasic.WhereInstalled')
        : app(family, 'Chat.ReadBasic.All');
    case 'chatMessage':
      if (has('installedtochats')) return app(family, 'Chat.Read.WhereInstalled');
      return segments.includes('chats')
        ? app(family, 'Chat.Read.All')
        : app(family, 'ChannelMessage.Read.All');
    case 'conversationMember':
      if (has('installedtochats')) return app(family, 'ChatMember.Read.WhereInstalled');
      if (has('chats')) return app(family, 'ChatMember.Read.All');
      if (has('channels') || has('getallchannels')) return app(family, 'ChannelMember.Read.All');
      return app(family, 'TeamMember.Read.All');
    case 'onlineMeeting':
      return app(family, 'OnlineMeetings.Read.All');
    case 'team':
      return app(family, 'Team.ReadBasic.All');
    case 'teamsAppInstallation':
      if (has('chats')) return app(family, 'TeamsAppInstallation.ReadForChat.All');
      if (segments[0] === 'teams') return app(family, 'TeamsAppInstallation.ReadForTeam.All');
      return app(family, 'TeamsAppInstallation.ReadForUser.All');
    case 'shift':
    case 'openShiftChangeRequest':
    case 'offerShiftRequest':
    case 'swapShiftsChangeRequest':
    case 'timeOffRequest':
    case 'schedule':
      return app(family, 'Schedule.Read.All');
    case 'groupConversation':
      return delegatedOnly(family, 'Group.Read.All');
    case 'driveItem':
      // NOTE: a personal OneDrive is delegated only (Files.ReadWrite); not visible from the path.
      return app(family, manages ? 'Files.ReadWrite.All' : 'Files.Read.All');
    case 'list':
      return app(family, manages ? 'Sites.ReadWrite.All' : 'Sites.Read.All');
    case 'message':
      return app(family, 'Mail.Read');
    case 'event':
      return app(family, 'Calendars.Read');
    case 'contact':
      return app(family, 'Contacts.Read');
    case 'user':
      return app(family, 'User.Read.All');
    case 'group':
      return app(family, 'Group.Read.All');
    case 'directoryObject':
      return app(family, 'Directory.Read.All');
    case 'presence':
      return delegatedOnly(family, 'Presence.Read.All');
    case 'printer':
      return app(family, 'Printer.Read.All');
    case 'printTaskDefinition':
      return app(family, 'PrintTaskDefinition.ReadWrite.All');
    case 'todoTask':
    case 'baseTask':
      return delegatedOnly(family, 'Tasks.ReadWrite');
    case 'healthMonitoringAlert':
      return app(family, 'HealthMonitoringAlert.Read.All');
    case 'virtualEvent':
      return app(family, 'VirtualEvent.Read.All');
    default:
      return { family, application: [], delegated: [] };
  }
}

/**
 * What an operator should grant for `resource`, for display and for `GraphError`:
 * the application permissions, or the delegated ones marked `(delegated only)` where Graph has
 * no application permission for the resource. Empty for an unknown resource.
 */
export function requiredPermissionsFor(
  resource: string,
  operation: SubscriptionOperation = 'create',
): readonly string[] {
  const p = permissionsFor(resource, operation);
  if (p.application.length > 0) return p.application;
  return p.delegated.map((name) => `${name} (delegated only)`);
}

/**
 * Adds `requiredPermissions` to a 403 `GraphError` for `resource`. The client does this itself
 * on create; for get, update, reauthorize and delete the client does not know the resource, so
 * the caller that does (the core, holding the definition) calls this in its catch. Anything
 * that is not a 403 `GraphError` is returned unchanged.
 */
export function withRequiredPermissions(
  error: GraphError,
  resource: string,
  operation?: SubscriptionOperation,
): GraphError;
export function withRequiredPermissions(
  error: unknown,
  resource: string,
  operation?: SubscriptionOperation,
): unknown;
export function withRequiredPermissions(
  error: unknown,
  resource: string,
  operation: SubscriptionOperation = 'create',
): unknown {
  if (!isGraphError(error) || error.status !== 403) return error;
  if (error.requiredPermissions !== undefined) return error;
  const requiredPermissions = requiredPermissionsFor(resource, operation);
  if (requiredPermissions.length === 0) return error;
  return new GraphError({
    status: error.status,
    code: error.code,
    message: `${error.message} (needs: ${requiredPermissions.join(', ')})`,
    requestId: error.requestId,
    retryAfterMs: error.retryAfterMs,
    requiredPermissions,
    cause: error.cause,
  });
}
