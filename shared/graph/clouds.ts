import type { GraphApiVersion, GraphCloud } from '../config';

/**
 * Per-cloud endpoints (docs/graph-rules.md#clouds). A token from one cloud does not work in another,
 * and the `.default` scope must use that cloud's Graph host.
 */
export interface GraphCloudEndpoints {
  /** Graph root, without a version or trailing slash. */
  readonly graphRoot: string;
  /** Microsoft Entra authority host for the token endpoint. */
  readonly authorityHost: string;
  /** App-only scope: `<graph root>/.default`. */
  readonly scope: string;
}

function endpoints(graphRoot: string, authorityHost: string): GraphCloudEndpoints {
  return Object.freeze({ graphRoot, authorityHost, scope: `${graphRoot}/.default` });
}

export const graphCloudEndpoints: Readonly<Record<GraphCloud, GraphCloudEndpoints>> = Object.freeze(
  {
    global: endpoints('https://graph.microsoft.com', 'https://login.microsoftonline.com'),
    usgov: endpoints('https://graph.microsoft.us', 'https://login.microsoftonline.us'),
    usgovdod: endpoints('https://dod-graph.microsoft.us', 'https://login.microsoftonline.us'),
    china: endpoints('https://microsoftgraph.chinacloudapi.cn', 'https://login.chinacloudapi.cn'),
  },
);

export function cloudEndpointsFor(cloud: GraphCloud): GraphCloudEndpoints {
  return graphCloudEndpoints[cloud];
}

/** Where the client sends requests and which token it asks for. */
export interface ResolvedGraphEndpoints {
  /** The Graph root in use: the cloud's, or GRAPH_BASE_URL. */
  readonly graphRoot: string;
  /** `graphRoot/apiVersion`, the base of `/subscriptions`. */
  readonly apiBaseUrl: string;
  /** Always the cloud's scope: a proxy or test double in front of Graph does not change it. */
  readonly scope: string;
}

/**
 * Resolves the Graph endpoints for a config's `graph` section. `baseUrl` (GRAPH_BASE_URL)
 * overrides only the root; the scope stays the cloud's, since tokens are still minted for the
 * cloud's Graph (docs/graph-rules.md#clouds).
 */
export function resolveGraphEndpoints(graph: {
  readonly cloud: GraphCloud;
  readonly baseUrl?: string | undefined;
  readonly apiVersion: GraphApiVersion;
}): ResolvedGraphEndpoints {
  const cloud = cloudEndpointsFor(graph.cloud);
  const graphRoot = trimTrailingSlashes(graph.baseUrl ?? cloud.graphRoot);
  return Object.freeze({
    graphRoot,
    apiBaseUrl: `${graphRoot}/${graph.apiVersion}`,
    scope: cloud.scope,
  });
}

function trimTrailingSlashes(url: string): string {
  return url.replace(/\/+$/, '');
}
