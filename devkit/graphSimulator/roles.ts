import {
  applicationPermissionNames,
  namesSignedInUser,
  permissionsFor,
  type SubscriptionOperation,
} from '../../shared/graph/permissions';

/**
 * Graph's permission check on subscription calls, for app-only tokens: the token's `roles`
 * claim (the application permissions granted to the app in the token's tenant) against the
 * permission tables of "Create subscription"
 * (https://learn.microsoft.com/graph/api/subscription-post-subscriptions), "Update
 * subscription" (https://learn.microsoft.com/graph/api/subscription-update) and "subscription:
 * reauthorize" (https://learn.microsoft.com/graph/api/subscription-reauthorize).
 *
 * NOTE: the tables are the app's own (`shared/graph/permissions.ts`), imported rather than
 * written a second time: a rule learnt from the documentation is then enforced here and named by
 * the app from one place. What this file adds is Graph's side of the check only.
 */

/** Every application permission the tables name: what a tenant without grants gets. */
export const everyApplicationPermission: readonly string[] = applicationPermissionNames;

/** The operations Graph checks here; get, list and delete are not checked by the simulator. */
export type CheckedOperation = Extract<SubscriptionOperation, 'create' | 'update' | 'reauthorize'>;

/**
 * Why Graph refuses an app-only call with `roles` for `operation` on `resource`, or undefined
 * when one permission the table lists for it is granted. A resource without an application
 * permission for the operation (presence, group conversations, `me/...`, personal OneDrive,
 * todoTask renew and reauthorize) is refused whatever is granted.
 */
export function roleRefusal(
  resource: string,
  operation: CheckedOperation,
  roles: readonly string[],
): 'delegatedOnly' | 'notGranted' | undefined {
  if (namesSignedInUser(resource)) return 'delegatedOnly';
  const needed = permissionsFor(resource, operation);
  if (needed.application.length === 0) {
    // NOTE: a resource outside the table is not refused: the simulator knows no rule for it.
    return needed.delegated.length > 0 ? 'delegatedOnly' : undefined;
  }
  return acceptedFor(resource, operation).some((p) => roles.includes(p)) ? undefined : 'notGranted';
}

/**
 * The permissions that pass the check. Graph refuses write permissions where read is enough
 * (the note under the create page's table), so a ReadWrite grant does not stand in for a Read
 * one in general. The exception is where the tables themselves name the ReadWrite permission for
 * managing the same resource (drive items and lists: `Files.ReadWrite.All`,
 * `Sites.ReadWrite.All`): the create page listed those for create too, so a keeper granted only
 * them can create.
 */
function acceptedFor(resource: string, operation: CheckedOperation): readonly string[] {
  const own = permissionsFor(resource, operation).application;
  if (operation !== 'create') return own;
  return [...new Set([...own, ...permissionsFor(resource, 'update').application])];
}
