import { runCheckConfig } from '../../cli/commands/checkConfig';
import type { CliIo } from '../../cli/command';
import { loadConfig, type Environment } from '../../shared/config';
import { parseDefinitionInput } from '../../shared/operations/definitionInput';

const homeTenant = '84bd8158-6d4d-4958-8b9f-9d6445542f95';
const otherTenant = '0a6f7e0e-4b8b-4a39-9a52-3f0a7f1d2c01';
const appId = '00000000-0000-4000-8000-000000000001';
const identityId = '00000000-0000-4000-8000-0000000000aa';

const mailFor = (tenantId: string) => ({
  key: 'orders-mail',
  tenantId,
  resource: 'users/4f2d7b9e-8a61-4c1b-9d0e-2b7c5a3f1e10/messages',
  changeType: 'created,updated',
  notificationUrl: 'https://hooks.example.com/api/notify',
  lifecycleNotificationUrl: 'https://keeper.example.com/api/lifecycle?code=function-key',
});

function checkConfig(env: Environment): { code: number; out: string } {
  const lines: string[] = [];
  const io: CliIo = {
    env,
    out: (text) => lines.push(text),
    err: (text) => lines.push(text),
  };
  const code = runCheckConfig(env, io, true);
  return { code, out: lines.join('\n') };
}

describe('apply with a plain managed identity', () => {
  const config = loadConfig({
    STORAGE_CONNECTION: 'UseDevelopmentStorage=true',
    GRAPH_CREDENTIAL: 'managedIdentity',
    GRAPH_TENANT_ID: homeTenant,
  });

  test('when a definition is for the home tenant, then it is accepted', () => {
    expect(parseDefinitionInput(mailFor(homeTenant), { config }).ok).toBe(true);
  });

  test('when a definition is for another tenant, then apply refuses it naming tenantId and the way out', () => {
    const parsed = parseDefinitionInput(mailFor(otherTenant), { config });

    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.problems).toEqual([
      {
        field: 'tenantId',
        message: expect.stringMatching(/home tenant.*managedIdentityFederation/) as string,
      },
    ]);
  });

  test('when the federated credential is configured, then another tenant is accepted', () => {
    const federated = loadConfig({
      STORAGE_CONNECTION: 'UseDevelopmentStorage=true',
      GRAPH_TENANT_ID: homeTenant,
      GRAPH_CLIENT_ID: appId,
      GRAPH_MANAGED_IDENTITY_CLIENT_ID: identityId,
    });
    expect(parseDefinitionInput(mailFor(otherTenant), { config: federated }).ok).toBe(true);
  });
});

describe('graph-subs check-config', () => {
  test('when GRAPH_CREDENTIAL is empty, then it says which credential was inferred', () => {
    const { code, out } = checkConfig({
      AzureWebJobsStorage__accountName: 'keeperstate',
      GRAPH_TENANT_ID: homeTenant,
      GRAPH_CLIENT_ID: appId,
      GRAPH_MANAGED_IDENTITY_CLIENT_ID: identityId,
    });

    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({
      ok: true,
      config: {
        storage: 'managed identity (system-assigned) from AzureWebJobsStorage__*',
        storageTableService: 'https://keeperstate.table.core.windows.net',
        graphCredential: 'managedIdentityFederation',
        graphCredentialChosenBy: expect.stringMatching(/^inferred/) as string,
      },
    });
  });

  test('when a secret is an unresolved Key Vault reference, then it is named and its text is not printed', () => {
    const { code, out } = checkConfig({
      STORAGE_CONNECTION: 'UseDevelopmentStorage=true',
      GRAPH_CREDENTIAL: 'clientSecret',
      GRAPH_TENANT_ID: homeTenant,
      GRAPH_CLIENT_ID: appId,
      GRAPH_CLIENT_SECRET: '@Microsoft.KeyVault(VaultName=kv;SecretName=graph-client-secret)',
    });

    expect(code).toBe(1);
    expect(JSON.parse(out)).toEqual({
      ok: false,
      problems: [
        {
          key: 'GRAPH_CLIENT_SECRET',
          message: expect.stringMatching(/Key Vault reference/) as string,
        },
      ],
    });
    expect(out).not.toContain('graph-client-secret');
  });
});
