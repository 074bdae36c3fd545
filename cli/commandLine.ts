/**
 * The command line of `graph-subs`: each command declares its positionals and options once
 * (`CommandSpec`); parsing, help and usage errors are derived from that declaration, so the help
 * never lists an option the parser refuses, or the other way round.
 */

export interface OptionSpec {
  /** Without the dashes: `tenant` for `--tenant`. */
  readonly name: string;
  /** The value's placeholder (`TENANT`) when the option takes one; absent for a flag. */
  readonly value?: string;
  readonly description: string;
}

export interface PositionalSpec {
  readonly name: string;
  readonly required: boolean;
  readonly description: string;
}

export interface CommandSpec {
  readonly name: string;
  /** The usage line after `graph-subs`, when the one derived from the options is too long. */
  readonly synopsis?: string;
  /** One line for the general usage. */
  readonly summary: string;
  /** What the command does, in a few lines. */
  readonly description: string;
  readonly positionals: readonly PositionalSpec[];
  readonly options: readonly OptionSpec[];
  /** What `--json` prints. */
  readonly jsonOutput: string;
  /** When the command exits 1 (besides configuration and unexpected errors). */
  readonly failsWhen: string;
  readonly examples: readonly string[];
}

/** Options every command takes. */
export const globalOptions: readonly OptionSpec[] = [
  { name: 'json', description: 'Print exactly one JSON document on stdout.' },
  { name: 'verbose', description: 'Log each action to stderr.' },
  { name: 'help', description: 'Show this help.' },
];

export interface ParsedArguments {
  readonly positionals: readonly string[];
  /** Option values by name; `true` for a flag that is present. */
  readonly options: ReadonlyMap<string, string | true>;
  readonly json: boolean;
  readonly verbose: boolean;
  readonly help: boolean;
}

/** A command line that cannot be run as given: exit code 2, the usage on stderr. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The command whose usage to show; the general usage when undefined. */
    readonly command?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

export const isUsageError = (e: unknown): e is UsageError => e instanceof UsageError;

/**
 * Parses the arguments after the command name. `--name value` and `--name=value` both work;
 * `--` ends the options. Unknown options, missing values, repeated options, extra or missing
 * positionals are usage errors. With `--help` nothing else is checked.
 */
export function parseArguments(spec: CommandSpec, args: readonly string[]): ParsedArguments {
  const known = new Map<string, OptionSpec>(
    [...globalOptions, ...spec.options].map((o) => [o.name, o]),
  );
  const options = new Map<string, string | true>();
  const positionals: string[] = [];
  const problems: string[] = [];
  let onlyPositionals = false;

  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (onlyPositionals || !arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    if (arg === '--') {
      onlyPositionals = true;
      continue;
    }
    if (arg === '-h') {
      options.set('help', true);
      continue;
    }
    const match = /^--([^=]+)(?:=(.*))?$/s.exec(arg);
    const name = match?.[1];
    const option = name === undefined ? undefined : known.get(name);
    if (match === null || name === undefined || option === undefined) {
      // NOTE: only the option's name is echoed: a mistyped `--client-secret=...` stays unprinted.
      problems.push(`unknown option ${arg.split('=')[0] ?? arg}`);
      continue;
    }
    if (options.has(name)) {
      problems.push(`--${name} is given more than once`);
      continue;
    }
    const inline = match[2];
    if (option.value === undefined) {
      if (inline !== undefined) problems.push(`--${name} takes no value`);
      else options.set(name, true);
      continue;
    }
    if (inline !== undefined) {
      options.set(name, inline);
      continue;
    }
    const next = args[i + 1];
    if (next === undefined || (next.startsWith('--') && next.length > 2)) {
      problems.push(`--${name} needs a value (${option.value})`);
      continue;
    }
    options.set(name, next);
    i++;
  }

  const help = options.get('help') === true;
  if (!help) {
    const required = spec.positionals.filter((p) => p.required);
    const missing = required.slice(positionals.length).map((p) => p.name);
    if (missing.length > 0) problems.push(`missing ${missing.join(', ')}`);
    const extra = positionals.slice(spec.positionals.length);
    if (extra.length > 0) problems.push(`unexpected argument ${extra.join(' ')}`);
    if (problems.length > 0) throw new UsageError(problems.join('; '), spec.name);
  }
  return {
    positionals,
    options,
    json: options.get('json') === true,
    verbose: options.get('verbose') === true,
    help,
  };
}

/** The value of an option that takes one (parsing guarantees it is a string when present). */
export function optionValue(args: ParsedArguments, name: string): string | undefined {
  const v = args.options.get(name);
  return typeof v === 'string' ? v : undefined;
}

export function hasFlag(args: ParsedArguments, name: string): boolean {
  return args.options.get(name) === true;
}
