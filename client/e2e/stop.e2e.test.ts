/**
 * `stop()` and `close()` end the Subscribe stream at once (issue 16 item 4): the relay sees the
 * request end, even after garbage collection (Node's fetch followed the abort through a
 * weakly held controller, so a collected one left the stream open until the next keep-alive).
 * The relay's keep-alive is set to ten minutes here, so a stream that does not close on
 * cancel stays open far past the hang guard and the test fails.
 */

import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, describe, expect, it } from "vitest";
import { startTestRelay } from "../../relay/testing/test-relay.js";
import { newClient, waitFor } from "./harness.test-support.js";

setFlagsFromString("--expose-gc");
/** A full garbage collection (the condition under which the stream used to stay open). */
const collectGarbage = runInNewContext("gc") as () => void;

/** Resolves with `p`, or throws after `limitMs` (a hang guard far below the keep-alive). */
async function within<T>(p: Promise<T>, limitMs: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const guard = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} hung`)), limitMs)));
  try {
    return await Promise.race([p, guard]);
  } finally {
    clearTimeout(timer);
  }
}

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

describe("stop and close are prompt", () => {
  it("DL-06 API-11: stop() and close() end an open, idle Subscribe stream at the relay, also after garbage collection", async () => {
    const relay = await startTestRelay({ limits: { keepAliveIntervalMs: 600_000 } });
    cleanups.push(() => relay.close());
    const alice = await newClient(relay.url, "alice");
    cleanups.push(() => alice.client.close());
    for (let round = 0; round < 3; round++) {
      await waitFor(() => alice.client.connection === "online" && relay.server.activeRequests === 1, "the stream is open");
      await new Promise((r) => setTimeout(r, 200)); // idle: nothing in flight but the stream
      collectGarbage();
      const started = Date.now();
      await within(alice.client.stop(), 10_000, "stop()");
      // The relay sees the stream end (its only active request); the guard is far below the
      // ten-minute keep-alive that would otherwise end it.
      await waitFor(() => relay.server.activeRequests === 0, "the relay sees the stream end", 10_000);
      console.log(`stop round ${round}: ${Date.now() - started} ms`);
      expect(alice.client.connection).toBe("offline");
      await alice.client.start();
    }
    await waitFor(() => alice.client.connection === "online" && relay.server.activeRequests === 1, "the stream is open");
    collectGarbage();
    await within(alice.client.close(), 10_000, "close()");
    await waitFor(() => relay.server.activeRequests === 0, "close ends the stream", 10_000);
  });
});
