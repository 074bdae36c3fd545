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

  test('when it runs, then six resources are created on Graph and the short-lived ones renewed', () => {
    expect(
      entries('created')
        .map((e) => e.key)
        .sort(),
    ).toEqual([
      'channel-ops',
      'chat-launch-team',
      'drive-team-docs',
      'groups-directory',
      'mail-ada',
      'users-directory',
    ]);
    expect(entries('renewed', 'channel-ops').length).toBeGreaterThanOrEqual(3);
    expect(entries('renewed', 'chat-launch-team').length).toBeGreaterThanOrEqual(2);
  });

  test('when Graph sends each lifecycle event, then the timeline shows it received (202) and handled', () => {
    const received = entries('lifecycleEvent');
    for (const event of ['reauthorizationRequired', 'subscriptionRemoved', 'missed']) {
      expect(received.some((e) => e.text.includes(`sent ${event}`))).toBe(true);
    }
    expect(received.every((e) => e.text.includes('answered 202'))).toBe(true);

    // reauthorizationRequired: inline for the mail; after the 10-minute rule for the channel.
    expect(entries('reauthorized', 'mail-ada')).toHaveLength(1);
    expect(entries('waiting', 'channel-ops')).toHaveLength(1);
    const [waited] = entries('waiting', 'channel-ops');
    const [reauthorized] = entries('reauthorized', 'channel-ops');
    expect(reauthorized!.minute - waited!.minute).toBeGreaterThanOrEqual(8);
    // subscriptionRemoved: recreated with a new Graph id.
    const [recreated] = entries('recreated', 'drive-team-docs');
    const [lifecycle] = entries('lifecycleEvent', 'drive-team-docs');
    expect(recreated!.graphId).not.toBe(lifecycle!.graphId);
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
      total: 6,
      problemCount: 0,
      resyncsPending: 3,
    });
    expect(result.health.counts.active).toBe(6);
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

  test('when a permission is not granted, then Graph refuses with 403, the app names the permission, and the subscription is created once it is granted', () => {
    expect(result.refusal).toMatchObject({
      key: 'groups-directory',
      permissions: ['Group.Read.All'],
      handled: true,
    });
    const refusedCreates = result.timeline.filter(
      (e) => e.kind === 'warning' && e.text === 'Graph answered 403 to POST create',
    );
    expect(refusedCreates.length).toBe(result.refusal.refusedAt.length);
    const [failed] = entries('warning', 'groups-directory').filter((e) =>
      e.text.startsWith('status failed'),
    );
    expect(failed!.text).toContain('ExtensionError');
    expect(failed!.text).toContain('(needs: Group.Read.All)');
    const [granted] = entries('granted', 'groups-directory');
    const [created] = entries('created', 'groups-directory');
    expect(Date.parse(created!.at)).toBeGreaterThan(Date.parse(granted!.at));
    expect(Date.parse(granted!.at)).toBeGreaterThan(Date.parse(failed!.at));
    expect(printed).toContain('The permission not granted at first:');
  });
});
