import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { LogLevel } from '@azure/functions';
import { z } from 'zod';
import { InvocationContext } from '@azure/functions';
import { lifecycleIntakeHandler } from '../functions/lifecycleIntake';
import { lifecycleHandler } from '../functions/lifecycleNotifications';
import type { IntakeResult } from '../shared/lifecycle/handleLifecycleNotifications';
import { QueueLifecycleIntake } from '../shared/lifecycle/intakeQueue';
import { coreDependencies, type AppDependencies } from '../shared/composition';
import { loadConfig } from '../shared/config';
import { createGraphSubscriptions } from '../shared/graph/createGraphSubscriptions';
import { maxLifetimeFor } from '../shared/graph/lifetimes';
import type { Logger, LogProperties } from '../shared/logger';
import { parseDefinitionInput } from '../shared/operations/definitionInput';
import { healthReport, type HealthView } from '../shared/operations/health';
import { applyDefinition } from '../shared/operations/subscriptionOperations';
import { sweepAndRecord } from '../shared/operations/sweepOperation';
import type { SweepSummary } from '../shared/renewal/sweep';
import { QueueResyncPublisher } from '../shared/resync/queueResyncPublisher';
import type { ResyncMessage } from '../shared/resync/resyncPublisher';
import { TableSweepRecords } from '../shared/store/sweepRecords';
import { TableSubscriptionStore } from '../shared/store/tableSubscriptionStore';
import type { LifecycleEvent } from '../shared/subscriptions/model';
import { startAzurite, type RunningAzurite } from '../devkit/azurite';
import {
  simulatorCredentialOptions,
  startGraphSimulator,
  startWebhookReceiver,
} from '../devkit/graphSimulator';
import { serveHandler, type FunctionsHttpHandler } from '../devkit/lifecycleServer';
import { TestClock } from '../devkit/testClock';
import {
  checkHandled,
  formatDuration,
  formatEntry,
  SandboxObserver,
  short,
  type EntryDraft,
  type HandledEvent,
  type ScriptedEvent,
  type TimelineEntry,
} from './sandboxTimeline';

/**
 * `npm run sandbox`: the app's real code with no cloud account. Azurite in memory holds the table
 * and the resync queue; the Graph simulator answers over HTTPS and issues tokens that
 * @azure/identity fetches; the `lifecycleNotifications` function is served on loopback HTTPS and
 * receives the simulator's validation handshakes and lifecycle POSTs. Five subscriptions are put
 * under management with `applyDefinition`, simulated time advances in 5-minute sweeps
 * (`sweepAndRecord`, as the timer runs it), the simulator sends each lifecycle event and silently
 * drops one subscription, and the timeline printed is read back from what happened.
 */

export interface SandboxOptions {
  /** Keep everything running after the timeline, for the CLI, until `signal` aborts. */
  readonly keep?: boolean;
  /** Where lines go; default stdout. */
  readonly out?: (line: string) => void;
  /** Stops the sandbox (Ctrl+C); in --keep mode the only way it ends. */
  readonly signal?: AbortSignal;
  /** Longest the scripted scenario may take, in real time; default 50 s. */
  readonly deadlineMs?: number;
}

export interface SandboxResult {
  /** Every lifecycle event and the removal were handled, and the final health is good. */
  readonly ok: boolean;
  readonly timeline: readonly TimelineEntry[];
  readonly events: readonly HandledEvent[];
  /** Every resync message that arrived on the Storage queue. */
  readonly resyncMessages: readonly ResyncMessage[];
  readonly health: HealthView;
  /** What was not handled, or why health is not good; empty when `ok`. */
  readonly problems: readonly string[];
  /** Simulated time start and end, ISO 8601. */
  readonly simulated: { readonly from: string; readonly to: string };
  /** Real time the scenario took. */
  readonly wallMs: number;
}

/** A tenant for the sandbox; the simulator accepts any GUID. */
export const sandboxTenant = '5a4db0c1-5a4d-4b0c-8a4d-b0c15a4db0c1';

const minute = 60_000;

