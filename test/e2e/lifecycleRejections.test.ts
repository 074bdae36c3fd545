import { randomUUID } from 'node:crypto';
import { HttpRequest, HttpResponse } from '@azure/functions';
import { lifecycleIntakeHandler } from '../../functions/lifecycleIntake';
import { lifecycleHandler } from '../../functions/lifecycleNotifications';
import type { IntakeResult } from '../../shared/lifecycle/handleLifecycleNotifications';
import { runSweep } from '../../shared/renewal/sweep';
import type { StoredSubscription } from '../../shared/subscriptions/model';
import { startHarness, type Harness } from '../../devkit/appHarness';
import { capturingContext, type HandlerLogLine } from '../../devkit/lifecycleServer';

/**
 * Requests that are not (our) lifecycle notifications: each gets its documented status and
 * changes nothing, neither a row (ETags compared) nor anything on Graph (no call at all).
 * Real `HttpRequest`s go through the lifecycle handler on the harness's core.
 */

const maxBodyBytes = 2048;
const url = 'https://keeper.example.com/api/lifecycle?code=function-key';

let h: Harness;
let rows: StoredSubscription[];

beforeAll(async () => {
  h = await startHarness({
    clock: 'real',
    env: { LIFECYCLE_MAX_BODY_BYTES: String(maxBodyBytes) },
  });
  await h.manage({ key: 'alpha' });
  await h.manage({ key: 'beta' });
  await runSweep(h.deps, h.deps.sweepOptions);
  rows = [await h.read('alpha'), await h.read('beta')];
  for (const row of rows) expect(row.graphSubscriptionId).toBeDefined();
});

afterAll(async () => {
  await h.stop();
});

interface Outcome {
  readonly status: number;
  readonly body: Record<string, unknown>;
  /** Lines logged by the endpoint and by the queue run after it. */
  readonly logs: readonly HandlerLogLine[];
  /** What the queue run after the answer did (counts summed over its messages). */
  readonly acted: { recorded: number; forged: number; unknown: number; messages: number };
  /** Row ETags before and after. */
  readonly etags: { readonly before: string[]; readonly after: string[] };
}

async function etags(): Promise<string[]> {
  return Promise.all(['alpha', 'beta'].map(async (k) => (await h.read(k)).etag));
}

/** Sends one request to the handler and records what changed around it. */
async function send(request: HttpRequest): Promise<Outcome> {
  const before = await etags();
  h.sim.resetCalls();
  const logs: HandlerLogLine[] = [];
  const response = new HttpResponse(
    await lifecycleHandler(h.deps)(
      request,
      capturingContext((l) => logs.push(l)),
    ),
  );
  const body = (await response.json()) as Record<string, unknown>;
  // The queue trigger, called as the host calls it, on what the endpoint queued.
  const acted = { recorded: 0, forged: 0, unknown: 0, messages: 0 };
  const intake = h.deps.intake!;
  for (let batch = await intake.receive(32, 30); batch.length > 0;) {
    for (const message of batch) {
      const result: IntakeResult = await lifecycleIntakeHandler(h.deps)(
        message.body,
        capturingContext((l) => logs.push(l)),
      );
      acted.recorded += result.recorded;
      acted.forged += result.forged;
      acted.unknown += result.unknown;
      acted.messages++;
      await intake.remove(message);
    }
    batch = await intake.receive(32, 30);
  }
  return { status: response.status, body, logs, acted, etags: { before, after: await etags() } };
}

function jsonRequest(
  body: string | Uint8Array,
  headers: Record<string, string> = { 'content-type': 'application/json' },
): HttpRequest {
  return new HttpRequest({
    method: 'POST',
    url,
    headers,
    body: typeof body === 'string' ? { string: body } : { bytes: body },
  });
}

function item(row: StoredSubscription, overrides: Record<string, unknown> = {}) {
  return {
    subscriptionId: row.graphSubscriptionId,
    subscriptionExpirationDateTime: '2026-12-01T10:15:00.0000000+00:00',
    tenantId: row.definition.tenantId,
    clientState: row.clientState,
    lifecycleEvent: 'reauthorizationRequired',
    ...overrides,
  };
}

