import { app, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { AppDependencies } from '../shared/composition';
import { receiveLifecycleNotifications } from '../shared/lifecycle/receive';
import { answerValidationHandshake } from '../shared/lifecycle/validationHandshake';
import { invocationLogger } from './support/invocationLogger';

/**
 * Receives Graph's validation handshake and lifecycle notifications
 * (reauthorizationRequired, subscriptionRemoved, missed) on POST /api/lifecycle?code=KEY.
 *
 * `lifecycleHandler(deps)` is the same handler on given dependencies (the sandbox and tests,
 * which build theirs as literals); without them it builds the app's on first use.
 */
export function lifecycleHandler(
  deps?: AppDependencies,
): (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit> {
  return async (request, context) => {
    // NOTE: the handshake is answered first, before any credential, client or table is built, so
    // a cold start cannot cost Graph's 10-second deadline (docs/graph-rules.md#validation-handshake).
    if (request.query.has('validationToken')) {
      return answerValidationHandshake(request.query.get('validationToken'));
    }
    const response = await receiveLifecycleNotifications(
      {
        contentType: request.headers.get('content-type'),
        contentLength: request.headers.get('content-length'),
        body: request.body,
      },
      invocationLogger(context),
      deps,
    );
    return { status: response.status, jsonBody: response.body, headers: response.headers };
  };
}

export const lifecycleNotifications = lifecycleHandler();

app.http('lifecycleNotifications', {
  route: 'lifecycle',
  methods: ['POST'],
  authLevel: 'function',
  handler: lifecycleNotifications,
});
