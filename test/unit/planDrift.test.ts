import type { GraphSubscription } from '../../shared/graph/graphSubscriptions';
import { withDeploymentMarker } from '../../shared/drift/deploymentMarker';
import { planDrift } from '../../shared/drift/planDrift';
import type { ManagedSubscription, StoredSubscription } from '../../shared/subscriptions/model';
import {
  aClaim,
  aPendingSubscription,
  aSubscription,
  minutesAfter,
  referenceTime,
} from '../support/subscriptionMother';

/** The drift check's decisions for one tenant, from Graph's list and our rows. */

const ours = 'keeper-prod';
const listStartedAt = referenceTime;
const now = minutesAfter(referenceTime, 1);

function stored(sub: ManagedSubscription): StoredSubscription {
  return { ...sub, etag: 'W/"1"' };
}

function listedCopyOf(sub: ManagedSubscription, marker: string | null = ours): GraphSubscription {
  const lifecycle = sub.definition.lifecycleNotificationUrl ?? null;
  return {
    id: sub.graphSubscriptionId ?? 'orphan-id',
    resource: sub.definition.resource,
    changeType: sub.definition.changeType,
    notificationUrl: sub.definition.notificationUrl,
    lifecycleNotificationUrl:
      lifecycle === null || marker === null ? lifecycle : withDeploymentMarker(lifecycle, marker),
    expirationDateTime: sub.expiresAt ?? referenceTime,
    clientState: null,
    includeResourceData: false,
    encryptionCertificateId: '',
    latestSupportedTlsVersion: 'v1_2',
    applicationId: null,
    creatorId: null,
  };
}

const plan = (rows: ManagedSubscription[], listed: GraphSubscription[]) =>
  planDrift({ rows: rows.map(stored), listed, deploymentId: ours, listStartedAt, now });

describe('planDrift', () => {
  test('when every row is listed unchanged, then there is nothing to do', () => {
    const rows = [aSubscription(), aSubscription()];
    expect(
      plan(
        rows,
        rows.map((r) => listedCopyOf(r)),
      ),
    ).toEqual({
      gone: [],
      drifted: [],
      orphans: [],
      inFlight: 0,
    });
  });

  test('when a live row is not listed, then it is gone', () => {
    const row = aSubscription();
    expect(plan([row], []).gone.map((r) => r.definition.key)).toEqual([row.definition.key]);
  });

  test.each(['pending', 'removed', 'deleting', 'failed'] as const)(
    'when a %s row is not listed, then it is not gone (the sweep owns it)',
    (status) => {
      expect(plan([aSubscription({ status })], []).gone).toEqual([]);
    },
  );

  test('when a row is claimed or changed after the list started, then it is left for next time', () => {
    const claimed = aSubscription({ claim: aClaim({ until: minutesAfter(now, 1) }) });
    const fresh = aSubscription({ updatedAt: minutesAfter(listStartedAt, 0.5) });
    expect(plan([claimed, fresh], [])).toMatchObject({ gone: [], inFlight: 2 });
  });

  test('when a row was written at the instant the list started, then it is checked now, not next time', () => {
    // Its write followed Graph's answer, and the list was asked for after that: a missing id is
    // gone (the drift check still confirms it with a GET before recreating).
    const atStart = aSubscription({ updatedAt: listStartedAt });
    const later = aSubscription({ updatedAt: new Date(listStartedAt.getTime() + 1) });

    expect(plan([atStart, later], [])).toMatchObject({
      gone: [{ definition: { key: atStart.definition.key } }],
      inFlight: 1,
    });
  });

  test('when a claim ends far beyond the claim TTL, then it holds only the TTL after the row was written', () => {
    // Written a day before the list, claimed for a year (a clock gone wrong, a hand edit).
    const stuck = aSubscription({
      updatedAt: minutesAfter(listStartedAt, -24 * 60),
      claim: aClaim({ until: minutesAfter(now, 365 * 24 * 60) }),
    });
    const input = { rows: [stored(stuck)], listed: [], deploymentId: ours, listStartedAt, now };

    expect(planDrift({ ...input, claimTtlMs: 60_000 })).toMatchObject({
      gone: [{ definition: { key: stuck.definition.key } }],
      inFlight: 0,
    });
    expect(planDrift(input)).toMatchObject({ gone: [], inFlight: 1 });
  });

  test.each<[string | null, string]>([
    [ours, 'ours'],
    ['keeper-staging', 'foreign'],
    [null, 'unmarked'],
  ])(
    'when an unknown subscription is listed with marker %s, then it is an orphan of kind %s',
    (marker, kind) => {
      const orphan = listedCopyOf(aSubscription(), marker);
      expect(plan([], [orphan]).orphans).toEqual([{ graph: orphan, kind }]);
    },
  );

  test('when an orphan may belong to a row being created right now, then it is left alone', () => {
    const creating = aPendingSubscription({ claim: aClaim({ until: minutesAfter(now, 1) }) });
    const onGraph = listedCopyOf({ ...creating, graphSubscriptionId: 'just-created' });
    expect(plan([creating], [onGraph])).toMatchObject({ orphans: [], inFlight: 2 });
  });

  test('when Graph holds another expiry, then the row has drifted in that field', () => {
    const row = aSubscription();
    const listed = { ...listedCopyOf(row), expirationDateTime: minutesAfter(now, 60) };
    const result = plan([row], [listed]);
    expect(result.drifted.map((d) => d.differences.map((f) => f.field))).toEqual([
      ['expirationDateTime'],
    ]);
  });
});
