import { roleRefusal } from '../../devkit/graphSimulator/roles';

/**
 * The simulator's permission check (devkit/graphSimulator/roles.ts): the token's roles against
 * the app's permission tables, per operation.
 */

describe("the simulator's role check", () => {
  test.each([
    ['users/u1/messages', 'create', ['Mail.Read'], 'allowed'],
    ['users/u1/messages', 'update', ['Mail.Read'], 'allowed'],
    ['users/u1/messages', 'create', [], 'notGranted'],
    // Graph does not take a write permission where read is enough.
    ['users/u1/messages', 'create', ['Mail.ReadWrite'], 'notGranted'],
    ['users/u1/messages', 'reauthorize', ['Calendars.Read'], 'notGranted'],
    ['drives/d1/root', 'create', ['Files.Read.All'], 'allowed'],
    ['drives/d1/root', 'update', ['Files.Read.All'], 'notGranted'],
    ['drives/d1/root', 'reauthorize', ['Files.Read.All'], 'notGranted'],
    // The keeper grants the ReadWrite one for drives and lists; it creates too.
    ['drives/d1/root', 'create', ['Files.ReadWrite.All'], 'allowed'],
    ['sites/s1/lists/l1', 'create', ['Sites.ReadWrite.All'], 'allowed'],
    ['sites/s1/lists/l1', 'update', ['Sites.ReadWrite.All'], 'allowed'],
    ['communications/presences/p1', 'create', ['Presence.Read.All'], 'delegatedOnly'],
    ['groups/g1/conversations', 'create', ['Group.Read.All'], 'delegatedOnly'],
    ['me/events', 'create', ['Calendars.Read'], 'delegatedOnly'],
    ['users/u1/todo/lists/l1/tasks', 'create', ['Tasks.Read.All'], 'allowed'],
    ['users/u1/todo/lists/l1/tasks', 'update', ['Tasks.Read.All'], 'delegatedOnly'],
    ['users/u1/todo/lists/l1/tasks', 'reauthorize', ['Tasks.Read.All'], 'delegatedOnly'],
    // A resource outside the table: no rule known, nothing refused.
    ['employeeExperience/learningProviders', 'create', [], 'allowed'],
  ] as const)(
    'when %s is asked to %s with roles %j, then %s',
    (resource, operation, roles, expected) => {
      expect(roleRefusal(resource, operation, roles) ?? 'allowed').toBe(expected);
    },
  );
});
