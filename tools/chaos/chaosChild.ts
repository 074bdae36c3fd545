import { readFileSync, writeFileSync } from 'node:fs';
import type { SimulatorTls } from '../../devkit/graphSimulator';
import { formatDay, formatReport } from './chaosReport';
import { childEnvironment } from './chaosProcess';
import { runChaos, type ChaosOptions } from './chaosRun';

/**
 * The chaos run's own process (started by chaosProcess.ts with NODE_EXTRA_CA_CERTS set): runs,
 * prints a line per day and the report, writes the report as JSON, exits 0 when every invariant
 * holds.
 */

type ChildArguments = Omit<ChaosOptions, 'tls' | 'trust' | 'onDay'>;

async function main(): Promise<number> {
  const tlsFile = process.env[childEnvironment.tlsFile];
  const reportFile = process.env[childEnvironment.reportFile];
  const args = process.env[childEnvironment.arguments];
  if (tlsFile === undefined || reportFile === undefined || args === undefined) {
    throw new Error('chaosChild is started by runChaosProcess (tools/chaos/chaosProcess.ts)');
  }
  const tls = JSON.parse(readFileSync(tlsFile, 'utf8')) as SimulatorTls;
  const options = JSON.parse(args) as ChildArguments;
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const report = await runChaos({
    ...options,
    tls,
    trust: 'process',
    onDay: (p) => {
      out(formatDay(p));
    },
  });
  writeFileSync(reportFile, JSON.stringify(report));
  out(formatReport(report));
  return report.ok ? 0 : 1;
}

// NOTE: when the parent goes away (Ctrl-C, a test timeout), so does the run.
process.once('disconnect', () => process.exit(1));

// NOTE: exits explicitly, since keep-alive sockets and the IPC channel would keep it running
// (output to a pipe is written synchronously on Linux, so nothing printed is lost).
main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(
      `Chaos run stopped: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
    );
    process.exit(1);
  },
);
