// Live delivery between relay processes on one PostgreSQL database: two relays (each its own
// pool, listener and hub, as two processes would have) on one database, clients on each.
// The spawned-process fault tests are in relay/services/multi-relay.test.ts.
import { Code } from "@connectrpc/connect";
import postgres from "postgres";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RoomClosedReason, type SubscribeResponse } from "../../gen/securecomm/relay/v1/messages_pb.js";
import { checkSenderCertificate } from "../../client/server/index.js";
import { sha256 } from "../auth.js";
import { errorReason } from "../errors.js";
import { openHarness, randomId, randomKey, registerAccount, type Harness, type TestAccount } from "../services/harness.test-support.js";
import { createTestDatabase } from "../testing/postgres-database.js";

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let a: Harness;
let b: Harness;
beforeEach(async () => {
  db = await createTestDatabase();
  [a, b] = await Promise.all([openHarness({ databaseUrl: db.url, logLevel: "silent" }), openHarness({ databaseUrl: db.url, logLevel: "silent" })]);
});
afterEach(async () => {
  await Promise.all([a.close(), b.close()]);
  await db.drop();
});

function reader(h: Harness, who: TestAccount, rooms: { roomId: Uint8Array; accessKey: Uint8Array; afterSeq?: bigint }[] = []) {
  const abort = new AbortController();
  const stream = h.messages.subscribe(
    { rooms: rooms.map((r) => ({ roomId: r.roomId, accessKey: r.accessKey, afterSeq: r.afterSeq ?? 0n })) },
    { headers: who.headers, signal: abort.signal },
  );
  const it = stream[Symbol.asyncIterator]();
  return {
    async until(pred: (m: SubscribeResponse) => boolean): Promise<SubscribeResponse[]> {
      const out: SubscribeResponse[] = [];
      for (;;) {
        const r = await it.next();
        if (r.done) throw new Error("stream ended");
        if (r.value.event.case === "keepAlive") continue;
        out.push(r.value);
        if (pred(r.value)) return out;
      }
    },
    async error(): Promise<unknown> {
      try {
        for (;;) if ((await it.next()).done) return undefined;
      } catch (err) {
        return err;
      }
    },
    close: () => abort.abort(),
  };
}
const is = (kind: string) => (m: SubscribeResponse) => m.event.case === kind;
const roomSeqs = (ms: SubscribeResponse[]) => ms.flatMap((m) => (m.event.case === "room" ? m.event.value.events.filter((e) => !e.ephemeral).map((e) => Number(e.seq)) : []));

