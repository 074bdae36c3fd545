import { createHash } from 'node:crypto';
import type { GraphSubscriptions } from '../graph/graphSubscriptions';
import { isAzureDeliveryTarget } from '../graph/notificationTargets';

/**
 * How a deployment recognises its own subscriptions on a Graph list.
 *
 * `GET /subscriptions` never returns clientState ("the clientState property value is not
 * returned for security purposes",
 * https://learn.microsoft.com/graph/api/subscription-list), so a clientState prefix cannot mark
 * a subscription on a list. The lifecycle URL is returned as it was given, query included, and it
 * points at this app's own lifecycle function, which ignores unknown query parameters. So every
 * subscription this deployment creates with a lifecycleNotificationUrl carries
 * `keeperDeployment=<DEPLOYMENT_ID>` in that URL's query. The id is not a secret: it only says
 * "created by this deployment", never proves it to a caller.
 *
 * The owner's notificationUrl is left as the owner gave it. A subscription without a lifecycle
 * URL carries no marker, so its orphan is reported, never deleted.
 */

export const deploymentMarkerParameter = 'keeperDeployment';

/**
 * The URL with this deployment's marker in its query (replacing any other marker). An Event Hubs
 * or Event Grid address is left as given: its query has a documented set of parameters
 * (docs/rich-notifications.md#event-hubs-and-event-grid-delivery), so such a subscription is
 * unmarked and its orphan only reported.
 */
export function withDeploymentMarker(url: string, deploymentId: string): string {
  if (isAzureDeliveryTarget(url)) return url;
  const u = new URL(url);
  u.searchParams.set(deploymentMarkerParameter, deploymentId);
  return u.toString();
}

/** The deployment a URL is marked with, or undefined (no marker, or not a URL). */
export function deploymentMarkerOf(url: string | null | undefined): string | undefined {
  if (url === null || url === undefined || url === '') return undefined;
  try {
    return new URL(url).searchParams.get(deploymentMarkerParameter) ?? undefined;
  } catch {
    return undefined;
  }
}

/** The URL as the owner gave it: without our marker, otherwise unchanged. */
export function withoutDeploymentMarker(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url;
  }
  if (!u.searchParams.has(deploymentMarkerParameter)) return url;
  u.searchParams.delete(deploymentMarkerParameter);
  const text = u.toString();
  // NOTE: URL keeps a bare "?" once the last parameter is gone; the owner's URL had none.
  return text.endsWith('?') ? text.slice(0, -1) : text;
}

/**
 * A Graph client that marks what it creates. Only `create` changes: the lifecycle URL cannot be
 * changed by PATCH (https://learn.microsoft.com/graph/change-notifications-lifecycle-events), so a marker set
 * at creation stays for the subscription's life.
 */
export function markingGraphSubscriptions(
  graph: GraphSubscriptions,
  deploymentId: string,
): GraphSubscriptions {
  return {
    create: (tenantId, request, options) =>
      graph.create(
        tenantId,
        request.lifecycleNotificationUrl === undefined
          ? request
          : {
              ...request,
              lifecycleNotificationUrl: withDeploymentMarker(
                request.lifecycleNotificationUrl,
                deploymentId,
              ),
            },
        options,
      ),
    get: (tenantId, id, options) => graph.get(tenantId, id, options),
    update: (tenantId, id, changes, options) => graph.update(tenantId, id, changes, options),
    reauthorize: (tenantId, id, options) => graph.reauthorize(tenantId, id, options),
    delete: (tenantId, id, options) => graph.delete(tenantId, id, options),
    list: (tenantId, options) => graph.list(tenantId, options),
  };
}

/**
 * DEPLOYMENT_ID's default: a hash of the storage account's name and the table's, so two
 * deployments that keep their state apart get different ids and a redeployment of the same one
 * keeps its id. The account key or SAS never enters the hash (rotating a key must not turn
 * every subscription into a stranger's).
 */
export function defaultDeploymentId(connection: string, table: string): string {
  const digest = createHash('sha256')
    .update(`${storageAccountOf(connection)}|${table.toLowerCase()}`, 'utf8')
    .digest('hex');
  return `d${digest.slice(0, 15)}`;
}

function storageAccountOf(connection: string): string {
  const text = connection.trim();
  if (/^UseDevelopmentStorage=true/i.test(text)) return 'devstoreaccount1';
  const account = /(?:^|;)\s*AccountName=([^;]+)/i.exec(text)?.[1];
  if (account !== undefined) return account.trim().toLowerCase();
  const endpoint = /(?:^|;)\s*TableEndpoint=([^;]+)/i.exec(text)?.[1] ?? text;
  try {
    const u = new URL(endpoint.trim());
    // NOTE: path-style endpoints (Azurite: http://127.0.0.1:10002/devstoreaccount1) name the
    // account in the path; host-style ones in the first label.
    const firstSegment = u.pathname.split('/').find((s) => s !== '');
    return (firstSegment ?? u.hostname.split('.')[0] ?? u.hostname).toLowerCase();
  } catch {
    return 'storage';
  }
}
