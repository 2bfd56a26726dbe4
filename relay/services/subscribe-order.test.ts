/**
 * A stream never skips a room seq, however events reach the hub: here the store's appends are
 * made to resolve out of commit order (seq 2's handler publishes before seq 1's), which is what
 * concurrent appends on different database connections can do. The stream holds seq 2, reads
 * seq 1 from the store, then delivers seq 2 (spec/10-relay-api.md API-11: "strictly increasing seq without gaps").
 */
import { afterEach, describe, expect, it } from "vitest";
import type { SubscribeResponse } from "../../gen/securecomm/relay/v1/messages_pb.js";
import { sha256 } from "../auth.js";
import type { AppendResult, RelayStore } from "../store/relay-store.js";
import { openHarness, randomId, randomKey, registerAccount, type Harness } from "./harness.test-support.js";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe("room events published out of order", () => {
  it("API-11: the stream reads the gap from the store and delivers 1, 2, 3 once each", async () => {
    let hold: ((release: () => void) => void) | undefined;
    h = await openHarness({
      wrapStore: (inner: RelayStore): RelayStore => ({
        ...inner,
        close: () => inner.close(),
        appendRoomEvent: async (...args): Promise<AppendResult> => {
          const result = await inner.appendRoomEvent(...args);
          const catcher = hold;
          if (catcher) {
            hold = undefined;
            // Committed, but this handler resumes only when the test says so.
            await new Promise<void>((resolve) => catcher(resolve));
          }
          return result;
        },
      }),
    });
    const alice = await registerAccount(h);
    const roomId = randomId();
    const accessKey = randomKey();
    await h.rooms.createRoom({ roomId, accessKeyHash: sha256(accessKey) }, { headers: alice.headers });
    const abort = new AbortController();
    const it = h.messages.subscribe({ rooms: [{ roomId, accessKey, afterSeq: 0n }] }, { headers: alice.headers, signal: abort.signal })[Symbol.asyncIterator]();
    const next = async (): Promise<SubscribeResponse> => {
      for (;;) {
        const r = await it.next();
        if (r.done) throw new Error("stream ended");
        if (r.value.event.case !== "keepAlive") return r.value;
      }
    };
    expect((await next()).event.case).toBe("caughtUp");

    let release!: () => void;
    const held = new Promise<void>((r) => (hold = (go) => { release = go; r(); }));
    const first = h.rooms.postToRoom({ roomId, accessKey, envelope: new Uint8Array([1, 1]) });
    await held;
    // Seq 2 commits and is published while seq 1's handler is still held.
    expect((await h.rooms.postToRoom({ roomId, accessKey, envelope: new Uint8Array([1, 2]) })).seq).toBe(2n);
    const seqs: number[] = [];
    const read = (async () => {
      while (seqs.length < 3) {
        const m = await next();
        if (m.event.case === "room") for (const e of m.event.value.events) seqs.push(Number(e.seq));
      }
    })();
    // Seq 1 was read from the store: delivered before seq 2 although published after it.
    while (seqs.length < 2) await new Promise((r) => setTimeout(r, 5));
    release();
    expect((await first).seq).toBe(1n);
    await h.rooms.postToRoom({ roomId, accessKey, envelope: new Uint8Array([1, 3]) });
    await read;
    expect(seqs).toEqual([1, 2, 3]);
    abort.abort();
  });
});
