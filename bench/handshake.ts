import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { lifecycleNotifications } from '../functions/lifecycleNotifications';
import { since, type Scenario } from './support/context';
import { percentile, round } from './support/stats';

/**
 * handshake.coldMs: a fresh Node process loads the compiled lifecycle function module and
 * answers one validation handshake through the exported handler (time from process start to
 * the answer; the median of a few fresh processes). handshake.p99Us: the p99 of 10,000 warm
 * handshakes through the same export in this process, timed from the call to the answer.
 * Graph gives the handshake 10 seconds (docs/graph-rules.md#validation-handshake), cold start included.
 */

const coldRuns = 5;
const warmCalls = 10_000;
const warmUp = 1_000;
/** Graph's tokens look like this: opaque text with spaces and punctuation. */
const token = (n: number) =>
  `Validation: Testing client application reachability for subscription Request-Id: 9f6a3c1e-${String(n).padStart(4, '0')}-4c3d-8d2e-5b7a1f0e9c42`;

const functionModule = path.join(__dirname, '..', 'functions', 'lifecycleNotifications.js');
const coldChild = path.join(__dirname, 'support', 'handshakeColdChild.js');

interface ColdAnswer {
  readonly answeredMs: number;
  readonly loadMs: number;
  readonly status: number;
  readonly body: string | null;
}

function coldHandshake(n: number): Promise<ColdAnswer & { readonly spawnToAnswerMs: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [coldChild, functionModule, token(n)],
      { timeout: 30_000, env: { PATH: process.env.PATH ?? '' } },
      (error, stdout, stderr) => {
        if (error !== null) {
          reject(new Error(`cold handshake process failed: ${error.message} ${stderr}`));
          return;
        }
        const line = stdout.trim().split('\n').pop() ?? '';
        const answer = JSON.parse(line) as ColdAnswer;
        if (answer.status !== 200 || answer.body !== token(n)) {
          reject(new Error(`cold handshake answered ${answer.status}, not the token`));
          return;
        }
        resolve({ ...answer, spawnToAnswerMs: since(started) });
      },
    );
  });
}

type Handler = typeof lifecycleNotifications;

async function warmHandshakes(handler: Handler): Promise<number[]> {
  const samplesUs: number[] = [];
  const context = new InvocationContext({ functionName: 'lifecycleNotifications' });
  for (let i = 0; i < warmUp + warmCalls; i++) {
    const url = new URL('https://keeper.example.com/api/lifecycle');
    url.searchParams.set('code', 'function-key');
    url.searchParams.set('validationToken', token(i));
    const request = new HttpRequest({ method: 'POST', url: url.toString() });
    const started = process.hrtime.bigint();
    const response = await handler(request, context);
    const elapsedNs = process.hrtime.bigint() - started;
    if (response.status !== 200 || response.body !== token(i)) {
      throw new Error(`warm handshake ${i} answered ${response.status ?? 200}, not the token`);
    }
    if (i >= warmUp) samplesUs.push(Number(elapsedNs) / 1000);
  }
  return samplesUs;
}

export const handshakeScenario: Scenario = {
  name: 'handshake',
  summary: 'validation handshake: fresh process, then 10,000 warm calls',
  async run(ctx) {
    const cold: (ColdAnswer & { spawnToAnswerMs: number })[] = [];
    for (let n = 0; n < coldRuns; n++) cold.push(await coldHandshake(n));
    const coldMs = percentile(
      cold.map((c) => c.answeredMs),
      50,
    );
    ctx.progress(`cold: ${cold.map((c) => Math.round(c.answeredMs)).join(', ')} ms`);

    const samples = await warmHandshakes(lifecycleNotifications);
    const p99Us = percentile(samples, 99);
    return {
      figures: [
        {
          name: 'handshake.coldMs',
          value: round(coldMs, 1),
          unit: 'ms',
          detail: `process start to answer, median of ${coldRuns} fresh processes (Graph allows 10,000 ms)`,
        },
        {
          name: 'handshake.p99Us',
          value: round(p99Us, 1),
          unit: 'us',
          detail: `p99 of ${warmCalls} warm calls to the exported handler`,
        },
      ],
      facts: {
        coldMinMs: round(Math.min(...cold.map((c) => c.answeredMs)), 1),
        coldMaxMs: round(Math.max(...cold.map((c) => c.answeredMs)), 1),
        coldModuleLoadMs: round(
          percentile(
            cold.map((c) => c.loadMs),
            50,
          ),
          1,
        ),
        coldSpawnToAnswerMs: round(
          percentile(
            cold.map((c) => c.spawnToAnswerMs),
            50,
          ),
          1,
        ),
        warmP50Us: round(percentile(samples, 50), 1),
        warmMaxUs: round(Math.max(...samples), 1),
      },
    };
  },
};
