import { runCli } from '../../cli/main';

function run(argv: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = runCli(argv, { env, out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('graph-subs check-config', () => {
  test('when the settings are valid, then it prints the non-secret configuration and exits 0', () => {
    const secret = 'not-a-real-client-secret';
    const result = run(['check-config', '--json'], {
      STORAGE_CONNECTION: 'UseDevelopmentStorage=true',
      AZURE_TENANT_ID: '84bd8158-6d4d-4958-8b9f-9d6445542f95',
      AZURE_CLIENT_ID: '00000000-0000-4000-8000-000000000001',
      AZURE_CLIENT_SECRET: secret,
    });
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.out) as { ok: boolean; config: { clientSecretSet: boolean } };
    expect(doc).toMatchObject({ ok: true, config: { clientSecretSet: true } });
    expect(result.out).not.toContain(secret);
    expect(result.out).not.toContain('UseDevelopmentStorage');
  });

  test('when a setting is bad, then it names it and exits 1', () => {
    const result = run(['check-config', '--json'], { GRAPH_CLOUD: 'mars' });
    expect(result.code).toBe(1);
    const doc = JSON.parse(result.out) as { ok: boolean; problems: { key: string }[] };
    expect(doc.ok).toBe(false);
    expect(doc.problems.map((p) => p.key).sort()).toEqual(['GRAPH_CLOUD', 'STORAGE_CONNECTION']);
  });

  test('when the command is unknown, then it prints usage on stderr and exits 2', () => {
    const result = run(['renew-everything']);
    expect(result.code).toBe(2);
    expect(result.err).toContain('Usage: graph-subs');
  });

  test('when asked for help, then it prints usage and exits 0', () => {
    const result = run(['--help']);
    expect(result.code).toBe(0);
    expect(result.out).toContain('check-config');
  });
});
