import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { errorReason } from "../errors.js";
import { Hub } from "./hub.js";
import { keyOf, RoomClosedReason, Subscription } from "./subscription.js";

const addr = new Uint8Array(16).fill(1);
const roomId = new Uint8Array(16).fill(2);
const hash = new Uint8Array(32).fill(3);

function live(limits = { maxBufferEvents: 10, maxBufferBytes: 10_000 }) {
  const sub = new Subscription(addr, limits);
  sub.rooms.set(keyOf(roomId), { roomId, accessKeyHash: hash, lastSeq: 0 });
  sub.mode = "live";
  return sub;
}

describe("Subscription buffer (API-13)", () => {
  it("in backlog mode stored events only mark the stream dirty and ephemeral ones are dropped", () => {
    const sub = live();
    sub.mode = "backlog";
    expect(sub.pushMailbox({ id: 1, storedAtMs: 0, envelope: new Uint8Array(5) })).toBe(false);
    expect(sub.dirty).toBe(true);
    sub.dirty = false;
    expect(sub.pushRoom(keyOf(roomId), { seq: 0, postedAtMs: 0, envelope: new Uint8Array(5), ephemeral: true })).toBe(false);
    expect(sub.dirty).toBe(false);
    expect(sub.bufferedItems).toBe(0);
  });

  it("cuts off with SLOW_CONSUMER and frees the buffer when the event or byte bound is crossed", () => {
    const sub = live();
    for (let i = 1; i <= 10; i++) expect(sub.pushRoom(keyOf(roomId), { seq: i, postedAtMs: 0, envelope: new Uint8Array(10), ephemeral: false })).toBe(true);
    expect(sub.pushRoom(keyOf(roomId), { seq: 11, postedAtMs: 0, envelope: new Uint8Array(10), ephemeral: false })).toBe(false);
    expect(errorReason(sub.error)).toBe("SLOW_CONSUMER");
    expect(sub.bufferedItems).toBe(0);
    expect(sub.bufferedBytes).toBe(0);
    const bytes = live({ maxBufferEvents: 1000, maxBufferBytes: 1000 });
    bytes.pushMailbox({ id: 1, storedAtMs: 0, envelope: new Uint8Array(900) });
    bytes.pushMailbox({ id: 2, storedAtMs: 0, envelope: new Uint8Array(900) });
    expect(errorReason(bytes.error)).toBe("SLOW_CONSUMER");
  });

  it("memory stays bounded and delivered cursors advance monotonically for any push/take schedule", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constant("push"), fc.constant("take"), fc.constant("dup")), { maxLength: 500 }), (ops) => {
        const sub = live({ maxBufferEvents: 16, maxBufferBytes: 100_000 });
        let seq = 0;
        let lastTaken = 0;
        for (const op of ops) {
          if (op === "push") sub.pushRoom(keyOf(roomId), { seq: ++seq, postedAtMs: 0, envelope: new Uint8Array(8), ephemeral: false });
          else if (op === "dup") sub.pushRoom(keyOf(roomId), { seq: Math.max(1, seq), postedAtMs: 0, envelope: new Uint8Array(8), ephemeral: false });
          else {
            for (const item of sub.take(4)) {
              if (item.kind !== "room") continue;
              expect(item.event.seq).toBeGreaterThan(lastTaken);
              lastTaken = item.event.seq;
            }
          }
          expect(sub.bufferedItems).toBeLessThanOrEqual(16);
          if (sub.error) return;
        }
      }),
    );
  });

  it("the hub closes streams holding the old key after rotation and keeps those on the new key", () => {
    const hub = new Hub();
    const oldKey = live();
    const newKey = new Subscription(addr, { maxBufferEvents: 10, maxBufferBytes: 10_000 });
    const newHash = new Uint8Array(32).fill(9);
    newKey.rooms.set(keyOf(roomId), { roomId, accessKeyHash: newHash, lastSeq: 0 });
    newKey.mode = "live";
    hub.add(oldKey);
    hub.add(newKey);
    expect(hub.rotateRoom(roomId, newHash)).toBe(1);
    const closed = oldKey.take(10);
    expect(closed).toEqual([{ kind: "closed", roomId, reason: RoomClosedReason.ACCESS_DENIED }]);
    expect(hub.publishRoom(roomId, { seq: 1, postedAtMs: 0, envelope: new Uint8Array(1), ephemeral: false }).delivered).toBe(1);
    expect(oldKey.bufferedItems).toBe(0);
    expect(newKey.bufferedItems).toBe(1);
    expect(hub.streamsFor(addr)).toBe(2);
    hub.remove(oldKey);
    hub.remove(newKey);
    expect(hub.size).toBe(0);
    expect(hub.publishMailbox(addr, { id: 1, storedAtMs: 0, envelope: new Uint8Array(1) }).delivered).toBe(0);
  });
});

describe("Subscription gaps (API-11: a room's seqs arrive without gaps)", () => {
  it("holds an event that follows a gap until the stream has read the store, then delivers it even if the gap expired", () => {
    const sub = live();
    expect(sub.pushRoom(keyOf(roomId), { seq: 3, postedAtMs: 0, envelope: new Uint8Array(4), ephemeral: false })).toBe(true);
    expect(sub.take(10)).toEqual([]);
    expect(sub.gap).toEqual({ roomKey: keyOf(roomId), beforeSeq: 3 });
    expect(sub.bufferedItems).toBe(1);
    // The stream read seq 1 from the store; seq 2 had expired.
    sub.gap = undefined;
    const room = sub.rooms.get(keyOf(roomId))!;
    room.lastSeq = 1;
    room.gapCheckedBefore = 3;
    expect(sub.take(10).map((i) => (i.kind === "room" ? i.event.seq : -1))).toEqual([3]);
    expect(sub.gap).toBeUndefined();
    // In order again: no store read.
    sub.pushRoom(keyOf(roomId), { seq: 4, postedAtMs: 0, envelope: new Uint8Array(4), ephemeral: false });
    expect(sub.take(10).map((i) => (i.kind === "room" ? i.event.seq : -1))).toEqual([4]);
    expect(sub.gap).toBeUndefined();
  });
});
