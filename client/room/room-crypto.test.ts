import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InviteSchema, JoinStatementSchema, RoomEnvelopeBodySchema, RoomEnvelopeSchema } from "../../gen/securecomm/wire/v1/room_pb.js";
import { be32, concatBytes, randomBytes, utf8 } from "../crypto/bytes.js";
import { hkdfSha256 } from "../crypto/kdf.js";
import { isProtocolError } from "../errors.js";
import { createIdentityKeyPair } from "../keys/identity.js";
import { base64url } from "../relay/base64url.js";
import { createInviteLink, parseInviteLink } from "./invite.js";
import { inviteBoxAddressHash, inviteBoxKey, openInviteBox, sealInviteBox } from "./invite-box.js";
import { createJoinAnnouncement, verifyJoinAnnouncement } from "./join.js";
import { accessKey, envelopeKey, openRoomEnvelope, sealRoomEnvelope } from "./room-keys.js";

const roomId = randomBytes(16);
const secret = randomBytes(32);
const body = create(RoomEnvelopeBodySchema, { body: { case: "senderKeyMessage", value: randomBytes(100) } });

describe("room keys (RM-02, RM-05)", () => {
  it("derive with HKDF(salt = room_id, ikm = room_secret, info = label ‖ BE32(epoch)) and differ per epoch and purpose", () => {
    expect(accessKey(roomId, secret, 3)).toEqual(hkdfSha256(secret, roomId, concatBytes(utf8("SecureComm room access key v1"), be32(3)), 32));
    expect(envelopeKey(roomId, secret, 3)).toEqual(hkdfSha256(secret, roomId, concatBytes(utf8("SecureComm room envelope key v1"), be32(3)), 32));
    expect(accessKey(roomId, secret, 0)).not.toEqual(accessKey(roomId, secret, 1));
    expect(accessKey(roomId, secret, 0)).not.toEqual(envelopeKey(roomId, secret, 0));
  });
  it("keys kept for a secret are the keys derived afresh, for every room, epoch and purpose, and a caller cannot change them", () => {
    const derivedSeed = Date.now() ^ 0x6b6579;
    console.log(`room keys kept-key property seed ${derivedSeed}`);
    const derive = (id: Uint8Array, s: Uint8Array, label: string, epoch: number) => hkdfSha256(s, id, concatBytes(utf8(label), be32(epoch)), 32);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: 3 }), fc.nat({ max: 3 }), fc.nat({ max: 40 }), fc.boolean()), { minLength: 1, maxLength: 60 }), (calls) => {
        // A few secrets and rooms, asked for again and again (the keys kept are per secret object).
        const secrets = [randomBytes(32), randomBytes(32), randomBytes(32), secret];
        const rooms = [randomBytes(16), randomBytes(16), roomId, randomBytes(16)];
        for (const [si, ri, epoch, access] of calls) {
          const s = secrets[si]!;
          const id = rooms[ri]!;
          const got = access ? accessKey(id, s, epoch) : envelopeKey(id, s, epoch);
          expect(got).toEqual(derive(id, s, access ? "SecureComm room access key v1" : "SecureComm room envelope key v1", epoch));
          got.fill(0); // what a caller does with its copy does not reach the next caller
        }
      }),
      { seed: derivedSeed },
    );
  });
});

describe("room envelopes (RM-06)", () => {
  it("round-trip under the epoch's secret and pad to 160-byte blocks", () => {
    const bytes = sealRoomEnvelope(roomId, secret, 2, body);
    const env = fromBinary(RoomEnvelopeSchema, bytes);
    expect(env.epoch).toBe(2);
    expect(env.nonce.length).toBe(12);
    expect((env.ciphertext.length - 16) % 160).toBe(0);
    const opened = openRoomEnvelope(roomId, bytes, (e) => (e === 2 ? secret : undefined));
    expect(toBinary(RoomEnvelopeBodySchema, opened.body)).toEqual(toBinary(RoomEnvelopeBodySchema, body));
  });

  it("reject an unknown epoch, another room, and another secret with a typed error", () => {
    const bytes = sealRoomEnvelope(roomId, secret, 1, body);
    const expectInvalid = (f: () => unknown) => expect(() => f()).toThrowError(expect.objectContaining({ name: "ProtocolError" }));
    expectInvalid(() => openRoomEnvelope(roomId, bytes, () => undefined));
    expectInvalid(() => openRoomEnvelope(randomBytes(16), bytes, () => secret));
    expectInvalid(() => openRoomEnvelope(roomId, bytes, () => randomBytes(32)));
  });

  it("property: any bit flip is rejected with a ProtocolError, never another exception", () => {
    const bytes = sealRoomEnvelope(roomId, secret, 0, body);
    fc.assert(
      fc.property(fc.nat(bytes.length * 8 - 1), (bit) => {
        const tampered = bytes.slice();
        tampered[bit >> 3]! ^= 1 << (bit & 7);
        try {
          openRoomEnvelope(roomId, tampered, (e) => (e === 0 ? secret : undefined));
        } catch (e) {
          expect(isProtocolError(e)).toBe(true);
          return;
        }
        // A flip in a protobuf tag byte can yield an equivalent message; the body must then be intact.
        expect(openRoomEnvelope(roomId, tampered, (e) => (e === 0 ? secret : undefined)).body.body.case).toBe("senderKeyMessage");
      }),
    );
  });
});

