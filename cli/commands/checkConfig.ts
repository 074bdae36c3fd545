import { isConfigError, loadConfig, settingsCatalog, type Environment } from '../../shared/config';
import type { CliIo } from '../command';
import type { CommandSpec } from '../commandLine';
import { formatPairs } from '../textTable';
import { configProblemsText } from '../failureReport';

/** `check-config` runs with the environment alone: it reports configuration problems itself. */
export const checkConfigSpec: CommandSpec = {
  name: 'check-config',
  summary: 'Validate the settings and print the effective, non-secret configuration',
  description:
    'Loads the settings as every other command does (environment, then local.settings.json)\n' +
    'and prints the configuration without secrets, or every bad setting by name (an\n' +
    'unresolved Key Vault reference included). Says which Graph credential is used and\n' +
    'whether GRAPH_CREDENTIAL named it or it was inferred.',
  positionals: [],
  options: [],
  jsonOutput: '{ ok: true, config } or { ok: false, problems: [{ key, message }] }.',
  failsWhen: 'a setting is missing or invalid',
  examples: ['graph-subs check-config', 'graph-subs check-config --json'],
};

export function runCheckConfig(env: Environment, io: CliIo, json: boolean): number {
  try {
    const config = loadConfig(env);
    const secrets = settingsCatalog.filter((s) => s.secret).map((s) => s.name);
    const shown = {
      storage:
        config.storage.connection.kind === 'connectionString'
          ? `connection string from ${config.storage.connection.setting}`
          : `managed identity (${config.storage.connection.clientId === undefined ? 'system-assigned' : `client id ${config.storage.connection.clientId}`}) from ${config.storage.connection.setting}__*`,
      storageTableService:
        config.storage.connection.kind === 'managedIdentity'
          ? config.storage.connection.tableServiceUri
          : null,
      storageQueueService:
        config.storage.connection.kind === 'managedIdentity'
          ? config.storage.connection.queueServiceUri
          : null,
      storageTable: config.storage.table,
      resyncQueue: config.storage.resyncQueue,
      graphCloud: config.graph.cloud,
      graphBaseUrl: config.graph.baseUrl ?? null,
      graphApiVersion: config.graph.apiVersion,
      graphCredential: config.identity.credential,
      graphCredentialChosenBy:
        config.identity.credentialChosenBy === 'GRAPH_CREDENTIAL'
          ? 'GRAPH_CREDENTIAL'
          : 'inferred from the GRAPH_ settings that are set (set GRAPH_CREDENTIAL to make it explicit)',
      graphTenantId: config.identity.tenantId ?? null,
      graphClientId: config.identity.clientId ?? null,
      graphManagedIdentityClientId: config.identity.managedIdentityClientId ?? null,
      authorityHost: config.identity.authorityHost ?? null,
      disableInstanceDiscovery: config.identity.disableInstanceDiscovery,
      clientSecretSet: config.identity.clientSecret !== undefined,
      clientCertificateSet:
        config.identity.clientCertificate !== undefined ||
        config.identity.clientCertificatePath !== undefined,
      lifecycleNotificationUrlSet: config.lifecycleNotificationUrl !== undefined,
      sweepSchedule: config.sweep.schedule,
      secretSettingsNotShown: secrets,
    };
    io.out(
      json
        ? JSON.stringify({ ok: true, config: shown }, null, 2)
        : formatPairs(
            Object.entries(shown).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v]),
          ),
    );
    return 0;
  } catch (e) {
    if (!isConfigError(e)) throw e;
    io.out(
      json ? JSON.stringify({ ok: false, problems: e.problems }, null, 2) : configProblemsText(e),
    );
    return 1;
  }
}
