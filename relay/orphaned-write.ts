/**
 * Ends a response write that can no longer finish because the client went away
 * (spec/10-relay-api.md API-13: a stream ends when its client goes away).
 *
 * Owns: `settleWritesOnClose`. Connect's Node adapter writes each streamed message and waits
 * for `drain` or `error` when the write did not flush at once (a client that stopped reading:
 * a slow tab, a full socket, an HTTP/2 flow-control window). If the client then disconnects,
 * Node emits neither: the socket's pending write callback runs with no error once the socket
 * is destroyed, and an HTTP/2 stream that is reset behaves the same. The handler stays
 * suspended at its `yield` forever, so it never sees its abort signal; a Subscribe stream
 * left this way was never removed from the hub, counted as open in the metrics, and held one
 * of its account's streams (`relay/stalled-client.test.ts` reproduces it over HTTP/1.1 and
 * HTTP/2). Emitting the error Node itself uses for a write to a destroyed stream settles the
 * pending write; Connect maps it to `aborted` (a client that hung up) and logs nothing.
 *
 * Does not own: the abort signal handlers watch (Connect aborts it on the same `close`).
 */
import type { EventEmitter } from "node:events";

/** The code Node gives a write to a destroyed stream (Connect maps it to Code.Aborted). */
const DESTROYED_STREAM_CODE = "ERR_STREAM_DESTROYED";

/** A response as far as this module needs it: HTTP/1.1 and HTTP/2 compatibility responses. */
export interface ClosableResponse extends EventEmitter {
  readonly writableEnded: boolean;
}

/**
 * When RPC response `res` closes before it finished, fails a write still waiting on it.
 * Connect's pending write is recognised by its pair of listeners (`drain` and `error`, added
 * and removed around each write that did not flush); with either missing nothing is emitted.
 * Only for RPC responses: a static file piped into a response listens for `error` too, and
 * re-throws what it did not expect (relay/server.ts applies this to RPC paths only).
 */
export function settleWritesOnClose(res: ClosableResponse): void {
  res.once("close", () => {
    if (res.writableEnded || res.listenerCount("error") === 0 || res.listenerCount("drain") === 0) return;
    const error = Object.assign(new Error("the client went away while a write was pending"), { code: DESTROYED_STREAM_CODE });
    res.emit("error", error);
  });
}
