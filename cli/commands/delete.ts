import { deleteSubscription } from '../../shared/operations/subscriptionOperations';
import { toView } from '../../shared/subscriptions/model';
import { keyArgument, tenantOption, tenantOptionSpec } from '../argumentValues';
import type { Command } from '../command';
import { lastErrorText } from '../subscriptionText';

export const deleteCommand: Command = {
  spec: {
    name: 'delete',
    summary: 'Delete a subscription from Graph and stop managing it',
    description:
      'Marks the subscription "deleting", deletes it on Graph, then removes it from the store.\n' +
      'When Graph refuses or cannot be reached, it stays "deleting" and the sweep finishes the\n' +
      'delete.',
    positionals: [{ name: 'KEY', required: true, description: 'The subscription key.' }],
    options: [tenantOptionSpec],
    jsonOutput:
      '{ key, tenantId, deleted, action: { action, outcome, code, status, graphId } | null,\n' +
      '  subscription: the view of what is left (status "deleting") | null }.',
    failsWhen: 'no subscription has KEY, or it could not be deleted yet (the sweep retries)',
    examples: ['graph-subs delete mail-alice', 'graph-subs delete mail-alice --json'],
  },
  prepare(args) {
    const key = keyArgument(args, 'delete') ?? '';
    const tenantId = tenantOption(args, 'delete');
    return async (ctx) => {
      const result = await deleteSubscription(ctx.deps, key, tenantId);
      const left = result.subscription === undefined ? null : toView(result.subscription);
      const a = result.action;
      // NOTE: the action report carries the stored row (with clientState): only its facts are kept.
      const action =
        a === undefined
          ? null
          : {
              action: a.action,
              outcome: a.outcome,
              code: a.code ?? null,
              status: a.status ?? null,
              graphId: a.graphId ?? null,
            };
      const document = {
        key,
        tenantId: left?.tenantId ?? a?.tenantId ?? tenantId ?? null,
        deleted: result.deleted,
        action,
        subscription: left,
      };
      ctx.print(document, () => {
        if (result.deleted) {
          return `Deleted ${key}${action?.graphId == null ? '' : ` (Graph id ${action.graphId})`} from Graph and from the store.`;
        }
        const why =
          left?.lastError == null ? '' : `: ${lastErrorText(left.lastError, ctx.deps.clock.now())}`;
        return `${key} is marked deleting but not deleted yet${why}.\nThe sweep retries the delete.`;
      });
      return result.deleted ? 0 : 1;
    };
  },
};
