import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { generateSimulatorTls, type SimulatorTls } from '../../devkit/graphSimulator';

/**
 * The benchmark trusts the Graph simulator's CA the way an operator would trust a private CA:
 * through NODE_EXTRA_CA_CERTS, read by Node at process start. So `npm run bench` generates the
 * simulator's certificates, then runs the benchmark in a child process started with that
 * variable, and the app's Graph client and credential are built exactly as the composition
 * root builds them (no TLS options at all).
 *
 * NOTE: why not `trustedCaCertificates` / the credential's `tlsOptions`, as the tests do: that
 * path puts Node's ~140 root certificates plus the test CA into the options of every request,
 * and the https agent then builds a secure context per connection and a pool key containing
 * every certificate per request. Profiled, that took a fifth of the bench process's CPU, which
 * production (no extra CA) never spends, and it slowed the CPU-bound figures.
 */

const tlsVariable = 'BENCH_SIMULATOR_TLS_FILE';

/** In the child: the simulator's certificates the parent generated and Node already trusts. */
export function trustedSimulatorTls(): SimulatorTls | undefined {
  const file = process.env[tlsVariable];
  if (file === undefined || process.env.NODE_EXTRA_CA_CERTS === undefined) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as SimulatorTls;
}

/** In the parent: runs this script again, trusting the simulator's CA; resolves its exit code. */
export async function runTrustingSimulator(argv: readonly string[]): Promise<number> {
  const tls = await generateSimulatorTls();
  const dir = mkdtempSync(path.join(tmpdir(), 'keeper-bench-'));
  const caFile = path.join(dir, 'simulator-ca.pem');
  const tlsFile = path.join(dir, 'simulator-tls.json');
  writeFileSync(caFile, tls.ca, { mode: 0o600 });
  writeFileSync(tlsFile, JSON.stringify(tls), { mode: 0o600 });
  try {
    const child = spawn(process.execPath, [...process.execArgv, ...argv], {
      // NOTE: process warnings are counted per scenario by run.ts instead of printed each time.
      env: {
        ...process.env,
        NODE_EXTRA_CA_CERTS: caFile,
        NODE_NO_WARNINGS: '1',
        [tlsVariable]: tlsFile,
      },
      stdio: 'inherit',
    });
    const forward = (signal: NodeJS.Signals) => {
      child.kill(signal);
    };
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    return await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) => {
        process.off('SIGINT', forward);
        process.off('SIGTERM', forward);
        resolve(code ?? (signal === null ? 1 : 128 + 2));
      });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
