/**
 * Pinned vectors spec/vectors/rooms.json and spec/vectors/full-stack.json: our code reproduces
 * every byte from the fixed inputs, node:crypto recomputes the room keys and opens the room
 * envelopes on its own, and @signalapp/libsignal-client 0.103 verifies the join signature and
 * walks the whole stack: sealed sender → PreKeySignalMessage → padded Content{welcome} → SKDM →
 * SenderKeyMessage → padded Content{text}. This is the check a second implementation runs.
 */
import { createDecipheriv, createHash, hkdfSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as ls from "@signalapp/libsignal-client";
import { describe, expect, it } from "vitest";
import { ContentSchema, type Content } from "../../gen/securecomm/wire/v1/content_pb.js";
import { DepartureAnnouncementSchema, JoinAnnouncementSchema, RoomEnvelopeBodySchema, RoomEnvelopeSchema } from "../../gen/securecomm/wire/v1/room_pb.js";
import { KeyPair, PrivateKey, PublicKey } from "../../client/crypto/curve.js";
import { isProtocolError } from "../../client/errors.js";
import { unpad } from "../../client/padding.js";
import { parseInviteLink } from "../../client/room/invite.js";
import { verifyDepartureAnnouncement } from "../../client/room/departure.js";
import { verifyJoinAnnouncement } from "../../client/room/join.js";
import { openRoomEnvelope } from "../../client/room/room-keys.js";
import { sealedSenderDecryptToContent } from "../../client/sealed-sender/sealed-sender.js";
import { groupDecrypt, processSenderKeyDistributionMessage } from "../../client/sender-keys/group-cipher.js";
import { InMemorySenderKeyStore } from "../../client/sender-keys/sender-key-store.js";
import {
  ab,
  LsIdentityStore,
  LsKyberPreKeyStore,
  LsPreKeyStore,
  LsSessionStore,
  LsSignedPreKeyStore,
} from "../../client/session/parties.test-support.js";
import { hex, unhex } from "../../client/session/vector-scenario.test-support.js";
import { computeFullStackVectors, computeRoomVectors, contentOf, type FullStackInputs, type RoomInputs } from "./stack-vectors.test-support.js";

type RoomOutputs = ReturnType<typeof computeRoomVectors>;
type FullStackOutputs = Awaited<ReturnType<typeof computeFullStackVectors>>;
const load = <T>(name: string) => JSON.parse(readFileSync(new URL(`./${name}`, import.meta.url), "utf8")) as T;
const rooms = load<{ inputs: RoomInputs; outputs: RoomOutputs }>("rooms.json");
const stack = load<{ libsignalKyberPreKeyRecord: string; inputs: FullStackInputs & { conversation: { pqxdh: import("../../client/session/vector-scenario.test-support.js").PqxdhInputs } }; outputs: FullStackOutputs }>("full-stack.json");

/** HKDF-SHA256 by node:crypto (an implementation independent of ours). */
const nodeHkdf = (ikm: string, salt: string, info: string) => hex(new Uint8Array(hkdfSync("sha256", unhex(ikm), unhex(salt), unhex(info), 32)));

/** Opens a RoomEnvelope with node:crypto only: protobuf fields by our parser, AES-256-GCM by node. */
function nodeOpenEnvelope(envelopeHex: string, envelopeKey: string, aad: string): Uint8Array {
  const env = fromBinary(RoomEnvelopeSchema, unhex(envelopeHex));
  const tag = env.ciphertext.subarray(env.ciphertext.length - 16);
  const decipher = createDecipheriv("aes-256-gcm", unhex(envelopeKey), env.nonce);
  decipher.setAAD(unhex(aad));
  decipher.setAuthTag(tag);
  return new Uint8Array(Buffer.concat([decipher.update(env.ciphertext.subarray(0, env.ciphertext.length - 16)), decipher.final()]));
}

/** EN-06 unpadding written out again: strip trailing zeros, then one 0x80. */
function nodeUnpad(bytes: Uint8Array): Uint8Array {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  expect(bytes[end - 1]).toBe(0x80);
  return bytes.subarray(0, end - 1);
}

describe("spec/vectors/rooms.json (RM-02, RM-03, RM-05, RM-06, RM-08, RM-30)", () => {
  const { inputs, outputs } = rooms;

  it("our code reproduces every pinned byte from the inputs", () => {
    expect(computeRoomVectors(inputs)).toEqual(outputs);
  });

  it("RM-02, RM-05, RM-06 node:crypto's HKDF and SHA-256 give the same access keys, hashes and envelope keys", () => {
    for (const k of outputs.keys) {
      expect(nodeHkdf(inputs.roomSecret, inputs.roomId, k.accessKeyInfo)).toBe(k.accessKey);
      expect(nodeHkdf(inputs.roomSecret, inputs.roomId, k.envelopeKeyInfo)).toBe(k.envelopeKey);
      expect(createHash("sha256").update(unhex(k.accessKey)).digest("hex")).toBe(k.accessKeyHash);
      expect(Buffer.from(unhex(k.accessKeyInfo)).toString("utf8", 0, 29)).toBe("SecureComm room access key v1");
      expect(k.envelopeAad).toBe(hex(Buffer.from("SecureComm room envelope v1")) + inputs.roomId + k.epoch.toString(16).padStart(8, "0"));
    }
  });

  it("RM-06, RM-08 node:crypto opens the join envelope; our code opens it and refuses it under another epoch's AAD", async () => {
    const e0 = outputs.keys.find((k) => k.epoch === 0);
    if (e0 === undefined) throw new Error("epoch 0 missing");
    const padded = nodeOpenEnvelope(outputs.join.envelope.envelope, e0.envelopeKey, e0.envelopeAad);
    expect(hex(padded)).toBe(outputs.join.envelope.paddedBody);
    expect(hex(nodeUnpad(padded))).toBe(outputs.join.envelope.body);
    const opened = openRoomEnvelope(unhex(inputs.roomId), unhex(outputs.join.envelope.envelope), (e) => (e === 0 ? unhex(inputs.roomSecret) : undefined));
    expect(opened.body.body.case).toBe("join");
    // The same ciphertext relabelled as epoch 1, or opened as another room's, fails: the epoch
    // and the room id are in the key and the AAD.
    const env = fromBinary(RoomEnvelopeSchema, unhex(outputs.join.envelope.envelope));
    const relabelled = toBinary(RoomEnvelopeSchema, create(RoomEnvelopeSchema, { epoch: 1, nonce: env.nonce, ciphertext: env.ciphertext }));
    const refused = (roomId: string, bytes: Uint8Array) => {
      try {
        openRoomEnvelope(unhex(roomId), bytes, () => unhex(inputs.roomSecret));
        return false;
      } catch (e) {
        return isProtocolError(e);
      }
    };
    expect(refused(inputs.roomId, relabelled)).toBe(true);
    expect(refused(`00${inputs.roomId.slice(2)}`, unhex(outputs.join.envelope.envelope))).toBe(true);
  });

  it("RM-08 the join signature input is the label and the statement as sent; libsignal and our verifier accept the signature", async () => {
    const j = outputs.join;
    expect(j.signatureInput).toBe(hex(Buffer.from("SecureComm join v1")) + j.statement);
    const body = fromBinary(RoomEnvelopeBodySchema, unhex(j.envelope.body));
    expect(body.body.case === "join" && hex(body.body.value.statement)).toBe(j.statement);
    const key = ls.PublicKey.deserialize(ab(unhex(j.joinerIdentityPublic)));
    expect(key.verify(ab(unhex(j.signatureInput)), ab(unhex(j.signature)))).toBe(true);
    const announcement = fromBinary(JoinAnnouncementSchema, unhex(j.announcement));
    const verified = await verifyJoinAnnouncement(announcement, unhex(inputs.roomId), 0);
    expect(verified.displayName).toBe(inputs.joinerDisplayName);
    expect(hex(verified.identityKey.serialize())).toBe(j.joinerIdentityPublic);
  });

  it("RM-35 the departure envelope opens with node:crypto; its signature input is the label and the statement as sent; libsignal and our verifier accept it", async () => {
    const d = outputs.departure;
    const e0 = outputs.keys.find((k) => k.epoch === 0);
    if (e0 === undefined) throw new Error("epoch 0 missing");
    const padded = nodeOpenEnvelope(d.envelope.envelope, e0.envelopeKey, e0.envelopeAad);
    expect(hex(padded)).toBe(d.envelope.paddedBody);
    expect(hex(nodeUnpad(padded))).toBe(d.envelope.body);
    expect(d.signatureInput).toBe(hex(Buffer.from("SecureComm departure v1")) + d.statement);
    const body = fromBinary(RoomEnvelopeBodySchema, unhex(d.envelope.body));
    expect(body.body.case === "departure" && hex(body.body.value.statement)).toBe(d.statement);
    const key = ls.PublicKey.deserialize(ab(unhex(outputs.join.joinerIdentityPublic)));
    expect(key.verify(ab(unhex(d.signatureInput)), ab(unhex(d.signature)))).toBe(true);
    const verified = await verifyDepartureAnnouncement(fromBinary(DepartureAnnouncementSchema, unhex(d.announcement)), unhex(inputs.roomId), 0);
    expect(hex(verified.signer)).toBe(outputs.join.joinerIdentityPublic);
    expect(hex(verified.member)).toBe(outputs.join.joinerIdentityPublic);
  });

  it("RM-03, RM-30 the invite link is <origin>/#join=<base64url(Invite)> and parses back to its fields", () => {
    const i = outputs.invite;
    expect(i.link).toBe(`${inputs.origin}/#join=${i.encoded}`);
    expect(Buffer.from(i.encoded, "base64url").toString("hex")).toBe(i.invite);
    expect(i.encoded).not.toMatch(/[=+/]/);
    const parsed = parseInviteLink(i.link);
    expect([hex(parsed.roomId), hex(parsed.roomSecret), parsed.epoch, hex(parsed.inviterIdentityKey), parsed.roomName]).toEqual([
      inputs.roomId,
      inputs.roomSecret,
      0,
      i.inviterIdentityPublic,
      inputs.roomName,
    ]);
    expect(new URL(i.link).origin).toBe(inputs.origin);
  });
});

describe("spec/vectors/full-stack.json (RM-07, RM-22, RM-31, SS-01..SS-03, PX-08, SK-05)", () => {
  const { inputs, outputs } = stack;
  const pqxdh = inputs.conversation.pqxdh;

  it("our code reproduces every pinned byte from the inputs", async () => {
    expect(await computeFullStackVectors(inputs, pqxdh)).toEqual(outputs);
  });

  it("RM-31 each pinned Content carries room_id, a 16-byte message_id and sent_at_ms, and is padded (EN-06)", () => {
    for (const [i, c] of [...inputs.contents, inputs.roomMessage].entries()) {
      const pinned = i < inputs.contents.length ? outputs.pairwise.contents[i] : { content: outputs.room.content, paddedContent: outputs.room.paddedContent };
      const content = fromBinary(ContentSchema, unhex(pinned?.content ?? ""));
      expect([hex(content.roomId), content.messageId.length, Number(content.sentAtMs)]).toEqual([inputs.roomId, 16, c.sentAtMs]);
      expect(content.body.case).toBe(c.body.case);
      expect(unhex(pinned?.paddedContent ?? "").length % 160).toBe(0);
      expect(hex(nodeUnpad(unhex(pinned?.paddedContent ?? "")))).toBe(pinned?.content);
    }
  });

  it("libsignal walks the stack: sealed sender, PreKeySignalMessages, the Welcome's SKDM, the room's SenderKeyMessage", async () => {
    const s = outputs.pairwise.sealedSender;
    const bobPriv = ls.PrivateKey.deserialize(ab(unhex(pqxdh.bobIdentityPrivate)));
    const bob = new ls.IdentityKeyPair(bobPriv.getPublicKey(), bobPriv);
    const c = inputs.conversation;
    const identities = new LsIdentityStore(bob, c.bobRegistrationId);
    const sessions = new LsSessionStore();
    const preKeys = new LsPreKeyStore();
    const signedPreKeys = new LsSignedPreKeyStore();
    const kyberPreKeys = new LsKyberPreKeyStore();
    const oneTime = ls.PrivateKey.deserialize(ab(unhex(pqxdh.bobOneTimePreKeyPrivate as string)));
    preKeys.map.set(c.preKeyId, ls.PreKeyRecord.new(c.preKeyId, oneTime.getPublicKey(), oneTime));
    const signed = ls.PrivateKey.deserialize(ab(unhex(pqxdh.bobSignedPreKeyPrivate)));
    signedPreKeys.map.set(c.signedPreKeyId, ls.SignedPreKeyRecord.new(c.signedPreKeyId, 0, signed.getPublicKey(), signed, bobPriv.sign(signed.getPublicKey().serialize())));
    kyberPreKeys.map.set(c.kyberPreKeyId, ls.KyberPreKeyRecord.deserialize(ab(unhex(stack.libsignalKyberPreKeyRecord))));

    // Sealed sender (SS-01..SS-03): libsignal opens the envelope and validates the certificate.
    const usmc = await ls.sealedSenderDecryptToUsmc(ab(unhex(s.envelope)), identities);
    expect(usmc.msgType()).toBe(3);
    expect(hex(usmc.contents())).toBe(outputs.pairwise.messages[0]?.body);
    expect(usmc.senderCertificate().senderUuid()).toBe(s.senderAddress);
    expect(usmc.senderCertificate().validate(ls.PublicKey.deserialize(ab(unhex(s.trustRootPublic))), inputs.sealedSender.nowMs)).toBe(true);

    // PX-08: libsignal, loaded with Bob's keys, decrypts m0 and m1 to the padded Contents.
    const alice = ls.ProtocolAddress.new(s.senderAddress, 1);
    const bobAddress = ls.ProtocolAddress.new("bob", 1);
    const contents: Content[] = [];
    for (const [i, m] of outputs.pairwise.messages.slice(0, 2).entries()) {
      const padded = await ls.signalDecryptPreKey(ls.PreKeySignalMessage.deserialize(ab(unhex(m.body))), alice, bobAddress, sessions, identities, preKeys, signedPreKeys, kyberPreKeys);
      expect(hex(padded)).toBe(outputs.pairwise.contents[i]?.paddedContent);
      contents.push(fromBinary(ContentSchema, nodeUnpad(padded)));
    }
    const welcome = contents[0]?.body;
    if (welcome?.case !== "welcome") throw new Error("m0 is not a Welcome");
    expect(hex(welcome.value.distributionMessage)).toBe(outputs.room.aliceSkdm);

    // SK-05: the SKDM from the Welcome lets libsignal decrypt the room message that node:crypto
    // took out of the RoomEnvelope with rooms.json's epoch-0 envelope key.
    const senderKeys = new (class extends ls.SenderKeyStore {
      readonly records = new Map<string, ls.SenderKeyRecord>();
      async saveSenderKey(sender: ls.ProtocolAddress, d: string, r: ls.SenderKeyRecord) {
        this.records.set(`${sender.toString()}/${d}`, r);
      }
      async getSenderKey(sender: ls.ProtocolAddress, d: string) {
        return this.records.get(`${sender.toString()}/${d}`) ?? null;
      }
    })();
    await ls.processSenderKeyDistributionMessage(alice, ls.SenderKeyDistributionMessage.deserialize(ab(welcome.value.distributionMessage)), senderKeys);
    const e0 = rooms.outputs.keys.find((k) => k.epoch === 0);
    if (e0 === undefined) throw new Error("epoch 0 missing");
    const body = fromBinary(RoomEnvelopeBodySchema, nodeUnpad(nodeOpenEnvelope(outputs.room.envelope.envelope, e0.envelopeKey, e0.envelopeAad)));
    if (body.body.case !== "senderKeyMessage") throw new Error("not a sender-key message");
    expect(hex(body.body.value)).toBe(outputs.room.senderKeyMessage);
    const padded = await ls.groupDecrypt(alice, senderKeys, ab(body.body.value));
    expect(hex(padded)).toBe(outputs.room.paddedContent);
    const text = fromBinary(ContentSchema, nodeUnpad(padded));
    expect(text.body.case === "text" && text.body.value.body).toBe("hello, room");
    expect(text).toEqual(contentOf(inputs.roomMessage));
  });

  it("our code opens the same stack: sealed sender, the room envelope and the SenderKeyMessage", async () => {
    const s = outputs.pairwise.sealedSender;
    const bob = KeyPair.fromPrivateKey(PrivateKey.deserialize(unhex(pqxdh.bobIdentityPrivate)));
    const opened = await sealedSenderDecryptToContent(unhex(s.envelope), bob, PublicKey.deserialize(unhex(s.trustRootPublic)), inputs.sealedSender.nowMs);
    expect([opened.sender, opened.type, hex(opened.content)]).toEqual([s.senderAddress, "prekey_message", outputs.pairwise.messages[0]?.body]);
    const store = new InMemorySenderKeyStore();
    await processSenderKeyDistributionMessage(store, s.senderAddress, unhex(outputs.room.aliceSkdm));
    const env = openRoomEnvelope(unhex(inputs.roomId), unhex(outputs.room.envelope.envelope), (e) => (e === 0 ? unhex(inputs.roomSecret) : undefined));
    if (env.body.body.case !== "senderKeyMessage") throw new Error("not a sender-key message");
    const padded = await groupDecrypt(store, s.senderAddress, env.body.body.value);
    expect(fromBinary(ContentSchema, unpad(padded))).toEqual(contentOf(inputs.roomMessage));
  });
});
