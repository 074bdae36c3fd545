#!/usr/bin/env node
// `npm run build`: compiles functions/, shared/ and cli/ to dist/ without ever leaving dist/
// half-built or stale. It compiles into a fresh folder beside it and swaps it in only when the
// compiler succeeded: a failed build keeps the last good dist/, and a deleted source file leaves
// no compiled function behind for the `main` glob to register.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const next = path.join(root, '.dist-next');
const dist = path.join(root, 'dist');
const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });

fs.rmSync(next, { recursive: true, force: true });
const compiled = spawnSync(
  process.execPath,
  [tsc, '-p', path.join(root, 'tsconfig.build.json'), '--outDir', next],
  { cwd: root, stdio: 'inherit' },
);
if (compiled.status !== 0) {
  fs.rmSync(next, { recursive: true, force: true });
  process.exit(compiled.status ?? 1);
}
fs.rmSync(dist, { recursive: true, force: true });
fs.renameSync(next, dist);