/** What an operator would send for each (`apply --file`, `PUT /api/subscriptions/{key}`). */
function sandboxDefinitions(ownerUrl: string): Array<Record<string, unknown>> {
  const user = '0f8c3a52-6d2e-4b7a-9c1d-2e5f7a9b3c41';
  const common = { tenantId: sandboxTenant, notificationUrl: ownerUrl };
  return [
    {
      ...common,
      // NOTE: the 60-minute case, on a resource an app-only credential can keep alive
      // (presence has no application permission: apply refuses it).
      key: 'channel-ops',
      resource: 'teams/3f1c9a7e-2b4d-4e6f-8a0c-1d2e3f4a5b6c/channels/19:ops@thread.tacv2/messages',
      changeType: 'created,updated',
      lifetimeMinutes: 60,
    },
    {
      ...common,
      key: 'chat-launch-team',
      resource: 'chats/19:7c1e5a0b3d2f4e6a8b9c0d1e2f3a4b5c@thread.v2/messages',
      changeType: 'created,updated',
      // NOTE: kept at 60 minutes (chat messages allow 4,320) so it is renewed during the run.
      lifetimeMinutes: 60,
    },
    {
      ...common,
      key: 'mail-ada',
      resource: `users/${user}/messages`,
      changeType: 'created',
    },
    {
      ...common,
      key: 'drive-team-docs',
      resource: 'drives/b!Xq3ZsTn0m0WyP1o4r2kLzA/root',
      // Drive roots support only `updated` (https://learn.microsoft.com/graph/api/resources/subscription).
      changeType: 'updated',
    },
    {
      ...common,
      key: 'users-directory',
      resource: 'users',
      changeType: 'updated,deleted',
    },
  ];
}

type Step =
  | { readonly atMs: number; readonly kind: 'sweep' }
  | {
      readonly atMs: number;
      readonly kind: 'lifecycle';
      readonly key: string;
      readonly event: LifecycleEvent;
    }
  | { readonly atMs: number; readonly kind: 'lose'; readonly key: string };

/** The last sweep runs at this simulated time; the run is this long. */
const lastSweepMinute = 145;
/**
 * NOTE: the timer fires half a minute into each 5-minute slot, so that a subscription created or
 * renewed at a whole minute is due at the sweep 40 minutes later, not a few milliseconds after
 * it (which would move the renewal to the next sweep: harmless, but a muddier story).
 */
const sweepOffsetMs = 30_000;

/**
 * The script: a sweep every 5 simulated minutes, and what Graph does in between. The channel
 * and the chat (55-minute expiry) are renewed at T+0:40, 1:25 and 2:10; the other lifetimes are days.
 * - T+0:20 `reauthorizationRequired` for the mail: reauthorized inline.
 * - T+0:30 `missed` for the directory: a resync message.
 * - T+0:42 `reauthorizationRequired` for the channel, renewed 2 minutes before: it waits out
 *   Graph's 10-minute rule and the sweep reauthorizes it.
 * - T+0:45 the chat is dropped without a word: its next renewal gets 404 and recreates it.
 * - T+1:00 `subscriptionRemoved` for the drive: recreated inline, with a resync message.
 */
function sandboxScript(): Step[] {
  const steps: Step[] = [];
  for (let m = 5; m <= lastSweepMinute; m += 5) {
    steps.push({ atMs: m * minute + sweepOffsetMs, kind: 'sweep' });
  }
  steps.push(
    { atMs: 20 * minute, kind: 'lifecycle', key: 'mail-ada', event: 'reauthorizationRequired' },
    { atMs: 30 * minute, kind: 'lifecycle', key: 'users-directory', event: 'missed' },
    {
      atMs: 42 * minute,
      kind: 'lifecycle',
      key: 'channel-ops',
      event: 'reauthorizationRequired',
    },
    { atMs: 45 * minute, kind: 'lose', key: 'chat-launch-team' },
    {
      atMs: 60 * minute,
      kind: 'lifecycle',
      key: 'drive-team-docs',
      event: 'subscriptionRemoved',
    },
  );
  return steps.sort((a, b) => a.atMs - b.atMs);
}

const scenarioMs = lastSweepMinute * minute + sweepOffsetMs;

const lifecycleAnswerSchema = z.object({
  received: z.number(),
  queued: z.number(),
});

