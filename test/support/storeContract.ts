import {
  isClaimHeldError,
  isKeyInUseError,
  isStoreConflictError,
  isStoreNotFoundError,
  type InvalidRow,
  type SubscriptionStore,
} from '../../shared/store/subscriptionStore';
import {
  copySubscription,
  isUnstorableSubscriptionError,
} from '../../shared/store/subscriptionEntity';
import type { StoreFaults, StoreWriteStep } from '../../devkit/storeFaults';
import type {
  ManagedSubscription,
  StoredSubscription,
  SubscriptionStatus,
} from '../../shared/subscriptions/model';
import {
  aGraphSubscriptionId,
  aPendingSubscription,
  aSubscription,
  aSubscriptionWithEveryField,
  aTenantId,
  minutesAfter,
  referenceTime,
} from './subscriptionMother';

/**
 * The behaviour every `SubscriptionStore` owes its callers, run against each implementation
 * (Azure Tables on Azurite, in memory). `makeStore` returns a store with no subscriptions; it gets
 * the fault hook the crash-safety cases use.
 */
export type MakeStore = (options: { readonly faults?: StoreFaults }) => Promise<SubscriptionStore>;

/** Throws once at the chosen step, then lets writes through (the "restart" after a crash). */
export class FaultSwitch implements StoreFaults {
  private armedAt: StoreWriteStep | undefined;

  failNext(step: StoreWriteStep): void {
    this.armedAt = step;
  }

  readonly beforeWrite = (step: StoreWriteStep): void => {
    if (step !== this.armedAt) return;
    this.armedAt = undefined;
    throw new InjectedFault(step);
  };
}

export class InjectedFault extends Error {
  constructor(readonly step: StoreWriteStep) {
    super(`injected failure before the ${step} write`);
    this.name = 'InjectedFault';
  }
}

/** The stored fields without the store's token, to compare with what was written. */
export function withoutEtag(s: StoredSubscription | undefined): ManagedSubscription | undefined {
  return s === undefined ? undefined : copySubscription(s);
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

export async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e,
  );
}

const keysOf = (items: readonly StoredSubscription[]): string[] =>
  items.map((s) => s.definition.key);

