import { create, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { RoomMemberSchema, type RoomRecord, RoomRecordSchema } from "../../gen/securecomm/storage/v1/room_pb.js";
import { RoomSecretRotationSchema } from "../../gen/securecomm/wire/v1/content_pb.js";
import { DepartureAnnouncementSchema, DepartureStatementSchema } from "../../gen/securecomm/wire/v1/room_pb.js";
import { concatBytes, randomBytes } from "../crypto/bytes.js";
import { isProtocolError } from "../errors.js";
import { createIdentityKeyPair } from "../keys/identity.js";
import { createDepartureAnnouncement, DEPARTURE_SIGNATURE_LABEL, verifyDepartureAnnouncement } from "./departure.js";
import { applyLogEvent, applyLogPosition, applyRotation, mayRotate } from "./room-core.js";
import { closeEpoch } from "./room-rules.js";

const roomId = randomBytes(16);
const alice = createIdentityKeyPair();
const bob = createIdentityKeyPair();
const carol = createIdentityKeyPair();
const [A, B, C] = [alice, bob, carol].map((k) => k.publicKey.serialize()) as [Uint8Array, Uint8Array, Uint8Array];

/** Alice (admin, 0), bob (1), carol (2), as carol sees the room. */
function room(): RoomRecord {
  return create(RoomRecordSchema, {
    roomId,
    epoch: 0,
    roomSecret: new Uint8Array(32).fill(1),
    adminIdentityKey: A,
    members: [A, B, C].map((identityKey, i) => create(RoomMemberSchema, { identityKey, joinedSeq: BigInt(i), displayName: `m${i}` })),
    lastSeq: 5n,
  });
}

async function rejects(p: Promise<unknown>, code: string): Promise<void> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(isProtocolError(e, code as never), String(e)).toBe(true);
}

describe("departure statements (RM-35)", () => {
  it("a signed leave and a signed removal verify; the signature covers the label and the statement as sent", async () => {
    const ann = createDepartureAnnouncement({ identity: bob, roomId, epoch: 3, member: B, nowMs: 1 });
    const v = await verifyDepartureAnnouncement(ann, roomId, 3);
    expect(v.signer).toEqual(B);
    expect(v.member).toEqual(B);
    expect(await bob.publicKey.verifySignature(concatBytes(DEPARTURE_SIGNATURE_LABEL, ann.statement), ann.signature)).toBe(true);
    const rm = await verifyDepartureAnnouncement(createDepartureAnnouncement({ identity: alice, roomId, epoch: 0, member: C, nowMs: 1 }), roomId, 0);
    expect(rm.signer).toEqual(A);
    expect(rm.member).toEqual(C);
  });

  it("another room, another epoch, a short key, a flipped statement or a signature by someone else is a ProtocolError", async () => {
    const ann = createDepartureAnnouncement({ identity: bob, roomId, epoch: 3, member: B, nowMs: 1 });
    await rejects(verifyDepartureAnnouncement(ann, randomBytes(16), 3), "invalid_message");
    await rejects(verifyDepartureAnnouncement(ann, roomId, 2), "invalid_message");
    const flipped = ann.statement.slice();
    flipped[flipped.length - 1]! ^= 1;
    await rejects(verifyDepartureAnnouncement(create(DepartureAnnouncementSchema, { statement: flipped, signature: ann.signature }), roomId, 3), "invalid_signature");
    // Carol signs a statement that claims bob as its signer: bob's key does not verify it.
    const forged = toBinary(DepartureStatementSchema, create(DepartureStatementSchema, { roomId, epoch: 3, signerIdentityKey: B, memberIdentityKey: B, createdAtMs: 1n }));
    const sig = carol.privateKey.sign(concatBytes(DEPARTURE_SIGNATURE_LABEL, forged));
    await rejects(verifyDepartureAnnouncement(create(DepartureAnnouncementSchema, { statement: forged, signature: sig }), roomId, 3), "invalid_signature");
    const short = toBinary(DepartureStatementSchema, create(DepartureStatementSchema, { roomId, epoch: 3, signerIdentityKey: B, memberIdentityKey: B.slice(1) }));
    await rejects(verifyDepartureAnnouncement(create(DepartureAnnouncementSchema, { statement: short, signature: bob.privateKey.sign(concatBytes(DEPARTURE_SIGNATURE_LABEL, short)) }), roomId, 3), "invalid_message");
  });

  it("a member's leave removes it; the admin's leave makes the lowest joined_seq admin", () => {
    const r = room();
    const left = applyLogEvent(r, C, { kind: "departure", seq: 6n, epoch: 0, signer: B, member: B });
    expect(left.room.members.map((m) => m.displayName)).toEqual(["m0", "m2"]);
    expect(left.effects.some((e) => e.type === "rotate-sender-key")).toBe(true);
    const adminLeft = applyLogEvent(r, C, { kind: "departure", seq: 6n, epoch: 0, signer: A, member: A });
    expect(adminLeft.room.adminIdentityKey).toEqual(B);
  });

  it("the admin's removal applies, also for the admin itself (it rotates); a removal by a non-admin, of the admin, or a departure by a non-member changes nothing and is reported", () => {
    const r = room();
    const removed = applyLogEvent(r, A, { kind: "departure", seq: 6n, epoch: 0, signer: A, member: B });
    expect(removed.room.members).toHaveLength(2);
    expect(removed.effects.some((e) => e.type === "rotate-secret")).toBe(true);
    const us = applyLogEvent(r, C, { kind: "departure", seq: 6n, epoch: 0, signer: A, member: C });
    expect(us.effects).toEqual([{ type: "depart", reason: "removed" }]);
    const outsider = createIdentityKeyPair().publicKey.serialize();
    // Bob (not admin) removes carol; bob removes the admin; an outsider leaves; the admin removes an outsider.
    for (const [signer, member] of [
      [B, C],
      [B, A],
      [outsider, outsider],
      [A, outsider],
    ] as const) {
      const step = applyLogEvent(r, C, { kind: "departure", seq: 6n, epoch: 0, signer, member });
      expect(step.room).toBe(r);
      expect(step.effects.every((e) => e.type === "emit" && e.event.type === "decryption-failed")).toBe(true);
      expect(step.effects).toHaveLength(1);
    }
  });

  it("RM-23: a departure in an envelope of an epoch closed before its seq is refused", () => {
    const r = room();
    closeEpoch(r, 0, 5n, 4n);
    const step = applyLogEvent(r, C, { kind: "departure", seq: 6n, epoch: 0, signer: B, member: B });
    expect(step.room).toBe(r);
  });
});

