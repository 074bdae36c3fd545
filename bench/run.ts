import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { ackScenario } from './ack';
import { driftCheckScenario } from './driftCheck';
import { handshakeScenario } from './handshake';
import { intakeDrainScenario } from './intakeDrain';
import { healthScenario } from './health';
import { multiTenantScenario } from './multiTenant';
import { storeReadsScenario } from './storeReads';
import { BenchContext, since, type BenchOptions, type Scenario } from './support/context';
import {
  describeTarget,
  formatNumber,
  meets,
  type Figure,
  type ScenarioResult,
} from './support/figures';
import { sweepMemoryScenario } from './sweepMemory';
import { sweepPaceScenario } from './sweepPace';
import { sweepSequentialScenario } from './sweepSequential';
import { sweepUnpacedScenario } from './sweepUnpaced';
import { runTrustingSimulator, trustedSimulatorTls } from './support/trust';

/**
 * `npm run bench`: runs every scenario one after the other in one run (one Azurite in memory,
 * one Graph simulator per scenario, both on loopback), prints a table of figures with their
 * targets and how long each scenario took, and with `--json FILE` writes the figures under
 * their names. `--only NAME[,NAME]` runs some scenarios (and what they build on).
 * A missed target is reported, not an error: the exit code is 1 only when a scenario could not
 * run, 2 on a usage error.
 */

const scenarios: readonly Scenario[] = [
  handshakeScenario,
  sweepPaceScenario,
  sweepUnpacedScenario,
  sweepSequentialScenario,
  multiTenantScenario,
  storeReadsScenario,
  healthScenario,
  sweepMemoryScenario,
  ackScenario,
  intakeDrainScenario,
  driftCheckScenario,
];

interface Arguments {
  readonly jsonFile: string | undefined;
  readonly only: readonly string[] | undefined;
  readonly options: BenchOptions;
}

const usage = `usage: npm run bench -- [--json FILE] [--only NAME[,NAME...]]
                          [--pace-window-ms MS] [--multi-tenant-window-ms MS]
scenarios: ${scenarios.map((s) => s.name).join(', ')}`;

class UsageError extends Error {}

function parseArguments(argv: readonly string[]): Arguments {
  let jsonFile: string | undefined;
  let only: string[] | undefined;
  let paceWindowMs = 10_000;
  let multiTenantWindowMs = 20_000;
  const valueOf = (i: number, flag: string): string => {
    const value = argv[i + 1];
    if (value === undefined || value.startsWith('--'))
      throw new UsageError(`${flag} needs a value`);
    return value;
  };
  const msOf = (text: string, flag: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 500 || n > 20_000) {
      throw new UsageError(`${flag} must be whole milliseconds from 500 to 20000`);
    }
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    switch (flag) {
      case '--json':
        jsonFile = valueOf(i++, flag);
        break;
      case '--only':
        only = [...(only ?? []), ...valueOf(i++, flag).split(',').filter(Boolean)];
        break;
      case '--pace-window-ms':
        paceWindowMs = msOf(valueOf(i++, flag), flag);
        break;
      case '--multi-tenant-window-ms':
        multiTenantWindowMs = msOf(valueOf(i++, flag), flag);
        break;
      case '--help':
      case '-h':
        process.stdout.write(`${usage}\n`);
        process.exit(0);
        break;
      default:
        throw new UsageError(`unknown argument ${String(flag)}`);
    }
  }
  const unknown = (only ?? []).filter((n) => !scenarios.some((s) => s.name === n));
  if (unknown.length > 0) throw new UsageError(`unknown scenario ${unknown.join(', ')}`);
  return { jsonFile, only, options: { paceWindowMs, multiTenantWindowMs } };
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

