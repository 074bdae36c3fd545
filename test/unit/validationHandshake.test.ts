import { HttpRequest, HttpResponse, type HttpResponseInit } from '@azure/functions';
import { lifecycleNotifications } from '../../functions/lifecycleNotifications';
import {
  answerValidationHandshake,
  maxValidationTokenLength,
} from '../../shared/lifecycle/validationHandshake';
import { capturingContext, type HandlerLogLine } from '../../devkit/lifecycleServer';

/**
 * Graph's validation handshake (docs/graph-rules.md#validation-handshake) through the production export
 * `lifecycleNotifications`, with real `HttpRequest` and `InvocationContext` objects. The process
 * environment holds none of the app's settings while these run, so the composition root would
 * throw if the handshake path built anything (proved by the last tests of the file).
 */

const base = 'https://x/api/lifecycle?code=function-key';

interface Answer {
  readonly status: number;
  readonly contentType: string | null;
  readonly nosniff: string | null;
  readonly body: string;
}

async function answerOf(init: HttpResponseInit): Promise<Answer> {
  const response = new HttpResponse(init);
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    nosniff: response.headers.get('x-content-type-options'),
    body: await response.text(),
  };
}

function handshakeRequest(query: string, init: { body?: string; contentType?: string } = {}) {
  return new HttpRequest({
    method: 'POST',
    url: `${base}&${query}`,
    headers: { 'content-type': init.contentType ?? 'text/plain; charset=utf-8' },
    ...(init.body === undefined ? {} : { body: { string: init.body } }),
  });
}

async function post(request: HttpRequest, logs: HandlerLogLine[] = []): Promise<Answer> {
  return answerOf(
    await lifecycleNotifications(
      request,
      capturingContext((l) => logs.push(l)),
    ),
  );
}

let savedEnv: NodeJS.ProcessEnv;

beforeAll(() => {
  savedEnv = process.env;
  // NOTE: no STORAGE_CONNECTION, no AzureWebJobsStorage, no Graph identity: appDependencies()
  // fails with a ConfigError if anything on the path calls it.
  process.env = { PATH: savedEnv.PATH };
});

afterAll(() => {
  process.env = savedEnv;
});

const graphLikeToken =
  'Validation: Testing client application reachability for subscription Request-Id: 0f5e0d4c-6b2a-4a8e-9d1b-1c2d3e4f5a6b Nonce: q1w2e3r4+/=';

describe('validation handshake', () => {
  test.each([
    ['a plain token', 'plainToken123'],
    ['a token with a plus sign', 'a+b+c'],
    ['a token with a literal %2B in it', 'already%2Bencoded'],
    ['a token with spaces', 'with spaces in it'],
    ['a token with <script>', '<script>alert("x")</script>'],
    ['a token shaped like Graph sends it', graphLikeToken],
    ['a token of the longest accepted length', 'x'.repeat(maxValidationTokenLength)],
  ])(
    'when Graph posts %s form-encoded, then the answer is 200 text/plain nosniff with exactly the decoded token',
    async (_name, token) => {
      // Graph form-encodes: ' ' -> '+', '+' -> '%2B', '%' -> '%25', '<' -> '%3C'.
      const encoded = new URLSearchParams({ validationToken: token }).toString();
      const request = handshakeRequest(encoded);
      expect(request.query.get('validationToken')).toBe(token);

      const answer = await post(request);

      expect(answer.status).toBe(200);
      expect(answer.contentType).toMatch(/^text\/plain(;|$)/);
      expect(answer.nosniff).toBe('nosniff');
      expect(answer.body).toBe(token);
    },
  );

  test.each([
    ['percent-encoded spaces', 'validationToken=a%20b%2Bc', 'a b+c'],
    ['a raw plus (a form-encoded space)', 'validationToken=a+b', 'a b'],
    ['an encoded script tag', 'validationToken=%3Cscript%3Ex%3C%2Fscript%3E', '<script>x</script>'],
  ])(
    'when the query carries %s, then the body is the decoded value, not the encoded one',
    async (_name, query, decoded) => {
      const request = handshakeRequest(query);
      expect(request.query.get('validationToken')).toBe(decoded);

      const answer = await post(request);

      expect(answer.status).toBe(200);
      expect(answer.body).toBe(decoded);
      expect(answer.nosniff).toBe('nosniff');
    },
  );

  test.each([
    ['the parameter without a value', 'validationToken'],
    ['an empty value', 'validationToken='],
    ['an absurdly long token', `validationToken=${'y'.repeat(maxValidationTokenLength + 1)}`],
    ['a megabyte-long token', `validationToken=${'z'.repeat(1024 * 1024)}`],
  ])('when the handshake has %s, then the answer is 400 text/plain', async (_name, query) => {
    const answer = await post(handshakeRequest(query));

    expect(answer.status).toBe(400);
    expect(answer.contentType).toMatch(/^text\/plain/);
    expect(answer.nosniff).toBe('nosniff');
    expect(answer.body).not.toContain('yyyy');
  });

  test('when the handshake also carries a JSON body, then the token is answered and the body ignored', async () => {
    const answer = await post(
      handshakeRequest('validationToken=tok', {
        contentType: 'application/json',
        body: '{"value":[{"subscriptionId":"x","lifecycleEvent":"missed"}]}',
      }),
    );

    expect(answer).toMatchObject({ status: 200, body: 'tok' });
  });

  test('when answerValidationHandshake gets null (no parameter), then it answers 400', () => {
    expect(answerValidationHandshake(null)).toMatchObject({ status: 400 });
  });
});

describe('nothing is built on the handshake path', () => {
  test('when no app setting exists, then the handshake is still answered and nothing is logged', async () => {
    const logs: HandlerLogLine[] = [];

    const answer = await post(handshakeRequest('validationToken=cold+start'), logs);

    expect(answer).toMatchObject({ status: 200, body: 'cold start' });
    expect(logs).toEqual([]);
  });

  test('when the same environment gets a lifecycle POST, then building the dependencies fails (503): the handshake above never built them', async () => {
    const logs: HandlerLogLine[] = [];
    const request = new HttpRequest({
      method: 'POST',
      url: base,
      headers: { 'content-type': 'application/json' },
      body: { string: '{"value":[{"subscriptionId":"x","lifecycleEvent":"missed"}]}' },
    });

    const answer = await post(request, logs);

    expect(answer.status).toBe(503);
    expect(logs).toEqual([
      expect.objectContaining({
        level: 'error',
        message: 'lifecycle endpoint could not start its dependencies',
        properties: { error: 'ConfigError' },
      }),
    ]);
  });
});
