import { randomUUID } from 'node:crypto';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { TableClient } from '@azure/data-tables';
import { healthSummaryHandler, liveHandler } from '../../functions/health';
import { coreDependencies, type AppDependencies } from '../../shared/composition';
import { formatLogLine, parseLogLine } from '../../shared/logger';
import type { HealthSummaryView } from '../../shared/operations/health';
import { sweepAndRecord } from '../../shared/operations/sweepOperation';
import type { SubscriptionStore } from '../../shared/store/subscriptionStore';
import { TableSweepRecords } from '../../shared/store/sweepRecords';
import { subscriptionTableClient } from '../../shared/store/tableClient';
import { startHarness, type Harness } from '../../devkit/appHarness';
import { invokeHttp } from '../support/httpInvocation';

/**
 * The cheap health routes: `/api/health/summary` (the availability test) and `/api/live` (App
 * Service's health check) answer from the row each sweep keeps, with one point read.
 */

const minute = 60_000;
const mail = () => `users/${randomUUID()}/messages`;
/** A 60-minute subscription an app-only keeper can keep (presence has no application permission). */
const channel = () => ({
  resource: `teams/${randomUUID()}/channels/19:${randomUUID().replace(/-/g, '')}@thread.tacv2/messages`,
  lifetimeMinutes: 60,
});

let h: Harness;
let deps: AppDependencies;
let requests: { method: string; url: string }[];

/** The sweep records over a table client that counts the requests it sends. */
function countingRecords(): TableSweepRecords {
  const client = subscriptionTableClient(h.config.storage.connection, h.config.storage.table);
  const counter: PipelinePolicy = {
    name: 'countRequests',
    sendRequest: (request, next) => {
      requests.push({ method: request.method, url: request.url });
      return next(request);
    },
  };
  client.pipeline.addPolicy(counter);
  return new TableSweepRecords(client);
}

beforeEach(async () => {
  h = await startHarness();
  requests = [];
  deps = {
    ...coreDependencies({
      config: h.config,
      clock: h.clock,
      store: h.store,
      graph: h.deps.graph,
      sweepRecords: countingRecords(),
    }),
    log: h.deps.log,
  };
});

afterEach(async () => {
  await h.stop();
});

const sweep = () => sweepAndRecord(deps, deps.sweepOptions);

async function summary(using: AppDependencies = deps) {
  const answer = await invokeHttp(
    healthSummaryHandler(using),
    { method: 'GET', path: '/api/health/summary' },
    'healthSummary',
  );
  expect(answer.headers.get('cache-control')).toBe('no-store');
  return { ...answer, view: answer.body as HealthSummaryView };
}

describe('GET /api/health/summary', () => {
  test('when no sweep has run, then 503 says so', async () => {
    const { status, view } = await summary();
    expect(status).toBe(503);
    expect(view).toMatchObject({ healthy: false, reasons: ['no sweep has been recorded yet'] });
  });

  test('when the sweep kept its record, then 200 from one point read, with counts and no tenant or key', async () => {
    await h.manage({ key: 'mail', resource: mail() });
    await h.manage({ key: 'channel', ...channel() });
    await sweep();
    requests.length = 0;

    const { status, view, text } = await summary();

    expect(status).toBe(200);
    expect(requests).toHaveLength(1);
    expect(requests[0]?.method).toBe('GET');
    expect(view).toMatchObject({
      healthy: true,
      reasons: [],
      fleet: {
        total: 2,
        statuses: { active: 2, pending: 0, failed: 0 },
        lapsed: 0,
        problemCount: 0,
        soonestExpiry: (await h.read('channel')).expiresAt?.toISOString(),
      },
      lastSweep: { failureCount: 0, unexpectedErrors: 0 },
    });
    // The channel subscription lives an hour: it expires within 1 hour.
    expect(view.fleet?.expiringWithinHours[0]).toEqual({ hours: 1, count: 1 });
    expect(text).not.toContain(h.tenantId);
    expect(text).not.toContain('channel"');
  });

  test('when the last sweep is older than two periods, then 503 says how long ago', async () => {
    await sweep();
    h.clock.advance(2 * h.config.sweep.periodMs + 2 * minute);

    const { status, view } = await summary();

    expect(status).toBe(503);
    expect(view.reasons).toEqual([
      expect.stringMatching(/^the last sweep finished \d+ minutes ago$/),
    ]);
  });

  test('when the state cannot be read, then 503 with a generic reason', async () => {
    const broken: AppDependencies = {
      ...deps,
      sweepRecords: new TableSweepRecords(
        TableClient.fromConnectionString(
          'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Zm9v;TableEndpoint=http://127.0.0.1:9/devstoreaccount1;',
          'nowhere',
          { allowInsecureConnection: true, retryOptions: { maxRetries: 0 } },
        ),
      ),
    };
    const { status, view } = await summary(broken);
    expect(status).toBe(503);
    expect(view.reasons).toEqual(['the health record could not be read (storage or settings)']);
  });
});

describe('GET /api/live', () => {
  test('when the state is readable, then 200 from one point read, whatever the fleet', async () => {
    const answer = await invokeHttp(
      liveHandler(deps),
      { method: 'GET', path: '/api/live' },
      'live',
    );
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ live: true });
    expect(requests.filter((r) => r.method === 'GET')).toHaveLength(1);
  });

  test('when the state cannot be read, then 503', async () => {
    const store: SubscriptionStore = deps.store;
    const broken: AppDependencies = {
      ...deps,
      store,
      sweepRecords: {
        record: () => Promise.reject(new Error('down')),
        last: () => Promise.reject(new Error('down')),
        kept: () => Promise.reject(new Error('down')),
      },
    };
    const answer = await invokeHttp(
      liveHandler(broken),
      { method: 'GET', path: '/api/live' },
      'live',
    );
    expect(answer.status).toBe(503);
    expect(answer.body).toEqual({ live: false });
  });
});

describe('sweep summary line', () => {
  test('when a sweep is recorded, then one line carries the run and fleet figures the alerts read', async () => {
    await h.manage({ key: 'mail', resource: mail() });
    h.logs.length = 0;
    await sweep();

    const lines = h.logs.filter((l) => l.message === 'sweep summary');
    expect(lines).toHaveLength(1);
    expect(lines[0]?.properties).toMatchObject({
      created: 1,
      renewed: 0,
      failures: 0,
      throttled: 0,
      unexpectedErrors: 0,
      fleetCounted: true,
      total: 1,
      lapsed: 0,
      status_active: 1,
      status_failed: 0,
      resyncsPending: 0,
      oldestUnacknowledgedResyncMinutes: null,
    });
    // The alert and workbook queries parse this line; each field they read is in it.
    const line = formatLogLine('sweep summary', lines[0]?.properties);
    const parsed = parseLogLine(line).properties ?? {};
    for (const field of ['unexpectedErrors', 'status_failed', 'lapsed', 'expiringWithinHours']) {
      expect(parsed).toHaveProperty(field);
    }
  });
});
