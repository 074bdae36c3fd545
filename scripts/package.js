#!/usr/bin/env node
// `npm run package [-- --out DIR]`: the deployable artifact of the function app, for a deploy
// without remote build (`az functionapp deployment source config-zip`, or any pipeline that
// uploads a zip). DIR (default .package/app) then holds exactly:
//   dist/          a clean compile of functions/, shared/ and cli/ (source maps included)
//   host.json
//   package.json   name, version, main, type, engines, bin and the production dependencies
//   node_modules/  the production dependencies only, copied from this checkout's node_modules
// and, when the `zip` command exists, DIR.zip beside it. No TypeScript source, test, devkit,
// local settings or Azurite data goes in. Run `npm ci` first so node_modules matches the lock.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');

function parseArguments(argv) {
  let out = path.join(root, '.package', 'app');
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out' && argv[i + 1] !== undefined) out = path.resolve(argv[++i]);
    else {
      process.stderr.write('usage: npm run package -- [--out DIR]\n');
      process.exit(2);
    }
  }
  return { out };
}

function run(command, args, options) {
  const result = spawnSync(command, args, { cwd: root, encoding: 'utf8', ...options });
  if (result.error !== undefined) throw result.error;
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} failed (${result.status}): ${result.stderr ?? ''}`,
    );
  }
  return result.stdout ?? '';
}

/** Folders of every installed production dependency, direct and transitive. */
function productionPackageDirs() {
  const npm = process.env.npm_execpath;
  const [command, prefix] =
    npm !== undefined && npm.endsWith('.js') ? [process.execPath, [npm]] : ['npm', []];
  const listed = run(command, [...prefix, 'ls', '--omit=dev', '--all', '--parseable'], {
    shell: command === 'npm' && process.platform === 'win32',
  });
  const modules = path.join(root, 'node_modules') + path.sep;
  return listed
    .split(/\r?\n/)
    .filter((line) => line.startsWith(modules))
    .map((line) => path.relative(root, line));
}

function main() {
  const { out } = parseArguments(process.argv.slice(2));
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });

  const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
  run(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', path.join(out, 'dist')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  fs.copyFileSync(path.join(root, 'host.json'), path.join(out, 'host.json'));
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const deployed = {
    name: pkg.name,
    version: pkg.version,
    private: true,
    description: pkg.description,
    type: pkg.type,
    main: pkg.main,
    engines: pkg.engines,
    bin: pkg.bin,
    dependencies: pkg.dependencies,
  };
  fs.writeFileSync(path.join(out, 'package.json'), JSON.stringify(deployed, null, 2) + '\n');

  const dirs = productionPackageDirs();
  for (const dir of dirs) {
    const from = path.join(root, dir);
    const nested = path.join(from, 'node_modules');
    // NOTE: nested node_modules are listed (and copied) on their own lines when they are
    // production dependencies; anything else under them stays out.
    fs.cpSync(from, path.join(out, dir), {
      recursive: true,
      dereference: true,
      filter: (source) => source !== nested && !source.startsWith(nested + path.sep),
    });
  }

  let zipped;
  if (spawnSync('zip', ['-v'], { stdio: 'ignore' }).status === 0) {
    zipped = `${out}.zip`;
    fs.rmSync(zipped, { force: true });
    run('zip', ['-qr', '-X', zipped, '.'], { cwd: out });
  }
  process.stdout.write(
    `package: ${path.relative(root, out) || out} (${dirs.length} production packages)` +
      (zipped === undefined
        ? '; no zip command, folder only\n'
        : `, ${path.relative(root, zipped)}\n`),
  );
}

main();
