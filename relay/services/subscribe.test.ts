import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RoomClosedReason, type SubscribeResponse } from "../../gen/securecomm/relay/v1/messages_pb.js";
import { sha256 } from "../auth.js";
import { errorReason } from "../errors.js";
import { openHarness, randomId, randomKey, registerAccount, expectRelayError, type Harness, type TestAccount } from "./harness.test-support.js";
import type { RelayOptions } from "./index.js";

let h: Harness;
const open = async (options: Partial<RelayOptions> = {}) => {
  h = await openHarness(options);
};
beforeEach(async () => {
  await open();
});
afterEach(async () => {
  await h.close();
});

/** A stream reader with an explicit pull, so tests control consumption. */
function reader(h: Harness, who: TestAccount, rooms: { roomId: Uint8Array; accessKey: Uint8Array; afterSeq?: bigint }[] = []) {
  const abort = new AbortController();
  const stream = h.messages.subscribe(
    { rooms: rooms.map((r) => ({ roomId: r.roomId, accessKey: r.accessKey, afterSeq: r.afterSeq ?? 0n })) },
    { headers: who.headers, signal: abort.signal },
  );
  const it = stream[Symbol.asyncIterator]();
  return {
    async next(): Promise<SubscribeResponse> {
      const r = await it.next();
      if (r.done) throw new Error("stream ended");
      return r.value;
    },
    /** Reads messages until one of `kind`, returning everything read (skipping keep-alives). */
    async until(kind: NonNullable<SubscribeResponse["event"]["case"]>): Promise<SubscribeResponse[]> {
      const out: SubscribeResponse[] = [];
      for (;;) {
        const m = await this.next();
        if (m.event.case === "keepAlive" && kind !== "keepAlive") continue;
        out.push(m);
        if (m.event.case === kind) return out;
      }
    },
    close: () => abort.abort(),
  };
}

const mailboxIds = (ms: SubscribeResponse[]) => ms.flatMap((m) => (m.event.case === "mailbox" ? m.event.value.envelopes.map((e) => Number(e.id)) : []));
const mailboxBytes = (ms: SubscribeResponse[]) => ms.flatMap((m) => (m.event.case === "mailbox" ? m.event.value.envelopes.map((e) => e.envelope[1]) : []));
const roomSeqs = (ms: SubscribeResponse[]) => ms.flatMap((m) => (m.event.case === "room" ? m.event.value.events.map((e) => Number(e.seq)) : []));

async function makeRoom(owner: TestAccount) {
  const roomId = randomId();
  const accessKey = randomKey();
  await h.rooms.createRoom({ roomId, accessKeyHash: sha256(accessKey) }, { headers: owner.headers });
  const post = async (n: number) => (await h.rooms.postToRoom({ roomId, accessKey, envelope: new Uint8Array([0x01, n & 0xff]) })).seq;
  return { roomId, accessKey, post };
}

