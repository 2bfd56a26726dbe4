// Pure rules of invites and room settings (spec/09-rooms.md RM-52, RM-54) through room-core's
// `applyLogEvent` and `applyWelcome`: who may reset the link, the removed set, settings bounds.
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { RoomMemberSchema, RoomRecordSchema, type RoomRecord } from "../../gen/securecomm/storage/v1/room_pb.js";
import { ContentSchema, RosterMemberSchema, RosterSchema, RoomSettingsSchema, WelcomeSchema, type Content } from "../../gen/securecomm/wire/v1/content_pb.js";
import { randomBytes } from "../crypto/bytes.js";
import { createIdentityKeyPair } from "../keys/identity.js";
import { applyLogEvent, applyWelcome } from "./room-core.js";
import { MAX_RETENTION_SECONDS } from "./room-rules.js";

const key = () => createIdentityKeyPair().publicKey.serialize();
const [admin, bob, carol, mallory] = [key(), key(), key(), key()];
const roomId = randomBytes(16);

function room(): RoomRecord {
  return create(RoomRecordSchema, {
    roomId,
    epoch: 1,
    adminIdentityKey: admin,
    members: [admin, bob, carol].map((k, i) => create(RoomMemberSchema, { identityKey: k, displayName: `m${i}`, joinedSeq: BigInt(i), deliveryToken: randomBytes(32) })),
    inviteSecret: new Uint8Array(32).fill(1),
    lastSeq: 10n,
  });
}

const content = (body: Content["body"]): Content => create(ContentSchema, { roomId, messageId: randomBytes(16), body });
const reset = (secret: Uint8Array) => content({ case: "inviteReset", value: { $typeName: "securecomm.wire.v1.InviteReset", inviteSecret: secret } });
const settings = (retentionSeconds: number) => content({ case: "roomSettings", value: create(RoomSettingsSchema, { retentionSeconds }) });
const from = (sender: Uint8Array, c: Content, seq = 11n) => ({ kind: "content" as const, seq, epoch: 1, postedAtMs: 0n, sender, content: c });

describe("invite and settings rules (RM-52, RM-54)", () => {
  it("RM-52: only the admin's InviteReset with a 32-byte secret replaces the link", () => {
    const r = room();
    const fresh = new Uint8Array(32).fill(2);
    expect(applyLogEvent(r, bob, from(carol, reset(fresh))).room.inviteSecret).toEqual(r.inviteSecret);
    expect(applyLogEvent(r, bob, from(admin, reset(new Uint8Array(31)))).room.inviteSecret).toEqual(r.inviteSecret);
    const step = applyLogEvent(r, bob, from(admin, reset(fresh)));
    expect(step.room.inviteSecret).toEqual(fresh);
    expect(step.effects).toContainEqual({ type: "emit", event: { type: "invite-changed", roomId: expect.any(String) } });
  });

  it("RM-52: a removal adds to the removed set; the removed member's valid join of a later epoch is refused, a leaver's is not", () => {
    const r = room();
    const removed = applyLogEvent(r, bob, from(admin, content({ case: "remove", value: { $typeName: "securecomm.wire.v1.Remove", memberIdentityKey: carol } }))).room;
    expect(removed.removedIdentityKeys).toEqual([carol]);
    expect(removed.members.some((m) => m.identityKey.join() === carol.join())).toBe(false);
    // A non-admin's Remove changes nothing.
    expect(applyLogEvent(r, bob, from(carol, content({ case: "remove", value: { $typeName: "securecomm.wire.v1.Remove", memberIdentityKey: bob } }))).room.removedIdentityKeys).toEqual([]);
    const join = (k: Uint8Array, epoch: number, seq: bigint) => ({ kind: "join" as const, seq, epoch, identityKey: k, nonce: randomBytes(16), deliveryToken: randomBytes(32), displayName: "again" });
    const after = Object.assign(create(RoomRecordSchema), removed, { epoch: 2 });
    const refused = applyLogEvent(after, bob, join(carol, 2, 20n));
    expect(refused.room).toBe(after);
    expect(refused.effects).toEqual([{ type: "emit", event: expect.objectContaining({ type: "decryption-failed", reason: "refused join (removed member)" }) }]);
    // Someone else (a leaver, a newcomer) joins the later epoch as usual.
    const ok = applyLogEvent(after, bob, join(mallory, 2, 21n));
    expect(ok.room.members.some((m) => m.identityKey.join() === mallory.join())).toBe(true);
    expect(ok.effects.some((e) => e.type === "welcome")).toBe(true);
  });

  it("RM-54: any member sets the retention; values above a year are ignored", () => {
    const r = room();
    const set = applyLogEvent(r, admin, from(carol, settings(86_400)));
    expect(set.room.retentionSeconds).toBe(86_400);
    expect(set.room.retentionSetBy).toEqual(carol);
    expect(set.effects).toContainEqual({ type: "emit", event: expect.objectContaining({ type: "settings-changed", retentionSeconds: 86_400, own: false, seq: 11 }) });
    expect(applyLogEvent(set.room, admin, from(bob, settings(MAX_RETENTION_SECONDS + 1))).room.retentionSeconds).toBe(86_400);
    // Our own post applies at its place in the log.
    const own = applyLogEvent(set.room, admin, { kind: "own", seq: 12n, epoch: 1, settings: create(RoomSettingsSchema, { retentionSeconds: 0 }) });
    expect(own.room.retentionSeconds).toBe(0);
  });

  it("RM-52 RM-54: a joiner takes the removed set, the invite secret and the settings from its inviter's roster", () => {
    const joiner = key();
    const joining = create(RoomRecordSchema, { roomId, epoch: 1, joinedSeq: 30n, lastSeq: 30n, inviterIdentityKey: admin });
    const roster = create(RosterSchema, {
      members: [admin, joiner].map((k) => create(RosterMemberSchema, { identityKey: k, joinedSeq: 0n, deliveryToken: randomBytes(32) })),
      asOfSeq: 30n,
      adminIdentityKey: admin,
      epoch: 1,
      removedIdentityKeys: [carol],
      inviteSecret: new Uint8Array(32).fill(7),
      settings: create(RoomSettingsSchema, { retentionSeconds: 3_600 }),
    });
    const step = applyWelcome(joining, joiner, admin, create(WelcomeSchema, { roster }), { displayName: "j", deliveryToken: randomBytes(32) });
    expect(step.room.removedIdentityKeys).toEqual([carol]);
    expect(step.room.inviteSecret).toEqual(new Uint8Array(32).fill(7));
    expect(step.room.retentionSeconds).toBe(3_600);
  });
});
