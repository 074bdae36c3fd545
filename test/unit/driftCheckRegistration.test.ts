/* eslint-disable @typescript-eslint/no-require-imports -- modules are loaded after the
   environment is set, in an isolated registry, which static imports cannot do. */
import type * as functionsLibrary from '@azure/functions';

/** The drift timer registers with DRIFT_SCHEDULE, and loads whatever the settings. */
describe('drift check registration', () => {
  function registeredSchedule(env: Record<string, string>): unknown {
    const saved = { ...process.env };
    process.env = env;
    let timer: jest.SpyInstance | undefined;
    try {
      jest.isolateModules(() => {
        const { app } = require('@azure/functions') as typeof functionsLibrary;
        timer = jest.spyOn(app, 'timer').mockImplementation(() => undefined);
        require('../../functions/driftCheck');
      });
    } finally {
      process.env = saved;
    }
    const calls = (timer?.mock.calls ?? []) as [string, { schedule?: unknown }][];
    return calls.find(([name]) => name === 'driftCheck')?.[1].schedule;
  }

  test('when DRIFT_SCHEDULE is set, then the timer runs on it', () => {
    expect(
      registeredSchedule({
        STORAGE_CONNECTION: 'UseDevelopmentStorage=true',
        DRIFT_SCHEDULE: '0 30 */2 * * *',
      }),
    ).toBe('0 30 */2 * * *');
  });

  test('when the settings are invalid, then the timer still registers, hourly', () => {
    expect(registeredSchedule({ GRAPH_CLOUD: 'mars', DRIFT_SCHEDULE: 'often' })).toBe(
      '0 0 * * * *',
    );
  });
});
