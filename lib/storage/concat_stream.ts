/**
 * One stream made of several bodies read one after another, each opened only when the previous
 * one ends (so at most one is open): how the bucket adapters read a blob or a session stored as
 * several objects.
 *
 * @module
 */

/**
 * A stream of `count` bodies in order; `open(i)` opens the i-th when the stream reaches it. A
 * body `open` cannot find fails the stream with `open`'s error.
 *
 * @example
 * ```ts
 * const stream = concatStreams(keys.length, async (i) => (await s3.getObject(keys[i]))!.body);
 * ```
 */
export function concatStreams(
  count: number,
  open: (index: number) => Promise<ReadableStream<Uint8Array>>,
): ReadableStream<Uint8Array> {
  let index = 0;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        if (!reader) {
          if (index >= count) {
            controller.close();
            return;
          }
          reader = (await open(index++)).getReader();
        }
        const { done, value } = await reader.read();
        if (done) {
          reader = undefined;
          continue;
        }
        if (value.byteLength > 0) {
          controller.enqueue(value);
          return;
        }
      }
    },
    async cancel(reason) {
      await reader?.cancel(reason);
    },
  });
}
