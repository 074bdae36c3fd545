import {
  app,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
} from '@azure/functions';
import { appDependencies, type AppDependencies } from '../shared/composition';
import { healthReport } from '../shared/operations/health';
import { errorName, jsonResponse } from './support/adminApi';
import { invocationLogger } from './support/invocationLogger';

/**
 * GET /api/health?code=KEY: 200 with the health view when every subscription is alive and the
 * last sweep is recent and clean, 503 with the same view (its `reasons` say why) otherwise, and
 * 503 when the state cannot be read at all. Never cached.
 *
 * Azure availability test (Application Insights, "Standard test"): URL
 * `https://APP.azurewebsites.net/api/health?code=KEY` (or the key in an `x-functions-key`
 * header, which keeps it out of the URL), success criterion HTTP 200: a 503 fails the test and
 * fires its alert. Give the test a key of its own on this function only
 * (`az functionapp function keys set ... --function-name health --key-name availability-test`):
 * the test's configuration shows it, and that key opens nothing but this read-only view.
 * App Service's built-in health check sends no key, so it cannot call this function-level route.
 * docs/operations.md#health-and-alerts has the full commands.
 *
 * `healthHandler(deps)` is the same handler on given dependencies (tests, sandbox); without
 * them it builds the app's on first use.
 */
export function healthHandler(
  deps?: AppDependencies,
): (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit> {
  return async (_request, context) => {
    const log = invocationLogger(context);
    try {
      const view = await healthReport(deps ?? (await appDependencies()));
      if (!view.healthy) log.warn('unhealthy', { reasons: view.reasons.join('; ') });
      return jsonResponse(view.healthy ? 200 : 503, view);
    } catch (e) {
      // NOTE: not being able to read the state is itself unhealthy: the availability test alerts.
      log.error('health could not be read', { error: errorName(e) });
      return jsonResponse(503, {
        healthy: false,
        reasons: ['the state of the subscriptions could not be read (storage or settings)'],
      });
    }
  };
}

export const health = healthHandler();

app.http('health', {
  route: 'health',
  methods: ['GET'],
  authLevel: 'function',
  handler: health,
});
