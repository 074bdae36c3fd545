/* eslint-disable @typescript-eslint/no-require-imports -- modules are loaded in an isolated
   registry, with the library's `app` observed, which static imports cannot do. */
import type * as functionsLibrary from '@azure/functions';
import { invokeHttp, type HttpHandler } from '../support/httpInvocation';

/**
 * The admin API and health functions register what the host needs: one route for the whole
 * admin API (one function key to hand out), the health route, both behind a function key. The
 * library's `app` is observed (a spy on the library, not on our modules) while the files load.
 */
describe('admin API and health registrations', () => {
  test('when the function files load, then the API and health routes are registered behind a function key', () => {
    let http: jest.SpyInstance | undefined;
    jest.isolateModules(() => {
      const { app } = require('@azure/functions') as typeof functionsLibrary;
      http = jest.spyOn(app, 'http').mockImplementation(() => undefined);
      require('../../functions/subscriptionsApi');
      require('../../functions/health');
    });

    expect(http).toHaveBeenCalledWith(
      'subscriptionsApi',
      expect.objectContaining({
        route: 'subscriptions/{key?}/{action?}',
        methods: ['GET', 'POST', 'PUT', 'DELETE'],
        authLevel: 'function',
      }),
    );
    expect(http).toHaveBeenCalledWith(
      'health',
      expect.objectContaining({ route: 'health', methods: ['GET'], authLevel: 'function' }),
    );
  });

  test('when the settings are missing, then the files still load and each request is answered 503', async () => {
    type Handlers = {
      readonly subscriptionsApi: HttpHandler;
      readonly health: HttpHandler;
    };
    const env = process.env;
    process.env = {};
    try {
      let loaded: Handlers | undefined;
      jest.isolateModules(() => {
        const { app } = require('@azure/functions') as typeof functionsLibrary;
        jest.spyOn(app, 'http').mockImplementation(() => undefined);
        const api = require('../../functions/subscriptionsApi') as Pick<
          Handlers,
          'subscriptionsApi'
        >;
        const health = require('../../functions/health') as Pick<Handlers, 'health'>;
        loaded = { subscriptionsApi: api.subscriptionsApi, health: health.health };
      });
      if (loaded === undefined) throw new Error('the function files did not load');

      const list = await invokeHttp(loaded.subscriptionsApi, {
        method: 'GET',
        path: '/api/subscriptions',
      });
      const health = await invokeHttp(loaded.health, { method: 'GET', path: '/api/health' });

      expect(list.status).toBe(503);
      expect(list.headers.get('retry-after')).toBe('30');
      expect(list.body).toMatchObject({ error: { code: 'Unavailable' } });
      expect(list.logs).toEqual([
        {
          level: 'error',
          args: [
            'admin API could not start its dependencies {"operation":"list","error":"ConfigError"}',
          ],
        },
      ]);
      expect(health.status).toBe(503);
      expect(health.body).toMatchObject({ healthy: false });
    } finally {
      process.env = env;
    }
  });
});
