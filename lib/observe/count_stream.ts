/**
 * A pass-through byte stream that counts what its consumer pulls, for the metrics wrapper.
 *
 * @module
 */

/**
 * Wrap `source` so every chunk passes through unchanged and its size goes to `onBytes` as the
 * consumer reads it. Pull-based (backpressure kept, nothing buffered); cancelling the wrapper
 * cancels the source.
 *
 * @example
 * ```ts
 * let n = 0;
 * const counted = countBytes(response.body!, (k) => (n += k));
 * ```
 */
export function countBytes(
  source: ReadableStream<Uint8Array>,
  onBytes: (n: number) => void,
): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) {
        controller.close();
        return;
      }
      onBytes(value.byteLength);
      controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}
