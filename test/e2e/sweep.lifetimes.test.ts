import {
  resourceFamilies,
  resourceFamilyOf,
  type ResourceFamilyName,
} from '../../shared/graph/lifetimes';
import { appOnlySupportFor, permissionsFor } from '../../shared/graph/permissions';
import { runSweep } from '../../shared/renewal/sweep';
import { startHarness, type Harness } from '../../devkit/appHarness';

/**
 * The sweep keeps a subscription of every resource family alive: created once, then renewed at
 * each `nextActionAt` on simulated time, each new expiry within the family's maximum
 * (docs/graph-rules.md#lifetimes) and accepted by the Graph simulator, whose lifetime table is written apart from ours.
 * Families an app-only token cannot keep (docs/permissions.md) are refused by the simulator as
 * by Graph: the sweep records the refusal with the delegated permission they would need.
 */

const minute = 60_000;
const renewals = 3;
/** Any base64 text is a certificate to the simulator. */
const certificate = Buffer.from('test encryption certificate').toString('base64');

/** One resource path per family; `satisfies` makes a new family in the table fail to compile. */
const samples = {
  aiInteraction: { resource: 'copilot/interactionHistory/getAllEnterpriseInteractions' },
  copilot: { resource: 'copilot/users/7b1c2d3e-0000-4000-8000-000000000001/aiInsights' },
  securityAlert: { resource: 'security/alerts_v2' },
  approvalItem: { resource: 'solutions/approval/approvalItems' },
  callRecord: { resource: 'communications/callRecords' },
  callRecording: { resource: 'communications/onlineMeetings/getAllRecordings' },
  callTranscript: { resource: 'communications/onlineMeetings/getAllTranscripts' },
  channel: { resource: 'teams/getAllChannels' },
  chat: { resource: 'chats' },
  chatMessage: { resource: 'chats/getAllMessages' },
  conversationMember: { resource: 'chats/getAllMembers' },
  onlineMeeting: {
    resource:
      "communications/onlineMeetings(joinWebUrl='https://teams.microsoft.com/l/meetup-join/a/b')/meetingCallEvents",
  },
  team: { resource: 'teams' },
  teamsAppInstallation: { resource: 'teams/team-1/installedApps' },
  shift: { resource: 'teams/team-1/schedule/shifts' },
  openShiftChangeRequest: { resource: 'teams/team-1/schedule/openShiftChangeRequests' },
  offerShiftRequest: { resource: 'teams/team-1/schedule/offerShiftRequests' },
  swapShiftsChangeRequest: { resource: 'teams/team-1/schedule/swapShiftsChangeRequests' },
  timeOffRequest: { resource: 'teams/team-1/schedule/timeOffRequests' },
  schedule: { resource: 'teams/team-1/schedule/openShifts' },
  groupConversation: { resource: 'groups/group-1/conversations' },
  driveItem: { resource: 'drives/drive-1/root', changeType: 'updated' },
  list: { resource: 'sites/site-1/lists/list-1', changeType: 'updated' },
  message: { resource: 'users/user-1/messages' },
  event: { resource: 'users/user-1/events' },
  contact: { resource: 'users/user-1/contacts' },
  user: { resource: 'users' },
  group: { resource: 'groups' },
  directoryObject: { resource: 'directory/deletedItems/microsoft.graph.user' },
  presence: { resource: 'communications/presences/user-1' },
  printer: { resource: 'print/printers/printer-1/jobs' },
  printTaskDefinition: { resource: 'print/taskDefinitions/definition-1/tasks' },
  todoTask: { resource: 'users/user-1/todo/lists/list-1/tasks' },
  healthMonitoringAlert: { resource: 'reports/healthMonitoring/alerts' },
  baseTask: { resource: 'users/user-1/tasks/lists/list-1/tasks' },
  virtualEvent: { resource: 'solutions/virtualEvents/webinars/webinar-1/sessions' },
  unknown: { resource: 'employeeExperience/learningProviders' },
} satisfies Record<
  ResourceFamilyName,
  { readonly resource: string; readonly changeType?: 'updated' }
>;

interface FamilyCase {
  readonly label: string;
  readonly family: ResourceFamilyName;
  readonly resource: string;
  readonly changeType: string;
  readonly includeResourceData: boolean;
  readonly maxMinutes: number;
}

function familyCases(): FamilyCase[] {
  const cases: FamilyCase[] = [];
  for (const name of Object.keys(resourceFamilies) as ResourceFamilyName[]) {
    const family = resourceFamilies[name];
    const sample: { readonly resource: string; readonly changeType?: string } = samples[name];
    const base = {
      family: name,
      resource: sample.resource,
      changeType: sample.changeType ?? 'created,updated',
    };
    cases.push({
      ...base,
      label: name,
      includeResourceData: false,
      maxMinutes: family.maxMinutes,
    });
    const richMaxMinutes: number | undefined = family.maxMinutesWithResourceData;
    if (richMaxMinutes !== undefined) {
      cases.push({
        ...base,
        label: `${name} with resource data`,
        includeResourceData: true,
        maxMinutes: richMaxMinutes,
      });
    }
  }
  return cases;
}

let h: Harness;

