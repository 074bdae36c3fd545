/**
 * One logger port. Functions adapt it to the InvocationContext, the CLI to stderr. Properties are
 * structured (`{ tenantId, key, graphId, action, outcome, ms }`) and never carry clientState,
 * tokens, secrets or connection strings.
 */
export type LogProperties = Readonly<Record<string, string | number | boolean | null | undefined>>;

export interface Logger {
  info(message: string, properties?: LogProperties): void;
  warn(message: string, properties?: LogProperties): void;
  error(message: string, properties?: LogProperties): void;
}

export const silentLogger: Logger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** Property names whose values are never written, whatever a caller passes by mistake. */
const secretName = /secret|token|password|clientstate|connectionstring|authorization|credential/i;

/**
 * One log line: the message, a space and the properties as one-line JSON (undefined ones as
 * null, so every line of a kind has the same keys), e.g. `subscription action {"tenantId":"...","action":"renew","outcome":"succeeded"}`.
 * Application Insights keeps the line whole in `message`, so a query reads the properties with
 * `parse_json(substring(message, strlen("subscription action ")))`. A secret-looking property
 * name gets `[redacted]`, and a function key in a URL (`code=`) is cut off.
 */
export function formatLogLine(message: string, properties?: LogProperties): string {
  const single = message.replace(/\s*[\r\n]+\s*/g, ' ');
  if (properties === undefined) return single;
  const kept: Record<string, string | number | boolean | null> = {};
  for (const [name, value] of Object.entries(properties)) {
    if (value === undefined || value === null) kept[name] = null;
    else if (secretName.test(name)) kept[name] = '[redacted]';
    else if (typeof value === 'string') kept[name] = value.replace(/([?&]code=)[^&\s]*/gi, '$1...');
    else kept[name] = value;
  }
  return `${single} ${JSON.stringify(kept)}`;
}

/** The inverse of `formatLogLine`: the message and, when the line has them, its properties. */
export function parseLogLine(line: string): {
  readonly message: string;
  readonly properties: Readonly<Record<string, unknown>> | undefined;
} {
  for (let at = line.indexOf(' {'); at !== -1; at = line.indexOf(' {', at + 1)) {
    try {
      const parsed: unknown = JSON.parse(line.slice(at + 1));
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
        return { message: line.slice(0, at), properties: parsed as Record<string, unknown> };
      }
    } catch {
      // NOTE: a brace inside the message itself; the properties start later.
    }
  }
  return { message: line, properties: undefined };
}
