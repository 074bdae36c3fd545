import { InMemorySubscriptionStore } from '../../devkit/inMemorySubscriptionStore';
import { collect, describeSubscriptionStoreContract } from '../support/storeContract';
import { aSubscription, minutesAfter, referenceTime, tenants } from '../support/subscriptionMother';

describeSubscriptionStoreContract('InMemorySubscriptionStore', ({ faults }) =>
  Promise.resolve(new InMemorySubscriptionStore({ faults })),
);

describe('InMemorySubscriptionStore', () => {
  test('when two stores see the same writes, then they hand out the same etags', async () => {
    const subscription = aSubscription({ tenantId: tenants.contoso });
    const etagsOf = async (store: InMemorySubscriptionStore) => {
      const created = await store.create(subscription);
      const updated = await store.update({ ...created, failureCount: 1 }, created.etag);
      return [created.etag, updated.etag];
    };

    expect(await etagsOf(new InMemorySubscriptionStore())).toEqual(
      await etagsOf(new InMemorySubscriptionStore()),
    );
  });

  test('when a due subscription is deleted while listDue is part way through, then it is not listed', async () => {
    const store = new InMemorySubscriptionStore();
    const first = await store.create(
      aSubscription({
        tenantId: tenants.contoso,
        key: 'first',
        nextActionAt: minutesAfter(referenceTime, -2),
      }),
    );
    const second = await store.create(
      aSubscription({
        tenantId: tenants.contoso,
        key: 'second',
        nextActionAt: minutesAfter(referenceTime, -1),
      }),
    );

    const listed: string[] = [];
    for await (const s of store.listDue(referenceTime)) {
      listed.push(s.definition.key);
      if (s.definition.key === first.definition.key) await store.delete(second);
    }

    expect(listed).toEqual(['first']);
    expect(await collect(store.listDue(referenceTime))).toHaveLength(1);
  });
});
