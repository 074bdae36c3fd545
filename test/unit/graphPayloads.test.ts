import {
  createHttpHeaders,
  createPipelineRequest,
  type PipelineResponse,
} from '@azure/core-rest-pipeline';
import { graphErrorFromResponse } from '../../shared/graph/errorMapping';
import {
  parseGraphDate,
  subscriptionListPageSchema,
  subscriptionPayloadSchema,
  toGraphSubscription,
} from '../../shared/graph/payloads';

describe('parseGraphDate', () => {
  test.each([
    ['2026-06-03T10:15:00.0000000Z', '2026-06-03T10:15:00.000Z'],
    ['2026-06-03T10:15:00.9356913Z', '2026-06-03T10:15:00.935Z'],
    ['2026-06-03T10:15:00.0000000+00:00', '2026-06-03T10:15:00.000Z'],
    ['2026-06-03T12:15:00+02:00', '2026-06-03T10:15:00.000Z'],
    ['2026-06-03T10:15:00', '2026-06-03T10:15:00.000Z'],
  ])('when Graph writes %s, then it is the instant %s', (text, iso) => {
    expect(parseGraphDate(text)?.toISOString()).toBe(iso);
  });

  test.each(['', 'tomorrow', '2026-13-45T99:99:99Z', '1780481700000'])(
    'when the value is %p, then it is not a date',
    (text) => {
      expect(parseGraphDate(text)).toBeUndefined();
    },
  );
});

describe('subscriptionPayloadSchema', () => {
  const graphJson = {
    '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#subscriptions/$entity',
    id: '7f105c7d-2dc5-4530-97cd-4e7ae6534c07',
    resource: "me/mailFolders('Inbox')/messages",
    applicationId: '24d3b144-21ae-4080-943f-7067b395b913',
    changeType: 'created',
    clientState: 'secretClientValue',
    notificationUrl: 'https://webhook.azurewebsites.net/api/send/myNotifyClient',
    expirationDateTime: '2016-11-20T18:23:45.9356913Z',
    creatorId: '8ee44408-0679-472c-bc2a-692812af3437',
    latestSupportedTlsVersion: 'v1_2',
    notificationContentType: 'application/json',
    someFieldFromTheFuture: { nested: true },
  };

  test("when Graph's documented example is parsed, then unknown fields are ignored and absent ones are null", () => {
    const parsed = subscriptionPayloadSchema.parse(graphJson);
    expect(toGraphSubscription(parsed)).toEqual({
      id: '7f105c7d-2dc5-4530-97cd-4e7ae6534c07',
      resource: "me/mailFolders('Inbox')/messages",
      changeType: 'created',
      notificationUrl: 'https://webhook.azurewebsites.net/api/send/myNotifyClient',
      lifecycleNotificationUrl: null,
      expirationDateTime: new Date('2016-11-20T18:23:45.935Z'),
      clientState: 'secretClientValue',
      includeResourceData: false,
      encryptionCertificateId: null,
      latestSupportedTlsVersion: 'v1_2',
      applicationId: '24d3b144-21ae-4080-943f-7067b395b913',
      creatorId: '8ee44408-0679-472c-bc2a-692812af3437',
      notificationQueryOptions: null,
      notificationUrlAppId: null,
    });
  });

  test('when the expiry is not a date, then parsing fails at expirationDateTime', () => {
    const result = subscriptionPayloadSchema.safeParse({ ...graphJson, expirationDateTime: 'x' });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.'))).toEqual(['expirationDateTime']);
  });

  test('when a list page has a nextLink, then it is kept', () => {
    const page = subscriptionListPageSchema.parse({
      value: [graphJson],
      '@odata.nextLink': 'https://graph.microsoft.com/v1.0/subscriptions?$skiptoken=abc',
    });
    expect(page.value).toHaveLength(1);
    expect(page['@odata.nextLink']).toContain('$skiptoken=abc');
  });
});

function response(status: number, body: unknown, headers: Record<string, string> = {}) {
  const request = createPipelineRequest({
    url: 'https://graph.microsoft.com/v1.0/subscriptions/abc?secret=1',
    method: 'PATCH',
  });
  const r: PipelineResponse = {
    request,
    status,
    headers: createHttpHeaders(headers),
    bodyAsText: typeof body === 'string' ? body : JSON.stringify(body),
  };
  return r;
}

describe('graphErrorFromResponse', () => {
  test('when the body has a nested innerError code, then the innermost code and request id are used', () => {
    const error = graphErrorFromResponse(
      response(403, {
        error: {
          code: 'ExtensionError',
          message: 'Operation: Create; Exception: [Status Code: Forbidden; Reason: Access denied]',
          innerError: {
            code: 'AccessDenied',
            'request-id': 'inner-request-id',
            innerError: { code: 'MailboxNotEnabledForRESTAPI' },
          },
        },
      }),
      undefined,
    );
    expect(error).toMatchObject({
      status: 403,
      code: 'MailboxNotEnabledForRESTAPI',
      requestId: 'inner-request-id',
    });
    expect(error.message).toContain('PATCH /v1.0/subscriptions/abc');
    expect(error.message).not.toContain('secret=1');
  });

  test('when the body has only error.code, then that code is used and the header gives the request id', () => {
    const error = graphErrorFromResponse(
      response(409, { error: { code: 'Conflict', message: 'exists' } }, { 'request-id': 'hdr-id' }),
      undefined,
    );
    expect(error).toMatchObject({ status: 409, code: 'Conflict', requestId: 'hdr-id' });
  });

  test('when the body is empty, then the code is named after the status', () => {
    expect(graphErrorFromResponse(response(503, ''), 2000)).toMatchObject({
      status: 503,
      code: 'ServiceUnavailable',
      retryAfterMs: 2000,
    });
    expect(graphErrorFromResponse(response(418, 'not json'), undefined).code).toBe('Http418');
  });

  test("when Graph's message echoes a URL with a key, then the query is hidden", () => {
    const error = graphErrorFromResponse(
      response(400, {
        error: {
          code: 'ValidationError',
          message: 'Validation failed for https://hooks.example.com/api/x?code=function-key now',
        },
      }),
      undefined,
    );
    expect(error.message).toContain('https://hooks.example.com/api/x?***');
    expect(error.message).not.toContain('function-key');
  });
});
