/**
 * Graph's validation handshake (docs/graph-rules.md#validation-handshake): Graph POSTs `?validationToken=...` to the
 * notification and lifecycle URLs and expects, within 10 seconds, 200 with `text/plain` and the
 * decoded token as the whole body.
 *
 * NOTE: this module imports nothing: the handshake must be answered before any credential, Graph
 * client or table client exists, so a cold start cannot cost the deadline.
 */

/** Graph's tokens are opaque and a few hundred characters; anything far larger is not Graph. */
export const maxValidationTokenLength = 4096;

export interface PlainResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

const textHeaders = {
  'Content-Type': 'text/plain; charset=utf-8',
  // NOTE: the token is reflected; nosniff stops a browser from reading it as HTML or script.
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-store',
} as const;

/**
 * `token` is the query parameter as the Functions runtime gives it: already percent-decoded, so
 * it is returned as it is. `null` means the parameter is absent.
 */
export function answerValidationHandshake(token: string | null): PlainResponse {
  if (token === null || token.length === 0) {
    return { status: 400, headers: textHeaders, body: 'validationToken is empty.' };
  }
  if (token.length > maxValidationTokenLength) {
    return {
      status: 400,
      headers: textHeaders,
      body: `validationToken is longer than ${maxValidationTokenLength} characters.`,
    };
  }
  return { status: 200, headers: textHeaders, body: token };
}
