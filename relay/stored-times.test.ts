// SC-18 (issue 11 item 4): times at rest are coarse. A scripted session (two accounts
// authenticate, one creates a room, both post, a sealed send) runs against a real relay over
// HTTP/1.1 with a real SQLite file; then the attacker of issue 11 reads the database and tries
// to attribute the room's creation and each post to the account whose token was issued just
// before it. With millisecond times that works; with coarse times every candidate ties.

import { createConnectTransport } from "@connectrpc/connect-node";
import Database from "better-sqlite3";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256 } from "./auth.js";
import { STORED_TIME_GRANULARITY_MS, TOKEN_LIFETIME_MS } from "./limits.js";
import { clientsFor, randomId, randomKey, registerAccount, type Clients } from "./services/harness.test-support.js";
import { DATABASE_FILE } from "./store/sqlite-store.js";
import { startTestRelay, type TestRelay } from "./testing/test-relay.js";

const HOUR = 3_600_000;
/** One minute past an hour boundary: the session stays inside one hour, as most do. */
const clock = { now: Math.floor(Date.now() / HOUR) * HOUR + 60_000 };
let relay: TestRelay;
let c: Clients;
beforeAll(async () => {
  relay = await startTestRelay({ now: () => clock.now });
  c = clientsFor(createConnectTransport({ baseUrl: relay.url, httpVersion: "1.1" }));
});
afterAll(async () => {
  await relay.close();
});

const step = (ms: number): void => void (clock.now += ms);
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

type Row = Record<string, unknown>;

/**
 * The attack: for a room-side time `t`, the account whose last account-side time (token issue,
 * account creation) is the latest at or before `t`, within ten minutes; undefined unless exactly
 * one account has that time.
 */
function attribute(t: number, activity: Map<string, number[]>): string | undefined {
  let best = -Infinity;
  let who: string[] = [];
  for (const [account, times] of activity) {
    const latest = Math.max(...times.filter((x) => x <= t && t - x <= 10 * 60_000));
    if (latest > best) {
      best = latest;
      who = [account];
    } else if (latest === best && Number.isFinite(latest)) who.push(account);
  }
  return who.length === 1 && Number.isFinite(best) ? who[0] : undefined;
}

describe("SC-18 coarse times at rest", () => {
  it("a database dump after a scripted session does not single out the account behind the room or any post", async () => {
    const alice = await registerAccount(c);
    step(1_234);
    const roomId = randomId();
    const accessKey = randomKey();
    await c.rooms.createRoom({ roomId, accessKeyHash: sha256(accessKey) }, { headers: alice.headers });
    step(4_321);
    const bob = await registerAccount(c);
    step(777);
    const posts: [string, number][] = [];
    const post = async (who: string, tag: number) => {
      await c.rooms.postToRoom({ roomId, accessKey, envelope: new Uint8Array([0x01, tag]) });
      posts.push([who, tag]);
    };
    await post(hex(bob.address), 1); // Bob's join
    step(2_500);
    await post(hex(alice.address), 2);
    step(9_000);
    const carol = await registerAccount(c);
    step(300);
    await post(hex(carol.address), 3); // Carol's join
    step(1_100);
    await c.messages.sendSealed({ recipientAddress: bob.address, deliveryToken: bob.deliveryToken, envelope: new Uint8Array([0x11, 1]) });
    step(2_000);
    await post(hex(bob.address), 4);

    const db = new Database(join(relay.dataDir, DATABASE_FILE), { readonly: true, fileMustExist: true });
    try {
      const activity = new Map<string, number[]>();
      const add = (address: unknown, t: number) => {
        const k = hex(address as Uint8Array);
        activity.set(k, [...(activity.get(k) ?? []), t]);
      };
      for (const r of db.prepare("SELECT address, expires_at_ms FROM tokens").all() as Row[]) add(r.address, Number(r.expires_at_ms) - TOKEN_LIFETIME_MS);
      for (const r of db.prepare("SELECT address, created_at_ms FROM accounts").all() as Row[]) add(r.address, Number(r.created_at_ms));
      const roomTimes = (db.prepare("SELECT created_at_ms FROM rooms").all() as Row[]).map((r) => Number(r.created_at_ms));
      const postTimes = (db.prepare("SELECT seq, posted_at_ms FROM room_events ORDER BY seq").all() as Row[]).map((r) => Number(r.posted_at_ms));
      const mailboxTimes = (db.prepare("SELECT stored_at_ms FROM mailbox").all() as Row[]).map((r) => Number(r.stored_at_ms));
      expect(activity.size).toBe(3);
      expect(postTimes.length).toBe(posts.length);

      const attributed = [...roomTimes, ...postTimes].map((t) => attribute(t, activity));
      expect(attributed).toEqual(attributed.map(() => undefined));
      // Every stored time is a whole multiple of the granularity.
      const all = [...roomTimes, ...postTimes, ...mailboxTimes, ...[...activity.values()].flat()];
      for (const t of all) expect(t % STORED_TIME_GRANULARITY_MS).toBe(0);
    } finally {
      db.close();
    }
  });
});
