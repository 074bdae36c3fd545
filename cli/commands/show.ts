import { getByKey } from '../../shared/operations/subscriptionOperations';
import { verifySubscription } from '../../shared/operations/verify';
import { toView } from '../../shared/subscriptions/model';
import { keyArgument, tenantOption, tenantOptionSpec } from '../argumentValues';
import type { Command } from '../command';
import { hasFlag } from '../commandLine';
import { driftText, isDriftProblem, subscriptionDetails } from '../subscriptionText';

export const showCommand: Command = {
  spec: {
    name: 'show',
    summary: "Show one managed subscription; --verify compares it with Graph's copy",
    description:
      'Shows one managed subscription by its key: definition, Graph id, expiry, status, last\n' +
      "error and resync request. With --verify, Graph's copy is read (GET /subscriptions/{id})\n" +
      'and every difference from our record is listed; nothing is changed on either side.',
    positionals: [{ name: 'KEY', required: true, description: 'The subscription key.' }],
    options: [
      tenantOptionSpec,
      { name: 'verify', description: "Also read Graph's copy and report drift." },
    ],
    jsonOutput:
      'the subscription view; with --verify it has a "drift" report\n' +
      '({ state: inSync|drifted|missingOnGraph|notOnGraph|error, differences, error }).',
    failsWhen:
      'no subscription has KEY, or --verify finds drift, finds it missing on Graph, or cannot ask Graph',
    examples: ['graph-subs show mail-alice', 'graph-subs show mail-alice --verify --json'],
  },
  prepare(args) {
    const key = keyArgument(args, 'show') ?? '';
    const tenantId = tenantOption(args, 'show');
    const verify = hasFlag(args, 'verify');
    return async (ctx) => {
      const sub = await getByKey(ctx.deps, key, tenantId);
      const view = toView(sub);
      const now = ctx.deps.clock.now();
      if (!verify) {
        ctx.print(view, () => subscriptionDetails(view, now));
        return 0;
      }
      const drift = await verifySubscription(ctx.deps, sub);
      ctx.print(
        { ...view, drift },
        () => `${subscriptionDetails(view, now)}\n\n${driftText(drift)}`,
      );
      return isDriftProblem(drift) ? 1 : 0;
    };
  },
};
