import { GraphError, isGraphError } from './graphError';
import { resourceFamilyOf, resourceSegments } from './lifetimes';

/**
 * Permissions a subscription needs per operation, from the permission tables of "Create
 * subscription" (https://learn.microsoft.com/graph/api/subscription-post-subscriptions),
 * "Update subscription" (https://learn.microsoft.com/graph/api/subscription-update) and
 * "subscription: reauthorize" (https://learn.microsoft.com/graph/api/subscription-reauthorize).
 * Subscriptions need read permission on the resource; Graph refuses write permissions where
 * read is enough. The keeper holds an app-only credential, so only the Application column
 * matters to it: a resource without an application permission for every operation of a
 * subscription's life (create, renew, reauthorize) cannot be kept alive and is refused.
 */

export type SubscriptionOperation = 'create' | 'get' | 'update' | 'reauthorize' | 'delete';

export interface ResourcePermissions {
  readonly family: string;
  /** Least-privileged application permission(s) to grant; empty when app-only is unsupported. */
  readonly application: readonly string[];
  /** Delegated permissions, for resources that support only delegated access. */
  readonly delegated: readonly string[];
}

/**
 * Every application permission the table below names. Typed, so the table cannot name one that
 * is not listed here; the Graph simulator grants all of them to a tenant it has no grants for.
 */
export const applicationPermissionNames = [
  'AiEnterpriseInteraction.Read.All',
  'ApprovalSolution.ReadWrite.All',
  'Calendars.Read',
  'CallRecords.Read.All',
  'Channel.ReadBasic.All',
  'ChannelMember.Read.All',
  'ChannelMessage.Read.All',
  'Chat.Read.All',
  'Chat.Read.WhereInstalled',
  'Chat.ReadBasic.All',
  'Chat.ReadBasic.WhereInstalled',
  'ChatMember.Read.All',
  'ChatMember.Read.WhereInstalled',
  'Contacts.Read',
  'Directory.Read.All',
  'Files.Read.All',
  'Files.ReadWrite.All',
  'Group.Read.All',
  'HealthMonitoringAlert.Read.All',
  'Mail.Read',
  'OnlineMeetingRecording.Read.All',
  'OnlineMeetingTranscript.Read.All',
  'OnlineMeetings.Read.All',
  'PrintTaskDefinition.ReadWrite.All',
  'Printer.Read.All',
  'Schedule.Read.All',
  'SecurityAlert.Read.All',
  'SecurityEvents.ReadWrite.All',
  'Sites.Read.All',
  'Sites.ReadWrite.All',
  'Tasks.Read.All',
  'Team.ReadBasic.All',
  'TeamMember.Read.All',
  'TeamsAppInstallation.ReadForChat.All',
  'TeamsAppInstallation.ReadForTeam.All',
  'TeamsAppInstallation.ReadForUser.All',
  'User.Read.All',
  'VirtualEvent.Read.All',
] as const;
export type ApplicationPermission = (typeof applicationPermissionNames)[number];

function app(family: string, ...application: ApplicationPermission[]): ResourcePermissions {
  return { family, application, delegated: [] };
}

function delegatedOnly(family: string, ...delegated: string[]): ResourcePermissions {
  return { family, application: [], delegated };
}

/**
 * The permissions for `resource` and, where Graph differs by operation, `operation`:
 * OneDrive and SharePoint subscriptions are created with `.Read.All` but updated and
 * reauthorized with `.ReadWrite.All`; todoTask has an application permission for create only.
 */
