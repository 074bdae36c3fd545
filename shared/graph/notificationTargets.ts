/**
 * Where Graph delivers notifications: an HTTPS webhook, an Azure Event Hub or an Azure Event Grid
 * partner topic. The two Azure forms are not URLs Graph calls back; Graph sends no validation
 * handshake to them.
 *
 * - Event Hubs (https://learn.microsoft.com/graph/change-notifications-delivery-event-hubs):
 *   `EventHub:https://<namespace>.servicebus.windows.net/eventhubname/<hub>?tenantId=<tenant>`
 *   (role-based access), or the older shared-access-signature form that names a Key Vault secret,
 *   `EventHub:https://<vault>.vault.azure.net/secrets/<secret>?tenantId=<tenant>`. The tenant is
 *   the tenant id or a domain name of the tenant that holds the hub.
 * - Event Grid (https://learn.microsoft.com/azure/event-grid/subscribe-to-graph-api-events):
 *   `EventGrid:?azuresubscriptionid=<Azure subscription>&resourcegroup=<group>&partnertopic=<topic>&location=<region>`.
 *
 * Both forms are accepted for `lifecycleNotificationUrl` too (the documents' examples send
 * lifecycle notifications to the same hub or topic).
 */

export type NotificationTargetKind = 'webhook' | 'eventHub' | 'eventGrid';

export type NotificationTarget =
  | { readonly kind: 'webhook'; readonly url: URL }
  | {
      readonly kind: 'eventHub';
      /** `rbac`: the namespace's host; `keyVault`: a Key Vault secret holding a connection string. */
      readonly auth: 'rbac' | 'keyVault';
      readonly host: string;
      readonly name: string;
      readonly tenant: string;
    }
  | {
      readonly kind: 'eventGrid';
      readonly azureSubscriptionId: string;
      readonly resourceGroup: string;
      readonly partnerTopic: string;
      readonly location: string;
    };

export type NotificationTargetParse =
  | { readonly ok: true; readonly target: NotificationTarget }
  | { readonly ok: false; readonly message: string };

const eventHubPrefix = /^eventhub:/i;
const eventGridPrefix = /^eventgrid:/i;

/** Event Hubs namespace hosts per Azure cloud. */
const serviceBusSuffixes = [
  '.servicebus.windows.net',
  '.servicebus.usgovcloudapi.net',
  '.servicebus.chinacloudapi.cn',
];
/** Key Vault hosts per Azure cloud. */
const keyVaultSuffixes = ['.vault.azure.net', '.vault.usgovcloudapi.net', '.vault.azure.cn'];

const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A tenant id, or a domain name such as contoso.onmicrosoft.com. */
const tenantValue =
  /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+)$/i;
/** Event Hubs namespace: 6-50 letters, digits or hyphens, starting with a letter. */
const namespaceLabel = /^[a-z][a-z0-9-]{4,48}[a-z0-9]$/i;
/** Event hub name: 1-256 letters, digits, periods, hyphens or underscores. */
const hubName = /^[a-z0-9](?:[a-z0-9._-]{0,254}[a-z0-9])?$/i;
/** Key Vault name: 3-24 letters, digits or hyphens; secret name: 1-127 letters, digits or hyphens. */
const vaultLabel = /^[a-z][a-z0-9-]{1,22}[a-z0-9]$/i;
const secretName = /^[a-z0-9-]{1,127}$/i;
/** Azure resource group: 1-90 letters, digits, underscores, parentheses, hyphens or periods. */
const resourceGroup = /^[\w().-]{0,89}[\w()-]$/;
/** Event Grid partner topic: 3-50 letters, digits or hyphens. */
const partnerTopic = /^[a-z0-9-]{3,50}$/i;
/** Azure region name, e.g. westeurope, centralus. */
const region = /^[a-z0-9]{2,40}$/i;