beforeEach(async () => {
  h = await startHarness({ store: 'memory' });
});

afterEach(async () => {
  await h.stop();
});

const sweep = () => runSweep(h.deps, h.deps.sweepOptions);

function onGraph(id: string) {
  return h.sim.subscriptions(h.tenantId).find((s) => s.id === id);
}

describe('sweep: every resource family stays alive', () => {
  test('when the lifetime table is read, then every Outlook family has a with-resource-data case', () => {
    const labels = familyCases().map((c) => c.label);
    expect(labels).toEqual(
      expect.arrayContaining([
        'message with resource data',
        'event with resource data',
        'contact with resource data',
      ]),
    );
    expect(labels).toHaveLength(Object.keys(resourceFamilies).length + 3);
  });

  test.each(familyCases().filter((c) => appOnlySupportFor(c.resource).supported))(
    'when the $label subscription is swept at each nextActionAt, then it is created and renewed three times within $maxMinutes minutes',
    async ({ family, resource, changeType, includeResourceData, maxMinutes }) => {
      expect(resourceFamilyOf(resource).family).toBe(family);
      await h.manage({
        key: 'kept',
        resource,
        changeType,
        includeResourceData,
        ...(includeResourceData
          ? { encryptionCertificate: certificate, encryptionCertificateId: 'cert-1' }
          : {}),
      });

      await sweep();

      const created = await h.read('kept');
      expect(created).toMatchObject({ status: 'active', generation: 1, lastError: undefined });
      const graphId = created.graphSubscriptionId!;
      expect(onGraph(graphId)?.expirationDateTime).toEqual(created.expiresAt);
      expect(onGraph(graphId)?.includeResourceData).toBe(includeResourceData);

      let previous = created;
      for (let renewal = 1; renewal <= renewals; renewal++) {
        expect(previous.nextActionAt.getTime()).toBeLessThan(previous.expiresAt!.getTime());
        h.clock.advanceTo(previous.nextActionAt);
        // NOTE: still alive on Graph when it comes due: renewal happens before expiry.
        expect(onGraph(graphId)).toBeDefined();
        h.sim.resetCalls();

        await sweep();

        const updates = h.sim.calls().filter((c) => c.kind === 'update');
        expect(updates).toEqual([
          expect.objectContaining({ subscriptionId: graphId, status: 200 }),
        ]);
        const renewedAt = updates[0]!.at.getTime();
        const row = await h.read('kept');
        const graphExpiry = onGraph(graphId)?.expirationDateTime;
        expect(row).toMatchObject({ status: 'active', graphSubscriptionId: graphId });
        expect(row.generation).toBe(1);
        expect(graphExpiry).toEqual(row.expiresAt);
        expect(graphExpiry!.getTime()).toBeGreaterThan(previous.expiresAt!.getTime());
        expect(graphExpiry!.getTime() - renewedAt).toBeLessThanOrEqual(maxMinutes * minute);
        // NOTE: close to the maximum (less the 5-minute margin), so renewals stay rare.
        expect(graphExpiry!.getTime() - renewedAt).toBeGreaterThan((maxMinutes - 6) * minute);
        expect(row.nextActionAt.getTime()).toBeGreaterThan(renewedAt);
        previous = row;
      }
    },
  );
});

describe('sweep: families an app-only keeper cannot keep alive', () => {
  const delegatedOnly = familyCases().filter(
    (c) => !appOnlySupportFor(c.resource).supported && c.family !== 'todoTask',
  );

  test('when the table is read, then presence, group conversations and baseTask are delegated only', () => {
    expect(delegatedOnly.map((c) => c.family).sort()).toEqual([
      'baseTask',
      'groupConversation',
      'presence',
    ]);
  });

  test.each(delegatedOnly)(
    'when the $label subscription is created with an app-only token, then Graph refuses it and the row is failed naming the delegated permission',
    async ({ resource, changeType }) => {
      await h.manage({ key: 'refused', resource, changeType });

      await sweep();

      expect(h.sim.calls().filter((c) => c.kind === 'create')).toEqual([
        expect.objectContaining({ status: 403 }),
      ]);
      const row = await h.read('refused');
      expect(row.status).toBe('failed');
      expect(row.lastError).toMatchObject({ status: 403, code: 'ExtensionError' });
      expect(row.lastError?.requiredPermissions).toEqual(
        permissionsFor(resource).delegated.map((p) => `${p} (delegated only)`),
      );
      expect(h.sim.subscriptions(h.tenantId)).toEqual([]);
    },
  );

  test('when a todoTask subscription is created app-only, then create succeeds and its first renewal is refused', async () => {
    await h.manage({ key: 'tasks', resource: samples.todoTask.resource });
    await sweep();
    const created = await h.read('tasks');
    expect(created.status).toBe('active');
    h.clock.advanceTo(created.nextActionAt);

    await sweep();

    const updates = h.sim.calls().filter((c) => c.kind === 'update');
    expect(updates).toEqual([expect.objectContaining({ status: 403 })]);
    const row = await h.read('tasks');
    expect(row.status).toBe('failed');
    expect(row.lastError?.requiredPermissions).toEqual(['Tasks.ReadWrite (delegated only)']);
  });
});
