import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * `npm run package` (scripts/package.js) builds the deployable artifact in a temp directory:
 * what it holds, what it lacks, and that its entry files load from it alone.
 */

const root = path.join(__dirname, '..', '..');
const rootPackage = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

function filesUnder(dir: string, skip: (relative: string) => boolean = () => false): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = path.join(d, name);
      const relative = path.relative(dir, full);
      if (skip(relative)) continue;
      if (statSync(full).isDirectory()) walk(full);
      else out.push(relative.split(path.sep).join('/'));
    }
  };
  walk(dir);
  return out;
}

describe('npm run package', () => {
  let work: string;
  let out: string;

  beforeAll(() => {
    // NOTE: under the OS temp dir, so no node_modules of this checkout is on the resolve path.
    work = mkdtempSync(path.join(tmpdir(), 'keeper-package-'));
    out = path.join(work, 'app');
    const built = spawnSync(process.execPath, ['scripts/package.js', '--out', out], {
      cwd: root,
      encoding: 'utf8',
    });
    if (built.status !== 0) throw new Error(`package failed: ${built.stderr}`);
  }, 240_000);

  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
  });

  test('when packaged, then it holds dist, host.json, package.json and node_modules only', () => {
    expect(readdirSync(out).sort()).toEqual(['dist', 'host.json', 'node_modules', 'package.json']);
    const hasZip = spawnSync('zip', ['-v'], { stdio: 'ignore' }).status === 0;
    expect(existsSync(`${out}.zip`)).toBe(hasZip);
  });

  test('when packaged, then every function file is compiled and nothing but compiled code is in dist', () => {
    const functions = readdirSync(path.join(root, 'functions'))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => `functions/${f.replace(/\.ts$/, '.js')}`);
    const dist = filesUnder(path.join(out, 'dist'));
    expect(dist).toEqual(expect.arrayContaining(functions));
    expect(dist.filter((f) => !/\.js(\.map)?$/.test(f))).toEqual([]);
    expect(dist.filter((f) => /^(test|bench|devkit|tools|scripts)\//.test(f))).toEqual([]);
  });

  test('when packaged, then package.json names the production dependencies and no dev ones', () => {
    const pkg = JSON.parse(readFileSync(path.join(out, 'package.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(pkg.main).toBe('dist/functions/*.js');
    expect(pkg.dependencies).toEqual(rootPackage.dependencies);
    expect(pkg).not.toHaveProperty('devDependencies');
    expect(pkg).not.toHaveProperty('scripts');
  });

  test('when packaged, then node_modules holds every production dependency and no dev dependency', () => {
    for (const name of Object.keys(rootPackage.dependencies)) {
      expect(existsSync(path.join(out, 'node_modules', name, 'package.json'))).toBe(true);
    }
    for (const name of Object.keys(rootPackage.devDependencies)) {
      expect({ name, present: existsSync(path.join(out, 'node_modules', name)) }).toEqual({
        name,
        present: false,
      });
    }
    // Tools that only dev dependencies bring (the compiler, the test runner, the emulator).
    for (const name of ['typescript', 'jest', 'ts-jest', 'azurite', '@types/node']) {
      expect(existsSync(path.join(out, 'node_modules', name))).toBe(false);
    }
  });

  test('when packaged, then no source, test, local setting or Azurite data is in it', () => {
    const all = filesUnder(out, (relative) => relative === 'node_modules');
    expect(all.filter((f) => f.endsWith('.ts'))).toEqual([]);
    expect(
      all.filter((f) =>
        /(^|\/)(local\.settings(\.sample)?\.json|__azurite_db_.*|__blobstorage__|__queuestorage__|\.azurite|tsconfig.*\.json|.*\.test\.js)$/.test(
          f,
        ),
      ),
    ).toEqual([]);
  });

  test('when the entry files are loaded from the package alone, then each loads', () => {
    const sample = JSON.parse(
      readFileSync(path.join(root, 'local.settings.sample.json'), 'utf8'),
    ) as { Values: Record<string, string> };
    const entries = readdirSync(path.join(out, 'dist', 'functions')).filter((f) =>
      f.endsWith('.js'),
    );
    expect(entries.length).toBeGreaterThan(0);
    const script = entries
      .map((f) => `require(${JSON.stringify(path.join(out, 'dist', 'functions', f))});`)
      .join('\n');
    const loaded = spawnSync(
      process.execPath,
      ['-e', `${script}\nprocess.stdout.write('loaded ' + ${entries.length});`],
      {
        cwd: out,
        encoding: 'utf8',
        // NOTE: the app settings a deployment has, and nothing from this checkout's paths.
        env: { PATH: process.env.PATH ?? '', ...sample.Values },
      },
    );
    expect(loaded.stderr).not.toMatch(/Cannot find module|Error:/);
    expect(loaded.status).toBe(0);
    expect(loaded.stdout).toContain(`loaded ${entries.length}`);
  });
});
