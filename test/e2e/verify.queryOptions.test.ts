import { startHarness, type Harness } from '../../devkit/appHarness';
import { verifySubscription } from '../../shared/operations/verify';
import { runSweep } from '../../shared/renewal/sweep';
import { toView, type SubscriptionDefinition } from '../../shared/subscriptions/model';
import { driftText, subscriptionDetails } from '../../cli/subscriptionText';

/**
 * `notificationQueryOptions` and `notificationUrlAppId` in the admin view and in `verify`: shown
 * when set, and Graph's copy compared with what the app applied (both are applied by recreate,
 * https://learn.microsoft.com/graph/api/resources/subscription).
 */

const queryOptions = "$filter=status eq 'active'";
const appId = '1f3c5b2a-6d4e-4f80-9a7b-0c1d2e3f4a5b';

let h: Harness;

beforeEach(async () => {
  h = await startHarness({ store: 'memory' });
});

afterEach(async () => {
  await h.stop();
});

async function createdWithOptions() {
  await h.manage({
    key: 'alerts',
    resource: 'reports/healthMonitoring/alerts',
    changeType: 'created,updated',
    notificationQueryOptions: queryOptions,
    notificationUrlAppId: appId,
  });
  await runSweep(h.deps, h.deps.sweepOptions);
  const row = await h.read('alerts');
  expect(row.status).toBe('active');
  return row;
}

/** Rewrites what the row says was applied on Graph (Graph's copy stays as it is). */
async function recordApplied(changes: Partial<SubscriptionDefinition>): Promise<void> {
  const { etag, ...row } = await h.read('alerts');
  const applied = row.applied?.definition ?? row.definition;
  await h.store.update(
    {
      ...row,
      applied: {
        definition: { ...applied, ...changes },
        wantedRevision: row.applied?.wantedRevision ?? 0,
      },
    },
    etag,
  );
}

describe('verify and the view: notificationQueryOptions and notificationUrlAppId', () => {
  test('when a definition sets them, then Graph has them, the view shows them and verify finds it in sync', async () => {
    const row = await createdWithOptions();

    const onGraph = h.sim.subscriptions(h.tenantId)[0];
    expect(onGraph).toMatchObject({
      notificationQueryOptions: queryOptions,
      notificationUrlAppId: appId,
    });
    const view = toView(row);
    expect(view).toMatchObject({
      notificationQueryOptions: queryOptions,
      notificationUrlAppId: appId,
    });
    const text = subscriptionDetails(view, h.clock.now());
    expect(text).toMatch(
      new RegExp(`^notificationQueryOptions +\\$filter=status eq 'active'$`, 'm'),
    );
    expect(text).toMatch(new RegExp(`^notificationUrlAppId +${appId}$`, 'm'));
    expect(await verifySubscription(h.deps, row)).toMatchObject({
      state: 'inSync',
      differences: [],
    });
  });

  test('when they are not set, then the view has null and the text leaves them out', async () => {
    const row = await h.manage({ key: 'mail' });

    const view = toView(row);

    expect(view).toMatchObject({ notificationQueryOptions: null, notificationUrlAppId: null });
    expect(subscriptionDetails(view, h.clock.now())).not.toContain('notificationQueryOptions');
  });

  test("when what was applied differs from Graph's copy, then verify reports both fields as drift", async () => {
    await createdWithOptions();
    await recordApplied({
      notificationQueryOptions: "$filter=status eq 'resolved'",
      notificationUrlAppId: undefined,
    });

    const report = await verifySubscription(h.deps, await h.read('alerts'));

    expect(report.state).toBe('drifted');
    expect(report.differences).toEqual([
      {
        field: 'notificationQueryOptions',
        ours: "$filter=status eq 'resolved'",
        graph: queryOptions,
      },
      { field: 'notificationUrlAppId', ours: null, graph: appId },
    ]);
    expect(driftText(report)).toContain(`notificationUrlAppId: ours (none), Graph ${appId}`);
  });

  test('when the app id differs only in case, then it is not drift', async () => {
    await createdWithOptions();
    await recordApplied({ notificationUrlAppId: appId.toUpperCase() });

    const report = await verifySubscription(h.deps, await h.read('alerts'));

    expect(report).toMatchObject({ state: 'inSync', differences: [] });
  });
});