describe("Subscribe (API-11..API-14)", () => {
  it("API-11/API-15: mailbox backlog first, then CaughtUp, then live envelopes; acked envelopes are not redelivered", async () => {
    const b = await registerAccount(h);
    const send = (n: number) => h.messages.sendSealed({ recipientAddress: b.address, deliveryToken: b.deliveryToken, envelope: new Uint8Array([0x11, n]) });
    for (let i = 1; i <= 3; i++) await send(i);
    const r = reader(h, b);
    const backlog = await r.until("caughtUp");
    expect(mailboxBytes(backlog)).toEqual([1, 2, 3]);
    expect(backlog[backlog.length - 1]!.event.case).toBe("caughtUp");
    await send(4);
    const live = await r.until("mailbox");
    expect(mailboxBytes(live)).toEqual([4]);
    r.close();
    const ids = [...mailboxIds(backlog), ...mailboxIds(live)];
    await h.messages.ackMessages({ ids: ids.slice(0, 3).map(BigInt) }, { headers: b.headers });
    const again = reader(h, b);
    expect(mailboxBytes(await again.until("caughtUp"))).toEqual([4]);
    again.close();
  });

  it("API-11: an envelope for another account is never delivered on this stream", async () => {
    const a = await registerAccount(h);
    const b = await registerAccount(h);
    const r = reader(h, a);
    await r.until("caughtUp");
    await h.messages.sendSealed({ recipientAddress: b.address, deliveryToken: b.deliveryToken, envelope: new Uint8Array([0x11, 9]) });
    await h.messages.sendSealed({ recipientAddress: a.address, deliveryToken: a.deliveryToken, envelope: new Uint8Array([0x11, 8]) });
    expect(mailboxBytes(await r.until("mailbox"))).toEqual([8]);
    r.close();
  });

  it("API-11/API-19: rooms resume from after_seq; live posts follow in order; ephemeral events are delivered live but never stored", async () => {
    const a = await registerAccount(h);
    const room = await makeRoom(a);
    for (let i = 1; i <= 5; i++) expect(await room.post(i)).toBe(BigInt(i));
    const r = reader(h, a, [{ ...room, afterSeq: 2n }]);
    expect(roomSeqs(await r.until("caughtUp"))).toEqual([3, 4, 5]);
    await room.post(6);
    await h.rooms.postEphemeral({ roomId: room.roomId, accessKey: room.accessKey, envelope: new Uint8Array([0x02, 0xee]) });
    await room.post(7);
    const got: SubscribeResponse[] = [];
    while (roomSeqs(got).length < 3) got.push(...(await r.until("room")));
    const events = got.flatMap((m) => (m.event.case === "room" ? m.event.value.events : []));
    expect(events.map((e) => [Number(e.seq), e.ephemeral])).toEqual([[6, false], [0, true], [7, false]]);
    r.close();
    const history = await h.rooms.getRoomHistory({ roomId: room.roomId, accessKey: room.accessKey, afterSeq: 0n });
    expect(history.events.map((e) => Number(e.seq))).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(history.events.some((e) => e.ephemeral || e.envelope[1] === 0xee)).toBe(false);
  });

  it("API-11: unknown rooms, wrong keys and expired history are RoomClosed in-stream, and the rest still flows", async () => {
    await h.close();
    await open({ limits: { maxRoomLogEnvelopes: 3 } });
    const a = await registerAccount(h);
    const good = await makeRoom(a);
    const locked = await makeRoom(a);
    const capped = await makeRoom(a);
    for (let i = 1; i <= 6; i++) await capped.post(i);
    const r = reader(h, a, [
      { roomId: randomId(), accessKey: randomKey() },
      { roomId: locked.roomId, accessKey: randomKey() },
      { ...capped, afterSeq: 1n },
      good,
    ]);
    const start = await r.until("caughtUp");
    const closed = start.flatMap((m) => (m.event.case === "roomClosed" ? [m.event.value.reason] : []));
    expect(closed).toEqual([RoomClosedReason.NOT_FOUND, RoomClosedReason.ACCESS_DENIED, RoomClosedReason.HISTORY_EXPIRED]);
    await good.post(1);
    expect(roomSeqs(await r.until("room"))).toEqual([1]);
    r.close();
    // after_seq at the edge of what is retained is not expired; after_seq 0 means "oldest retained".
    const edge = reader(h, a, [{ ...capped, afterSeq: 3n }]);
    expect(roomSeqs(await edge.until("caughtUp"))).toEqual([4, 5, 6]);
    edge.close();
    const zero = reader(h, a, [{ ...capped, afterSeq: 0n }]);
    expect(roomSeqs(await zero.until("caughtUp"))).toEqual([4, 5, 6]);
    zero.close();
  });

  it("API-21: rotating the access key closes streams on the old key with ACCESS_DENIED; streams on the new key continue", async () => {
    const a = await registerAccount(h);
    const room = await makeRoom(a);
    const oldStream = reader(h, a, [room]);
    await oldStream.until("caughtUp");
    const newKey = randomKey();
    await h.rooms.rotateRoomAccessKey({ roomId: room.roomId, accessKey: room.accessKey, newAccessKeyHash: sha256(newKey) });
    const closed = await oldStream.until("roomClosed");
    const last = closed[closed.length - 1]!;
    expect(last.event.case === "roomClosed" && last.event.value.reason).toBe(RoomClosedReason.ACCESS_DENIED);
    const fresh = reader(h, a, [{ roomId: room.roomId, accessKey: newKey }]);
    await fresh.until("caughtUp");
    await h.rooms.postToRoom({ roomId: room.roomId, accessKey: newKey, envelope: new Uint8Array([1, 1]) });
    expect(roomSeqs(await fresh.until("room"))).toEqual([1]);
    // The old stream still carries its mailbox.
    await h.messages.sendSealed({ recipientAddress: a.address, deliveryToken: a.deliveryToken, envelope: new Uint8Array([0x11, 5]) });
    const rest = await oldStream.until("mailbox");
    expect(roomSeqs(rest)).toEqual([]);
    oldStream.close();
    fresh.close();
  });

  it("API-13: a consumer that stops reading is cut off with resource_exhausted SLOW_CONSUMER", async () => {
    await h.close();
    await open({ limits: { maxSubscriberBufferEvents: 8 } });
    const a = await registerAccount(h);
    const room = await makeRoom(a);
    const r = reader(h, a, [room]);
    await r.until("caughtUp");
    // Posting never blocks on the slow stream.
    for (let i = 1; i <= 200; i++) await room.post(i);
    let caught: unknown;
    const seen: number[] = [];
    try {
      for (;;) seen.push(...roomSeqs([await r.next()]));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConnectError);
    expect((caught as ConnectError).code).toBe(Code.ResourceExhausted);
    expect(errorReason(caught)).toBe("SLOW_CONSUMER");
    expect(seen.length).toBeLessThan(200);
    expect(h.relay.renderMetrics()).toContain('securecomm_relay_streams_closed_total{reason="slow_consumer"} 1');
    // Resuming from the last seen seq recovers everything, in order.
    const resumed = reader(h, a, [{ ...room, afterSeq: BigInt(seen.length ? seen[seen.length - 1]! : 0) }]);
    const rest = roomSeqs(await resumed.until("caughtUp"));
    expect([...seen, ...rest]).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    resumed.close();
  });

  it("API-12: keep-alives are sent while idle", async () => {
    await h.close();
    await open({ limits: { keepAliveIntervalMs: 20 } });
    const a = await registerAccount(h);
    const r = reader(h, a);
    await r.until("caughtUp");
    const m = await r.next();
    expect(m.event.case).toBe("keepAlive");
    expect(m.event.case === "keepAlive" && Number(m.event.value.nowMs)).toBe(h.clock.now);
    r.close();
  });

  it("API-13: backlog under load is coalesced into batches", async () => {
    const a = await registerAccount(h);
    for (let i = 0; i < 20; i++) await h.messages.sendSealed({ recipientAddress: a.address, deliveryToken: a.deliveryToken, envelope: new Uint8Array([0x11, i]) });
    const r = reader(h, a);
    const backlog = await r.until("caughtUp");
    expect(backlog.length).toBe(2);
    expect(mailboxIds(backlog).length).toBe(20);
    r.close();
  });

  it("API-11: invalid subscriptions are rejected", async () => {
    const a = await registerAccount(h);
    const first = (rooms: { roomId: Uint8Array; accessKey: Uint8Array }[], who?: TestAccount) => reader(h, who ?? a, rooms).next();
    await expectRelayError(first([{ roomId: randomId().slice(1), accessKey: randomKey() }]), Code.InvalidArgument, "BAD_ROOM_ID");
    await expectRelayError(first([{ roomId: randomId(), accessKey: randomKey().slice(1) }]), Code.InvalidArgument, "BAD_ACCESS_KEY");
    const dup = randomId();
    await expectRelayError(first([{ roomId: dup, accessKey: randomKey() }, { roomId: dup, accessKey: randomKey() }]), Code.InvalidArgument, "DUPLICATE_ROOM");
    await expectRelayError(first(Array.from({ length: 257 }, () => ({ roomId: randomId(), accessKey: randomKey() }))), Code.InvalidArgument, "TOO_MANY_ROOMS");
    const noAuth = h.messages.subscribe({ rooms: [] })[Symbol.asyncIterator]().next();
    await expectRelayError(noAuth, Code.Unauthenticated, "MISSING_TOKEN");
  });

  it("API-11/API-14: an account may hold a few streams, not more", async () => {
    await h.close();
    await open({ limits: { maxStreamsPerAccount: 2 } });
    const a = await registerAccount(h);
    const s1 = reader(h, a);
    const s2 = reader(h, a);
    await s1.until("caughtUp");
    await s2.until("caughtUp");
    await expectRelayError(reader(h, a).next(), Code.ResourceExhausted, "TOO_MANY_STREAMS");
    await h.messages.sendSealed({ recipientAddress: a.address, deliveryToken: a.deliveryToken, envelope: new Uint8Array([0x11, 3]) });
    expect(mailboxBytes(await s1.until("mailbox"))).toEqual([3]);
    expect(mailboxBytes(await s2.until("mailbox"))).toEqual([3]);
    s1.close();
    s2.close();
  });

  it("close() ends open streams with unavailable and refuses new calls", async () => {
    const a = await registerAccount(h);
    const r = reader(h, a);
    await r.until("caughtUp");
    const closing = h.relay.close();
    let caught: unknown;
    try {
      for (;;) await r.next();
    } catch (err) {
      caught = err;
    }
    await closing;
    expect(caught).toBeInstanceOf(ConnectError);
    expect((caught as ConnectError).code).toBe(Code.Unavailable);
    await expectRelayError(h.info.getRelayInfo({}), Code.Unavailable, "SHUTTING_DOWN");
  });
});

describe("Subscribe and account deletion", () => {
  it("API-04: deleting the account ends its open streams with unauthenticated", async () => {
    const a = await registerAccount(h);
    const r = reader(h, a);
    await r.until("caughtUp");
    await h.account.deleteAccount({}, { headers: a.headers });
    await expectRelayError(r.next(), Code.Unauthenticated, "BAD_TOKEN");
  });
});

describe("Subscribe and token expiry", () => {
  it("API-03: a stream ends with unauthenticated once the token that opened it expires", async () => {
    await h.close();
    await open({ limits: { keepAliveIntervalMs: 20 } });
    const a = await registerAccount(h);
    const r = reader(h, a);
    await r.until("caughtUp");
    expect((await r.next()).event.case).toBe("keepAlive");
    h.clock.now += 24 * 60 * 60 * 1000;
    let caught: unknown;
    try {
      for (;;) await r.next();
    } catch (err) {
      caught = err;
    }
    expect(errorReason(caught)).toBe("BAD_TOKEN");
    expect((caught as ConnectError).code).toBe(Code.Unauthenticated);
  });
});
