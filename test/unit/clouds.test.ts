import { cloudEndpointsFor, resolveGraphEndpoints } from '../../shared/graph/clouds';

describe('cloudEndpointsFor', () => {
  test.each([
    ['global', 'https://graph.microsoft.com', 'https://login.microsoftonline.com'],
    ['usgov', 'https://graph.microsoft.us', 'https://login.microsoftonline.us'],
    ['usgovdod', 'https://dod-graph.microsoft.us', 'https://login.microsoftonline.us'],
    ['china', 'https://microsoftgraph.chinacloudapi.cn', 'https://login.chinacloudapi.cn'],
  ] as const)(
    'when the cloud is %s, then Graph is %s, the authority %s and the scope the root plus /.default',
    (cloud, graphRoot, authorityHost) => {
      expect(cloudEndpointsFor(cloud)).toEqual({
        graphRoot,
        authorityHost,
        scope: `${graphRoot}/.default`,
      });
    },
  );
});

describe('resolveGraphEndpoints', () => {
  test('when no base URL is set, then the API base is the cloud root and version', () => {
    expect(
      resolveGraphEndpoints({ cloud: 'usgov', apiVersion: 'beta', baseUrl: undefined }),
    ).toEqual({
      graphRoot: 'https://graph.microsoft.us',
      apiBaseUrl: 'https://graph.microsoft.us/beta',
      scope: 'https://graph.microsoft.us/.default',
    });
  });

  test("when GRAPH_BASE_URL is set, then only the root changes and the scope stays the cloud's", () => {
    expect(
      resolveGraphEndpoints({
        cloud: 'china',
        apiVersion: 'v1.0',
        baseUrl: 'https://127.0.0.1:8443/',
      }),
    ).toEqual({
      graphRoot: 'https://127.0.0.1:8443',
      apiBaseUrl: 'https://127.0.0.1:8443/v1.0',
      scope: 'https://microsoftgraph.chinacloudapi.cn/.default',
    });
  });
});