function printTable(results: readonly ScenarioResult[], wallMs: number): void {
  const rows: string[][] = [['figure', 'value', 'target', 'met', 'how']];
  for (const result of results) {
    for (const f of result.figures) {
      const met = meets(f);
      rows.push([
        f.name,
        `${formatNumber(f.value)}${f.unit === '' ? '' : ` ${f.unit}`}`,
        describeTarget(f),
        met === undefined ? '-' : met ? 'yes' : 'NO',
        f.detail,
      ]);
    }
    if (result.error !== undefined) {
      rows.push([result.scenario, 'ERROR', '', '', result.error]);
    }
  }
  const widths = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: readonly string[]) =>
    r.map((cell, c) => (c < 4 ? pad(cell, widths[c]!) : cell)).join('  ');
  const out: string[] = ['', line(rows[0]!), ...rows.slice(1).map(line), ''];
  out.push('scenario times:');
  for (const r of results) out.push(`  ${pad(r.scenario, 16)} ${(r.wallMs / 1000).toFixed(1)} s`);
  out.push(`  ${pad('total', 16)} ${(wallMs / 1000).toFixed(1)} s`, '');
  process.stdout.write(out.join('\n'));
}

function toJson(results: readonly ScenarioResult[], wallMs: number): unknown {
  const figures: Record<string, number> = {};
  const all: Figure[] = results.flatMap((r) => r.figures);
  for (const f of all) figures[f.name] = f.value;
  return {
    figures,
    targets: Object.fromEntries(
      all
        .filter((f) => f.target !== undefined)
        .map((f) => [f.name, { ...f.target, met: meets(f) }]),
    ),
    details: all,
    scenarios: results,
    wallMs: Math.round(wallMs),
    machine: {
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      cpus: cpus().length,
      memoryMb: Math.round(totalmem() / 2 ** 20),
    },
    finishedAt: new Date().toISOString(),
  };
}

async function main(): Promise<number> {
  let args: Arguments;
  try {
    args = parseArguments(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${e.message}\n${usage}\n`);
    return 2;
  }
  const selected = scenarios.filter((s) => args.only === undefined || args.only.includes(s.name));
  const ctx = new BenchContext(args.options);
  const results: ScenarioResult[] = [];
  const runStarted = performance.now();
  const stop = () => {
    void ctx.close().finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // Process warnings (e.g. MaxListenersExceededWarning) are findings too: counted per scenario.
  let warnings = new Map<string, number>();
  process.on('warning', (w) => {
    warnings.set(w.name, (warnings.get(w.name) ?? 0) + 1);
  });
  const warningFacts = (): Record<string, string> =>
    warnings.size === 0
      ? {}
      : { processWarnings: [...warnings].map(([name, n]) => `${n}x ${name}`).join(', ') };
  try {
    for (const scenario of selected) {
      process.stderr.write(`${scenario.name}: ${scenario.summary}\n`);
      ctx.enter(scenario.name);
      warnings = new Map();
      const started = performance.now();
      try {
        const output = await scenario.run(ctx);
        results.push({
          scenario: scenario.name,
          wallMs: since(started),
          figures: output.figures,
          facts: { ...output.facts, ...warningFacts() },
        });
      } catch (e) {
        const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
        results.push({
          scenario: scenario.name,
          wallMs: since(started),
          figures: [],
          facts: warningFacts(),
          error: message,
        });
        process.stderr.write(`  [${scenario.name}] failed: ${message}\n`);
      }
      const rssMb = Math.round(process.memoryUsage().rss / 2 ** 20);
      const warned = warningFacts().processWarnings;
      process.stderr.write(
        `  [${scenario.name}] ${(since(started) / 1000).toFixed(1)} s (bench process ${rssMb} MB)${warned === undefined ? '' : `; process warnings: ${warned}`}\n`,
      );
    }
  } finally {
    await ctx.close();
  }
  const wallMs = since(runStarted);
  printTable(results, wallMs);
  if (args.jsonFile !== undefined) {
    writeFileSync(args.jsonFile, `${JSON.stringify(toJson(results, wallMs), null, 2)}\n`);
    process.stdout.write(`figures written to ${args.jsonFile}\n`);
  }
  return results.some((r) => r.error !== undefined) ? 1 : 0;
}

// NOTE: the parent only generates the simulator's certificates and runs the benchmark again in a
// process that trusts them from its start (see support/trust.ts).
const entry =
  trustedSimulatorTls() === undefined
    ? runTrustingSimulator([__filename, ...process.argv.slice(2)])
    : main();

entry.then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
