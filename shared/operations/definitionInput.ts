import type { Config } from '../config';
import { checkDefinition } from '../graph/definitionChecks';
import { subscriptionDefinitionSchema, type SubscriptionDefinition } from '../subscriptions/model';
import type { FieldProblem } from './errors';

/**
 * Turns what an operator sent (API body, CLI file or flags) into a definition, or every problem
 * with it at once: shape and types first (the schema), then Graph's rules (lifetimes,
 * certificates, lifecycle URL). Messages name fields and limits, never values: URLs may carry
 * a function key.
 */
export type DefinitionInput =
  | { readonly ok: true; readonly definition: SubscriptionDefinition }
  | { readonly ok: false; readonly problems: readonly FieldProblem[] };

export interface DefinitionInputOptions {
  /** The key from the URL; the body may omit it, and must not contradict it. */
  readonly key?: string;
  readonly config: Pick<Config, 'lifecycleNotificationUrl' | 'graph'>;
}

export function parseDefinitionInput(
  input: unknown,
  options: DefinitionInputOptions,
): DefinitionInput {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, problems: [{ field: '(body)', message: 'must be a JSON object' }] };
  }
  const problems: FieldProblem[] = [];
  const fields: Record<string, unknown> = { ...(input as Record<string, unknown>) };
  if (options.key !== undefined) {
    if (fields.key !== undefined && fields.key !== options.key) {
      problems.push({ field: 'key', message: 'must match the key in the URL' });
    }
    fields.key = options.key;
  }
  // NOTE: the app-wide lifecycle URL is written into the definition, so a later change of the
  // setting shows up as a definition change (applied by recreating) when definitions are applied.
  if (fields.lifecycleNotificationUrl === undefined) {
    fields.lifecycleNotificationUrl = options.config.lifecycleNotificationUrl;
  }
  const parsed = subscriptionDefinitionSchema.safeParse(fields);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const k of issue.keys) {
          problems.push({ field: k, message: 'is not a field of a subscription definition' });
        }
      } else {
        problems.push({
          field: issue.path.map(String).join('.') || '(body)',
          message: issue.message,
        });
      }
    }
    return { ok: false, problems };
  }
  problems.push(
    ...checkDefinition(parsed.data, {
      cloud: options.config.graph.cloud,
      defaultLifecycleNotificationUrl: options.config.lifecycleNotificationUrl,
    }),
  );
  return problems.length > 0 ? { ok: false, problems } : { ok: true, definition: parsed.data };
}
