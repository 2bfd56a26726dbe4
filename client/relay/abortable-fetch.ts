/**
 * A fetch whose streamed response bodies stop when the call's signal aborts.
 *
 * Owns: `abortableFetch` (spec/12-delivery.md DL-06). Node's built-in fetch (undici) follows the caller's `AbortSignal`
 * through a weakly held internal controller; once that controller is garbage-collected an
 * abort no longer reaches a response body being read, and a `Subscribe` stream cancelled by
 * `stop()` stays open until the relay's next keep-alive (issue 16: 9–15 s). This wrapper
 * holds the signal and the body's reader strongly for as long as the body is read, and on
 * abort fails the read at once and cancels the underlying body (which closes the HTTP
 * stream or socket). Browsers honour the signal already; the wrapper is harmless there.
 * Does not own: retries (relay-clients.ts) or the stream's meaning (subscription.ts).
 */

/** Content types of Connect streaming responses (the only bodies read incrementally). */
const STREAMING_CONTENT_TYPE = /^application\/(connect\+|grpc)/;

/**
 * Wraps `base` (default: the global fetch, looked up at call time) so that a streaming
 * response body errors and is cancelled as soon as `init.signal` aborts.
 */
export function abortableFetch(base?: typeof globalThis.fetch): typeof globalThis.fetch {
  return async (input, init) => {
    const res = await (base ?? globalThis.fetch)(input, init);
    const signal = init?.signal ?? undefined;
    const contentType = res.headers.get("content-type") ?? "";
    if (signal === undefined || signal === null || res.body === null || !STREAMING_CONTENT_TYPE.test(contentType)) return res;
    return new Response(followSignal(res.body, signal), { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}

function followSignal(source: ReadableStream<Uint8Array>, signal: AbortSignal): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  let onAbort: (() => void) | undefined;
  const release = () => {
    if (onAbort !== undefined) signal.removeEventListener("abort", onAbort);
    onAbort = undefined;
  };
  return new ReadableStream<Uint8Array>({
    start(controller) {
      onAbort = () => {
        release();
        controller.error(signal.reason);
        reader.cancel(signal.reason).catch(() => undefined);
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort);
    },
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (signal.aborted) return; // already errored by onAbort
        if (done) {
          release();
          controller.close();
        } else {
          controller.enqueue(value);
        }
      } catch (e) {
        release();
        if (!signal.aborted) controller.error(e);
      }
    },
    cancel(reason) {
      release();
      return reader.cancel(reason);
    },
  });
}
