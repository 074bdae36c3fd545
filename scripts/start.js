#!/usr/bin/env node
// `npm start`: runs the Functions host locally against Azurite.
// 1. If nothing answers on Azurite's standard local ports, start Azurite there (data kept in
//    .azurite/ so local state survives restarts).
// 2. Start `func start`; if Azure Functions Core Tools is missing, say how to install it.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');

const root = path.join(__dirname, '..');
const standardPorts = { blob: 10000, queue: 10001, table: 10002 };

function answers(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function hasFunc() {
  const probe = spawnSync(process.platform === 'win32' ? 'where' : 'which', ['func'], {
    stdio: 'ignore',
  });
  return probe.status === 0;
}

const installHelp = `Azure Functions Core Tools (the "func" command) was not found on PATH.

Install version 4 of Core Tools, then run "npm start" again:
  npm install -g azure-functions-core-tools@4 --unsafe-perm true
or follow https://learn.microsoft.com/azure/azure-functions/functions-run-local

Without Core Tools, "npm run sandbox" runs the app's code with Azurite and the bundled Graph
simulator, and "npm test" exercises the handlers directly.`;

async function main() {
  if (!hasFunc()) {
    console.error(installHelp);
    process.exit(1);
  }
  let azurite;
  const running = await Promise.all(Object.values(standardPorts).map(answers));
  if (running.every(Boolean)) {
    console.log('Azurite (or another storage emulator) already answers on ports 10000-10002.');
  } else {
    console.log('Starting Azurite on 127.0.0.1:10000-10002 (data in .azurite/)...');
    azurite = spawn(
      process.execPath,
      [
        path.join(root, 'node_modules', 'azurite', 'dist', 'src', 'azurite.js'),
        '--silent',
        '--disableTelemetry',
        '--location',
        path.join(root, '.azurite'),
      ],
      { stdio: 'inherit' },
    );
  }
  const func = spawn('func', ['start'], { stdio: 'inherit', cwd: root });
  const stop = () => {
    if (azurite && azurite.exitCode === null) azurite.kill('SIGTERM');
  };
  process.on('SIGINT', () => func.kill('SIGINT'));
  process.on('SIGTERM', () => func.kill('SIGTERM'));
  func.on('exit', (code) => {
    stop();
    process.exit(code ?? 0);
  });
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
