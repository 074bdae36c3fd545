#!/usr/bin/env node
import { isConfigError, loadConfig, settingsCatalog } from '../shared/config';

/**
 * `graph-subs`: operate graph-subscription-keeper from a terminal.
 * Exit codes: 0 all well, 1 something failed, 2 usage.
 */

const usage = `Usage: graph-subs <command> [--json]

Commands:
  check-config   Validate the app settings in the environment and print the effective,
                 non-secret configuration.

Options:
  --json         Print one JSON document on stdout.
  --help         Show this help.`;

export interface CliIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  out(text: string): void;
  err(text: string): void;
}

export function runCli(argv: readonly string[], io: CliIo): number {
  const args = argv.filter((a) => a !== '--json');
  const json = argv.includes('--json');
  const [command, ...rest] = args;
  if (command === undefined || command === '--help' || command === 'help') {
    io.out(usage);
    return command === undefined ? 2 : 0;
  }
  if (command !== 'check-config' || rest.length > 0) {
    io.err(`Unknown command or argument: ${args.join(' ')}\n\n${usage}`);
    return 2;
  }
  try {
    const config = loadConfig(io.env);
    const secrets = new Set(settingsCatalog.filter((s) => s.secret).map((s) => s.name));
    const shown = {
      storageTable: config.storage.table,
      graphCloud: config.graph.cloud,
      graphBaseUrl: config.graph.baseUrl ?? null,
      graphApiVersion: config.graph.apiVersion,
      authorityHost: config.identity.authorityHost ?? null,
      disableInstanceDiscovery: config.identity.disableInstanceDiscovery,
      clientSecretSet: config.identity.clientSecret !== undefined,
      lifecycleNotificationUrlSet: config.lifecycleNotificationUrl !== undefined,
      sweepSchedule: config.sweep.schedule,
      secretSettingsNotShown: [...secrets],
    };
    io.out(json ? JSON.stringify({ ok: true, config: shown }) : formatPairs(shown));
    return 0;
  } catch (e) {
    if (!isConfigError(e)) throw e;
    io.out(json ? JSON.stringify({ ok: false, problems: e.problems }) : e.message);
    return 1;
  }
}

function formatPairs(values: Record<string, unknown>): string {
  return Object.entries(values)
    .map(([k, v]) => `${k.padEnd(28)} ${Array.isArray(v) ? v.join(', ') : String(v)}`)
    .join('\n');
}

if (require.main === module) {
  process.exitCode = runCli(process.argv.slice(2), {
    env: process.env,
    out: (t) => process.stdout.write(`${t}\n`),
    err: (t) => process.stderr.write(`${t}\n`),
  });
}
