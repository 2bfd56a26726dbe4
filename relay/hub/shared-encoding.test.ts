import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RoomEventSchema, SubscribeResponseSchema } from "../../gen/securecomm/relay/v1/messages_pb.js";
import { coalesce } from "../services/subscribe.js";
import { encodedRoomEventField, withSharedEncoding } from "./shared-encoding.js";
import type { LiveRoomEvent, StreamItem } from "./subscription.js";

const event = fc.record({
  seq: fc.nat(),
  postedAtMs: fc.nat(),
  envelope: fc.uint8Array({ maxLength: 400 }),
  ephemeral: fc.boolean(),
});

describe("room events encoded once for all subscribers (API-11, API-13)", () => {
  it("a shared-encoded response is byte-identical to encoding the response per stream", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 16 }), fc.array(event, { minLength: 0, maxLength: 8 }), fc.integer({ min: 1, max: 2000 }), (roomId, events, maxBytes) => {
        const items: StreamItem[] = events.map((e) => ({ kind: "room", roomKey: "k", roomId, event: e }));
        for (const m of coalesce(items, maxBytes)) {
          const shared = withSharedEncoding(m);
          expect(shared.event.case).toBeUndefined();
          const bytes = toBinary(SubscribeResponseSchema, shared);
          expect(bytes).toEqual(toBinary(SubscribeResponseSchema, m));
          expect(fromBinary(SubscribeResponseSchema, bytes)).toEqual(m);
        }
      }),
    );
  });

  it("every stream taking one event reuses the same encoded bytes, and the bytes decode to each stream's batch", () => {
    const live: LiveRoomEvent = { seq: 7, postedAtMs: 1234, envelope: crypto.getRandomValues(new Uint8Array(300)), ephemeral: false };
    const roomId = crypto.getRandomValues(new Uint8Array(16));
    const perStream = Array.from({ length: 50 }, () => coalesce([{ kind: "room", roomKey: "k", roomId, event: live }]));
    const fields = new Set(perStream.map(([m]) => (m?.event.case === "room" ? encodedRoomEventField(m.event.value.events[0]!) : undefined)));
    expect(fields.size).toBe(1);
    const wire = perStream.map(([m]) => toBinary(SubscribeResponseSchema, withSharedEncoding(m!)));
    for (const w of wire) expect(w).toEqual(wire[0]);
    const decoded = fromBinary(SubscribeResponseSchema, wire[0]!);
    expect(decoded.event.case === "room" && decoded.event.value.events[0]?.seq).toBe(7n);
  });

  it("a reused envelope array with other fields is encoded afresh, never mis-shared", () => {
    const envelope = new Uint8Array([1, 2, 3]);
    const a = create(RoomEventSchema, { seq: 1n, postedAtMs: 5n, envelope, ephemeral: false });
    const b = create(RoomEventSchema, { seq: 2n, postedAtMs: 5n, envelope, ephemeral: true });
    const fa = encodedRoomEventField(a);
    const fb = encodedRoomEventField(b);
    expect(fb).not.toEqual(fa);
    expect(fromBinary(RoomEventSchema, fb.subarray(2))).toEqual(b);
  });

  it("leaves other responses alone", () => {
    const keepAlive = create(SubscribeResponseSchema, { event: { case: "keepAlive", value: { nowMs: 5n } } });
    expect(withSharedEncoding(keepAlive)).toBe(keepAlive);
  });
});
