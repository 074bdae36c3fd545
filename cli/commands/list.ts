import type { StoredSubscription, SubscriptionView } from '../../shared/subscriptions/model';
import { subscriptionStatuses, toView } from '../../shared/subscriptions/model';
import type { SubscriptionStore, ListOptions } from '../../shared/store/subscriptionStore';
import { statusOption, tenantOption } from '../argumentValues';
import type { Command } from '../command';
import { subscriptionTable } from '../subscriptionText';

export const listCommand: Command = {
  spec: {
    name: 'list',
    summary: 'List the managed subscriptions, of one tenant or status if asked',
    description:
      'Lists every managed subscription (all pages of the table), with its status, expiry and\n' +
      'last error. clientState is never shown; query values of URLs are hidden.',
    positionals: [],
    options: [
      { name: 'tenant', value: 'TENANT', description: 'Only this tenant (GUID).' },
      {
        name: 'status',
        value: 'STATUS',
        description: `Only this status: ${subscriptionStatuses.join(', ')}.`,
      },
    ],
    jsonOutput:
      'an array of subscription views (key, tenantId, the definition fields,\n' +
      'graphSubscriptionId, expirationDateTime, status, lastError, resyncRequestedAt, ...).',
    failsWhen: 'the store cannot be read',
    examples: [
      'graph-subs list',
      'graph-subs list --status failed --json',
      'graph-subs list --tenant 84bd8158-6d4d-4958-8b9f-9d6445542f95',
    ],
  },
  prepare(args) {
    const tenantId = tenantOption(args, 'list');
    const status = statusOption(args, 'list');
    return async (ctx) => {
      const rows = await listAll(ctx.deps.store, { tenantId, status }, (row) => {
        ctx.io.err(`warning: skipped a row that is not a valid subscription (${row})`);
      });
      const views: SubscriptionView[] = rows.map(toView);
      ctx.print(views, () => subscriptionTable(views, ctx.deps.clock.now()));
      return 0;
    };
  },
};

/** Every subscription matching the filter, page after page. */
export async function listAll(
  store: SubscriptionStore,
  filter: Pick<ListOptions, 'tenantId' | 'status'>,
  onInvalid: (where: string) => void,
): Promise<StoredSubscription[]> {
  const all: StoredSubscription[] = [];
  let continuationToken: string | undefined;
  do {
    const page = await store.list({
      ...filter,
      pageSize: 1000,
      continuationToken,
      onInvalid: (row) => {
        onInvalid(`${row.partitionKey} ${row.rowKey}: ${row.reason}`);
      },
    });
    all.push(...page.items);
    continuationToken = page.continuationToken;
  } while (continuationToken !== undefined);
  return all;
}
