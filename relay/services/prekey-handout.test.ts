// API-29: one-time prekeys of one target are handed out at a bounded rate, whoever asks, and
// the owner is told to refill. Played as in issue 11: seven throwaway accounts fetch a victim's
// bundles as fast as the per-requester limit allows, against a real relay over HTTP/2 (h2c)
// with a real SQLite file and a controllable clock.

import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SubscribeResponse } from "../../gen/securecomm/relay/v1/messages_pb.js";
import { MAX_ONE_TIME_PREKEY_HANDOUTS_PER_HOUR } from "../limits.js";
import { startTestRelay, type TestRelay } from "../testing/test-relay.js";
import { clientsFor, makePreKeys, registerAccount, type Clients, type TestAccount } from "./harness.test-support.js";

const HOUR = 3_600_000;
const clock = { now: Date.now() };
let relay: TestRelay;
let c: Clients;
beforeAll(async () => {
  relay = await startTestRelay({ now: () => clock.now });
  c = clientsFor(createGrpcTransport({ baseUrl: relay.url }));
});
afterAll(async () => {
  await relay.close();
});

/** Reads the owner's stream until a PreKeysLow arrives (or the stream stalls for 5 s). */
async function awaitPreKeysLow(stream: AsyncIterator<SubscribeResponse>): Promise<SubscribeResponse["event"]> {
  for (;;) {
    const next = await Promise.race([stream.next(), new Promise<"stalled">((r) => setTimeout(() => r("stalled"), 5_000))]);
    if (next === "stalled") throw new Error("no PreKeysLow within 5 s");
    if (next.done) throw new Error("stream ended");
    if (next.value.event.case === "preKeysLow") return next.value.event;
  }
}

describe("API-29 per-target one-time prekey handout", () => {
  it("seven throwaway accounts get one-time prekeys for only the hourly budget; the rest get last-resort bundles; the owner is told", async () => {
    const victim: TestAccount = await registerAccount(c);
    const keys = makePreKeys(victim.identity, { oneTime: 100, kyber: 100 });
    await c.keys.uploadPreKeys(keys, { headers: victim.headers });
    const abort = new AbortController();
    const stream = c.messages.subscribe({ rooms: [] }, { headers: victim.headers, signal: abort.signal })[Symbol.asyncIterator]();
    try {
      const attackers = await Promise.all(Array.from({ length: 7 }, () => registerAccount(c)));
      let withOneTime = 0;
      let lastResort = 0;
      for (const a of attackers) {
        // 30 per requester and target per minute (API-09): the most each may take.
        for (let i = 0; i < 30; i++) {
          const res = await c.keys.fetchPreKeyBundle({ address: victim.address }, { headers: a.headers });
          if (res.result.case !== "bundle") throw new Error("expected a bundle");
          const b = res.result.value;
          if (b.oneTimePreKey) withOneTime++;
          else {
            // Still a valid PQXDH bundle: signed prekey and the last-resort Kyber prekey.
            expect(b.kyberPreKeyIsLastResort).toBe(true);
            expect(b.kyberPreKey?.id).toBe(keys.lastResortKyberPreKey.id);
            lastResort++;
          }
        }
      }
      expect(withOneTime).toBe(MAX_ONE_TIME_PREKEY_HANDOUTS_PER_HOUR);
      expect(lastResort).toBe(210 - MAX_ONE_TIME_PREKEY_HANDOUTS_PER_HOUR);
      const counts = (await c.keys.getPreKeyCounts({}, { headers: victim.headers })).counts!;
      expect(counts.oneTimePreKeys).toBe(100 - MAX_ONE_TIME_PREKEY_HANDOUTS_PER_HOUR);
      expect(counts.kyberPreKeys).toBe(100 - MAX_ONE_TIME_PREKEY_HANDOUTS_PER_HOUR);
      expect(counts.handoutLimited).toBe(true);
      const notice = await awaitPreKeysLow(stream);
      expect(notice.case === "preKeysLow" && notice.value.handoutLimited).toBe(true);

      // An hour later the budget has refilled: one-time prekeys flow again, at the same pace.
      clock.now += HOUR;
      const again = await c.keys.fetchPreKeyBundle({ address: victim.address }, { headers: attackers[0]!.headers });
      expect(again.result.case === "bundle" && again.result.value.oneTimePreKey !== undefined).toBe(true);
      expect((await c.keys.getPreKeyCounts({}, { headers: victim.headers })).counts!.handoutLimited).toBe(false);
    } finally {
      abort.abort();
    }
  });

  it("a bundle that leaves a kind below the refill threshold tells the owner (not limited)", async () => {
    clock.now += 2 * HOUR;
    const owner = await registerAccount(c);
    await c.keys.uploadPreKeys(makePreKeys(owner.identity, { oneTime: 21, kyber: 21 }), { headers: owner.headers });
    const abort = new AbortController();
    const stream = c.messages.subscribe({ rooms: [] }, { headers: owner.headers, signal: abort.signal })[Symbol.asyncIterator]();
    try {
      const friend = await registerAccount(c);
      await c.keys.fetchPreKeyBundle({ address: owner.address }, { headers: friend.headers }); // 20 left: not below
      await c.keys.fetchPreKeyBundle({ address: owner.address }, { headers: friend.headers }); // 19 left
      const notice = await awaitPreKeysLow(stream);
      expect(notice.case === "preKeysLow" && notice.value.handoutLimited).toBe(false);
    } finally {
      abort.abort();
    }
  });
});
