/**
 * Graph's Event Hubs and Event Grid delivery addresses, as the simulator checks them. Written
 * apart from the app's own check so the simulator stays an independent oracle.
 *
 * - https://learn.microsoft.com/graph/change-notifications-delivery-event-hubs:
 *   `EventHub:https://<namespace>.servicebus.windows.net/eventhubname/<hub>?tenantId=<tenant>`,
 *   or `EventHub:https://<vault>.vault.azure.net/secrets/<secret>?tenantId=<tenant>`.
 * - https://learn.microsoft.com/azure/event-grid/subscribe-to-graph-api-events:
 *   `EventGrid:?azuresubscriptionid=...&resourcegroup=...&partnertopic=...&location=...`.
 *
 * Returns `{ azure: false }` for anything else (an ordinary URL), otherwise the problem, if any.
 * Graph's exact error text for a malformed address is not documented; ours.
 */
export type AzureDeliveryCheck =
  { readonly azure: false } | { readonly azure: true; readonly problem: string | undefined };

export function azureDeliveryCheck(value: string): AzureDeliveryCheck {
  const check = azureDeliveryProblem(value);
  return check === notAzure ? { azure: false } : { azure: true, problem: check };
}

const notAzure = Symbol('not-azure');

function azureDeliveryProblem(value: string): string | typeof notAzure | undefined {
  const lower = value.toLowerCase();
  if (lower.startsWith('eventhub:')) {
    let url: URL;
    try {
      url = new URL(value.slice('EventHub:'.length));
    } catch {
      return 'is not a valid Event Hubs address';
    }
    const tenant = url.searchParams.get('tenantId');
    const path = url.pathname.split('/').filter((p) => p !== '');
    const host = url.hostname.toLowerCase();
    const rbac = /\.servicebus\.(windows\.net|usgovcloudapi\.net|chinacloudapi\.cn)$/.test(host);
    const vault = /\.vault\.(azure\.net|usgovcloudapi\.net|azure\.cn)$/.test(host);
    if (url.protocol !== 'https:' || tenant === null || tenant === '' || path.length !== 2) {
      return 'is not a valid Event Hubs address';
    }
    if ((rbac && path[0] === 'eventhubname') || (vault && path[0] === 'secrets')) return undefined;
    return 'is not a valid Event Hubs address';
  }
  if (lower.startsWith('eventgrid:')) {
    const rest = value.slice('EventGrid:'.length);
    if (!rest.startsWith('?')) return 'is not a valid Event Grid address';
    const query = new URLSearchParams(rest.slice(1));
    const keys = new Set([...query.keys()].map((k) => k.toLowerCase()));
    for (const needed of ['azuresubscriptionid', 'resourcegroup', 'partnertopic', 'location']) {
      if (!keys.has(needed)) return `is not a valid Event Grid address (no ${needed})`;
    }
    return undefined;
  }
  return notAzure;
}