/** Reads a notification target; the message names the shape expected, never the value. */
export function parseNotificationTarget(value: string): NotificationTargetParse {
  if (eventHubPrefix.test(value)) return parseEventHub(value.slice('EventHub:'.length));
  if (eventGridPrefix.test(value)) return parseEventGrid(value.slice('EventGrid:'.length));
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { ok: false, message: httpsMessage };
  }
  if (url.protocol !== 'https:') return { ok: false, message: httpsMessage };
  return { ok: true, target: { kind: 'webhook', url } };
}

/** The problem with `value` as a notification or lifecycle URL, or undefined when it is fine. */
export function notificationTargetProblem(value: string): string | undefined {
  const parsed = parseNotificationTarget(value);
  return parsed.ok ? undefined : parsed.message;
}

/** True for Event Hubs and Event Grid targets: Graph sends them no validation handshake. */
export function isAzureDeliveryTarget(value: string): boolean {
  return eventHubPrefix.test(value) || eventGridPrefix.test(value);
}

const httpsMessage =
  'must be an absolute https:// URL, an EventHub:https://... or an EventGrid:?... address';
const eventHubMessage =
  'must be EventHub:https://<namespace>.servicebus.windows.net/eventhubname/<hub>?tenantId=<tenant id or domain>' +
  ' (or EventHub:https://<vault>.vault.azure.net/secrets/<secret>?tenantId=<tenant>)';
const eventGridMessage =
  'must be EventGrid:?azuresubscriptionid=<Azure subscription id>&resourcegroup=<group>&partnertopic=<topic>&location=<region>';

function parseEventHub(rest: string): NotificationTargetParse {
  const bad = { ok: false, message: eventHubMessage } as const;
  let url: URL;
  try {
    url = new URL(rest);
  } catch {
    return bad;
  }
  if (url.protocol !== 'https:' || url.username !== '' || url.password !== '' || url.port !== '')
    return bad;
  if (url.hash !== '') return bad;
  const tenant = url.searchParams.get('tenantId');
  if (tenant === null || !tenantValue.test(tenant) || [...url.searchParams.keys()].length !== 1) {
    return bad;
  }
  const host = url.hostname.toLowerCase();
  const segments = url.pathname.split('/').filter((s) => s !== '');
  const [first, name, ...extra] = segments;
  if (name === undefined || extra.length > 0) return bad;
  const serviceBus = serviceBusSuffixes.find((s) => host.endsWith(s));
  if (serviceBus !== undefined) {
    const namespace = host.slice(0, -serviceBus.length);
    if (!namespaceLabel.test(namespace) || first !== 'eventhubname' || !hubName.test(name)) {
      return bad;
    }
    return { ok: true, target: { kind: 'eventHub', auth: 'rbac', host, name, tenant } };
  }
  const vault = keyVaultSuffixes.find((s) => host.endsWith(s));
  if (vault !== undefined) {
    const vaultName = host.slice(0, -vault.length);
    if (!vaultLabel.test(vaultName) || first !== 'secrets' || !secretName.test(name)) return bad;
    return { ok: true, target: { kind: 'eventHub', auth: 'keyVault', host, name, tenant } };
  }
  return bad;
}

function parseEventGrid(rest: string): NotificationTargetParse {
  const bad = { ok: false, message: eventGridMessage } as const;
  if (!rest.startsWith('?')) return bad;
  const query = new URLSearchParams(rest.slice(1));
  const names = [...query.keys()].map((k) => k.toLowerCase());
  const wanted = ['azuresubscriptionid', 'resourcegroup', 'partnertopic', 'location'];
  if (names.length !== wanted.length || !wanted.every((w) => names.includes(w))) return bad;
  const read = (name: string): string => {
    for (const [k, v] of query) if (k.toLowerCase() === name) return v;
    return '';
  };
  const target = {
    kind: 'eventGrid',
    azureSubscriptionId: read('azuresubscriptionid'),
    resourceGroup: read('resourcegroup'),
    partnerTopic: read('partnertopic'),
    location: read('location'),
  } as const;
  if (
    !guid.test(target.azureSubscriptionId) ||
    !resourceGroup.test(target.resourceGroup) ||
    !partnerTopic.test(target.partnerTopic) ||
    !region.test(target.location)
  ) {
    return bad;
  }
  return { ok: true, target };
}