export function permissionsFor(
  resource: string,
  operation: SubscriptionOperation = 'create',
): ResourcePermissions {
  const { family } = resourceFamilyOf(resource);
  const segments = resourceSegments(resource);
  const has = (name: string) => segments.includes(name);
  const manages = operation === 'update' || operation === 'reauthorize';
  // NOTE: `me` is the signed-in user; an app-only token has none, so no application permission
  // can make such a path work (resourceSegments rewrites `me` to `users/{id}`).
  if (namesSignedInUser(resource)) {
    const p = permissionsFor(`users/{id}/${meTail(resource)}`, operation);
    return delegatedOnly(p.family, ...(p.delegated.length > 0 ? p.delegated : p.application));
  }
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
      if (segments[0] === 'appcatalogs') {
        // NOTE: the tenant-wide path covers the personal, team and chat scopes, each with its
        // own permission (https://learn.microsoft.com/graph/teams-changenotifications-appinstallation).
        return app(
          family,
          'TeamsAppInstallation.ReadForUser.All',
          'TeamsAppInstallation.ReadForTeam.All',
          'TeamsAppInstallation.ReadForChat.All',
        );
      }
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
      // NOTE: a personal OneDrive is delegated only (Files.ReadWrite); with an app-only token
      // only OneDrive for Business and SharePoint drives are reachable (`me/drive` is refused).
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
      // NOTE: the create table has Tasks.Read.All for applications; the update and reauthorize
      // tables have no application permission, so an app-only todoTask subscription lapses.
      return operation === 'create'
        ? { ...app(family, 'Tasks.Read.All'), delegated: ['Tasks.ReadWrite'] }
        : delegatedOnly(family, 'Tasks.ReadWrite');
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

/** True when `resource` starts with `me`: the signed-in user, which app-only tokens lack. */
export function namesSignedInUser(resource: string): boolean {
  const first = resource.trim().replace(/^\/+/, '').split(/[/?(]/)[0] ?? '';
  return first.toLowerCase() === 'me';
}

function meTail(resource: string): string {
  return resource.trim().replace(/^\/+/, '').slice(2).replace(/^\/+/, '');
}

/** The operations of a subscription's life that the keeper performs with its credential. */
export const keeperOperations = ['create', 'update', 'reauthorize'] as const;
export type KeeperOperation = (typeof keeperOperations)[number];

/** Whether an app-only keeper can create, renew and reauthorize a subscription on a resource. */
export type AppOnlySupport =
  | {
      readonly supported: true;
      readonly family: string;
      /** False for a resource outside the table: no permission is known. */
      readonly known: boolean;
      /** Application permissions to grant, covering create, renew and reauthorize. */
      readonly applicationPermissions: readonly string[];
    }
  | {
      readonly supported: false;
      readonly family: string;
      /** The operations Graph allows only with a delegated (signed-in user) token. */
      readonly delegatedOnlyOperations: readonly KeeperOperation[];
      /** Why, and what would work instead; one sentence each, no values. */
      readonly reason: string;
      readonly instead: string;
    };

const insteadByFamily: Readonly<Record<string, string>> = {
  presence:
    'presence has no application permission; for a short-lived Teams subscription use ' +
    'chats/getAllMessages or teams/getAllMessages (Chat.Read.All, ChannelMessage.Read.All) with lifetimeMinutes',
  groupConversation:
    "subscribe to the group's calendar (groups/{id}/events) or drive (groups/{id}/drive/root), " +
    'which have application permissions, or manage a delegated subscription outside this keeper',
  todoTask:
    'create works app-only (Tasks.Read.All) but renew and reauthorize do not, so the subscription ' +
    'would lapse at its first renewal; manage a delegated subscription outside this keeper',
  baseTask: 'baseTask is deprecated and delegated only; use todoTask with a delegated subscription',
};

/**
 * What an app-only keeper needs to keep a subscription on `resource` alive through its whole
 * life, or why it cannot. The permissions are the union over create, renew (update) and
 * reauthorize, with a `.Read.All` permission dropped where the same resource needs the
 * `.ReadWrite.All` one anyway (drive items and lists).
 */
export function appOnlySupportFor(resource: string): AppOnlySupport {
  const family = resourceFamilyOf(resource);
  if (namesSignedInUser(resource)) {
    return {
      supported: false,
      family: family.family,
      delegatedOnlyOperations: keeperOperations,
      reason:
        '"me/..." names the signed-in user, and the keeper\'s app-only token has no signed-in user',
      instead:
        "write the path with the user's id (users/{id}/...); a personal OneDrive (me/drive) " +
        'has no application permission at all, a OneDrive for Business drive does (drives/{id}/root)',
    };
  }
  const byOperation = keeperOperations.map((operation) => ({
    operation,
    permissions: permissionsFor(resource, operation),
  }));
  const delegatedOnlyOperations = byOperation
    .filter((o) => o.permissions.application.length === 0 && o.permissions.delegated.length > 0)
    .map((o) => o.operation);
  if (delegatedOnlyOperations.length > 0) {
    const delegated = [...new Set(byOperation.flatMap((o) => o.permissions.delegated))];
    return {
      supported: false,
      family: family.family,
      delegatedOnlyOperations,
      reason:
        `${family.family} ${delegatedOnlyOperations.map(operationLabel).join(', ')} ` +
        `${delegatedOnlyOperations.length === 1 ? 'needs' : 'need'} a delegated permission ` +
        `(${delegated.join(', ')}) that an app-only credential cannot hold`,
      instead:
        insteadByFamily[family.family] ??
        'manage a delegated subscription outside this keeper (delegated subscriptions are out of scope)',
    };
  }
  const all = [...new Set(byOperation.flatMap((o) => o.permissions.application))];
  const applicationPermissions = all.filter(
    (p) => !(p.endsWith('.Read.All') && all.includes(p.replace(/\.Read\.All$/, '.ReadWrite.All'))),
  );
  return {
    supported: true,
    family: family.family,
    known: family.known && all.length > 0,
    applicationPermissions,
  };
}

function operationLabel(operation: KeeperOperation): string {
  return operation === 'update' ? 'renew' : operation;
}

/** The fields of a managed definition the permission summary reads. */
export interface DefinitionForPermissions {
  readonly key: string;
  readonly tenantId: string;
  readonly resource: string;
}

/** What one tenant must grant the keeper for the definitions it holds. */
export interface TenantPermissions {
  readonly tenantId: string;
  /** Sorted by permission name, each with the keys of the definitions that need it. */
  readonly applicationPermissions: readonly {
    readonly permission: string;
    readonly keys: readonly string[];
  }[];
  /** Keys of definitions on resources outside the table: no permission is known. */
  readonly unknownResources: readonly string[];
  /** Definitions the keeper cannot keep alive app-only (stored before this check existed). */
  readonly notKeepable: readonly { readonly key: string; readonly reason: string }[];
}

/** Per tenant (sorted), the application permissions the definitions need to be kept alive. */
export function permissionsByTenant(
  definitions: readonly DefinitionForPermissions[],
): TenantPermissions[] {
  const tenants = new Map<
    string,
    {
      byPermission: Map<string, string[]>;
      unknown: string[];
      notKeepable: TenantPermissions['notKeepable'][number][];
    }
  >();
  for (const d of definitions) {
    let t = tenants.get(d.tenantId);
    if (t === undefined) {
      t = { byPermission: new Map(), unknown: [], notKeepable: [] };
      tenants.set(d.tenantId, t);
    }
    const support = appOnlySupportFor(d.resource);
    if (!support.supported) {
      t.notKeepable.push({ key: d.key, reason: `${support.reason}. Instead: ${support.instead}` });
      continue;
    }
    if (!support.known) t.unknown.push(d.key);
    for (const p of support.applicationPermissions) {
      t.byPermission.set(p, [...(t.byPermission.get(p) ?? []), d.key]);
    }
  }
  return [...tenants.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([tenantId, t]) => ({
      tenantId,
      applicationPermissions: [...t.byPermission.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([permission, keys]) => ({ permission, keys: [...keys].sort() })),
      unknownResources: [...t.unknown].sort(),
      notKeepable: [...t.notKeepable].sort((a, b) => a.key.localeCompare(b.key)),
    }));
}
