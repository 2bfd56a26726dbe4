// API-28 and API-31 (issue 11 item 2): bounded challenge storage and byte quotas per mailbox,
// per room and overall, against a real relay over HTTP/1.1 with a real SQLite file. The
// attacker is one account writing 64 KiB envelopes to its own mailbox and rooms, and a flood of
// CreateChallenge calls with fresh keys; each refusal is a clear `resource_exhausted`.

import { Code } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import Database from "better-sqlite3";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256 } from "./auth.js";
import { retryAfterMs } from "./errors.js";
import { clientsFor, expectRelayError, randomId, randomKey, registerAccount, type Clients } from "./services/harness.test-support.js";
import { DATABASE_FILE } from "./store/sqlite-store.js";
import { startTestRelay, type TestRelay } from "./testing/test-relay.js";

const KIB64 = 65_536;
const limits = { maxMailboxBytes: 3 * KIB64 + 100, maxRoomLogBytes: 4 * KIB64 + 100, maxStoredBytes: 9 * KIB64 + 100, maxStoredChallenges: 50 };
let relay: TestRelay;
let c: Clients;
beforeAll(async () => {
  relay = await startTestRelay({ limits });
  c = clientsFor(createConnectTransport({ baseUrl: relay.url, httpVersion: "1.1" }));
});
afterAll(async () => {
  await relay.close();
});

const big = (): Uint8Array => crypto.getRandomValues(new Uint8Array(KIB64));

describe("API-31 byte quotas", () => {
  it("one account filling its mailbox and rooms meets MAILBOX_FULL, ROOM_FULL, then STORAGE_FULL, each resource_exhausted with RetryInfo", async () => {
    const me = await registerAccount(c);
    const send = () => c.messages.sendSealed({ recipientAddress: me.address, deliveryToken: me.deliveryToken, envelope: big() });
    for (let i = 0; i < 3; i++) await send();
    const full = await expectRelayError(send(), Code.ResourceExhausted, "MAILBOX_FULL");
    expect(retryAfterMs(full)).toBeGreaterThan(0);

    const room = async () => {
      const roomId = randomId();
      const accessKey = randomKey();
      await c.rooms.createRoom({ roomId, accessKeyHash: sha256(accessKey) }, { headers: me.headers });
      return () => c.rooms.postToRoom({ roomId, accessKey, envelope: big() });
    };
    const post1 = await room();
    for (let i = 0; i < 4; i++) await post1();
    await expectRelayError(post1(), Code.ResourceExhausted, "ROOM_FULL");

    // 7 × 64 KiB stored; two more fit the overall quota, then nothing does, in any room.
    const post2 = await room();
    await post2();
    await post2();
    const storage = await expectRelayError(post2(), Code.ResourceExhausted, "STORAGE_FULL");
    expect(retryAfterMs(storage)).toBeGreaterThan(0);
    const post3 = await room();
    await expectRelayError(post3(), Code.ResourceExhausted, "STORAGE_FULL");
    const other = await registerAccount(c);
    await expectRelayError(
      c.messages.sendSealed({ recipientAddress: other.address, deliveryToken: other.deliveryToken, envelope: new Uint8Array(200).fill(1) }),
      Code.ResourceExhausted,
      "STORAGE_FULL",
    );
    expect(await relay.relay.storedBytes()).toBeLessThanOrEqual(limits.maxStoredBytes);

    // Acknowledging frees quota: the mailbox takes envelopes again.
    const abort = new AbortController();
    const ids: bigint[] = [];
    for await (const m of c.messages.subscribe({ rooms: [] }, { headers: me.headers, signal: abort.signal })) {
      if (m.event.case === "mailbox") ids.push(...m.event.value.envelopes.map((e) => e.id));
      if (m.event.case === "caughtUp") break;
    }
    abort.abort();
    await c.messages.ackMessages({ ids }, { headers: me.headers });
    await send();
  });
});

describe("API-28 bounded challenge storage", () => {
  it("a flood of CreateChallenge with fresh keys keeps at most max_stored_challenges; a prompt client still proves", async () => {
    const key = (): Uint8Array => {
      const k = crypto.getRandomValues(new Uint8Array(33));
      k[0] = 5;
      return k;
    };
    for (let i = 0; i < 200; i += 20) await Promise.all(Array.from({ length: 20 }, () => c.account.createChallenge({ identityKey: key() })));
    const db = new Database(join(relay.dataDir, DATABASE_FILE), { readonly: true, fileMustExist: true });
    try {
      expect((db.prepare("SELECT count(*) AS n FROM challenges").get() as { n: number }).n).toBeLessThanOrEqual(limits.maxStoredChallenges);
    } finally {
      db.close();
    }
    expect((await registerAccount(c)).token.length).toBe(32);
  });
});
