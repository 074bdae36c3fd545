/**
 * Reads a request body up to `maxBytes`, stopping as soon as the cap is passed, so an oversize
 * body is refused without being buffered whole.
 */
export type CappedBody =
  | { readonly ok: true; readonly text: string }
  | { readonly ok: false; readonly reason: 'tooLarge' | 'notUtf8' };

export async function readBodyCapped(
  body: ReadableStream<Uint8Array> | null,
  declaredLength: string | null,
  maxBytes: number,
): Promise<CappedBody> {
  if (declaredLength !== null && Number(declaredLength) > maxBytes) {
    return { ok: false, reason: 'tooLarge' };
  }
  if (body === null) return { ok: true, text: '' };
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      return { ok: false, reason: 'tooLarge' };
    }
    chunks.push(value);
  }
  try {
    return {
      ok: true,
      text: new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks)),
    };
  } catch {
    return { ok: false, reason: 'notUtf8' };
  }
}
