import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { checkCapturedLogs } from '../support/globalTeardown';
import {
  describeLeaks,
  scanCaptureDirectory,
  scanLogText,
  SecretIndex,
  type KnownSecret,
} from '../support/leakScan';

/**
 * The secrets check of the test run (global teardown): planted secrets are found and reported by
 * kind, file and line, never by value; clean logs pass.
 */

// NOTE: built at run time, so that no secret-shaped literal sits in the repository.
const clientState = randomBytes(48).toString('base64url');
const clientSecret = `${randomBytes(20).toString('base64')}~+/`;
const accountKey = randomBytes(64).toString('base64');
const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
const jwt = `${part({ typ: 'JWT', alg: 'HS256' })}.${part({ tid: 'x', aud: 'https://graph.microsoft.com' })}.${randomBytes(32).toString('base64url')}`;

const secrets: KnownSecret[] = [
  { kind: 'clientState', value: clientState },
  { kind: 'clientSecret', value: clientSecret },
];

function logText(lines: readonly string[]): string {
  return lines.map((l) => `invocation.warning\t${l}\n`).join('');
}

describe('scanLogText', () => {
  const index = new SecretIndex(secrets);

  test('when a registered clientState is in a line, then its kind, file, line and source are reported', () => {
    const text = logText([
      'lifecycle event recorded',
      `{"graphId":"g-1","clientState":"${clientState}"}`,
    ]);

    expect(scanLogText(text, 'log-1.log', index)).toEqual([
      { kind: 'clientState', file: 'log-1.log', line: 2, source: 'invocation.warning' },
    ]);
  });

  test('when a secret appears URL-encoded or JSON-escaped, then it is still found', () => {
    const text = logText([
      `token request body: client_id=abc&secret=${encodeURIComponent(clientSecret)}`,
      JSON.stringify({ nested: JSON.stringify({ secret: `x${clientSecret}` }) }),
    ]);

    expect(scanLogText(text, 'log-1.log', index).map((l) => [l.kind, l.line])).toEqual([
      ['clientSecret', 1],
      ['clientSecret', 2],
    ]);
  });

  test.each([
    ['a JWT-shaped token', `Authorization: Bearer ${jwt}`, 'jwtShapedToken'],
    [
      'a connection string with its key',
      `DefaultEndpointsProtocol=http;AccountName=a;AccountKey=${accountKey}`,
      'accountKeySetting',
    ],
    [
      'a client_secret parameter',
      'grant_type=client_credentials&client_secret=s3cr3t-v4lue-x',
      'clientSecretParameter',
    ],
    ['a client_secret JSON field', '{"client_secret": "s3cr3t-v4lue-x"}', 'clientSecretParameter'],
  ])('when a line holds %s nobody registered, then its shape is found', (_name, line, kind) => {
    expect(scanLogText(logText([line]), 'log-2.log', index)).toEqual([
      expect.objectContaining({ kind, line: 1 }),
    ]);
  });

  test('when lines hold only ids, hidden URLs and placeholders, then nothing is found', () => {
    const text = logText([
      'lifecycle notification with a wrong clientState; ignored',
      '{"tenantId":"84bd8158-6d4d-4958-8b9f-9d6445542f95","key":"alpha","graphId":"0f5c1e9e-4b43-4bd0-9f6e-5d0b0b1c8f35"}',
      'lifecycleNotificationUrl: https://keeper.example.com/api/lifecycle?code=***',
      'AccountKey=*** client_secret=<secret> "client_secret": "***"',
      `${clientState.slice(0, 20)} (a prefix is not the secret)`,
      'eyJhbGciOi is only the start of a header',
    ]);

    expect(scanLogText(text, 'log-3.log', index)).toEqual([]);
  });
});

describe('scanCaptureDirectory and the teardown', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'leak-scan-test-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function plant(options: { readonly leak: boolean }): void {
    writeFileSync(
      path.join(dir, 'secrets-100.jsonl'),
      [
        JSON.stringify({ kind: 'clientState', value: clientState }),
        'not json',
        JSON.stringify({ kind: 'clientState', value: 'short' }),
        JSON.stringify({ kind: 'somethingElse', value: 'a-long-enough-value' }),
        '',
      ].join('\n'),
    );
    writeFileSync(
      path.join(dir, 'secrets-200.jsonl'),
      `${JSON.stringify({ kind: 'accessToken', value: jwt })}\n`,
    );
    writeFileSync(path.join(dir, 'log-100.log'), logText(['short', 'a-long-enough-value']));
    writeFileSync(
      path.join(dir, 'log-200.log'),
      logText(['sweep finished', options.leak ? `renewed with ${clientState}` : 'renewed']),
    );
  }

  test('when every process logged cleanly, then the scan finds nothing and counts what it read', () => {
    plant({ leak: false });

    expect(scanCaptureDirectory(dir)).toEqual({ leaks: [], files: 2, lines: 4, secrets: 2 });
  });

  test('when one process logged a secret another registered, then the finding names it without the value', () => {
    plant({ leak: true });

    const result = scanCaptureDirectory(dir);
    const message = describeLeaks(result.leaks, dir);

    expect(result.leaks).toEqual([
      { kind: 'clientState', file: 'log-200.log', line: 2, source: 'invocation.warning' },
    ]);
    expect(message).toContain('a clientState in log-200.log:2 (logged through invocation.warning)');
    expect(message).not.toContain(clientState);
  });

  test('when a secret is only known from storage (extra), then it is checked too', () => {
    writeFileSync(path.join(dir, 'log-1.log'), logText([`row ${clientSecret}`]));

    expect(scanCaptureDirectory(dir).leaks).toEqual([]);
    expect(
      scanCaptureDirectory(dir, [{ kind: 'clientSecret', value: clientSecret }]).leaks,
    ).toEqual([expect.objectContaining({ kind: 'clientSecret', line: 1 })]);
  });

  test('when the teardown finds a planted secret, then it throws naming kind, file and line, keeps the logs and removes the register', () => {
    plant({ leak: true });

    let thrown: unknown;
    try {
      checkCapturedLogs(dir);
    } catch (e) {
      thrown = e;
    }

    expect(thrown).toBeInstanceOf(Error);
    const message = (thrown as Error).message;
    expect(message).toMatch(/Secrets check failed: 1 finding/);
    expect(message).toContain('log-200.log:2');
    expect(message).not.toContain(clientState);
    expect(readdirSync(dir).sort()).toEqual(['log-100.log', 'log-200.log']);
  });

  test('when the teardown finds nothing, then it passes and removes the directory', () => {
    plant({ leak: false });
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);

    try {
      checkCapturedLogs(dir);
    } finally {
      log.mockRestore();
    }

    expect(existsSync(dir)).toBe(false);
  });
});