describe("who may rotate (RM-36)", () => {
  it("the admin; or the lowest joined_seq once the named departures (before departure_seq) are applied; nobody else", () => {
    const r = room();
    expect(mayRotate(r, A)).toBe(true);
    expect(mayRotate(r, B)).toBe(true); // next in line (the admin's leave not read yet)
    expect(mayRotate(r, C)).toBe(false);
    expect(mayRotate(r, C, [A, B], 7n)).toBe(true);
    expect(mayRotate(r, C, [B], 7n)).toBe(true);
    // A departure at or after its join is not one of this member's: it does not count.
    expect(mayRotate(r, C, [A, B], 1n)).toBe(false);
    const rot = create(RoomSecretRotationSchema, { epoch: 1, roomSecret: new Uint8Array(32).fill(2), departureSeq: 7n, closedAtSeq: 7n, departedIdentityKeys: [A, B] });
    const applied = applyRotation(r, C, C, rot);
    expect(applied.room.epoch).toBe(1);
    expect(applied.room.members).toHaveLength(3); // the roster follows the log, not the rotation
    const refused = applyRotation(r, C, C, create(RoomSecretRotationSchema, { ...rot, departedIdentityKeys: [] }));
    expect(refused.room).toBe(r);
  });

  it("a member who lies about departures gains nothing: refused by a member that read that far, reported when the log gets there", () => {
    // Carol claims alice and bob departed by seq 7, and rotates.
    const rot = create(RoomSecretRotationSchema, { epoch: 1, roomSecret: new Uint8Array(32).fill(2), departureSeq: 7n, closedAtSeq: 7n, departedIdentityKeys: [A, B] });
    const dave = createIdentityKeyPair().publicKey.serialize();
    const daves = room();
    daves.members.push(create(RoomMemberSchema, { identityKey: dave, joinedSeq: 3n, displayName: "m3" }));
    daves.lastSeq = 8n; // dave has read past seq 7 and saw no such departures
    const refused = applyRotation(daves, dave, C, rot);
    expect(refused.room).toBe(daves);
    expect(refused.effects).toHaveLength(1);
    // Dave had not read that far: he must take the new key (RM-14), then the log shows the lie.
    daves.lastSeq = 5n;
    const taken = applyRotation(daves, dave, C, rot);
    expect(taken.room.epoch).toBe(1);
    const early = applyLogPosition(taken.room, dave, 6n);
    expect(early.room).toBe(taken.room);
    const at = applyLogPosition(taken.room, dave, 7n);
    expect(at.effects.map((e) => e.type === "emit" && e.event.type === "decryption-failed" && e.event.reason)).toEqual(["a rotation named departures that are not in the log"]);
    expect(at.room.members).toHaveLength(4);
    expect(at.room.adminIdentityKey).toEqual(A);
    // With the departures really in the log by then, nothing is reported.
    const honest = applyLogEvent(applyLogEvent(taken.room, dave, { kind: "departure", seq: 6n, epoch: 0, signer: A, member: B }).room, dave, { kind: "departure", seq: 7n, epoch: 0, signer: A, member: A });
    expect(honest.room.adminIdentityKey).toEqual(C);
    expect(applyLogPosition(honest.room, dave, 7n).effects).toEqual([]);
  });
});
