/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }],
  },
  // NOTE: Azurite is one process for the whole run; tests get its endpoints from the environment.
  globalSetup: '<rootDir>/test/support/globalSetup.ts',
  globalTeardown: '<rootDir>/test/support/globalTeardown.ts',
  setupFiles: ['<rootDir>/devkit/networkGuard.ts'],
  // NOTE: every log line of the run is captured and checked for secrets by the global teardown.
  setupFilesAfterEnv: ['<rootDir>/test/support/captureLogs.ts'],
  testTimeout: 30000,
};
