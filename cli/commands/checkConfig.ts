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
    'and prints the configuration without secrets, or every bad setting by name.',
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
      storageTable: config.storage.table,
      resyncQueue: config.storage.resyncQueue,
      graphCloud: config.graph.cloud,
      graphBaseUrl: config.graph.baseUrl ?? null,
      graphApiVersion: config.graph.apiVersion,
      authorityHost: config.identity.authorityHost ?? null,
      disableInstanceDiscovery: config.identity.disableInstanceDiscovery,
      clientSecretSet: config.identity.clientSecret !== undefined,
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