function expectNothingChanged(outcome: Outcome): void {
  expect(outcome.etags.after).toEqual(outcome.etags.before);
  expect(h.sim.calls()).toEqual([]);
}

describe('items that are not ours', () => {
  test('when the clientState is wrong, then 202 with the item ignored, a warning naming the Graph id and never a clientState, and nothing changes', async () => {
    const forged = 'forged-client-state-value';
    const alpha = rows[0]!;

    const outcome = await send(
      jsonRequest(JSON.stringify({ value: [item(alpha, { clientState: forged })] })),
    );

    expect(outcome.status).toBe(202);
    expect(outcome.body).toEqual({ received: 1, queued: 1 });
    expect(outcome.acted).toMatchObject({ recorded: 0, forged: 1 });
    expectNothingChanged(outcome);
    const warnings = outcome.logs.filter((l) => l.level === 'warning');
    expect(warnings).toEqual([
      expect.objectContaining({
        message: 'lifecycle items ignored',
        properties: expect.objectContaining({ forged: 1 }) as unknown,
      }),
    ]);
    for (const line of outcome.logs) {
      expect(line.text).not.toContain(forged);
      expect(line.text).not.toContain(alpha.clientState);
    }
  });

  test('when the clientState is missing or null, then the item is ignored as forged', async () => {
    const alpha = rows[0]!;
    const withoutClientState = item(alpha, { clientState: undefined }); // dropped by JSON

    const outcome = await send(
      jsonRequest(
        JSON.stringify({ value: [withoutClientState, item(alpha, { clientState: null })] }),
      ),
    );

    expect(outcome.status).toBe(202);
    expect(outcome.body).toEqual({ received: 2, queued: 2 });
    expect(outcome.acted).toMatchObject({ recorded: 0, forged: 2 });
    expectNothingChanged(outcome);
  });

  test('when the Graph id is unknown, then 202 with the item ignored, a warning naming the id, and nothing changes', async () => {
    const unknownId = randomUUID();

    const outcome = await send(
      jsonRequest(
        JSON.stringify({
          value: [item(rows[0]!, { subscriptionId: unknownId, clientState: 'whatever-it-says' })],
        }),
      ),
    );

    expect(outcome.status).toBe(202);
    expect(outcome.body).toEqual({ received: 1, queued: 1 });
    expect(outcome.acted).toMatchObject({ recorded: 0, unknown: 1 });
    expectNothingChanged(outcome);
    expect(outcome.logs.filter((l) => l.level === 'warning')).toEqual([
      expect.objectContaining({
        message: 'lifecycle items ignored',
        properties: expect.objectContaining({ unknown: 1 }) as unknown,
      }),
    ]);
    for (const line of outcome.logs) expect(line.text).not.toContain('whatever-it-says');
  });

  test('when the tenant in the payload is not the subscription’s, then the item is still matched by Graph id and checked', async () => {
    const outcome = await send(
      jsonRequest(
        JSON.stringify({
          value: [item(rows[0]!, { tenantId: randomUUID(), clientState: 'wrong' })],
        }),
      ),
    );

    expect(outcome.acted).toMatchObject({ recorded: 0, forged: 1 });
    expectNothingChanged(outcome);
  });

  test('when a change notification (changeType, no lifecycleEvent) reaches the lifecycle URL, then 202 and it is ignored', async () => {
    const outcome = await send(
      jsonRequest(
        JSON.stringify({
          value: [
            item(rows[0]!, {
              lifecycleEvent: undefined,
              changeType: 'created',
              resource: 'users/x/messages/y',
            }),
          ],
        }),
      ),
    );

    expect(outcome.status).toBe(202);
    expect(outcome.body).toEqual({ received: 1, queued: 0 });
    expect(outcome.acted.messages).toBe(0);
    expectNothingChanged(outcome);
  });
});