describe("invites (RM-03, RM-50, RM-51)", () => {
  const inviter = createIdentityKeyPair().publicKey.serialize();
  const inviteSecret = randomBytes(32);
  it("RM-50: carry room, invite secret, inviter and names in the URL fragment and parse back", () => {
    const link = createInviteLink("https://chat.example/", { roomId, inviteSecret, inviterIdentityKey: inviter, roomName: "ops", inviterName: "Alice" });
    expect(link.startsWith("https://chat.example/#join=")).toBe(true);
    expect(new URL(link).search).toBe("");
    const inv = parseInviteLink(link);
    expect(inv).toEqual({ roomId, inviteSecret, inviterIdentityKey: inviter, roomName: "ops", inviterName: "Alice" });
    // Short: no longer than the link of one epoch's secret was.
    expect(link.length).toBeLessThan(200);
  });

  it("RM-03: a link made before RM-50 (one epoch's secret) still parses, as legacy", () => {
    const old = "#join=" + base64url(toBinary(InviteSchema, create(InviteSchema, { roomId, roomSecret: secret, epoch: 4, inviterIdentityKey: inviter, roomName: "ops" })));
    expect(parseInviteLink(old)).toEqual({ roomId, inviterIdentityKey: inviter, roomName: "ops", inviterName: "", legacy: { roomSecret: secret, epoch: 4 } });
  });

  it("reject wrong field lengths, both or neither secret, long names, bad keys and garbage", () => {
    const enc = (f: Partial<{ roomId: Uint8Array; roomSecret: Uint8Array; inviteSecret: Uint8Array; inviterIdentityKey: Uint8Array; roomName: string; inviterName: string }>) =>
      "#join=" + base64url(toBinary(InviteSchema, create(InviteSchema, { roomId, inviteSecret, inviterIdentityKey: inviter, roomName: "x", ...f })));
    for (const bad of [
      enc({ roomId: randomBytes(15) }),
      enc({ inviteSecret: randomBytes(31) }),
      enc({ inviteSecret: new Uint8Array(0) }),
      enc({ roomSecret: secret }),
      enc({ inviteSecret: new Uint8Array(0), roomSecret: randomBytes(31) }),
      enc({ inviterIdentityKey: randomBytes(33) }),
      enc({ roomName: "x".repeat(65) }),
      enc({ inviterName: "x".repeat(65) }),
      "#join=***",
      "https://chat.example/",
    ]) {
      expect(() => parseInviteLink(bad)).toThrowError(expect.objectContaining({ code: "invalid_message" }));
    }
  });

  it("RM-51: a box opens only for its room and invite secret, and a relabelled or flipped box is refused", () => {
    const box = sealInviteBox(roomId, inviteSecret, { roomSecret: secret, epoch: 7 });
    expect(openInviteBox(roomId, inviteSecret, box)).toEqual({ roomSecret: secret, epoch: 7 });
    const refused = (b: Uint8Array, id = roomId, s = inviteSecret) => expect(() => openInviteBox(id, s, b)).toThrowError(expect.objectContaining({ code: "invite_unusable" }));
    refused(box, randomBytes(16));
    refused(box, roomId, randomBytes(32));
    const relabelled = box.slice();
    relabelled[3] = 8; // claims epoch 8
    refused(relabelled);
    for (let i = 0; i < box.length; i += 7) {
      const flipped = box.slice();
      flipped[i]! ^= 1;
      refused(flipped);
    }
    refused(randomBytes(box.length));
    refused(box.slice(0, 20));
    // The relay's address is a hash of the box key; neither reveals the wrap key or secret.
    expect(inviteBoxAddressHash(roomId, inviteSecret)).not.toEqual(inviteBoxKey(roomId, inviteSecret));
  });
});

describe("join announcements (RM-08, RM-09)", () => {
  const identity = createIdentityKeyPair();
  const ann = createJoinAnnouncement({ identity, roomId, epoch: 5, deliveryToken: randomBytes(32), displayName: "Joiner", nowMs: 1 });

  it("verify for the right room and epoch", async () => {
    const v = await verifyJoinAnnouncement(ann, roomId, 5);
    expect(v.displayName).toBe("Joiner");
    expect(v.identityKey.equals(identity.publicKey)).toBe(true);
  });

  it("are rejected for another room or epoch, a bad signature, or bad field lengths", async () => {
    await expect(verifyJoinAnnouncement(ann, randomBytes(16), 5)).rejects.toMatchObject({ code: "invalid_message" });
    await expect(verifyJoinAnnouncement(ann, roomId, 6)).rejects.toMatchObject({ code: "invalid_message" });
    const sig = ann.signature.slice();
    sig[0]! ^= 1;
    await expect(verifyJoinAnnouncement({ ...ann, signature: sig }, roomId, 5)).rejects.toMatchObject({ code: "invalid_signature" });
    const st = fromBinary(JoinStatementSchema, ann.statement);
    for (const patch of [{ nonce: randomBytes(15) }, { deliveryToken: randomBytes(31) }, { profile: { $typeName: "securecomm.wire.v1.Profile" as const, displayName: "" } }]) {
      const statement = toBinary(JoinStatementSchema, { ...st, ...patch });
      const signature = identity.privateKey.sign(concatBytes(utf8("SecureComm join v1"), statement));
      await expect(verifyJoinAnnouncement({ ...ann, statement, signature }, roomId, 5)).rejects.toMatchObject({ code: "invalid_message" });
    }
  });
});