/** Runs the lifecycleIntake queue function over what the intake queue holds, as the host would. */
async function runIntakeQueue(deps: AppDependencies): Promise<IntakeResult[]> {
  const intake = deps.intake;
  const results: IntakeResult[] = [];
  if (intake === undefined) return results;
  const handler = lifecycleIntakeHandler(deps);
  for (let batch = await intake.receive(32, 60); batch.length > 0;) {
    for (const message of batch) {
      results.push(
        await handler(message.body, new InvocationContext({ functionName: 'lifecycleIntake' })),
      );
      await intake.remove(message);
    }
    batch = await intake.receive(32, 60);
  }
  return results;
}

function intakeText(results: readonly IntakeResult[]): string {
  if (results.length === 0) return 'lifecycleIntake queue function: nothing queued';
  const recorded = results.reduce((n, r) => n + r.recorded, 0);
  const actions = results
    .flatMap((r) => r.actions)
    .map((a) => `${a.action} ${a.outcome}`)
    .join(', ');
  return `lifecycleIntake queue function acted on it: ${recorded} recorded${actions === '' ? '' : ` -> ${actions}`}`;
}

/**
 * Stops what was started, last first; never throws (each failure is reported). Once run, what is
 * added later (a part that finished starting after an interruption) is stopped at once.
 */
class Cleanup {
  private readonly steps: Array<{ name: string; run: () => Promise<void> | void }> = [];
  private closed = false;

  constructor(private readonly report: (line: string) => void) {}

  add(name: string, run: () => Promise<void> | void): void {
    if (this.closed) {
      void this.stop({ name, run });
      return;
    }
    this.steps.push({ name, run });
  }

  async run(): Promise<void> {
    this.closed = true;
    for (const step of this.steps.splice(0).reverse()) await this.stop(step);
  }

  private async stop(step: { name: string; run: () => Promise<void> | void }): Promise<void> {
    try {
      await step.run();
    } catch (e) {
      // NOTE: one part that fails to stop must not keep the others running.
      this.report(`sandbox: stopping ${step.name} failed: ${describe(e)}`);
    }
  }
}

class Interrupted extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Interrupted';
  }
}

export async function runSandbox(options: SandboxOptions = {}): Promise<SandboxResult> {
  const out =
    options.out ??
    ((line: string) => {
      process.stdout.write(`${line}\n`);
    });
  const cleanup = new Cleanup(out);
  const tempDir = mkdtempSync(path.join(tmpdir(), 'graph-subs-sandbox-'));
  cleanup.add('the temporary directory', () => {
    rmSync(tempDir, { recursive: true, force: true });
  });

  // The scenario must end by itself: a deadline (and Ctrl+C) stop it, whatever step it is in.
  const stopping = new AbortController();
  const interrupted = new Promise<never>((_, reject) => {
    stopping.signal.addEventListener(
      'abort',
      () => {
        reject(stopping.signal.reason as Error);
      },
      { once: true },
    );
  });
  interrupted.catch(() => undefined);
  const deadlineMs = options.deadlineMs ?? 50_000;
  const deadline = setTimeout(() => {
    stopping.abort(new Interrupted(`the scenario did not finish within ${deadlineMs / 1000} s`));
  }, deadlineMs);
  const onAbort = () => {
    stopping.abort(new Interrupted('interrupted'));
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted === true) onAbort();

  try {
    const started = Promise.race([
      runScenario(out, cleanup, tempDir, stopping.signal),
      interrupted,
    ]);
    const scenario = await started.finally(() => {
      clearTimeout(deadline);
    });
    if (options.keep === true) {
      options.signal?.removeEventListener('abort', onAbort);
      await scenario.keepRunning(options.signal);
    }
    return scenario.result;
  } finally {
    clearTimeout(deadline);
    options.signal?.removeEventListener('abort', onAbort);
    await cleanup.run();
  }
}

interface ScenarioOutcome {
  readonly result: SandboxResult;
  keepRunning(signal: AbortSignal | undefined): Promise<void>;
}

/**
 * Starts everything, runs the script and checks the outcome. `stop` aborts when the deadline
 * passes or the user interrupts: the run then ends at the next step boundary (and the sweep or
 * Graph call in flight is aborted), while `runSandbox` stops what was started.
 */
