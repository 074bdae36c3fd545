import type { AppDependencies } from '../../shared/composition';
import { recordLifecycleEvent } from '../../shared/renewal/outcomes';
import { runSweep } from '../../shared/renewal/sweep';
import { InMemoryResyncPublisher } from '../../devkit/inMemoryRecords';
import type { StoredSubscription } from '../../shared/subscriptions/model';
import { startHarness, type Harness } from '../../devkit/appHarness';

/**
 * Resync messages leave from the row (an outbox): the request is on the row before the message
 * is sent, a failed send keeps the row due, and the next sweep sends it, once.
 */

let h: Harness;
let queue: InMemoryResyncPublisher;
let deps: AppDependencies;

beforeEach(async () => {
  h = await startHarness({ store: 'table' });
  queue = new InMemoryResyncPublisher();
  deps = { ...h.deps, resync: queue };
});

afterEach(async () => {
  await h.stop();
});

const sweep = () => runSweep(deps, deps.sweepOptions);

async function active(key: string): Promise<StoredSubscription> {
  await h.manage({ key });
  await sweep();
  const row = await h.read(key);
  expect(row.status).toBe('active');
  return row;
}

test('when Graph lost a subscription, then the sweep recreates it, sends one message with the new id, marks it sent and schedules the renewal', async () => {
  const before = await active('lost');
  h.sim.loseSubscription(before.graphSubscriptionId!);
  h.clock.advanceTo(before.nextActionAt);

  const summary = await sweep();

  const after = await h.read('lost');
  expect(summary.counts.create?.succeeded).toBe(1);
  expect(queue.messages).toEqual([
    {
      type: 'resyncRequested',
      id: `${h.tenantId}|lost|${after.resyncRequestedAt!.toISOString()}`,
      tenantId: h.tenantId,
      key: 'lost',
      graphSubscriptionId: after.graphSubscriptionId,
      resource: before.definition.resource,
      reason: 'notFound',
      requestedAt: after.resyncRequestedAt!.toISOString(),
    },
  ]);
  expect(after.graphSubscriptionId).not.toBe(before.graphSubscriptionId);
  expect(after.resyncSignalledAt).toEqual(after.resyncRequestedAt);
  // The next action is the renewal, not "due now" for the outbox.
  expect(after.nextActionAt.getTime()).toBeGreaterThan(h.clock.now().getTime());

  await sweep();
  expect(queue.messages).toHaveLength(1);
});

test('when the queue is down, then the request stays on the row, due, and the next sweep sends it once the queue is back', async () => {
  const before = await active('queue-down');
  const { etag, ...row } = before;
  await h.store.update(recordLifecycleEvent(row, 'missed', h.clock.now()), etag);
  queue.failWith = new Error('queue unavailable');

  await sweep();

  const waiting = await h.read('queue-down');
  expect(waiting.resyncReason).toBe('missed');
  expect(waiting.resyncSignalledAt).toBeUndefined();
  expect(waiting.nextActionAt.getTime()).toBeLessThanOrEqual(h.clock.now().getTime());
  expect(h.logs.map((l) => l.message)).toContain(
    'resync request could not be sent to the owner; retried',
  );

  queue.failWith = undefined;
  h.clock.advance(h.config.sweep.periodMs);
  await sweep();
  await sweep();

  expect(queue.messages.map((m) => [m.key, m.reason])).toEqual([['queue-down', 'missed']]);
  const sent = await h.read('queue-down');
  expect(sent.resyncSignalledAt).toEqual(sent.resyncRequestedAt);
  expect(sent.nextActionAt.getTime()).toBeGreaterThan(h.clock.now().getTime());
});

test('when no queue is configured, then requests stay on the rows and nothing is kept due for them', async () => {
  const before = await active('no-queue');
  const { etag, ...row } = before;
  await h.store.update(recordLifecycleEvent(row, 'missed', h.clock.now()), etag);

  await runSweep(h.deps, h.deps.sweepOptions);

  const after = await h.read('no-queue');
  expect(after.resyncReason).toBe('missed');
  expect(after.nextActionAt.getTime()).toBeGreaterThan(h.clock.now().getTime());
});
