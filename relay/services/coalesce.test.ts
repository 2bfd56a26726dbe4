import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RoomClosedReason } from "../../gen/securecomm/relay/v1/messages_pb.js";
import type { StreamItem } from "../hub/subscription.js";
import { coalesce } from "./subscribe.js";

const roomA = new Uint8Array(16).fill(0xa);
const roomB = new Uint8Array(16).fill(0xb);

const item = fc.oneof(
  fc.record({ id: fc.nat(), size: fc.integer({ min: 1, max: 100 }) }).map(({ id, size }): StreamItem => ({ kind: "mailbox", envelope: { id, storedAtMs: 0, envelope: new Uint8Array(size) } })),
  fc.record({ seq: fc.nat(), size: fc.integer({ min: 1, max: 100 }), b: fc.boolean() }).map(({ seq, size, b }): StreamItem => ({ kind: "room", roomKey: b ? "b" : "a", roomId: b ? roomB : roomA, event: { seq, postedAtMs: 0, envelope: new Uint8Array(size), ephemeral: false } })),
  fc.constant<StreamItem>({ kind: "closed", roomId: roomA, reason: RoomClosedReason.ACCESS_DENIED }),
);

describe("coalescing (API-13)", () => {
  it("keeps every item in order, never mixes sources in one message, and respects the byte budget", () => {
    fc.assert(
      fc.property(fc.array(item, { maxLength: 60 }), fc.integer({ min: 1, max: 400 }), (items, maxBytes) => {
        const messages = coalesce(items, maxBytes);
        const flat: string[] = [];
        for (const m of messages) {
          if (m.event.case === "mailbox") {
            const sizes = m.event.value.envelopes.map((e) => e.envelope.length);
            expect(sizes.length === 1 || sizes.reduce((x, y) => x + y, 0) <= maxBytes).toBe(true);
            for (const e of m.event.value.envelopes) flat.push(`m${e.id}/${e.envelope.length}`);
          } else if (m.event.case === "room") {
            const sizes = m.event.value.events.map((e) => e.envelope.length);
            expect(sizes.length === 1 || sizes.reduce((x, y) => x + y, 0) <= maxBytes).toBe(true);
            const key = m.event.value.roomId[0] === 0xb ? "b" : "a";
            for (const e of m.event.value.events) flat.push(`r${key}${e.seq}/${e.envelope.length}`);
          } else if (m.event.case === "roomClosed") flat.push("closed");
        }
        const expected = items.map((i) => (i.kind === "mailbox" ? `m${i.envelope.id}/${i.envelope.envelope.length}` : i.kind === "room" ? `r${i.roomKey}${i.event.seq}/${i.event.envelope.length}` : "closed"));
        expect(flat).toEqual(expected);
      }),
    );
  });

  it("coalesces a run of one source into one message when it fits", () => {
    const items: StreamItem[] = [1, 2, 3].map((id) => ({ kind: "mailbox", envelope: { id, storedAtMs: 0, envelope: new Uint8Array(10) } }));
    expect(coalesce(items, 30).length).toBe(1);
    expect(coalesce(items, 29).length).toBe(2);
  });
});
