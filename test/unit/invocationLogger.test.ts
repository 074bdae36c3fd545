import { InvocationContext, type LogLevel } from '@azure/functions';
import { invocationLogger } from '../../functions/support/invocationLogger';
import { formatLogLine, parseLogLine } from '../../shared/logger';

/** What reaches the Functions host (and Application Insights' `message`) from the app's logger. */

function capture(): { context: InvocationContext; lines: { level: LogLevel; args: unknown[] }[] } {
  const lines: { level: LogLevel; args: unknown[] }[] = [];
  const context = new InvocationContext({
    functionName: 'sweepSubscriptions',
    logHandler: (level, ...args) => {
      lines.push({ level, args });
    },
  });
  return { context, lines };
}

describe('invocationLogger', () => {
  test('when a line has properties, then the host gets one single-line string: message then JSON', () => {
    const { context, lines } = capture();
    invocationLogger(context).warn('subscription action failed', {
      tenantId: '11111111-1111-1111-1111-111111111111',
      key: 'mail-1',
      action: 'renew',
      outcome: 'failed',
      status: 429,
      graphId: undefined,
    });

    expect(lines).toHaveLength(1);
    const [line] = lines;
    expect(line?.level).toBe('warning');
    expect(line?.args).toHaveLength(1);
    const text = line?.args[0];
    expect(typeof text).toBe('string');
    expect(text).not.toMatch(/\n/);
    expect(text).toMatch(/^subscription action failed \{/);
    const json: unknown = JSON.parse((text as string).slice('subscription action failed '.length));
    expect(json).toEqual({
      tenantId: '11111111-1111-1111-1111-111111111111',
      key: 'mail-1',
      action: 'renew',
      outcome: 'failed',
      status: 429,
      graphId: null,
    });
  });

  test('when a line has no properties, then the message alone is written at its level', () => {
    const { context, lines } = capture();
    const log = invocationLogger(context);
    log.info('sweep started');
    log.error('health could not be read');
    expect(lines).toEqual([
      { level: 'information', args: ['sweep started'] },
      { level: 'error', args: ['health could not be read'] },
    ]);
  });

  test('when a caller passes a secret by mistake, then it never reaches the line', () => {
    const { context, lines } = capture();
    invocationLogger(context).info('lifecycle\nnotification', {
      clientState: 'the-client-state-value',
      accessToken: 'eyJ0eXAiOiJKV1QiLCJhbGciOi',
      clientSecret: 'a-client-secret',
      url: 'https://app.example.net/api/lifecycle?code=function-key-value&x=1',
    });
    const text = String(lines[0]?.args[0]);
    expect(text).not.toMatch(/the-client-state-value|eyJ0eXAi|a-client-secret|function-key-value/);
    expect(text).not.toMatch(/\n/);
    expect(parseLogLine(text)).toEqual({
      message: 'lifecycle notification',
      properties: {
        clientState: '[redacted]',
        accessToken: '[redacted]',
        clientSecret: '[redacted]',
        url: 'https://app.example.net/api/lifecycle?code=...&x=1',
      },
    });
  });

  test('when a line is parsed back, then message and properties come out as written', () => {
    const line = formatLogLine('sweep summary', {
      due: 3,
      statuses: 'x {y}',
      ok: true,
      none: null,
    });
    expect(parseLogLine(line)).toEqual({
      message: 'sweep summary',
      properties: { due: 3, statuses: 'x {y}', ok: true, none: null },
    });
    expect(parseLogLine('no properties {here')).toEqual({
      message: 'no properties {here',
      properties: undefined,
    });
  });
});
