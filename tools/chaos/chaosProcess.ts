import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { generateSimulatorTls } from '../../devkit/graphSimulator';
import type { ChaosReport } from './chaosRun';
import { chaosModule } from './moduleLoader';

/**
 * Runs a chaos run in a child process whose NODE_EXTRA_CA_CERTS holds the simulator's CA. Node
 * reads that variable only at start, hence the child: with it, the app's Graph client and
 * credential are built exactly as in production (no extra CA option), which is also much faster
 * than naming the CA on every request.
 */

export interface ChaosArguments {
  readonly days: number;
  readonly subscriptions: number;
  readonly tenants: number;
  readonly seed: number;
}

export interface ChaosProcessResult {
  /** The child's exit code: 0 all invariants hold, 1 one does not or the run stopped. */
  readonly code: number;
  /** Undefined when the run stopped before its report. */
  readonly report: ChaosReport | undefined;
  /** Everything the child printed (stdout and stderr). */
  readonly output: string;
}

export interface ChaosProcessOptions {
  /** Each chunk the child prints on stdout, as it comes. */
  readonly onStdout?: (chunk: string) => void;
  readonly onStderr?: (chunk: string) => void;
  /** Extra options for `runChaos` in the child (JSON), e.g. known issues. */
  readonly extra?: Readonly<Record<string, unknown>>;
  /** Kill the run after this long (real time); by default it runs to its end. */
  readonly timeoutMs?: number;
}

export function replayCommand(o: ChaosArguments): string {
  return `npm run chaos -- --days ${o.days} --subscriptions ${o.subscriptions} --tenants ${o.tenants} --seed ${o.seed}`;
}

/** What the child reads from its environment (see chaosChild.ts). */
export const childEnvironment = {
  tlsFile: 'CHAOS_TLS_FILE',
  reportFile: 'CHAOS_REPORT_FILE',
  arguments: 'CHAOS_ARGUMENTS',
} as const;

export async function runChaosProcess(
  args: ChaosArguments,
  options: ChaosProcessOptions = {},
): Promise<ChaosProcessResult> {
  const tls = await generateSimulatorTls();
  const dir = mkdtempSync(path.join(tmpdir(), 'chaos-'));
  try {
    const caFile = path.join(dir, 'ca.pem');
    const tlsFile = path.join(dir, 'tls.json');
    const reportFile = path.join(dir, 'report.json');
    writeFileSync(caFile, tls.ca);
    writeFileSync(tlsFile, JSON.stringify(tls));
    const entry = chaosModule('chaosChild');
    const child = spawn(
      process.execPath,
      entry.script === undefined ? [entry.file] : ['-e', entry.script],
      {
        env: {
          ...process.env,
          NODE_EXTRA_CA_CERTS: caFile,
          [childEnvironment.tlsFile]: tlsFile,
          [childEnvironment.reportFile]: reportFile,
          [childEnvironment.arguments]: JSON.stringify({ ...args, ...options.extra }),
        },
        // NOTE: the IPC channel lets the child end itself when this process goes away unannounced.
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        ...(options.timeoutMs === undefined
          ? {}
          : { timeout: options.timeoutMs, killSignal: 'SIGKILL' as const }),
      },
    );
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      output += text;
      options.onStdout?.(text);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      output += text;
      options.onStderr?.(text);
    });
    const code = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (exitCode) => {
        resolve(exitCode ?? 1);
      });
    });
    let report: ChaosReport | undefined;
    try {
      report = JSON.parse(readFileSync(reportFile, 'utf8')) as ChaosReport;
    } catch {
      report = undefined;
    }
    return { code, report, output };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
