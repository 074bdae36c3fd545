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