async function runScenario(
  out: (line: string) => void,
  cleanup: Cleanup,
  tempDir: string,
  stop: AbortSignal,
): Promise<ScenarioOutcome> {
  const checkpoint = () => {
    stop.throwIfAborted();
  };
  const wallStart = Date.now();
  // NOTE: simulated time starts in the past, so that the run ends at the real now. Then the CLI
  // (which runs on the system clock) and the sandbox agree on every expiry, due time and sweep
  // time; with --keep the clocks simply follow real time from there, without a jump.
  const start = new Date(Date.now() - scenarioMs);
  // NOTE: 'real' sleeps: the lifecycle function races its work against 3-second budgets on this
  // clock, which must take real time. Simulated time moves only by `advanceTo` between steps.
  const clock = new TestClock(start, 'real');

  out('graph-subscription-keeper sandbox: the real app code, no cloud account');
  const azurite = await startAzurite();
  cleanup.add('Azurite', () => stopAzurite(azurite));
  checkpoint();
  const sim = await startGraphSimulator({ now: () => clock.now() });
  cleanup.add('the Graph simulator', () => sim.stop());
  checkpoint();
  const owner = await startWebhookReceiver(sim.tls);
  cleanup.add("the owner's endpoint", () => owner.stop());

  // NOTE: the function is served before the app is built: its URL is one of the app settings.
  const lifecycle: { handler?: FunctionsHttpHandler } = {};
  let validationsAnswered = 0;
  const appLog: EntryDraft[] = [];
  const served = await serveHandler(
    sim.tls,
    (request, context) => {
      if (request.query.has('validationToken')) validationsAnswered++;
      if (lifecycle.handler === undefined) return Promise.resolve({ status: 503 });
      return lifecycle.handler(request, context);
    },
    {
      onLog: (line) => {
        if (isProblemLevel(line.level)) {
          appLog.push(logDraft(clock.now(), line.level, line.message, line.properties));
        }
      },
    },
  );
  cleanup.add('the lifecycle function', () => served.stop());
  checkpoint();

  // The app settings an operator would set, pointing at the local stand-ins.
  const settings: Record<string, string> = {
    STORAGE_CONNECTION: azurite.connectionString,
    SUBSCRIPTIONS_TABLE: 'subscriptions',
    RESYNC_QUEUE: 'subscription-resync',
    LIFECYCLE_QUEUE: 'lifecycle-intake',
    GRAPH_BASE_URL: sim.graphUrl,
    GRAPH_TENANT_ID: sandboxTenant,
    GRAPH_CLIENT_ID: sim.clientId,
    GRAPH_CLIENT_SECRET: sim.clientSecret,
    GRAPH_AUTHORITY_HOST: sim.authorityHost,
    GRAPH_DISABLE_INSTANCE_DISCOVERY: 'true',
    LIFECYCLE_NOTIFICATION_URL: served.url,
  };
  const config = loadConfig(settings);
  const store = TableSubscriptionStore.fromConfig(config.storage);
  const resync = QueueResyncPublisher.fromConfig(config.storage);
  const log: Logger = {
    info: () => undefined,
    warn: (message, properties) =>
      appLog.push(logDraft(clock.now(), 'warning', message, properties)),
    error: (message, properties) =>
      appLog.push(logDraft(clock.now(), 'error', message, properties)),
  };
  const deps: AppDependencies = {
    ...coreDependencies({
      config,
      clock,
      store,
      resync,
      intake: QueueLifecycleIntake.fromConfig(config.storage),
      sweepRecords: TableSweepRecords.fromConfig(config.storage),
      graph: createGraphSubscriptions(config, {
        clock,
        credentialOptions: simulatorCredentialOptions(sim),
        trustedCaCertificates: sim.tls.ca,
        retry: { timeoutMs: config.graphTimeoutMs },
      }),
    }),
    log,
  };
  lifecycle.handler = lifecycleHandler(deps);
  // NOTE: the owner would create its queue before listening on it; peeking needs it to exist.
  await resync.queue.createIfNotExists();

  const ownerUrl = `${owner.origin}/api/notifications`;
  const definitions = sandboxDefinitions(ownerUrl);
  out(
    `  storage    Azurite in memory: table "${config.storage.table}", queue "${config.storage.resyncQueue}" (127.0.0.1:${azurite.tablePort}, :${azurite.queuePort})`,
  );
  out(`  Graph      simulator ${sim.graphUrl} (HTTPS; app tokens from its Entra-like endpoint)`);
  out(
    `  lifecycle  the lifecycleNotifications function at ${served.origin}/api/lifecycle (loopback HTTPS)`,
  );
  out(`  owner      ${ownerUrl} (stands in for the owning application's webhook)`);
  out(
    `  time       simulated, ${formatDuration(scenarioMs)} in 5-minute sweeps, ending at the real now`,
  );
  out('');
  out('Subscriptions put under management:');
  const resourceWidth = Math.max(...definitions.map((d) => String(d.resource).length)) + 2;
  for (const d of definitions) {
    const resource = String(d.resource);
    const max = maxLifetimeFor(resource, { includeResourceData: false }).maxMinutes;
    const lifetime = typeof d.lifetimeMinutes === 'number' ? d.lifetimeMinutes : max;
    out(
      `  ${String(d.key).padEnd(18)}${resource.padEnd(resourceWidth)}${String(d.changeType).padEnd(17)}${lifetime} min${lifetime < max ? ` (max ${max})` : ''}`,
    );
  }
  out('');
  out('Timeline (T+h:mm is simulated time since the start):');

  const observer = new SandboxObserver({
    store,
    calls: () => sim.calls(),
    queue: resync.queue,
    start,
    now: () => clock.now(),
  });
  const keyWidth = 18;
  let ownerValidations = 0;
  let functionValidations = 0;
  const print = (entries: readonly TimelineEntry[]) => {
    for (const entry of entries) out(formatEntry(entry, start, keyWidth));
  };
  /** The step's facts that only this process sees: handshakes answered, what the app logged. */
  const stepFacts = (): EntryDraft[] => {
    // NOTE: a log line names its key; its resource comes from the row.
    const drafts = appLog.splice(0).map((d) => ({
      ...d,
      resource:
        d.resource ??
        (d.key === null ? null : (observer.currentRows.get(d.key)?.definition.resource ?? null)),
    }));
    const ownerNow = owner.requests.filter((r) => r.validationToken !== null).length;
    if (ownerNow > ownerValidations || validationsAnswered > functionValidations) {
      drafts.push({
        at: clock.now(),
        key: null,
        resource: null,
        graphId: null,
        kind: 'handshake',
        text: `Graph's validation handshakes answered: lifecycle function x${validationsAnswered - functionValidations}, owner's endpoint x${ownerNow - ownerValidations}`,
      });
      ownerValidations = ownerNow;
      functionValidations = validationsAnswered;
    }
    return drafts;
  };
  const observe = async (extra: readonly EntryDraft[] = []) => {
    print(await observer.observe([...extra, ...stepFacts()]));
  };

  // T+0:00: the operator puts every definition under management (stored, then created at once).
  for (const input of definitions) {
    const parsed = parseDefinitionInput(input, { config });
    if (!parsed.ok) {
      throw new Error(
        `sandbox definition ${String(input.key)} is invalid: ${parsed.problems.map((p) => `${p.field} ${p.message}`).join('; ')}`,
      );
    }
    checkpoint();
    await applyDefinition(deps, parsed.definition);
  }
  await observe();

  const scripted: ScriptedEvent[] = [];
  const sweeps: SweepSummary[] = [];
  for (const step of sandboxScript()) {
    checkpoint();
    clock.advanceTo(new Date(start.getTime() + step.atMs));
    if (step.kind === 'sweep') {
      const summary = await sweepAndRecord(deps, { ...deps.sweepOptions, signal: stop });
      sweeps.push(summary);
      await observe(summary.due > 0 ? [sweepDraft(summary)] : []);
      continue;
    }
    const row = observer.currentRows.get(step.key);
    const graphId = row?.graphSubscriptionId;
    const at = clock.now();
    const on = {
      at,
      key: step.key,
      resource: row?.definition.resource ?? null,
      graphId: graphId ?? null,
    };
    if (graphId === undefined) {
      // Recorded as not handled; the check at the end says why.
      scripted.push({
        kind: step.kind === 'lose' ? 'lost' : step.event,
        key: step.key,
        graphId,
        at,
      });
      continue;
    }
    if (step.kind === 'lose') {
      sim.loseSubscription(graphId);
      scripted.push({ kind: 'lost', key: step.key, graphId, at });
      await observe([
        {
          ...on,
          kind: 'lost',
          text: `Graph dropped ${short(graphId)} without telling anyone (simulator)`,
        },
      ]);
      continue;
    }
    const [answer] = await sim.sendLifecycleEvents([
      { subscriptionId: graphId, event: step.event },
    ]);
    scripted.push({ kind: step.event, key: step.key, graphId, at, answerStatus: answer?.status });
    await observe([
      { ...on, kind: 'lifecycleEvent', text: lifecycleText(step.event, graphId, answer) },
    ]);
    // The queue trigger fires right after: the lifecycleIntake function on what was queued.
    const acted = await runIntakeQueue(deps);
    await observe([{ ...on, kind: 'lifecycleEvent', text: intakeText(acted) }]);
  }

  checkpoint();
  const health = await healthReport(deps);
  const end = clock.now();
  print([
    observer.add({
      at: end,
      key: null,
      resource: null,
      graphId: null,
      kind: 'health',
      text: healthText(health, observer),
    }),
  ]);

  const events = scripted.map((e) => checkHandled(e, observer));
  const quiet = sweeps.filter((s) => s.due === 0).length;
  out('');
  out(
    `${sweeps.length} sweeps ran, one every 5 simulated minutes; ${quiet} found nothing due. ${sim.calls().filter((c) => c.kind !== 'token' && c.kind !== 'other').length} Graph calls in all.`,
  );
  out('');
  out('Lifecycle events and the silent removal:');
  for (const e of events) {
    out(
      `  ${e.handled ? 'handled    ' : 'NOT HANDLED'}  ${e.kind.padEnd(24)}${e.key.padEnd(keyWidth)}${e.how}`,
    );
  }
  const problems = [
    ...events.filter((e) => !e.handled).map((e) => `${e.kind} for ${e.key}: ${e.how}`),
    ...expectedKinds
      .filter((k) => !events.some((e) => e.kind === k))
      .map((k) => `no ${k} was sent`),
    ...health.reasons.map((r) => `health: ${r}`),
  ];
  const wallMs = Date.now() - wallStart;
  out('');
  out(`Final health: ${healthText(health, observer)}`);
  if (problems.length === 0) {
    out(
      `Sandbox finished in ${(wallMs / 1000).toFixed(1)} s: every lifecycle event and the removal were handled, health is good.`,
    );
  } else {
    out(`Sandbox finished in ${(wallMs / 1000).toFixed(1)} s with problems:`);
    for (const p of problems) out(`  - ${p}`);
  }

  const result: SandboxResult = {
    ok: problems.length === 0,
    timeline: observer.timeline,
    events,
    resyncMessages: observer.messages,
    health,
    problems,
    simulated: { from: start.toISOString(), to: end.toISOString() },
    wallMs,
  };

  return {
    result,
    keepRunning: async (signal) => {
      // From here simulated time is real time: the CLI and the sandbox see the same now.
      clock.advanceTo(new Date());
      const caFile = path.join(tempDir, 'graph-simulator-ca.pem');
      writeFileSync(caFile, sim.tls.ca);
      const exampleFile = path.join(tempDir, 'example-definitions.json');
      writeFileSync(
        exampleFile,
        `${JSON.stringify(
          [
            {
              key: 'calendar-ada',
              tenantId: sandboxTenant,
              resource: 'users/0f8c3a52-6d2e-4b7a-9c1d-2e5f7a9b3c41/events',
              changeType: 'created,updated,deleted',
              notificationUrl: ownerUrl,
            },
          ],
          null,
          2,
        )}\n`,
      );
      printKeepInstructions(out, { ...settings, NODE_EXTRA_CA_CERTS: caFile }, exampleFile);
      await keepRunning(signal, {
        sweep: async () => {
          const summary = await sweepAndRecord(deps, deps.sweepOptions);
          await observe(summary.due > 0 ? [sweepDraft(summary)] : []);
        },
        observe: () => observe(),
        report: out,
      });
      out('sandbox: stopping');
    },
  };
}

