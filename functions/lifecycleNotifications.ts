import { app, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { answerValidationHandshake } from '../shared/lifecycle/validationHandshake';

/**
 * Receives Graph's validation handshake and lifecycle notifications
 * (reauthorizationRequired, subscriptionRemoved, missed).
 */
export function lifecycleNotifications(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  // NOTE: the handshake is answered first, before any dependency is built (10-second deadline).
  if (request.query.has('validationToken')) {
    return Promise.resolve(answerValidationHandshake(request.query.get('validationToken')));
  }
  context.warn('lifecycle events are not handled yet', { invocationId: context.invocationId });
  return Promise.resolve({
    status: 501,
    jsonBody: { error: 'Lifecycle events are not handled by this version.' },
  });
}

app.http('lifecycleNotifications', {
  route: 'lifecycle',
  methods: ['POST'],
  authLevel: 'function',
  handler: lifecycleNotifications,
});
