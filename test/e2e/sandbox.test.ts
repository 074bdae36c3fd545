import { runSandbox, type SandboxResult } from '../../tools/sandbox';
import type { TimelineEntry, TimelineKind } from '../../tools/sandboxTimeline';

/**
 * `npm run sandbox` in-process (without --keep): its own Azurite, the Graph simulator, the
 * lifecycle function on loopback HTTPS, and the scripted scenario. What it reports is checked
 * against its own facts: the timeline entries, the messages read from the queue, the health.
 */

let result: SandboxResult;
const printed: string[] = [];
let wallMs = 0;

beforeAll(async () => {
  const started = Date.now();
  result = await runSandbox({
    out: (line) => {
      printed.push(line);
    },
  });
  wallMs = Date.now() - started;
}, 60_000);

function entries(kind: TimelineKind, key?: string): TimelineEntry[] {
  return result.timeline.filter((e) => e.kind === kind && (key === undefined || e.key === key));
}

describe('the sandbox', () => {
  test('when it runs, then it ends by itself within a minute and reports every event handled', () => {
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    expect(wallMs).toBeLessThan(60_000);
    expect(result.events.map((e) => e.kind).sort()).toEqual([
      'lost',
      'missed',
      'reauthorizationRequired',
      'reauthorizationRequired',
      'subscriptionRemoved',
    ]);
    expect(result.events.every((e) => e.handled)).toBe(true);
  });

  test('when it runs, then five resources are created on Graph and the short-lived ones renewed', () => {
    expect(
      entries('created')
        .map((e) => e.key)
        .sort(),
    ).toEqual([
      'channel-ops',
      'chat-launch-team',
      'drive-team-docs',
      'mail-ada',
      'users-directory',
    ]);
    expect(entries('renewed', 'channel-ops').length).toBeGreaterThanOrEqual(3);
    expect(entries('renewed', 'chat-launch-team').length).toBeGreaterThanOrEqual(2);
  });

  test('when Graph sends each lifecycle event, then the timeline shows it received and queued (202), then acted on by the queue function', () => {
    const lifecycle = entries('lifecycleEvent');
    const received = lifecycle.filter((e) => e.text.includes('Graph sent'));
    for (const event of ['reauthorizationRequired', 'subscriptionRemoved', 'missed']) {
      expect(received.some((e) => e.text.includes(`sent ${event}`))).toBe(true);
    }
    expect(received.every((e) => e.text.includes('answered 202 (received 1, queued 1)'))).toBe(
      true,
    );
    const acted = lifecycle.filter((e) => e.text.includes('lifecycleIntake queue function'));
    expect(acted).toHaveLength(received.length);
    expect(acted.every((e) => e.text.includes('acted on it: 1 recorded'))).toBe(true);

    // reauthorizationRequired: acted on at once for both; never a wait for the 10-minute rule
    // (within 10 minutes of a PATCH it is answered by another PATCH).
    expect(entries('reauthorized', 'mail-ada')).toHaveLength(1);
    expect(entries('waiting', 'channel-ops')).toHaveLength(0);
    // subscriptionRemoved: recreated with a new Graph id.
    const [recreated] = entries('recreated', 'drive-team-docs');
    const [removal] = entries('lifecycleEvent', 'drive-team-docs');
    expect(recreated!.graphId).not.toBe(removal!.graphId);
  });

  test('when a subscription is lost silently, then its next renewal gets 404 and it is recreated', () => {
    const [lost] = entries('lost', 'chat-launch-team');
    const [notFound] = entries('renewalNotFound', 'chat-launch-team');
    const [recreated] = entries('recreated', 'chat-launch-team');
    expect(notFound!.graphId).toBe(lost!.graphId);
    expect(Date.parse(notFound!.at)).toBeGreaterThan(Date.parse(lost!.at));
    expect(recreated!.graphId).not.toBe(lost!.graphId);
  });

  test('when notifications may have been lost, then resync messages arrive on the queue', () => {
    const byReason = (reason: string) =>
      result.resyncMessages.filter((m) => m.reason === reason).map((m) => m.key);
    expect(byReason('subscriptionRemoved')).toEqual(['drive-team-docs']);
    expect(byReason('missed')).toEqual(['users-directory']);
    expect(byReason('notFound')).toEqual(['chat-launch-team']);
    expect(entries('resyncMessage')).toHaveLength(result.resyncMessages.length);
    const recreatedChat = entries('recreated', 'chat-launch-team')[0];
    const chatMessage = result.resyncMessages.find((m) => m.key === 'chat-launch-team');
    expect(chatMessage!.graphSubscriptionId).toBe(recreatedChat!.graphId);
  });

  test('when it ends, then health is good with every subscription active and a clean last sweep', () => {
    expect(result.health).toMatchObject({
      healthy: true,
      total: 5,
      problemCount: 0,
      resyncsPending: 3,
    });
    expect(result.health.counts.active).toBe(5);
    expect(result.health.lastSweep).toMatchObject({ failureCount: 0, unexpectedErrors: 0 });
    expect(entries('health')).toHaveLength(1);
  });

  test('when it prints, then every timeline entry is one line and the verdict comes last', () => {
    const timelineLines = printed.filter((l) => /^T\+\d+:\d\d /.test(l));
    expect(timelineLines).toHaveLength(result.timeline.length);
    expect(printed.some((l) => l.startsWith('Final health: healthy'))).toBe(true);
    expect(printed[printed.length - 1]).toMatch(
      /every lifecycle event and the removal were handled/,
    );
    expect(printed.filter((l) => l.includes('NOT HANDLED'))).toEqual([]);
  });
});
