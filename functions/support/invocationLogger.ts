import type { InvocationContext } from '@azure/functions';
import { formatLogLine, type Logger } from '../../shared/logger';

/**
 * The core's Logger, written through the invocation so the host correlates every line. Each
 * line is one string, `message {json}` (formatLogLine): the v4 library would otherwise pass an
 * object argument through util.format, which reaches Application Insights as a multi-line
 * JavaScript object literal that no query can read.
 */
export function invocationLogger(context: InvocationContext): Logger {
  return {
    info: (message, properties) => {
      context.info(formatLogLine(message, properties));
    },
    warn: (message, properties) => {
      context.warn(formatLogLine(message, properties));
    },
    error: (message, properties) => {
      context.error(formatLogLine(message, properties));
    },
  };
}
