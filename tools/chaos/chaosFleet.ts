import {
  subscriptionDefinitionSchema,
  type SubscriptionDefinition,
} from '../../shared/subscriptions/model';
import type { SeededRandom } from './seededRandom';

/**
 * The subscriptions a chaos run keeps alive: a mix of resources with different maximum lifetimes
 * (shared/graph/lifetimes.ts), spread over the tenants so that each tenant has some of each.
 */

export type ResourceKind =
  'channelMessages' | 'chatMessages' | 'mail' | 'events' | 'driveRoot' | 'user' | 'group';

export type LifecycleEventName = 'reauthorizationRequired' | 'subscriptionRemoved' | 'missed';

export interface ResourceMix {
  readonly kind: ResourceKind;
  readonly share: number;
  /** For the run's output. */
  readonly label: string;
  /** Graph's maximum for the resource, in minutes (the app reads its own table). */
  readonly maxMinutes: number;
  /** What the definition asks for, when less than the maximum. */
  readonly lifetimeMinutes?: number;
  readonly resource: (id: string) => string;
  /** What the resource supports (drive roots: `updated` only). */
  readonly changeType: string;
  /** docs/graph-rules.md#lifecycle-notifications: reauthorizationRequired for all; the others for some resources only. */
  readonly events: readonly LifecycleEventName[];
}

const allEvents: readonly LifecycleEventName[] = [
  'reauthorizationRequired',
  'subscriptionRemoved',
  'missed',
];

/**
 * NOTE: the 60-minute resources cost one renewal every 40 minutes each and dominate the run's
 * Graph traffic, so they are 12% of the fleet; the long-lived ones are the rest.
 */
export const resourceMix: readonly ResourceMix[] = [
  {
    // NOTE: presence has no application permission (docs/permissions.md), so the 60-minute case is
    // Teams channel messages asked for 60 minutes.
    kind: 'channelMessages',
    share: 0.06,
    label: 'Teams channel messages',
    maxMinutes: 4320,
    lifetimeMinutes: 60,
    resource: (id) => `teams/${id}/channels/19:${id}@thread.tacv2/messages`,
    changeType: 'created,updated',
    events: ['reauthorizationRequired'],
  },
  {
    // NOTE: Teams chat messages allow 4,320 minutes today (60 before 2023, docs/graph-rules.md#lifetimes); these
    // definitions ask for 60 with `lifetimeMinutes`, which the app honours below the maximum.
    kind: 'chatMessages',
    share: 0.06,
    label: 'Teams chat messages',
    maxMinutes: 4320,
    lifetimeMinutes: 60,
    resource: (id) => `chats/19:${id}@thread.v2/messages`,
    changeType: 'created,updated',
    events: ['reauthorizationRequired', 'subscriptionRemoved'],
  },
  {
    kind: 'mail',
    share: 0.2,
    label: 'Outlook mail',
    maxMinutes: 10080,
    resource: (id) => `users/${id}/mailFolders('Inbox')/messages`,
    changeType: 'created,updated,deleted',
    events: allEvents,
  },
  {
    kind: 'events',
    share: 0.14,
    label: 'Outlook events',
    maxMinutes: 10080,
    resource: (id) => `users/${id}/events`,
    changeType: 'created,updated,deleted',
    events: allEvents,
  },
  {
    kind: 'driveRoot',
    share: 0.26,
    label: 'OneDrive root',
    maxMinutes: 42300,
    resource: (id) => `drives/b!${id}/root`,
    changeType: 'updated',
    events: ['reauthorizationRequired'],
  },
  {
    kind: 'user',
    share: 0.14,
    label: 'users',
    maxMinutes: 41760,
    resource: (id) => `users/${id}`,
    changeType: 'updated,deleted',
    events: ['reauthorizationRequired'],
  },
  {
    kind: 'group',
    share: 0.14,
    label: 'groups',
    maxMinutes: 41760,
    resource: (id) => `groups/${id}`,
    changeType: 'updated,deleted',
    events: ['reauthorizationRequired'],
  },
];

export interface FleetMember {
  readonly definition: SubscriptionDefinition;
  readonly mix: ResourceMix;
  readonly tenantIndex: number;
}

/** Tenant GUIDs of a run: the same index gives the same tenant in every run. */
export function chaosTenantId(index: number): string {
  return `c4a05000-0000-4000-8000-${index.toString(16).padStart(12, '0')}`;
}

export function memberKey(member: FleetMember): string {
  return `${member.definition.tenantId}|${member.definition.key}`;
}

export interface FleetOptions {
  readonly subscriptions: number;
  readonly tenants: number;
  readonly notificationUrl: string;
  readonly lifecycleNotificationUrl: string;
}

/** `subscriptions` definitions, resources in the mix's shares, tenants in turn. */
export function buildFleet(options: FleetOptions, random: SeededRandom): FleetMember[] {
  const counts = apportion(
    options.subscriptions,
    resourceMix.map((m) => m.share),
  );
  const members: FleetMember[] = [];
  const perTenant = new Map<number, number>();
  let index = 0;
  resourceMix.forEach((mix, m) => {
    for (let i = 0; i < (counts[m] ?? 0); i++) {
      const tenantIndex = index++ % options.tenants;
      const n = (perTenant.get(tenantIndex) ?? 0) + 1;
      perTenant.set(tenantIndex, n);
      const definition = subscriptionDefinitionSchema.parse({
        key: `t${tenantIndex}-${mix.kind}-${String(n).padStart(5, '0')}`,
        tenantId: chaosTenantId(tenantIndex),
        resource: mix.resource(random.guid()),
        changeType: mix.changeType,
        notificationUrl: options.notificationUrl,
        lifecycleNotificationUrl: options.lifecycleNotificationUrl,
        ...(mix.lifetimeMinutes === undefined ? {} : { lifetimeMinutes: mix.lifetimeMinutes }),
      });
      members.push({ definition, mix, tenantIndex });
    }
  });
  return members;
}

/** Largest-remainder rounding: whole counts that add up to `total`. */
function apportion(total: number, shares: readonly number[]): number[] {
  const sum = shares.reduce((a, b) => a + b, 0);
  const exact = shares.map((s) => (total * s) / sum);
  const counts = exact.map(Math.floor);
  let left = total - counts.reduce((a, b) => a + b, 0);
  const order = exact
    .map((x, i) => ({ i, rest: x - Math.floor(x) }))
    .sort((a, b) => b.rest - a.rest || a.i - b.i);
  for (const { i } of order) {
    if (left-- <= 0) break;
    counts[i] = (counts[i] ?? 0) + 1;
  }
  return counts;
}
