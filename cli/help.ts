import { globalOptions, type CommandSpec, type OptionSpec } from './commandLine';

/** The general usage and each command's help, rendered from the command specs. */

export const settingsHelp = `Settings:
  Read from the environment, as the functions read their app settings (STORAGE_CONNECTION,
  SUBSCRIPTIONS_TABLE, RESYNC_QUEUE, GRAPH_*, AZURE_*, LIFECYCLE_NOTIFICATION_URL, SWEEP_*;
  see docs/settings.md). When a local.settings.json exists in the current directory, its "Values"
  fill in every setting the environment leaves unset or empty, as \`func start\` does, so the
  CLI can run next to the app's local settings. A configuration error names every bad setting
  (never its value) and exits 1.`;

export const exitCodesHelp = `Exit codes:
  0  all well
  1  something failed (see the command's help)
  2  usage error (unknown command or option, missing argument)`;

export function generalUsage(commands: readonly CommandSpec[]): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return [
    'Usage: graph-subs <command> [arguments] [--json] [--verbose]',
    '',
    'Operates graph-subscription-keeper from a terminal: the same operations as the admin API',
    'and the sweep timer, on the same table, with the same Graph app registration.',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Options (every command):',
    ...optionLines(globalOptions),
    '',
    settingsHelp,
    '',
    exitCodesHelp,
    '',
    'Run `graph-subs <command> --help` for the arguments of a command.',
  ].join('\n');
}

export function commandHelp(spec: CommandSpec): string {
  const lines = [`Usage: graph-subs ${synopsis(spec)}`, '', spec.description];
  if (spec.positionals.length > 0) {
    lines.push('', 'Arguments:');
    const width = Math.max(...spec.positionals.map((p) => p.name.length)) + 2;
    for (const p of spec.positionals) {
      lines.push(`  ${p.name.padEnd(width)}${p.required ? '' : '(optional) '}${p.description}`);
    }
  }
  if (spec.options.length > 0) lines.push('', 'Options:', ...optionLines(spec.options));
  lines.push('', 'Options (every command):', ...optionLines(globalOptions));
  lines.push('', `With --json: ${spec.jsonOutput}`);
  lines.push(
    '',
    'Exit codes:',
    '  0  all well',
    `  1  ${wrap(`${spec.failsWhen}; or a configuration error`, 87, '     ')}`,
    '  2  usage error',
  );
  if (spec.examples.length > 0) {
    lines.push('', 'Examples:', ...spec.examples.map((e) => `  ${e}`));
  }
  lines.push('', settingsHelp);
  return lines.join('\n');
}

export function synopsis(spec: CommandSpec): string {
  if (spec.synopsis !== undefined) return spec.synopsis;
  const parts = [spec.name];
  for (const p of spec.positionals) parts.push(p.required ? p.name : `[${p.name}]`);
  for (const o of spec.options)
    parts.push(`[--${o.name}${o.value === undefined ? '' : ` ${o.value}`}]`);
  parts.push('[--json]');
  return parts.join(' ');
}

function optionLines(options: readonly OptionSpec[]): string[] {
  const labels = options.map((o) => `--${o.name}${o.value === undefined ? '' : ` ${o.value}`}`);
  const width = Math.max(...labels.map((l) => l.length)) + 2;
  return options.map((o, i) => `  ${(labels[i] ?? '').padEnd(width)}${o.description}`);
}

/** Wraps at spaces to `width` columns; continuation lines start with `indent`. */
export function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    const prefix = lines.length === 0 ? '' : indent;
    if (line !== '' && prefix.length + line.length + 1 + word.length > width) {
      lines.push(prefix + line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  lines.push((lines.length === 0 ? '' : indent) + line);
  return lines.join('\n');
}