export function describeSubscriptionStoreContract(name: string, makeStore: MakeStore): void {
  describe(`${name}: SubscriptionStore contract`, () => {
    let store: SubscriptionStore;
    let faults: FaultSwitch;
    let tenantA: string;
    let tenantB: string;

    beforeEach(async () => {
      faults = new FaultSwitch();
      store = await makeStore({ faults });
      // NOTE: in order, so "tenant order" assertions read naturally.
      const [first, second] = [aTenantId(), aTenantId()];
      [tenantA, tenantB] = first < second ? [first, second] : [second, first];
    });

    describe('create and get', () => {
      test('when every optional field is set, then each one round-trips to the millisecond', async () => {
        const written = aSubscriptionWithEveryField({ tenantId: tenantA });

        await store.create(written);
        const read = await store.get(tenantA, written.definition.key);

        expect(withoutEtag(read)).toEqual(written);
        expect(read?.lastError?.requiredPermissions).toEqual(['Mail.Read', 'Mail.ReadBasic.All']);
        expect(read?.claim?.until.getTime()).toBe(written.claim?.until.getTime());
        expect(read?.nextActionAt.getUTCMilliseconds()).toBe(123);
      });

      test('when optional fields are unset, then they read back as undefined', async () => {
        const written = aPendingSubscription({
          tenantId: tenantA,
          definition: { lifecycleNotificationUrl: undefined },
        });

        await store.create(written);
        const read = await store.get(tenantA, written.definition.key);

        expect(withoutEtag(read)).toEqual(written);
        expect(read).toMatchObject({
          graphSubscriptionId: undefined,
          expiresAt: undefined,
          lastError: undefined,
          pendingEvent: undefined,
          claim: undefined,
          resyncRequestedAt: undefined,
        });
        expect(read?.definition.lifecycleNotificationUrl).toBeUndefined();
        expect(read?.definition.encryptionCertificateId).toBeUndefined();
      });

      test('when a lastError has no status or permissions, then they stay unset', async () => {
        const written = aSubscription({
          tenantId: tenantA,
          lastError: { code: 'NetworkError', message: 'socket hang up', at: referenceTime },
        });

        await store.create(written);
        const read = await store.get(tenantA, written.definition.key);

        expect(read?.lastError).toEqual({
          code: 'NetworkError',
          message: 'socket hang up',
          at: referenceTime,
        });
        expect(read?.lastError?.status).toBeUndefined();
        expect(read?.lastError?.requiredPermissions).toBeUndefined();
      });

      test('when created, then create and get return the same etag token', async () => {
        const created = await store.create(aSubscription({ tenantId: tenantA }));

        const read = await store.get(tenantA, created.definition.key);

        expect(created.etag).toEqual(expect.any(String));
        expect(read?.etag).toBe(created.etag);
      });

      test('when the key exists in the tenant, then create fails with a conflict and keeps the first', async () => {
        const first = await store.create(aSubscription({ tenantId: tenantA, key: 'orders' }));

        const failure = await failureOf(
          store.create(aSubscription({ tenantId: tenantA, key: 'orders', status: 'failed' })),
        );

        expect(isStoreConflictError(failure)).toBe(true);
        expect(withoutEtag(await store.get(tenantA, 'orders'))).toEqual(withoutEtag(first));
      });

      test.each([
        ['a tenant that is not a GUID', { tenantId: 'contoso.onmicrosoft.com' }],
        ['a key with a slash', { key: 'orders/2026' }],
        ['a key with a quote', { key: "o'brien" }],
        ['a nextActionAt before 1601', { nextActionAt: new Date('1600-12-31T00:00:00Z') }],
        ['an invalid date', { expiresAt: new Date(Number.NaN) }],
        ['a negative failure count', { failureCount: -1 }],
        ['a Graph id with a slash', { graphSubscriptionId: 'abc/def' }],
        ['an empty clientState', { clientState: '' }],
      ])(
        'when a subscription has %s, then create rejects it and stores nothing',
        async (_case, overrides) => {
          const bad = aSubscription({ tenantId: tenantA, key: 'bad-case', ...overrides });

          const failure = await failureOf(store.create(bad));

          expect(isUnstorableSubscriptionError(failure)).toBe(true);
          expect(await store.get(tenantA, 'bad-case')).toBeUndefined();
          expect(await store.tenants()).not.toContain(tenantA);
        },
      );

      test('when a subscription is rejected, then the error does not contain its clientState', async () => {
        const secret = 'x'.repeat(129);
        const failure = await failureOf(
          store.create(aSubscription({ tenantId: tenantA, clientState: secret })),
        );

        expect(isUnstorableSubscriptionError(failure)).toBe(true);
        expect((failure as Error).message).toMatch(/clientState/);
        expect((failure as Error).message).not.toContain('xxxx');
      });

      test('when nothing has that key or tenant, then get returns undefined', async () => {
        await store.create(aSubscription({ tenantId: tenantA, key: 'orders' }));

        expect(await store.get(tenantA, 'invoices')).toBeUndefined();
        expect(await store.get(tenantB, 'orders')).toBeUndefined();
        expect(await store.get(tenantA, "orders' or '1' eq '1")).toBeUndefined();
      });

      test('when a caller mutates what it got, then the stored state does not change', async () => {
        const created = await store.create(aSubscriptionWithEveryField({ tenantId: tenantA }));
        const read = await store.get(tenantA, created.definition.key);

        (read?.nextActionAt as Date).setTime(0);
        (read?.lastError?.requiredPermissions as string[]).push('Directory.ReadWrite.All');

        const again = await store.get(tenantA, created.definition.key);
        expect(again?.nextActionAt).toEqual(created.nextActionAt);
        expect(again?.lastError?.requiredPermissions).toEqual(
          created.lastError?.requiredPermissions,
        );
      });
    });

    describe('findByGraphId', () => {
      test('when the tenant is given or not, then the subscription is found by its Graph id', async () => {
        const created = await store.create(aSubscription({ tenantId: tenantB }));
        const graphId = created.graphSubscriptionId!;

        const withTenant = await store.findByGraphId(graphId, tenantB);
        const withoutTenant = await store.findByGraphId(graphId);

        expect(withoutEtag(withTenant)).toEqual(withoutEtag(created));
        expect(withoutEtag(withoutTenant)).toEqual(withoutEtag(created));
        expect(withTenant?.etag).toBe(created.etag);
      });

      test('when the id is unknown or the tenant is wrong, then nothing is found', async () => {
        const created = await store.create(aSubscription({ tenantId: tenantA }));

        expect(await store.findByGraphId(aGraphSubscriptionId(), tenantA)).toBeUndefined();
        expect(await store.findByGraphId(aGraphSubscriptionId())).toBeUndefined();
        expect(await store.findByGraphId(created.graphSubscriptionId!, tenantB)).toBeUndefined();
      });

      test('when a subscription has no Graph id yet, then no Graph id finds it', async () => {
        await store.create(aPendingSubscription({ tenantId: tenantA }));

        expect(await store.findByGraphId(aGraphSubscriptionId(), tenantA)).toBeUndefined();
      });

      test('when an update changes the Graph id, then the new id finds it and the old one does not', async () => {
        const created = await store.create(aSubscription({ tenantId: tenantA }));
        const oldId = created.graphSubscriptionId!;
        const newId = aGraphSubscriptionId();

        await store.update({ ...created, graphSubscriptionId: newId, generation: 2 }, created.etag);

        expect(await store.findByGraphId(oldId, tenantA)).toBeUndefined();
        expect(await store.findByGraphId(oldId)).toBeUndefined();
        expect((await store.findByGraphId(newId, tenantA))?.generation).toBe(2);
        expect((await store.findByGraphId(newId))?.generation).toBe(2);
      });

      test('when an update clears the Graph id, then the old id no longer finds it', async () => {
        const created = await store.create(aSubscription({ tenantId: tenantA }));

        await store.update(
          { ...created, graphSubscriptionId: undefined, status: 'removed' },
          created.etag,
        );

        expect(await store.findByGraphId(created.graphSubscriptionId!, tenantA)).toBeUndefined();
        expect((await store.get(tenantA, created.definition.key))?.status).toBe('removed');
      });

      test('when another subscription in the tenant has the Graph id, then create fails and stores nothing', async () => {
        const first = await store.create(aSubscription({ tenantId: tenantA }));

        const failure = await failureOf(
          store.create(
            aSubscription({
              tenantId: tenantA,
              key: 'second',
              graphSubscriptionId: first.graphSubscriptionId,
            }),
          ),
        );

        expect(isStoreConflictError(failure)).toBe(true);
        expect(await store.get(tenantA, 'second')).toBeUndefined();
        expect(
          (await store.findByGraphId(first.graphSubscriptionId!, tenantA))?.definition.key,
        ).toBe(first.definition.key);
      });
    });

    describe('update', () => {
      test('when the etag is current, then the change is stored and a new etag is returned', async () => {
        const created = await store.create(aSubscription({ tenantId: tenantA }));
        const renewedUntil = minutesAfter(referenceTime, 4 * 24 * 60);

        const updated = await store.update(
          { ...created, expiresAt: renewedUntil, lastRenewedAt: referenceTime },
          created.etag,
        );

        expect(updated.etag).not.toBe(created.etag);
        const read = await store.get(tenantA, created.definition.key);
        expect(read?.expiresAt).toEqual(renewedUntil);
        expect(read?.etag).toBe(updated.etag);
      });

      test('when nothing changes but the write, then the etag still changes', async () => {
        const created = await store.create(aSubscription({ tenantId: tenantA }));

        const updated = await store.update(created, created.etag);

        expect(updated.etag).not.toBe(created.etag);
        expect(withoutEtag(updated)).toEqual(withoutEtag(created));
      });

      test('when the etag is stale, then update fails with a conflict and keeps the winner', async () => {
        const created = await store.create(aSubscription({ tenantId: tenantA }));
        await store.update({ ...created, status: 'removed' }, created.etag);

        const failure = await failureOf(
          store.update(
            { ...created, status: 'failed', nextActionAt: minutesAfter(referenceTime, 9) },
            created.etag,
          ),
        );

        expect(isStoreConflictError(failure)).toBe(true);
        expect((failure as Error).message).not.toContain(created.clientState);
        const read = await store.get(tenantA, created.definition.key);
        expect(read?.status).toBe('removed');
        expect(read?.nextActionAt).toEqual(created.nextActionAt);
      });

      test('when the etag is not one the store issued, then update fails with a conflict', async () => {
        const created = await store.create(aSubscription({ tenantId: tenantA }));

        const failure = await failureOf(store.update({ ...created, failureCount: 1 }, 'W/"nope"'));

        expect(isStoreConflictError(failure)).toBe(true);
        expect((await store.get(tenantA, created.definition.key))?.failureCount).toBe(0);
      });

      test("when the etag is another subscription's, then update fails and neither changes", async () => {
        const a = await store.create(
          aSubscription({ tenantId: tenantA, nextActionAt: referenceTime }),
        );
        const b = await store.create(
          aSubscription({ tenantId: tenantA, nextActionAt: referenceTime }),
        );

        const failure = await failureOf(store.update({ ...b, failureCount: 7 }, a.etag));

        expect(isStoreConflictError(failure)).toBe(true);
        expect(withoutEtag(await store.get(tenantA, a.definition.key))).toEqual(withoutEtag(a));
        expect(withoutEtag(await store.get(tenantA, b.definition.key))).toEqual(withoutEtag(b));
        expect(
          keysOf(await collect(store.listDue(referenceTime, { tenantId: tenantA }))),
        ).toHaveLength(2);
      });

      test('when the subscription was deleted, then update fails with notFound', async () => {
        const created = await store.create(aSubscription({ tenantId: tenantA }));
        await store.delete(created);

        const failure = await failureOf(
          store.update({ ...created, failureCount: 1 }, created.etag),
        );

        expect(isStoreNotFoundError(failure)).toBe(true);
        expect(await store.get(tenantA, created.definition.key)).toBeUndefined();
      });

      test('when the new Graph id belongs to another subscription, then the whole update is rolled back', async () => {
        const other = await store.create(aSubscription({ tenantId: tenantA }));
        const created = await store.create(
          aSubscription({ tenantId: tenantA, nextActionAt: minutesAfter(referenceTime, -5) }),
        );

        const failure = await failureOf(
          store.update(
            {
              ...created,
              graphSubscriptionId: other.graphSubscriptionId,
              nextActionAt: minutesAfter(referenceTime, 60),
            },
            created.etag,
          ),
        );

        expect(isStoreConflictError(failure)).toBe(true);
        expect((await store.findByGraphId(created.graphSubscriptionId!, tenantA))?.etag).toBe(
          created.etag,
        );
        expect(
          (await store.findByGraphId(other.graphSubscriptionId!, tenantA))?.definition.key,
        ).toBe(other.definition.key);
        const due = await collect(store.listDue(referenceTime, { tenantId: tenantA }));
        expect(due.map((s) => s.etag)).toEqual([created.etag]);
      });
    });

    describe('listDue', () => {
      test('when some are due, then only those at or before the time are listed, oldest first', async () => {
        const at = (minutes: number) => minutesAfter(referenceTime, minutes);
        for (const [key, minutes] of [
          ['later', 1],
          ['exactly-now', 0],
          ['oldest', -60],
          ['recent', -1],
          ['next-week', 7 * 24 * 60],
        ] as const) {
          await store.create(aSubscription({ tenantId: tenantA, key, nextActionAt: at(minutes) }));
        }

        const due = await collect(store.listDue(referenceTime));

        expect(keysOf(due)).toEqual(['oldest', 'recent', 'exactly-now']);
      });

      test('when two are due at the same moment, then they come in key order', async () => {
        for (const key of ['b-second', 'a-first', 'c-third']) {
          await store.create(
            aSubscription({ tenantId: tenantA, key, nextActionAt: referenceTime }),
          );
        }

        expect(keysOf(await collect(store.listDue(referenceTime)))).toEqual([
          'a-first',
          'b-second',
          'c-third',
        ]);
      });

      test('when several tenants have due subscriptions, then each tenant is listed in order, oldest first within it', async () => {
        const at = (minutes: number) => minutesAfter(referenceTime, minutes);
        await store.create(
          aSubscription({ tenantId: tenantB, key: 'b-late', nextActionAt: at(-1) }),
        );
        await store.create(
          aSubscription({ tenantId: tenantA, key: 'a-late', nextActionAt: at(-2) }),
        );
        await store.create(
          aSubscription({ tenantId: tenantB, key: 'b-early', nextActionAt: at(-30) }),
        );
        await store.create(
          aSubscription({ tenantId: tenantA, key: 'a-early', nextActionAt: at(-20) }),
        );
        await store.create(
          aSubscription({ tenantId: tenantB, key: 'b-future', nextActionAt: at(30) }),
        );

        const due = await collect(store.listDue(referenceTime));

        expect(
          due.map((s) => `${s.definition.tenantId === tenantA ? 'A' : 'B'}:${s.definition.key}`),
        ).toEqual(['A:a-early', 'A:a-late', 'B:b-early', 'B:b-late']);
      });

      test('when a tenant is given, then only its due subscriptions are listed', async () => {
        await store.create(
          aSubscription({ tenantId: tenantA, key: 'a', nextActionAt: referenceTime }),
        );
        await store.create(
          aSubscription({ tenantId: tenantB, key: 'b', nextActionAt: referenceTime }),
        );

        const due = await collect(store.listDue(referenceTime, { tenantId: tenantB }));

        expect(keysOf(due)).toEqual(['b']);
      });

      test('when nextActionAt moves later or earlier, then the due list follows it', async () => {
        const soon = await store.create(
          aSubscription({
            tenantId: tenantA,
            key: 'soon',
            nextActionAt: minutesAfter(referenceTime, -5),
          }),
        );
        const later = await store.create(
          aSubscription({
            tenantId: tenantA,
            key: 'later',
            nextActionAt: minutesAfter(referenceTime, 60),
          }),
        );

        await store.update({ ...soon, nextActionAt: minutesAfter(referenceTime, 120) }, soon.etag);
        await store.update(
          { ...later, nextActionAt: minutesAfter(referenceTime, -10) },
          later.etag,
        );

        expect(keysOf(await collect(store.listDue(referenceTime)))).toEqual(['later']);
      });

      test('when a due subscription is updated with the etag it was listed with, then the write succeeds once', async () => {
        await store.create(aSubscription({ tenantId: tenantA, nextActionAt: referenceTime }));
        const [listed] = await collect(store.listDue(referenceTime));

        const renewed = await store.update(
          { ...listed!, nextActionAt: minutesAfter(referenceTime, 3 * 60) },
          listed!.etag,
        );
        const again = await failureOf(
          store.update({ ...listed!, status: 'failing' }, listed!.etag),
        );

        expect(renewed.nextActionAt).toEqual(minutesAfter(referenceTime, 3 * 60));
        expect(isStoreConflictError(again)).toBe(true);
        expect(await collect(store.listDue(referenceTime))).toEqual([]);
      });

      test('when a listed subscription is read again, then its etag is the one listDue gave', async () => {
        const created = await store.create(
          aSubscription({ tenantId: tenantA, nextActionAt: referenceTime }),
        );

        const [listed] = await collect(store.listDue(referenceTime));

        expect(listed?.etag).toBe(created.etag);
        expect(withoutEtag(listed)).toEqual(withoutEtag(created));
      });

      test('when nothing is stored, then nothing is due', async () => {
        expect(await collect(store.listDue(referenceTime))).toEqual([]);
      });
    });

    describe('key reservations (keys are unique across tenants)', () => {
      test('when the key is used in another tenant, then create fails with keyInUse and stores nothing', async () => {
        const first = await store.create(
          aPendingSubscription({ tenantId: tenantA, key: 'shared' }),
        );

        const failure = await failureOf(
          store.create(aPendingSubscription({ tenantId: tenantB, key: 'shared' })),
        );

        expect(isKeyInUseError(failure)).toBe(true);
        expect(failure).toMatchObject({ heldByTenant: tenantA });
        expect(await store.get(tenantB, 'shared')).toBeUndefined();
        expect((await store.findByKey('shared'))?.etag).toBe(first.etag);
      });

      test('when one key is created in many tenants at once, then exactly one create succeeds', async () => {
        const tenants = Array.from({ length: 12 }, () => aTenantId());

        const results = await Promise.allSettled(
          tenants.map((tenantId) => store.create(aPendingSubscription({ tenantId, key: 'race' }))),
        );

        const winners = results.filter((r) => r.status === 'fulfilled');
        const refusals = results.filter(
          (r) => r.status === 'rejected' && isKeyInUseError(r.reason),
        );
        expect(winners).toHaveLength(1);
        expect(refusals).toHaveLength(tenants.length - 1);
        const rows = await Promise.all(tenants.map((tenantId) => store.get(tenantId, 'race')));
        expect(rows.filter((r) => r !== undefined)).toHaveLength(1);
        expect((await store.findByKey('race'))?.definition.tenantId).toBe(
          rows.find((r) => r !== undefined)?.definition.tenantId,
        );
      });

      test('when the subscription is deleted, then its key is released for another tenant', async () => {
        const first = await store.create(
          aPendingSubscription({ tenantId: tenantA, key: 'moving' }),
        );
        await store.delete(first);

        const second = await store.create(
          aPendingSubscription({ tenantId: tenantB, key: 'moving' }),
        );

        expect(second.definition.tenantId).toBe(tenantB);
        expect((await store.findByKey('moving'))?.definition.tenantId).toBe(tenantB);
      });

      test('when no tenant has the key, then findByKey finds nothing', async () => {
        await store.create(aPendingSubscription({ tenantId: tenantA, key: 'present' }));

        expect(await store.findByKey('absent')).toBeUndefined();
      });
    });

    describe('claim', () => {
      const owner = 'sweep-a';
      const rival = 'lifecycle-b';

      test('when the row is free, then the claim is written with a new etag', async () => {
        const created = await store.create(aPendingSubscription({ tenantId: tenantA }));
        const until = minutesAfter(referenceTime, 2);

        const claimed = await store.claim(created, { owner, now: referenceTime, until });

        expect(claimed.claim).toEqual({ owner, until });
        expect(claimed.etag).not.toBe(created.etag);
        expect((await store.get(tenantA, created.definition.key))?.claim).toEqual({ owner, until });
      });

      test('when another owner holds an unexpired claim, then claim fails with claimHeld', async () => {
        const created = await store.create(aPendingSubscription({ tenantId: tenantA }));
        const until = minutesAfter(referenceTime, 2);
        const held = await store.claim(created, { owner, now: referenceTime, until });

        const failure = await failureOf(
          store.claim(held, {
            owner: rival,
            now: minutesAfter(referenceTime, 1),
            until: minutesAfter(referenceTime, 3),
          }),
        );

        expect(isClaimHeldError(failure)).toBe(true);
        expect(failure).toMatchObject({ owner, until });
        expect((await store.get(tenantA, created.definition.key))?.claim?.owner).toBe(owner);
      });

      test('when the claim has expired, then another owner takes it over', async () => {
        const created = await store.create(aPendingSubscription({ tenantId: tenantA }));
        const held = await store.claim(created, {
          owner,
          now: referenceTime,
          until: minutesAfter(referenceTime, 2),
        });

        const later = minutesAfter(referenceTime, 2);
        const taken = await store.claim(held, {
          owner: rival,
          now: later,
          until: minutesAfter(later, 2),
        });

        expect(taken.claim).toEqual({ owner: rival, until: minutesAfter(later, 2) });
      });

      test('when the same owner name claims a live claim again, then it is held too (a claim is one operation)', async () => {
        const created = await store.create(aPendingSubscription({ tenantId: tenantA }));
        const held = await store.claim(created, {
          owner,
          now: referenceTime,
          until: minutesAfter(referenceTime, 2),
        });

        const failure = await failureOf(
          store.claim(held, {
            owner,
            now: minutesAfter(referenceTime, 1),
            until: minutesAfter(referenceTime, 3),
          }),
        );

        expect(isClaimHeldError(failure)).toBe(true);
        expect((await store.get(tenantA, created.definition.key))?.claim?.until).toEqual(
          minutesAfter(referenceTime, 2),
        );
      });

      test('when a claim ends far beyond the TTL, then it is honoured only for the TTL after its write', async () => {
        const created = await store.create(aPendingSubscription({ tenantId: tenantA }));
        const farFuture = minutesAfter(referenceTime, 60 * 24 * 365);
        const held = await store.claim(created, { owner, now: referenceTime, until: farFuture });

        const withinTtl = await failureOf(
          store.claim(held, {
            owner: rival,
            now: minutesAfter(referenceTime, 1),
            until: minutesAfter(referenceTime, 3),
          }),
        );
        const afterTtl = minutesAfter(referenceTime, 3);
        const taken = await store.claim(held, {
          owner: rival,
          now: afterTtl,
          until: minutesAfter(afterTtl, 2),
        });

        expect(isClaimHeldError(withinTtl)).toBe(true);
        expect(taken.claim).toEqual({ owner: rival, until: minutesAfter(afterTtl, 2) });
      });

      test('when two owners claim the same read at once, then exactly one wins and the other conflicts', async () => {
        const created = await store.create(aPendingSubscription({ tenantId: tenantA }));
        const until = minutesAfter(referenceTime, 2);

        const results = await Promise.allSettled([
          store.claim(created, { owner, now: referenceTime, until }),
          store.claim(created, { owner: rival, now: referenceTime, until }),
        ]);

        const winners = results.filter((r) => r.status === 'fulfilled');
        const losers = results.filter((r) => r.status === 'rejected');
        expect(winners).toHaveLength(1);
        expect(losers).toHaveLength(1);
        expect(isStoreConflictError((losers[0] as PromiseRejectedResult).reason)).toBe(true);
        const winner = (winners[0] as PromiseFulfilledResult<StoredSubscription>).value;
        expect((await store.get(tenantA, created.definition.key))?.claim).toEqual(winner.claim);
      });

      test('when the row changed since it was read, then claim fails with a conflict', async () => {
        const created = await store.create(aPendingSubscription({ tenantId: tenantA }));
        await store.update({ ...created, status: 'removed' }, created.etag);

        const failure = await failureOf(
          store.claim(created, {
            owner,
            now: referenceTime,
            until: minutesAfter(referenceTime, 2),
          }),
        );

        expect(isStoreConflictError(failure)).toBe(true);
      });

      test('when a claimed subscription was read through the due index, then it can be claimed from there', async () => {
        await store.create(aPendingSubscription({ tenantId: tenantA }));
        const [due] = await collect(store.listDue(referenceTime));

        const claimed = await store.claim(due!, {
          owner,
          now: referenceTime,
          until: minutesAfter(referenceTime, 2),
        });

        expect(claimed.claim?.owner).toBe(owner);
      });
    });

    describe('delete', () => {
      test('when deleted, then get, the Graph id, the due list and list no longer find it', async () => {
        const created = await store.create(
          aSubscription({ tenantId: tenantA, nextActionAt: referenceTime }),
        );

        await store.delete(created);

        expect(await store.get(tenantA, created.definition.key)).toBeUndefined();
        expect(await store.findByGraphId(created.graphSubscriptionId!, tenantA)).toBeUndefined();
        expect(await store.findByGraphId(created.graphSubscriptionId!)).toBeUndefined();
        expect(await collect(store.listDue(referenceTime))).toEqual([]);
        expect((await store.list()).items).toEqual([]);
      });

      test('when the etag is stale, then delete fails with a conflict and keeps the row', async () => {
        const created = await store.create(aSubscription({ tenantId: tenantA }));
        await store.update({ ...created, status: 'deleting' }, created.etag);

        const failure = await failureOf(store.delete(created));

        expect(isStoreConflictError(failure)).toBe(true);
        expect((await store.get(tenantA, created.definition.key))?.status).toBe('deleting');
      });

      test('when an explicit etag is given, then it is the one checked', async () => {
        const created = await store.create(aSubscription({ tenantId: tenantA }));
        const updated = await store.update({ ...created, status: 'deleting' }, created.etag);

        await store.delete(created, updated.etag);

        expect(await store.get(tenantA, created.definition.key)).toBeUndefined();
      });

      test('when already deleted, then delete fails with notFound', async () => {
        const created = await store.create(aSubscription({ tenantId: tenantA }));
        await store.delete(created);

        expect(isStoreNotFoundError(await failureOf(store.delete(created)))).toBe(true);
      });

      test('when deleted, then the key can be created again', async () => {
        const created = await store.create(aSubscription({ tenantId: tenantA, key: 'reused' }));
        await store.delete(created);

        const again = await store.create(aSubscription({ tenantId: tenantA, key: 'reused' }));

        expect((await store.get(tenantA, 'reused'))?.etag).toBe(again.etag);
        expect(isStoreConflictError(await failureOf(store.update(again, created.etag)))).toBe(true);
      });
    });

    describe('list and tenants', () => {
      const statuses: readonly SubscriptionStatus[] = ['active', 'failed', 'active', 'pending'];

      async function storeSome(): Promise<void> {
        for (const [i, status] of statuses.entries()) {
          await store.create(aSubscription({ tenantId: tenantA, key: `a-${i}`, status }));
          await store.create(aSubscription({ tenantId: tenantB, key: `b-${i}`, status }));
        }
      }

      test('when no filter is given, then every subscription is listed, by tenant then key', async () => {
        await storeSome();

        const page = await store.list();

        expect(keysOf(page.items)).toEqual([
          'a-0',
          'a-1',
          'a-2',
          'a-3',
          'b-0',
          'b-1',
          'b-2',
          'b-3',
        ]);
        expect(page.continuationToken).toBeUndefined();
      });

      test('when filtered by tenant and status, then only matching subscriptions are listed', async () => {
        await storeSome();

        expect(keysOf((await store.list({ tenantId: tenantB })).items)).toEqual([
          'b-0',
          'b-1',
          'b-2',
          'b-3',
        ]);
        expect(keysOf((await store.list({ status: 'active' })).items)).toEqual([
          'a-0',
          'a-2',
          'b-0',
          'b-2',
        ]);
        expect(keysOf((await store.list({ tenantId: tenantA, status: 'failed' })).items)).toEqual([
          'a-1',
        ]);
      });

      test('when a filter value holds quotes, then it matches nothing instead of widening the query', async () => {
        await storeSome();

        const page = await store.list({ tenantId: `${tenantA}' or PartitionKey ne '` });

        expect(page.items).toEqual([]);
      });

      test('when paged, then the pages together hold every subscription exactly once', async () => {
        await storeSome();

        const seen: string[] = [];
        let token: string | undefined;
        let pages = 0;
        do {
          const page = await store.list({ pageSize: 3, continuationToken: token });
          expect(page.items.length).toBeLessThanOrEqual(3);
          seen.push(...keysOf(page.items));
          token = page.continuationToken;
          pages += 1;
        } while (token !== undefined && pages < 20);

        expect(seen).toEqual(['a-0', 'a-1', 'a-2', 'a-3', 'b-0', 'b-1', 'b-2', 'b-3']);
      });

      test('when paged with a status filter, then the filter holds on every page', async () => {
        await storeSome();

        const first = await store.list({ status: 'active', pageSize: 1 });
        const rest: string[] = [];
        let token = first.continuationToken;
        while (token !== undefined) {
          const page = await store.list({
            status: 'active',
            pageSize: 1,
            continuationToken: token,
          });
          rest.push(...keysOf(page.items));
          token = page.continuationToken;
        }

        expect([...keysOf(first.items), ...rest]).toEqual(['a-0', 'a-2', 'b-0', 'b-2']);
      });

      test('when the page size is out of range or the token is not ours, then list rejects the call', async () => {
        await expect(store.list({ pageSize: 0 })).rejects.toMatchObject({ kind: 'badInput' });
        await expect(store.list({ pageSize: 1001 })).rejects.toMatchObject({ kind: 'badInput' });
        await expect(store.list({ continuationToken: 'not-a-token' })).rejects.toMatchObject({
          kind: 'badInput',
        });
      });

      test('when subscriptions exist in two tenants, then tenants lists both in order', async () => {
        await store.create(aSubscription({ tenantId: tenantB }));
        await store.create(aSubscription({ tenantId: tenantA }));
        await store.create(aSubscription({ tenantId: tenantA }));

        expect(await store.tenants()).toEqual([tenantA, tenantB]);
      });
    });

    describe('a failure between the writes of one state change', () => {
      test('when the registry write fails, then nothing is stored and a retry succeeds', async () => {
        const subscription = aSubscription({ tenantId: tenantA, nextActionAt: referenceTime });
        faults.failNext('registry');

        const failure = await failureOf(store.create(subscription));

        expect(failure).toBeInstanceOf(InjectedFault);
        expect(await store.get(tenantA, subscription.definition.key)).toBeUndefined();
        expect(await store.tenants()).not.toContain(tenantA);
        await store.create(subscription);
        expect(await store.tenants()).toEqual([tenantA]);
        expect(keysOf(await collect(store.listDue(referenceTime)))).toEqual([
          subscription.definition.key,
        ]);
      });

      test('when the write after the registry fails, then only an empty tenant remains and a retry succeeds', async () => {
        const subscription = aSubscription({ tenantId: tenantA, nextActionAt: referenceTime });
        faults.failNext('transaction');

        const failure = await failureOf(store.create(subscription));

        expect(failure).toBeInstanceOf(InjectedFault);
        expect(await store.tenants()).toEqual([tenantA]);
        expect(await store.get(tenantA, subscription.definition.key)).toBeUndefined();
        expect(await store.findByGraphId(subscription.graphSubscriptionId!)).toBeUndefined();
        expect(await collect(store.listDue(referenceTime))).toEqual([]);
        const created = await store.create(subscription);
        expect((await store.findByGraphId(subscription.graphSubscriptionId!, tenantA))?.etag).toBe(
          created.etag,
        );
      });

      test('when an update that moves every index fails, then the due index and the Graph id still find the old state', async () => {
        const created = await store.create(
          aSubscription({ tenantId: tenantA, nextActionAt: minutesAfter(referenceTime, -5) }),
        );
        const newGraphId = aGraphSubscriptionId();
        faults.failNext('transaction');

        const failure = await failureOf(
          store.update(
            {
              ...created,
              graphSubscriptionId: newGraphId,
              nextActionAt: minutesAfter(referenceTime, 60),
              generation: 2,
            },
            created.etag,
          ),
        );

        expect(failure).toBeInstanceOf(InjectedFault);
        const [due] = await collect(store.listDue(referenceTime));
        expect(withoutEtag(due)).toEqual(withoutEtag(created));
        expect((await store.findByGraphId(created.graphSubscriptionId!, tenantA))?.etag).toBe(
          created.etag,
        );
        expect(await store.findByGraphId(newGraphId)).toBeUndefined();
        // The retry after the "restart" goes through with the token read before the failure.
        const retried = await store.update({ ...due!, generation: 2 }, due!.etag);
        expect(retried.generation).toBe(2);
      });

      test('when a delete fails, then the subscription and its indexes are all still there', async () => {
        const created = await store.create(
          aSubscription({ tenantId: tenantA, nextActionAt: referenceTime }),
        );
        faults.failNext('transaction');

        expect(await failureOf(store.delete(created))).toBeInstanceOf(InjectedFault);

        expect((await store.get(tenantA, created.definition.key))?.etag).toBe(created.etag);
        expect((await store.findByGraphId(created.graphSubscriptionId!))?.etag).toBe(created.etag);
        expect(keysOf(await collect(store.listDue(referenceTime)))).toEqual([
          created.definition.key,
        ]);
      });
    });

    test('when rows are skipped as invalid, then onInvalid is the only report (a valid store reports none)', async () => {
      await store.create(aSubscription({ tenantId: tenantA, nextActionAt: referenceTime }));
      const problems: InvalidRow[] = [];

      await collect(store.listDue(referenceTime, { onInvalid: (p) => problems.push(p) }));
      await store.list({ onInvalid: (p) => problems.push(p) });

      expect(problems).toEqual([]);
    });
  });
}
