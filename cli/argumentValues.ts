import {
  subscriptionKeyPattern,
  subscriptionStatuses,
  tenantIdPattern,
  type SubscriptionStatus,
} from '../shared/subscriptions/model';
import { optionValue, UsageError, type ParsedArguments } from './commandLine';

/** Values of options and arguments that several commands share, checked before anything runs. */

export const tenantOptionSpec = {
  name: 'tenant',
  value: 'TENANT',
  description: 'The tenant id (GUID); without it the key is looked up in every tenant.',
} as const;

/** `--tenant`, lower-cased as stored; a usage error when it is not a GUID. */
export function tenantOption(args: ParsedArguments, command: string): string | undefined {
  const tenant = optionValue(args, 'tenant');
  if (tenant === undefined) return undefined;
  if (!tenantIdPattern.test(tenant)) {
    throw new UsageError('--tenant must be a tenant id (GUID)', command);
  }
  return tenant.toLowerCase();
}

export function statusOption(
  args: ParsedArguments,
  command: string,
): SubscriptionStatus | undefined {
  const status = optionValue(args, 'status');
  if (status === undefined) return undefined;
  const known = subscriptionStatuses.find((s) => s === status);
  if (known === undefined) {
    throw new UsageError(`--status must be one of ${subscriptionStatuses.join(', ')}`, command);
  }
  return known;
}

/** The KEY argument; a usage error when it cannot be a key (so it is never looked up). */
export function keyArgument(args: ParsedArguments, command: string): string | undefined {
  const key = args.positionals[0];
  if (key === undefined) return undefined;
  if (!subscriptionKeyPattern.test(key)) {
    throw new UsageError(
      'KEY must be 1-128 letters, digits, ".", "_", ":" or "-", starting with a letter or digit',
      command,
    );
  }
  return key;
}

const isoTimestamp = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** An ISO 8601 timestamp with a zone (`2026-06-01T12:00:00.000Z`). */
export function timestampOption(
  args: ParsedArguments,
  name: string,
  command: string,
): Date | undefined {
  const value = optionValue(args, name);
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  if (!isoTimestamp.test(value) || Number.isNaN(t)) {
    throw new UsageError(
      `--${name} must be an ISO 8601 time with a zone, e.g. 2026-06-01T12:00:00.000Z`,
      command,
    );
  }
  return new Date(t);
}
