#!/usr/bin/env node
import { loadConfig, type Config, type Environment } from '../shared/config';
import { cliDependencies, stderrLogger } from './cliDependencies';
import type { CliIo, Command, CommandContext, CommandRun } from './command';
import {
  isUsageError,
  parseArguments,
  type CommandSpec,
  type ParsedArguments,
} from './commandLine';
import { applyCommand } from './commands/apply';
import { checkConfigSpec, runCheckConfig } from './commands/checkConfig';
import { deleteCommand } from './commands/delete';
import { listCommand } from './commands/list';
import { permissionsCommand } from './commands/permissions';
import { resyncAckCommand } from './commands/resyncAck';
import { showCommand } from './commands/show';
import { statusCommand } from './commands/status';
import { sweepCommand } from './commands/sweep';
import { verifyCommand } from './commands/verify';
import { reportFailure } from './failureReport';
import { commandHelp, generalUsage } from './help';
import { readLocalSettings, withLocalSettings } from './localSettings';

export type { CliIo } from './command';

/**
 * `graph-subs`: operate graph-subscription-keeper from a terminal. Every command goes through
 * the same operations as the admin API and the functions (shared/operations), on the same
 * store and Graph app registration; nothing goes over HTTP to the app.
 * Exit codes: 0 all well, 1 something failed, 2 usage.
 */

const commands: readonly Command[] = [
  applyCommand,
  listCommand,
  showCommand,
  deleteCommand,
  sweepCommand,
  statusCommand,
  permissionsCommand,
  verifyCommand,
  resyncAckCommand,
];

const specs: readonly CommandSpec[] = [...commands.map((c) => c.spec), checkConfigSpec];

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  const usage = generalUsage(specs);
  if (name === undefined) {
    io.err(`graph-subs: missing command\n\n${usage}`);
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const topic = rest.find((a) => !a.startsWith('-'));
    const spec = specs.find((s) => s.name === topic);
    if (topic !== undefined && spec === undefined) {
      io.err(`graph-subs: unknown command ${topic}\n\n${usage}`);
      return 2;
    }
    io.out(spec === undefined ? usage : commandHelp(spec));
    return 0;
  }
  const spec = specs.find((s) => s.name === name);
  if (spec === undefined) {
    const what = name.startsWith('-')
      ? `expected a command before ${name.split('=')[0] ?? ''}`
      : `unknown command ${name}`;
    io.err(`graph-subs: ${what}\n\n${usage}`);
    return 2;
  }

  let args: ParsedArguments;
  let run: CommandRun | 'check-config';
  try {
    args = parseArguments(spec, rest);
    if (args.help) {
      io.out(commandHelp(spec));
      return 0;
    }
    const command = commands.find((c) => c.spec === spec);
    run = command === undefined ? 'check-config' : command.prepare(args);
  } catch (e) {
    if (!isUsageError(e)) throw e;
    io.err(`graph-subs ${spec.name}: ${e.message}\n\n${commandHelp(spec)}`);
    return 2;
  }

  let config: Config | undefined;
  try {
    const env = environment(io);
    if (run === 'check-config') return runCheckConfig(env, io, args.json);
    config = loadConfig(env);
    const log = stderrLogger((line) => {
      io.err(line);
    }, args.verbose);
    const deps = (io.dependencies ?? cliDependencies)(config, log);
    const ctx: CommandContext = {
      io,
      json: args.json,
      config,
      deps,
      print: (document, text) => {
        io.out(args.json ? JSON.stringify(document, null, 2) : text());
      },
    };
    return await run(ctx);
  } catch (e) {
    io.progress?.(undefined);
    return reportFailure(io, args.json, e, { config, verbose: args.verbose });
  }
}

/** The environment, filled in from ./local.settings.json where it leaves a setting unset. */
function environment(io: CliIo): Environment {
  return io.cwd === undefined ? io.env : withLocalSettings(io.env, readLocalSettings(io.cwd));
}

if (require.main === module) {
  const stderr = process.stderr;
  runCli(process.argv.slice(2), {
    env: process.env,
    out: (t) => process.stdout.write(`${t}\n`),
    // NOTE: a message clears the progress line it would otherwise be appended to.
    err: (t) => stderr.write(`${stderr.isTTY ? '\r\x1b[K' : ''}${t}\n`),
    // NOTE: progress lines only on a terminal, never into a log file or a pipe.
    progress: stderr.isTTY
      ? (line) => stderr.write(line === undefined ? '\r\x1b[K' : `\r\x1b[K${line}`)
      : undefined,
    cwd: process.cwd(),
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.exitCode = reportFailure(
        { env: {}, out: () => undefined, err: (t) => stderr.write(`${t}\n`) },
        false,
        e,
      );
    },
  );
}
