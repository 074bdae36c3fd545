import { acknowledgeResync } from '../../shared/operations/subscriptionOperations';
import { toView } from '../../shared/subscriptions/model';
import { keyArgument, tenantOption, tenantOptionSpec, timestampOption } from '../argumentValues';
import type { Command } from '../command';

export const resyncAckCommand: Command = {
  spec: {
    name: 'resync-ack',
    summary: 'Acknowledge the resync request of a subscription once its owner has resynced',
    description:
      'Clears the resync request shown on the subscription (the same facts were sent to the\n' +
      'resync queue). With --requested-at, only that request is cleared: when a newer one has\n' +
      'arrived, nothing is cleared and the command fails, so a loss is never acknowledged unseen.',
    positionals: [{ name: 'KEY', required: true, description: 'The subscription key.' }],
    options: [
      tenantOptionSpec,
      {
        name: 'requested-at',
        value: 'ISO',
        description: 'The resyncRequestedAt being acknowledged (from the queue message or show).',
      },
    ],
    jsonOutput:
      '{ key, tenantId, acknowledged, subscription: the view after it }.\n' +
      'acknowledged is false when there was no request (nothing changed).',
    failsWhen: 'no subscription has KEY, or a newer resync request than --requested-at exists',
    examples: [
      'graph-subs resync-ack mail-alice',
      'graph-subs resync-ack mail-alice --requested-at 2026-06-01T12:00:00.000Z --json',
    ],
  },
  prepare(args) {
    const key = keyArgument(args, 'resync-ack') ?? '';
    const tenantId = tenantOption(args, 'resync-ack');
    const requestedAt = timestampOption(args, 'requested-at', 'resync-ack');
    return async (ctx) => {
      const before = await acknowledgeResync(ctx.deps, key, { tenantId, requestedAt });
      const view = toView(before.subscription);
      ctx.print(
        { key, tenantId: view.tenantId, acknowledged: before.acknowledged, subscription: view },
        () =>
          before.acknowledged
            ? `Resync request of ${key} acknowledged.`
            : `${key} has no resync request to acknowledge; nothing changed.`,
      );
      return 0;
    };
  },
};
