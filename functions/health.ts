import {
  app,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
} from '@azure/functions';
import { appDependencies, type AppDependencies } from '../shared/composition';
import { isConfigError } from '../shared/config';
import { healthReport, healthSummary } from '../shared/operations/health';
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
 * App Service's built-in health check sends no key, so it cannot call this function-level route:
 * it uses `/api/live` below. This view reads every stored subscription; the availability test
 * deployed by infra/ calls the cheap `/api/health/summary` instead (docs/deploy.md).
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
      if (isConfigError(e)) {
        // NOTE: names only: a value may be a secret.
        const keys = [...new Set(e.problems.map((p) => p.key))];
        log.error('invalid configuration', { keys: keys.join(', ') });
        return jsonResponse(503, {
          healthy: false,
          reasons: [`invalid configuration: ${keys.join(', ')}`],
          configurationProblems: e.problems,
        });
      }
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

/**
 * GET /api/health/summary (anonymous): the fleet's health from the row the sweep keeps, in one
 * point read at any fleet size: 200 when the last sweep is recent and clean and every
 * subscription was alive at it, 503 (with `reasons`) otherwise. Counts and times only: no
 * tenant, key or resource, so it needs no key. The availability test of infra/ calls it.
 */
export function healthSummaryHandler(
  deps?: AppDependencies,
): (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit> {
  return async (_request, context) => {
    const log = invocationLogger(context);
    try {
      const view = await healthSummary(deps ?? (await appDependencies()));
      return jsonResponse(view.healthy ? 200 : 503, view);
    } catch (e) {
      log.error('health summary could not be read', { error: errorName(e) });
      return jsonResponse(503, {
        healthy: false,
        reasons: ['the health record could not be read (storage or settings)'],
      });
    }
  };
}

/**
 * GET /api/live (anonymous): 200 when this instance has its settings and reads the state (the
 * same one point read), 503 otherwise. It says nothing of the fleet, on purpose: App Service's
 * health check (`healthCheckPath`) takes an instance out of rotation on failures, which is
 * right for a broken instance and wrong for a failed subscription.
 */
export function liveHandler(
  deps?: AppDependencies,
): (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit> {
  return async (_request, context) => {
    const log = invocationLogger(context);
    try {
      const d = deps ?? (await appDependencies());
      await d.sweepRecords.kept();
      return jsonResponse(200, { live: true, checkedAt: d.clock.now().toISOString() });
    } catch (e) {
      log.error('liveness check failed', { error: errorName(e) });
      return jsonResponse(503, { live: false });
    }
  };
}

export const healthSummaryRoute = healthSummaryHandler();
export const live = liveHandler();

app.http('healthSummary', {
  route: 'health/summary',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: healthSummaryRoute,
});

app.http('live', {
  route: 'live',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: live,
});
