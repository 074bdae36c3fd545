// The fuzz tests at full strength: FUZZ_RUNS=10000 generated requests per property, against the
// lifecycle endpoint and the admin API (test/e2e/fuzz.*.test.ts), with Azurite and the Graph
// simulator as in `npm test` (which runs the same files with a small count).
//
//   npm run fuzz                         10,000 runs per property, a random seed
//   npm run fuzz -- --runs 500           another count
//   npm run fuzz -- --seed 1234          replay a seed printed by a failure (add --path to
//                                        go straight to the failing case)
//   npm run fuzz -- lifecycle            only the files whose name matches
//
// Plain Node so that it runs the same on Windows, macOS and Linux.
'use strict';

const { spawn } = require('node:child_process');
const path = require('node:path');

function usage(message) {
  if (message) console.error(message);
  console.error('usage: node scripts/fuzz.js [--runs N] [--seed N] [--path P] [name-filter]');
  process.exit(2);
}

const env = { ...process.env, FUZZ_RUNS: process.env.FUZZ_RUNS || '10000' };
let filter = '(lifecycle|adminApi)';
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  const value = () => {
    const next = args[++i];
    if (next === undefined) usage(`${arg} needs a value`);
    return next;
  };
  if (arg === '--runs') env.FUZZ_RUNS = value();
  else if (arg === '--seed') env.FUZZ_SEED = value();
  else if (arg === '--path') env.FUZZ_PATH = value();
  else if (arg === '--help' || arg === '-h') usage();
  else if (arg.startsWith('-')) usage(`unknown option ${arg}`);
  else filter = `[^/\\\\]*${arg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[^/\\\\]*`;
}
if (!/^[1-9]\d*$/.test(env.FUZZ_RUNS)) usage('--runs must be a whole number >= 1');
if (env.FUZZ_SEED !== undefined && !/^-?\d+$/.test(env.FUZZ_SEED)) {
  usage('--seed must be a whole number');
}

const root = path.resolve(__dirname, '..');
const jest = require.resolve('jest/bin/jest', { paths: [root] });
console.log(
  `fuzz: ${env.FUZZ_RUNS} runs per property${env.FUZZ_SEED ? `, seed ${env.FUZZ_SEED}` : ''}`,
);
const started = Date.now();
const child = spawn(
  process.execPath,
  [jest, '--testPathPattern', `fuzz\\.${filter}\\.test\\.ts$`, '--verbose'],
  { cwd: root, env, stdio: 'inherit' },
);
child.on('exit', (code, signal) => {
  console.log(`fuzz: finished in ${Math.round((Date.now() - started) / 1000)} s`);
  process.exit(code ?? (signal ? 1 : 0));
});
