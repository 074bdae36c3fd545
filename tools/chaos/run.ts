import { randomInt } from 'node:crypto';
import { replayCommand, runChaosProcess, type ChaosArguments } from './chaosProcess';
import { knownCoreIssues } from './knownIssues';

/**
 * `npm run chaos -- [--days 30] [--subscriptions 1000] [--tenants 5] [--seed N] [--strict]`
 *
 * Runs the chaos simulation (in a child process, see chaosProcess.ts), prints a line per simulated
 * day, then every invariant with its count and the totals. Exit code 0 when every invariant holds
 * (cases of a known core issue, tools/chaos/knownIssues.ts, are printed and do not count unless
 * --strict), 1 when one does not (the seed and the command to replay it are printed), 2 for a
 * usage error.
 */

interface Arguments extends ChaosArguments {
  /** Known core issues fail the run too. */
  readonly strict: boolean;
}

const usage = `Usage: npm run chaos -- [--days N] [--subscriptions N] [--tenants N] [--seed N] [--strict]

  --days           simulated days (default 30)
  --subscriptions  managed subscriptions (default 1000)
  --tenants        tenants they are spread over (default 5)
  --seed           seed of every random choice (default: random, printed)
  --strict         fail on the known core issues too (tools/chaos/knownIssues.ts)`;

class UsageError extends Error {}

function parseArguments(argv: readonly string[]): Arguments | 'help' {
  const values: Record<string, number> = {};
  let strict = false;
  const limits: Record<string, { min: number; max: number; integer: boolean }> = {
    days: { min: 1, max: 365, integer: false },
    subscriptions: { min: 1, max: 100_000, integer: true },
    tenants: { min: 1, max: 100, integer: true },
    seed: { min: 0, max: 2 ** 32 - 1, integer: true },
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--help' || arg === '-h') return 'help';
    if (arg === '--strict') {
      strict = true;
      continue;
    }
    const match = /^--([a-z]+)(?:=(.*))?$/.exec(arg);
    const name = match?.[1];
    const limit = name === undefined ? undefined : limits[name];
    if (name === undefined || limit === undefined) throw new UsageError(`Unknown option ${arg}`);
    const text = match?.[2] ?? argv[++i];
    const value = Number(text);
    if (
      text === undefined ||
      text.trim() === '' ||
      !Number.isFinite(value) ||
      (limit.integer && !Number.isInteger(value)) ||
      value < limit.min ||
      value > limit.max
    ) {
      throw new UsageError(
        `--${name} must be ${limit.integer ? 'a whole number' : 'a number'} from ${limit.min} to ${limit.max}`,
      );
    }
    values[name] = value;
  }
  return {
    days: values.days ?? 30,
    subscriptions: values.subscriptions ?? 1000,
    tenants: values.tenants ?? 5,
    seed: values.seed ?? randomInt(1, 2 ** 31),
    strict,
  };
}

async function main(): Promise<number> {
  let args: Arguments | 'help';
  try {
    args = parseArguments(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${e.message}\n\n${usage}\n`);
    return 2;
  }
  if (args === 'help') {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  process.stdout.write(
    `Chaos run: ${args.days} days, ${args.subscriptions} subscriptions, ${args.tenants} tenants, seed ${args.seed}\n` +
      `Replay: ${replayCommand(args)}\n`,
  );
  const { strict, ...run } = args;
  const result = await runChaosProcess(run, {
    extra: { knownIssues: strict ? [] : knownCoreIssues },
    onStdout: (chunk) => process.stdout.write(chunk),
    // NOTE: @azure/functions warns twice on stderr that it runs outside the Functions host.
    onStderr: (chunk) => {
      const kept = chunk
        .split('\n')
        .filter((line) => !/^WARNING: (Failed to detect|Skipping call)/.test(line))
        .join('\n');
      if (kept.trim() !== '') process.stderr.write(kept);
    },
  });
  if (result.report === undefined) {
    process.stdout.write(
      `The run stopped before its report. Replay with: ${replayCommand(args)}\n`,
    );
  }
  return result.code === 0 && result.report?.ok === true ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(
      `Chaos run stopped: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
    );
    process.exitCode = 1;
  },
);
