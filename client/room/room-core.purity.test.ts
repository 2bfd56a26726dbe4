// The stored-content rules of room-core.ts (CONTENT_HANDLERS through applyLogEvent) never change
// the record they are given: a handler that changes the room works on a private copy (made
// only when it calls `edit()`), and one that changes nothing returns the record itself. The
// driver keeps the record it passed in when a step returns the same object, so a handler that
// changed the caller's record in place would change state behind the rules' back
// (spec/09-rooms.md RM-07, RM-10, RM-11, RM-52, RM-54, RM-60..RM-64).
import { create, equals } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { RoomMemberSchema, type RoomRecord, RoomRecordSchema } from "../../gen/securecomm/storage/v1/room_pb.js";
import {
  type Content,
  ContentSchema,
  DeleteSchema,
  EditSchema,
  InviteResetSchema,
  LeaveSchema,
  ProfileSchema,
  ReactionSchema,
  RemoveSchema,
  RoomSettingsSchema,
  TextSchema,
} from "../../gen/securecomm/wire/v1/content_pb.js";
import { KeyPair } from "../crypto/curve.js";
import { applyLogEvent } from "./room-core.js";
import { copyRecord } from "./room-record-copy.js";

const roomId = new Uint8Array(16).fill(1);
const [admin, alice, bob] = [0, 1, 2].map(() => KeyPair.generate().publicKey.serialize()) as [Uint8Array, Uint8Array, Uint8Array];

function room(): RoomRecord {
  return create(RoomRecordSchema, {
    roomId,
    roomSecret: new Uint8Array(32).fill(3),
    adminIdentityKey: admin,
    inviteSecret: new Uint8Array(32).fill(4),
    members: [admin, alice, bob].map((k, i) => create(RoomMemberSchema, { identityKey: k, displayName: ["Admin", "Alice", "Bob"][i]!, joinedSeq: BigInt(i) })),
  });
}

const content = (body: Content["body"]): Content => create(ContentSchema, { roomId, messageId: new Uint8Array(16).fill(9), sentAtMs: 1n, body });

/** Every stored content kind with a handler, from a sender it takes effect for, and whether it changes the room. */
const cases: Array<{ name: string; sender: Uint8Array; body: Content["body"]; changes: boolean }> = [
  { name: "text", sender: alice, body: { case: "text", value: create(TextSchema, { body: "hi" }) }, changes: false },
  { name: "reaction", sender: alice, body: { case: "reaction", value: create(ReactionSchema, { targetMessageId: new Uint8Array(16).fill(7), emoji: "👍" }) }, changes: false },
  { name: "edit", sender: alice, body: { case: "edit", value: create(EditSchema, { targetMessageId: new Uint8Array(16).fill(7), body: "x" }) }, changes: false },
  { name: "delete", sender: alice, body: { case: "delete", value: create(DeleteSchema, { targetMessageId: new Uint8Array(16).fill(7) }) }, changes: false },
  { name: "leave", sender: bob, body: { case: "leave", value: create(LeaveSchema, {}) }, changes: true },
  { name: "remove", sender: admin, body: { case: "remove", value: create(RemoveSchema, { memberIdentityKey: bob }) }, changes: true },
  { name: "roomSettings", sender: alice, body: { case: "roomSettings", value: create(RoomSettingsSchema, { retentionSeconds: 3600 }) }, changes: true },
  { name: "inviteReset", sender: admin, body: { case: "inviteReset", value: create(InviteResetSchema, { inviteSecret: new Uint8Array(32).fill(5) }) }, changes: true },
  { name: "profile", sender: bob, body: { case: "profile", value: create(ProfileSchema, { displayName: "Robert" }) }, changes: true },
];

describe("stored content rules leave the record they are given unchanged", () => {
  for (const c of cases) {
    it(`${c.name}: the input record is unchanged; ${c.changes ? "the change is in a new record" : "the same record is returned"}`, () => {
      const input = room();
      const before = copyRecord(input);
      const step = applyLogEvent(input, alice, { kind: "content", seq: 10n, epoch: 0, postedAtMs: 0n, sender: c.sender, content: content(c.body) });
      expect(equals(RoomRecordSchema, input, before)).toBe(true);
      if (c.changes) {
        expect(step.room).not.toBe(input);
        expect(equals(RoomRecordSchema, step.room, before)).toBe(false);
      } else {
        expect(step.room).toBe(input);
      }
    });
  }
});