/** Grace for Azurite to close its servers after SIGTERM. */
const azuriteGraceMs = 500;

/**
 * `azurite.stop()`, without its 5-second wait. NOTE: workaround: after SIGTERM Azurite closes its
 * servers, but its process stays alive on the IPC channel to this one (devkit/azurite.ts
 * forks it with one and `stop()` never disconnects it), so `stop()` waits out its 5-second
 * SIGKILL fallback every time. The data is in memory and discarded either way, so once the
 * servers had their grace the process is killed at once.
 */
async function stopAzurite(azurite: RunningAzurite): Promise<void> {
  const stopped = azurite.stop();
  let timer: NodeJS.Timeout | undefined;
  const graceOver = new Promise<'grace'>((resolve) => {
    timer = setTimeout(() => {
      resolve('grace');
    }, azuriteGraceMs);
  });
  const first = await Promise.race([stopped.then(() => 'stopped' as const), graceOver]);
  clearTimeout(timer);
  if (first === 'grace') {
    try {
      process.kill(azurite.pid, 'SIGKILL');
    } catch (e) {
      // It exited between the two: nothing left to stop.
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
    }
  }
  await stopped;
}

const expectedKinds: ReadonlyArray<ScriptedEvent['kind']> = [
  'reauthorizationRequired',
  'subscriptionRemoved',
  'missed',
  'lost',
];

