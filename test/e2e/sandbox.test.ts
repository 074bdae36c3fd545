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

  test('when the chat is a rich subscription with a Key Vault certificate, then a new version is rotated onto it by PATCH', () => {
    const certificateId = /^sandbox-chat-encryption\/[0-9a-f]{32}$/;
    expect(result.rich.createdWith).toMatch(certificateId);
    expect(result.rich.rotatedTo).toMatch(certificateId);
    expect(result.rich.rotatedTo).not.toBe(result.rich.createdWith);
    expect(result.rich.onGraph).toBe(result.rich.rotatedTo);

    const certificates = entries('certificate');
    const [created] = certificates.filter((e) => e.key === 'chat-launch-team');
    expect(created!.text).toContain(`encrypted with certificate ${result.rich.createdWith}`);
    const newVersion = certificates.find((e) => e.text.startsWith('Key Vault: new version'));
    const moved = certificates.find((e) =>
      e.text.startsWith(`moved to certificate ${result.rich.rotatedTo}`),
    );
    expect(moved).toMatchObject({ key: 'chat-launch-team' });
    // Moved by the first sweep after the new version, on the same Graph subscription (a PATCH).
    expect(moved!.minute - newVersion!.minute).toBeLessThanOrEqual(6);
    const samePatch = (e: { graphId: string | null; minute: number }) =>
      e.graphId === moved!.graphId && e.minute === moved!.minute;
    expect(entries('renewed', 'chat-launch-team').some(samePatch)).toBe(true);
    expect(entries('recreated', 'chat-launch-team').some(samePatch)).toBe(false);
  });

  test("when Graph sends the rich chat a lifecycle event, then its collection's validation token is checked and the event acted on", () => {
    const chatEvent = result.events.find(
      (e) => e.key === 'chat-launch-team' && e.kind === 'reauthorizationRequired',
    );
    expect(chatEvent?.handled).toBe(true);
    const acted = entries('lifecycleEvent', 'chat-launch-team').filter((e) =>
      e.text.includes('lifecycleIntake queue function'),
    );
    expect(acted.map((e) => e.text)).toEqual([expect.stringContaining('acted on it: 1 recorded')]);
    expect(result.timeline.filter((e) => e.text.includes('refused: validation tokens'))).toEqual(
      [],
    );
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
