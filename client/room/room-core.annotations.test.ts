// The reaction, edit and delete handlers of CONTENT_HANDLERS (room-core.ts) as pure functions:
// what they emit, report and ask the driver to store (spec/09-rooms.md RM-60..RM-65).
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { RoomMemberSchema, type RoomRecord, RoomRecordSchema } from "../../gen/securecomm/storage/v1/room_pb.js";
import { type Content, ContentSchema, DeleteSchema, EditSchema, ReactionSchema, TextSchema } from "../../gen/securecomm/wire/v1/content_pb.js";
import { KeyPair } from "../crypto/curve.js";
import { addressFromSerializedIdentityKey, addressToString } from "../keys/address.js";
import type { TrackedMessage } from "./message-annotations.js";
import { annotationTarget, applyLogEvent, type Effect } from "./room-core.js";

const roomId = new Uint8Array(16).fill(1);
const target = new Uint8Array(16).fill(7);
const [self, alice, mallory] = [0, 1, 2].map(() => KeyPair.generate().publicKey.serialize()) as [Uint8Array, Uint8Array, Uint8Array];
const addr = (k: Uint8Array) => addressToString(addressFromSerializedIdentityKey(k));

function room(): RoomRecord {
  return create(RoomRecordSchema, {
    roomId,
    adminIdentityKey: self,
    members: [self, alice, mallory].map((k, i) => create(RoomMemberSchema, { identityKey: k, displayName: ["Me", "Alice", "Mallory"][i]!, joinedSeq: BigInt(i) })),
  });
}

function content(body: Content["body"], messageId = new Uint8Array(16).fill(9)): Content {
  return create(ContentSchema, { roomId, messageId, sentAtMs: 1n, body });
}

/** Runs one stored content through the rules; returns the effects and the stored record. */
function step(sender: Uint8Array, seq: number, c: Content, tracked?: TrackedMessage): { effects: Effect[]; tracked: TrackedMessage | undefined } {
  const s = applyLogEvent(room(), self, { kind: "content", seq: BigInt(seq), epoch: 0, postedAtMs: 0n, sender, content: c, ...(tracked === undefined ? {} : { tracked }) });
  const track = s.effects.find((e): e is Extract<Effect, { type: "track" }> => e.type === "track");
  return { effects: s.effects, tracked: track?.record ?? tracked };
}

const reasons = (effects: Effect[]) => effects.flatMap((e) => (e.type === "emit" && e.event.type === "decryption-failed" ? [e.event.reason] : []));
const events = (effects: Effect[]) => effects.flatMap((e) => (e.type === "emit" ? [e.event.type] : []));

describe("CONTENT_HANDLERS for replies, reactions, edits and deletes", () => {
  it("RM-60 RM-61: a text is tracked under its own id with its author; a reply carries its target", () => {
    const text = content({ case: "text", value: create(TextSchema, { body: "hi", replyTo: target }) }, target);
    expect(annotationTarget(text)).toEqual(target);
    const r = step(alice, 5, text);
    expect(r.tracked).toMatchObject({ author: addr(alice), seq: 5 });
    const msg = r.effects.find((e) => e.type === "emit" && e.event.type === "message");
    expect(msg).toMatchObject({ event: { replyTo: "07".repeat(16), text: "hi" } });
  });

  it("RM-63 RM-64: an edit or delete by a member who is not the author is reported, emits nothing and stores nothing", () => {
    const text = step(alice, 5, content({ case: "text", value: create(TextSchema, { body: "hi" }) }, target)).tracked;
    for (const body of [
      { case: "edit", value: create(EditSchema, { targetMessageId: target, body: "lies" }) },
      { case: "delete", value: create(DeleteSchema, { targetMessageId: target }) },
    ] as Content["body"][]) {
      const r = step(mallory, 6, content(body), text);
      expect(reasons(r.effects)).toEqual([`forged ${body.case} (not the author)`]);
      expect(events(r.effects)).toEqual(["decryption-failed"]);
      expect(r.effects.some((e) => e.type === "track")).toBe(false);
    }
    const ok = step(alice, 7, content({ case: "edit", value: create(EditSchema, { targetMessageId: target, body: "fixed" }) }), text);
    expect(ok.effects.find((e) => e.type === "emit" && e.event.type === "message-updated")).toMatchObject({ event: { kind: "edit", text: "fixed", edited: true, sender: addr(alice) } });
  });

  it("RM-60 RM-62 RM-63: malformed targets, emoji and edit bodies are reported and change nothing", () => {
    const bad: Content["body"][] = [
      { case: "reaction", value: create(ReactionSchema, { targetMessageId: new Uint8Array(3), emoji: "👍" }) },
      { case: "reaction", value: create(ReactionSchema, { targetMessageId: target, emoji: "not one emoji" }) },
      { case: "edit", value: create(EditSchema, { targetMessageId: target, body: "" }) },
      { case: "edit", value: create(EditSchema, { targetMessageId: target, body: "x".repeat(4097) }) },
      { case: "delete", value: create(DeleteSchema, { targetMessageId: new Uint8Array(17) }) },
    ];
    for (const body of bad) {
      const r = step(alice, 8, content(body));
      expect(reasons(r.effects)).toEqual([`invalid ${body.case}`]);
      expect(r.tracked).toBeUndefined();
    }
  });

  it("RM-65: operations on an unseen target are stored but not shown; the target then arrives with them applied", () => {
    const reacted = step(mallory, 3, content({ case: "reaction", value: create(ReactionSchema, { targetMessageId: target, emoji: "👀" }) }));
    expect(events(reacted.effects)).toEqual([]);
    const deleted = step(alice, 4, content({ case: "delete", value: create(DeleteSchema, { targetMessageId: target }) }), reacted.tracked);
    expect(events(deleted.effects)).toEqual([]);
    const arrives = step(alice, 2, content({ case: "text", value: create(TextSchema, { body: "secret" }) }, target), deleted.tracked);
    expect(arrives.effects.find((e) => e.type === "emit" && e.event.type === "message")).toMatchObject({ event: { text: "", deleted: true } });
    expect(JSON.stringify(arrives.tracked)).not.toContain("👀");
  });
});
