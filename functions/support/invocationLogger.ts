import type { InvocationContext } from '@azure/functions';
import type { Logger, LogProperties } from '../../shared/logger';

/** The core's Logger, written through the invocation so the host correlates every line. */
export function invocationLogger(context: InvocationContext): Logger {
  const line = (message: string, properties?: LogProperties) =>
    properties === undefined ? [message] : [message, properties];
  return {
    info: (message, properties) => {
      context.info(...line(message, properties));
    },
    warn: (message, properties) => {
      context.warn(...line(message, properties));
    },
    error: (message, properties) => {
      context.error(...line(message, properties));
    },
  };
}
