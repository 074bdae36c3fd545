import { app, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { receiveLifecycleNotifications } from '../shared/lifecycle/receive';
import { answerValidationHandshake } from '../shared/lifecycle/validationHandshake';
import { invocationLogger } from './support/invocationLogger';

/**
 * Receives Graph's validation handshake and lifecycle notifications
 * (reauthorizationRequired, subscriptionRemoved, missed) on POST /api/lifecycle?code=KEY.
 */
export async function lifecycleNotifications(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  // NOTE: the handshake is answered first, before any credential, client or table is built, so
  // a cold start cannot cost Graph's 10-second deadline (graph-facts section 4).
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
  );
  return { status: response.status, jsonBody: response.body, headers: response.headers };
}

app.http('lifecycleNotifications', {
  route: 'lifecycle',
  methods: ['POST'],
  authLevel: 'function',
  handler: lifecycleNotifications,
});