describe('requests that are not lifecycle notifications', () => {
  test.each([
    ['truncated JSON', '{"value": [{"subscriptionId": "x"'],
    ['an empty body', ''],
    ['JSON that is not a collection', '{"value": "reauthorizationRequired"}'],
    ['an empty collection', '{"value": []}'],
  ])(
    'when the body is %s, then 400 with a clear message and nothing changes',
    async (_name, body) => {
      const outcome = await send(jsonRequest(body));

      expect(outcome.status).toBe(400);
      expect(outcome.body.error).toEqual(expect.stringMatching(/JSON|collection/));
      expectNothingChanged(outcome);
    },
  );

  test('when an item has no subscriptionId, then 202, the item is skipped with a warning naming the field, and nothing changes', async () => {
    const outcome = await send(
      jsonRequest('{"value": [{"lifecycleEvent": "missed", "clientState": "skipped-secret"}]}'),
    );

    expect(outcome.status).toBe(202);
    expect(outcome.body).toMatchObject({ received: 0, queued: 0 });
    const warning = outcome.logs.find((l) => l.message === 'lifecycle item skipped');
    expect(warning?.properties).toMatchObject({
      index: 0,
      reason: expect.stringContaining('subscriptionId') as unknown,
    });
    expect(JSON.stringify(outcome.logs)).not.toContain('skipped-secret');
    expectNothingChanged(outcome);
  });

  test('when the body is not UTF-8, then 400 and nothing changes', async () => {
    const outcome = await send(jsonRequest(new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])));

    expect(outcome.status).toBe(400);
    expect(outcome.body.error).toMatch(/UTF-8/);
    expectNothingChanged(outcome);
  });

  test.each([
    ['text/plain', { 'content-type': 'text/plain' }],
    ['application/xml', { 'content-type': 'application/xml' }],
    ['application/x-www-form-urlencoded', { 'content-type': 'application/x-www-form-urlencoded' }],
  ])('when the content type is %s, then 415 and nothing changes', async (_name, headers) => {
    const valid = JSON.stringify({ value: [item(rows[0]!, { lifecycleEvent: 'missed' })] });

    const outcome = await send(jsonRequest(valid, headers));

    expect(outcome.status).toBe(415);
    expect(outcome.body.error).toMatch(/application\/json/);
    expectNothingChanged(outcome);
  });

  test('when the body is over LIFECYCLE_MAX_BODY_BYTES and says so in Content-Length, then 413 and nothing changes', async () => {
    const padded = JSON.stringify({
      value: [item(rows[0]!, { lifecycleEvent: 'missed', padding: 'p'.repeat(maxBodyBytes) })],
    });

    const outcome = await send(
      jsonRequest(padded, {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(padded)),
      }),
    );

    expect(outcome.status).toBe(413);
    expect(outcome.body.error).toMatch(String(maxBodyBytes));
    expectNothingChanged(outcome);
  });

  test('when the body is over LIFECYCLE_MAX_BODY_BYTES without a Content-Length, then 413 and nothing changes', async () => {
    const padded = JSON.stringify({
      value: [item(rows[0]!, { lifecycleEvent: 'missed', padding: 'p'.repeat(maxBodyBytes) })],
    });

    const outcome = await send(jsonRequest(padded));

    expect(outcome.status).toBe(413);
    expectNothingChanged(outcome);
  });
});

describe('each item is checked on its own', () => {
  test('when a forged item and a genuine one share a POST, then only the genuine one is recorded', async () => {
    const [alpha, beta] = rows;

    const outcome = await send(
      jsonRequest(
        JSON.stringify({
          value: [
            item(alpha!, { lifecycleEvent: 'missed', clientState: 'forged' }),
            item(beta!, { lifecycleEvent: 'missed' }),
          ],
        }),
      ),
    );

    expect(outcome.status).toBe(202);
    expect(outcome.body).toEqual({ received: 2, queued: 2 });
    expect(outcome.acted).toMatchObject({ recorded: 1, forged: 1 });
    expect(outcome.etags.after[0]).toBe(outcome.etags.before[0]);
    expect(await h.read('beta')).toMatchObject({ resyncReason: 'missed' });
    expect(h.sim.calls()).toEqual([]);
  });
});
