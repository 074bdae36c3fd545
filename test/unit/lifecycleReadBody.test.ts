import { readBodyCapped } from '../../shared/lifecycle/readBody';

/**
 * The lifecycle body is read up to LIFECYCLE_MAX_BODY_BYTES and no further: an oversize body is
 * refused on its declared length without being read, or as soon as the bytes read pass the cap.
 */

interface Source {
  readonly stream: ReadableStream<Uint8Array>;
  /** Chunks handed to the reader so far. */
  readonly pulled: () => number;
  readonly cancelled: () => boolean;
}

function source(chunks: readonly Uint8Array[]): Source {
  let next = 0;
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        const chunk = chunks[next];
        if (chunk === undefined) {
          controller.close();
          return;
        }
        next++;
        controller.enqueue(chunk);
      },
      cancel() {
        cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, pulled: () => next, cancelled: () => cancelled };
}

const bytes = (text: string) => new TextEncoder().encode(text);

describe('readBodyCapped', () => {
  test('when the declared length is over the cap, then it is tooLarge and nothing is read', async () => {
    const body = source([bytes('{"value":[]}')]);

    const read = await readBodyCapped(body.stream, '2049', 2048);

    expect(read).toEqual({ ok: false, reason: 'tooLarge' });
    expect(body.pulled()).toBe(0);
  });

  test('when no length is declared and the bytes pass the cap, then it stops there and cancels the stream', async () => {
    const body = source([
      bytes('a'.repeat(1000)),
      bytes('b'.repeat(1000)),
      bytes('c'.repeat(1000)),
      bytes('d'),
    ]);

    const read = await readBodyCapped(body.stream, null, 2048);

    expect(read).toEqual({ ok: false, reason: 'tooLarge' });
    expect(body.pulled()).toBe(3);
    expect(body.cancelled()).toBe(true);
  });

  test('when the declared length lies (too small), then the bytes read still decide', async () => {
    const body = source([bytes('x'.repeat(3000))]);

    expect(await readBodyCapped(body.stream, '10', 2048)).toEqual({
      ok: false,
      reason: 'tooLarge',
    });
  });

  test('when the body is exactly the cap, then it is read whole', async () => {
    const body = source([bytes('x'.repeat(1024)), bytes('y'.repeat(1024))]);

    const read = await readBodyCapped(body.stream, '2048', 2048);

    expect(read).toEqual({ ok: true, text: 'x'.repeat(1024) + 'y'.repeat(1024) });
  });

  test('when a multi-byte character is split across chunks, then it is decoded whole', async () => {
    const euro = bytes('€'); // 3 bytes
    const body = source([bytes('{"a":"'), euro.slice(0, 1), euro.slice(1), bytes('"}')]);

    expect(await readBodyCapped(body.stream, null, 2048)).toEqual({ ok: true, text: '{"a":"€"}' });
  });

  test('when the bytes are not UTF-8, then it is notUtf8', async () => {
    const body = source([new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])]);

    expect(await readBodyCapped(body.stream, null, 2048)).toEqual({ ok: false, reason: 'notUtf8' });
  });

  test('when there is no body, then the text is empty', async () => {
    expect(await readBodyCapped(null, null, 2048)).toEqual({ ok: true, text: '' });
  });

  test('when the declared length is not a number, then it is ignored and the bytes decide', async () => {
    const body = source([bytes('{}')]);

    expect(await readBodyCapped(body.stream, 'lots', 2048)).toEqual({ ok: true, text: '{}' });
  });
});