describe("live delivery across relay processes (PostgreSQL LISTEN/NOTIFY)", () => {
  it("a stream on one process receives sends, posts and ephemeral events accepted by the other, in order, once", async () => {
    const alice = await registerAccount(a);
    const roomId = randomId();
    const accessKey = randomKey();
    await b.rooms.createRoom({ roomId, accessKeyHash: sha256(accessKey) }, { headers: alice.headers });
    const r = reader(a, alice, [{ roomId, accessKey }]);
    await r.until(is("caughtUp"));
    for (let i = 1; i <= 5; i++) await b.rooms.postToRoom({ roomId, accessKey, envelope: new Uint8Array([1, i]) });
    await b.messages.sendSealed({ recipientAddress: alice.address, deliveryToken: alice.deliveryToken, envelope: new Uint8Array([2, 9]) });
    const got = await r.until((m) => m.event.case === "mailbox");
    expect(roomSeqs(got)).toEqual([1, 2, 3, 4, 5]);
    const eph = await b.rooms.postEphemeral({ roomId, accessKey, envelope: new Uint8Array([3, 3]) });
    expect(eph.deliveredTo).toBe(0); // No stream on b follows the room; a's stream gets it below.
    const e = await r.until((m) => m.event.case === "room" && m.event.value.events.some((x) => x.ephemeral));
    expect(e.length).toBe(1);
    r.close();
  });

  it("SS-04: both processes issue sender certificates chaining to one trust root", async () => {
    const info = await Promise.all([a.info.getRelayInfo({}), b.info.getRelayInfo({})]);
    expect(Buffer.from(info[0].trustRootPublicKey).equals(Buffer.from(info[1].trustRootPublicKey))).toBe(true);
    const alice = await registerAccount(a);
    for (const h of [a, b]) {
      const cert = await h.account.getSenderCertificate({}, { headers: alice.headers });
      const checked = await checkSenderCertificate(cert.senderCertificate, info[0].trustRootPublicKey, h.clock.now);
      expect(Buffer.from(checked.senderAddress).equals(Buffer.from(alice.address))).toBe(true);
    }
  });

  it("a rotation on one process closes the old key's streams on the other; a deletion ends the account's streams", async () => {
    const alice = await registerAccount(a);
    const roomId = randomId();
    const accessKey = randomKey();
    await a.rooms.createRoom({ roomId, accessKeyHash: sha256(accessKey) }, { headers: alice.headers });
    const r = reader(a, alice, [{ roomId, accessKey }]);
    await r.until(is("caughtUp"));
    await b.rooms.rotateRoomAccessKey({ roomId, accessKey, newAccessKeyHash: sha256(randomKey()) });
    const closed = await r.until(is("roomClosed"));
    const last = closed[closed.length - 1]!;
    expect(last.event.case === "roomClosed" && last.event.value.reason).toBe(RoomClosedReason.ACCESS_DENIED);
    const ended = r.error();
    await b.account.deleteAccount({}, { headers: alice.headers });
    const err = await ended;
    expect((err as { code?: Code }).code).toBe(Code.Unauthenticated);
    expect(errorReason(err)).toBe("BAD_TOKEN");
  });

  it("a lost hint costs latency, not the message: after the listener reconnects, streams catch up by cursor", async () => {
    const alice = await registerAccount(a);
    const roomId = randomId();
    const accessKey = randomKey();
    await a.rooms.createRoom({ roomId, accessKeyHash: sha256(accessKey) }, { headers: alice.headers });
    const r = reader(a, alice, [{ roomId, accessKey }]);
    await r.until(is("caughtUp"));
    await b.rooms.postToRoom({ roomId, accessKey, envelope: new Uint8Array([1, 1]) });
    expect(roomSeqs(await r.until(is("room")))).toEqual([1]);
    // An append whose hint never arrives (written without NOTIFY, as if the hint were lost)...
    const raw = postgres(db.url, { max: 1 });
    try {
      await raw`WITH r AS (UPDATE rooms SET latest_seq = latest_seq + 1 WHERE room_id = ${roomId} RETURNING latest_seq)
                INSERT INTO room_events (room_id, seq, posted_at_ms, envelope) SELECT ${roomId}, latest_seq, 1, ${new Uint8Array([1, 2])} FROM r`;
      await raw`WITH r AS (UPDATE rooms SET latest_seq = latest_seq + 1 WHERE room_id = ${roomId} RETURNING latest_seq)
                INSERT INTO room_events (room_id, seq, posted_at_ms, envelope) SELECT ${roomId}, latest_seq, 1, ${new Uint8Array([1, 3])} FROM r`;
      // ...then the listening connections drop (as they do when hints are lost).
      await raw`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'securecomm-relay-listen' AND datname = current_database()`;
    } finally {
      await raw.end({ timeout: 1 });
    }
    const got = await r.until((m) => roomSeqs([m]).includes(3));
    expect(roomSeqs(got)).toEqual([2, 3]);
    // Live hints flow again afterwards, without repeats.
    await b.rooms.postToRoom({ roomId, accessKey, envelope: new Uint8Array([1, 4]) });
    expect(roomSeqs(await r.until(is("room")))).toEqual([4]);
    r.close();
  });
});