/**
 * --keep: a sweep every 5 minutes as the timer would run it, and the timeline goes on (what the
 * CLI does shows up too), until `signal` aborts. One thing at a time: a sweep and an observation
 * never overlap.
 */
async function keepRunning(
  signal: AbortSignal | undefined,
  work: {
    readonly sweep: () => Promise<void>;
    readonly observe: () => Promise<void>;
    readonly report: (line: string) => void;
  },
): Promise<void> {
  let chain = Promise.resolve();
  const serially = (step: () => Promise<void>) => {
    chain = chain.then(step).catch((e: unknown) => {
      work.report(`sandbox: ${describe(e)}`);
    });
  };
  const sweepTimer = setInterval(() => {
    serially(work.sweep);
  }, 5 * minute);
  const observeTimer = setInterval(() => {
    serially(work.observe);
  }, 5_000);
  try {
    await new Promise<void>((resolve) => {
      if (signal === undefined) return; // runs until the process is stopped
      if (signal.aborted) resolve();
      signal.addEventListener(
        'abort',
        () => {
          resolve();
        },
        { once: true },
      );
    });
  } finally {
    clearInterval(sweepTimer);
    clearInterval(observeTimer);
    await chain;
  }
}

function printKeepInstructions(
  out: (line: string) => void,
  env: Readonly<Record<string, string>>,
  exampleFile: string,
): void {
  const names = Object.keys(env);
  out('');
  out('The sandbox keeps running: Azurite, the Graph simulator and the lifecycle function stay');
  out('up, a sweep runs every 5 minutes, and the timeline goes on below. Simulated time now');
  out('follows real time. Ctrl+C stops everything and removes the temporary files.');
  out('');
  out('In another terminal, in this directory, paste:');
  out('');
  names.forEach((name, i) => {
    const prefix = i === 0 ? 'export ' : '  ';
    const suffix = i === names.length - 1 ? '' : ' \\';
    out(`${prefix}${name}=${shellQuote(env[name] ?? '')}${suffix}`);
  });
  out('npm run cli -- list');
  out('');
  out(`Then try: npm run cli -- status, npm run cli -- sweep --dry-run,`);
  out(`          npm run cli -- apply --file ${exampleFile}`);
  out('');
  out("GRAPH_CLIENT_SECRET is the Graph simulator's throwaway secret for this run, and the key in");
  out("STORAGE_CONNECTION is Azurite's published development key: both are local to this sandbox,");
  out("not credentials of any real tenant or account. NODE_EXTRA_CA_CERTS trusts the simulator's");
  out('test CA in the CLI process only.');
  out('');
}

