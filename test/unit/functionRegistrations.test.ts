/* eslint-disable @typescript-eslint/no-require-imports -- modules are loaded after the
   environment is set, in an isolated registry, which static imports cannot do. */
import type * as functionsLibrary from '@azure/functions';

/**
 * The functions register what the host needs: routes, auth level, schedule. The library's
 * `app` is observed (a spy on the library, not on our modules) while the function files load.
 */
describe('function registrations', () => {
  test('when the function files load, then the timer and the lifecycle route are registered', () => {
    const env = { ...process.env };
    process.env.STORAGE_CONNECTION = 'UseDevelopmentStorage=true';
    process.env.SWEEP_SCHEDULE = '0 */10 * * * *';
    let http: jest.SpyInstance | undefined;
    let timer: jest.SpyInstance | undefined;
    try {
      jest.isolateModules(() => {
        const { app } = require('@azure/functions') as typeof functionsLibrary;
        http = jest.spyOn(app, 'http').mockImplementation(() => undefined);
        timer = jest.spyOn(app, 'timer').mockImplementation(() => undefined);
        require('../../functions/lifecycleNotifications');
        require('../../functions/sweepSubscriptions');
      });
    } finally {
      process.env = env;
    }
    expect(http).toHaveBeenCalledWith(
      'lifecycleNotifications',
      expect.objectContaining({ route: 'lifecycle', methods: ['POST'], authLevel: 'function' }),
    );
    expect(timer).toHaveBeenCalledWith(
      'sweepSubscriptions',
      expect.objectContaining({ schedule: '0 */10 * * * *', runOnStartup: false }),
    );
  });

  test('when settings are invalid, then the timer still registers, on the default schedule', () => {
    const env = { ...process.env };
    process.env = { SWEEP_SCHEDULE: 'often', GRAPH_CLOUD: 'mars' };
    let timer: jest.SpyInstance | undefined;
    try {
      jest.isolateModules(() => {
        const { app } = require('@azure/functions') as typeof functionsLibrary;
        timer = jest.spyOn(app, 'timer').mockImplementation(() => undefined);
        require('../../functions/sweepSubscriptions');
      });
    } finally {
      process.env = env;
    }
    expect(timer).toHaveBeenCalledWith(
      'sweepSubscriptions',
      expect.objectContaining({ schedule: '0 */5 * * * *' }),
    );
  });
});
