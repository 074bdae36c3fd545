import type { AppDependencies } from '../shared/composition';
import type { Config, Environment } from '../shared/config';
import type { Logger } from '../shared/logger';
import type { FieldProblem } from '../shared/operations/errors';
import type { CommandSpec, ParsedArguments } from './commandLine';

/** What the CLI reads and writes; `cli/main.ts` binds it to the process, tests to arrays. */
export interface CliIo {
  readonly env: Environment;
  /** One document or block of text on stdout (a newline is added). */
  out(text: string): void;
  /** One message on stderr (a newline is added). */
  err(text: string): void;
  /**
   * Only when stderr is a terminal: replaces the progress line; `undefined` clears it.
   * Absent otherwise, so logs and pipes never see progress lines.
   */
  readonly progress?: (line: string | undefined) => void;
  /** Where to look for local.settings.json (the working directory); none when absent. */
  readonly cwd?: string;
  /** Builds the app's dependencies; default the production wiring (cli/cliDependencies.ts). */
  readonly dependencies?: (config: Config, log: Logger) => AppDependencies;
  /** Reads a file named on the command line (`apply --file`); default the file system. */
  readonly readFile?: (path: string) => string;
}

/** What a command runs with, once its arguments are checked and the configuration loaded. */
export interface CommandContext {
  readonly io: CliIo;
  readonly json: boolean;
  readonly config: Config;
  readonly deps: AppDependencies;
  /** `--json`: the document on stdout; otherwise the text. */
  print(document: unknown, text: () => string): void;
}

export type CommandRun = (ctx: CommandContext) => Promise<number>;

export interface Command {
  readonly spec: CommandSpec;
  /**
   * Checks the arguments beyond their syntax (a status name, a date) and returns the run.
   * Throws `UsageError`; nothing is read or called before it returns.
   */
  prepare(args: ParsedArguments): CommandRun;
}

/**
 * A command that could not do what it was asked for reasons the operator can fix (a missing
 * file, a file that is not JSON): exit code 1 with the message, and the problems when there are.
 */
export class CommandFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly problems?: readonly FieldProblem[],
  ) {
    super(message);
    this.name = 'CommandFailure';
  }
}

export const isCommandFailure = (e: unknown): e is CommandFailure => e instanceof CommandFailure;

/** The document `--json` prints when a command fails as a whole. */
export interface ErrorDocument {
  readonly error: {
    readonly code: string;
    readonly message: string;
    readonly problems?: readonly {
      readonly field?: string;
      readonly key?: string;
      readonly message: string;
    }[];
  };
}