/** Single-quoted for POSIX shells. */
function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:=@-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

function sweepDraft(summary: SweepSummary): EntryDraft {
  const actions = Object.entries(summary.counts)
    .map(([action, outcomes]) => {
      const parts = Object.entries(outcomes).map(([outcome, n]) => `${n} ${outcome}`);
      return `${action} ${parts.join(', ')}`;
    })
    .join('; ');
  return {
    at: new Date(summary.startedAt),
    key: null,
    resource: null,
    graphId: null,
    kind: 'sweep',
    text: `sweep: ${summary.due} due -> ${actions === '' ? 'nothing to do' : actions}${summary.failureCount > 0 ? ` (${summary.failureCount} failed)` : ''}`,
  };
}

function lifecycleText(
  event: LifecycleEvent,
  graphId: string,
  answer: { status: number; body: string } | undefined,
): string {
  const sent = `Graph sent ${event} for ${short(graphId)}`;
  if (answer === undefined) return `${sent}; no answer`;
  let parsed: z.infer<typeof lifecycleAnswerSchema> | undefined;
  try {
    const json: unknown = JSON.parse(answer.body);
    const result = lifecycleAnswerSchema.safeParse(json);
    parsed = result.success ? result.data : undefined;
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
  }
  const detail =
    parsed === undefined ? '' : ` (received ${parsed.received}, queued ${parsed.queued})`;
  return `${sent}; the lifecycle function answered ${answer.status}${detail}`;
}

function healthText(health: HealthView, observer: SandboxObserver): string {
  const counts = Object.entries(health.counts)
    .filter(([, n]) => n > 0)
    .map(([status, n]) => `${n} ${status}`)
    .join(', ');
  const soonest = health.soonestExpiry;
  const sweep = health.lastSweep;
  const parts = [
    `${health.healthy ? 'healthy' : 'NOT healthy'}: ${health.total} subscriptions (${counts === '' ? 'none' : counts})`,
    soonest === null
      ? undefined
      : `soonest expiry ${soonest.key} in ${formatDuration(Date.parse(soonest.expirationDateTime) - Date.parse(health.checkedAt))}`,
    sweep === null
      ? 'no sweep recorded'
      : `last sweep ${observer.offset(new Date(sweep.startedAt))}, ${sweep.failureCount === 0 && sweep.unexpectedErrors === 0 ? 'clean' : `${sweep.failureCount} failures`}`,
    `${health.resyncsPending} resync request(s) await the owner's acknowledgement`,
    ...health.reasons,
  ];
  return parts.filter((p) => p !== undefined).join('; ');
}

function isProblemLevel(level: LogLevel): boolean {
  return level === 'warning' || level === 'error' || level === 'critical';
}

function logDraft(
  at: Date,
  level: string,
  message: string,
  properties: LogProperties | Readonly<Record<string, unknown>> | undefined,
): EntryDraft {
  const text = (name: string): string | undefined => {
    const v = properties?.[name];
    return typeof v === 'string' || typeof v === 'number' ? String(v) : undefined;
  };
  const details = ['action', 'event', 'status', 'code', 'reason', 'error']
    .map((name) => {
      const v = text(name);
      return v === undefined ? undefined : `${name} ${v}`;
    })
    .filter((v) => v !== undefined);
  const graphId = text('graphId');
  return {
    at,
    key: text('key') ?? null,
    resource: null,
    graphId: graphId ?? null,
    kind: 'warning',
    text: `app logged ${level === 'warning' ? 'a warning' : `an ${level}`}: ${message}${details.length > 0 ? ` (${details.join(', ')})` : ''}`,
  };
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

const usage = `Usage: npm run sandbox [-- --keep]

Runs the app's real code against Azurite (in memory) and the bundled Graph simulator, with no
cloud account: puts five subscriptions under management, advances simulated time, has the
simulator send every lifecycle event and drop one subscription, and prints what the app did.
Ends by itself (exit 0 when everything was handled, 1 otherwise).

  --keep   keep everything running afterwards and print the settings for the CLI; Ctrl+C ends it.
  --help   show this help.`;

async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const unknown = argv.filter((a) => a !== '--keep');
  if (unknown.length > 0) {
    process.stderr.write(`Unknown argument: ${unknown.join(' ')}\n\n${usage}\n`);
    return 2;
  }
  const controller = new AbortController();
  const stop = () => {
    controller.abort();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const result = await runSandbox({ keep: argv.includes('--keep'), signal: controller.signal });
    return result.ok ? 0 : 1;
  } catch (e) {
    process.stderr.write(`sandbox failed: ${describe(e)}\n`);
    return 1;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    // NOTE: exit explicitly: a client's idle keep-alive socket must not hold the process open.
    process.exit(code);
  });
}
