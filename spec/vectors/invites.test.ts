// spec/vectors/invites.json (spec/09-rooms.md RM-50, RM-51, RM-03, RM-30): the invite box's keys,
// its bytes for fixed inputs, and a current invite link. Checked three ways: the JSON's outputs,
// this implementation, and an independent computation with node:crypto (HKDF, AES-256-GCM).
import { createCipheriv, createDecipheriv, createHash, hkdfSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { fromBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { InviteBoxSchema } from "../../gen/securecomm/wire/v1/room_pb.js";
import { bytesToHex, hexToBytes } from "../../client/crypto/bytes.js";
import { inviteBoxAddressHash, inviteBoxKey, openInviteBox, sealInviteBox } from "../../client/room/invite-box.js";
import { createInviteLink, parseInviteLink } from "../../client/room/invite.js";

interface InvitesVector {
  inputs: { roomId: string; inviteSecret: string; roomSecret: string; epoch: number; nonce: string; origin: string; inviterIdentityKey: string; roomName: string; inviterName: string };
  outputs: { boxKey: string; boxAddressHash: string; wrapKey: string; aad: string; box: string; link: string };
}

const v = JSON.parse(readFileSync(new URL("./invites.json", import.meta.url), "utf8")) as InvitesVector;
const i = v.inputs;
const hkdf = (info: string) => Buffer.from(hkdfSync("sha256", Buffer.from(i.inviteSecret, "hex"), Buffer.from(i.roomId, "hex"), Buffer.from(info), 32));
const be32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

describe("spec/vectors/invites.json (RM-50, RM-51)", () => {
  it("RM-51: box key, address hash and wrap key are HKDF(salt = room_id, ikm = invite_secret) with the spec's labels", () => {
    expect(hkdf("SecureComm invite box key v1").toString("hex")).toBe(v.outputs.boxKey);
    expect(createHash("sha256").update(hkdf("SecureComm invite box key v1")).digest("hex")).toBe(v.outputs.boxAddressHash);
    expect(hkdf("SecureComm invite wrap key v1").toString("hex")).toBe(v.outputs.wrapKey);
    expect(bytesToHex(inviteBoxKey(hexToBytes(i.roomId), hexToBytes(i.inviteSecret)))).toBe(v.outputs.boxKey);
    expect(bytesToHex(inviteBoxAddressHash(hexToBytes(i.roomId), hexToBytes(i.inviteSecret)))).toBe(v.outputs.boxAddressHash);
  });

  it("RM-51: the box is BE32(epoch) ‖ nonce ‖ AES-256-GCM(wrap key, nonce, InviteBox, aad = label ‖ room_id ‖ BE32(epoch))", () => {
    const aad = Buffer.concat([Buffer.from("SecureComm invite box v1"), Buffer.from(i.roomId, "hex"), be32(i.epoch)]);
    expect(aad.toString("hex")).toBe(v.outputs.aad);
    const box = hexToBytes(v.outputs.box);
    expect(bytesToHex(box.slice(0, 4))).toBe(be32(i.epoch).toString("hex"));
    expect(bytesToHex(box.slice(4, 16))).toBe(i.nonce);
    // node:crypto opens the vector's box and finds the InviteBox…
    const decipher = createDecipheriv("aes-256-gcm", hkdf("SecureComm invite wrap key v1"), Buffer.from(i.nonce, "hex"));
    decipher.setAAD(aad);
    decipher.setAuthTag(Buffer.from(box.slice(box.length - 16)));
    const plaintext = Buffer.concat([decipher.update(Buffer.from(box.slice(16, box.length - 16))), decipher.final()]);
    const inner = fromBinary(InviteBoxSchema, new Uint8Array(plaintext));
    expect([bytesToHex(inner.roomSecret), inner.epoch]).toEqual([i.roomSecret, i.epoch]);
    // …and seals the same bytes.
    const cipher = createCipheriv("aes-256-gcm", hkdf("SecureComm invite wrap key v1"), Buffer.from(i.nonce, "hex"));
    cipher.setAAD(aad);
    const sealed = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    expect(Buffer.concat([be32(i.epoch), Buffer.from(i.nonce, "hex"), sealed]).toString("hex")).toBe(v.outputs.box);
    const mine = sealInviteBox(hexToBytes(i.roomId), hexToBytes(i.inviteSecret), { roomSecret: hexToBytes(i.roomSecret), epoch: i.epoch }, hexToBytes(i.nonce));
    expect(bytesToHex(mine)).toBe(v.outputs.box);
    expect(openInviteBox(hexToBytes(i.roomId), hexToBytes(i.inviteSecret), box)).toEqual({ roomSecret: hexToBytes(i.roomSecret), epoch: i.epoch });
  });

  it("RM-50, RM-30: the current link is <origin>/#join=<base64url(Invite)> with the invite secret and no room secret", () => {
    const link = createInviteLink(i.origin, {
      roomId: hexToBytes(i.roomId),
      inviteSecret: hexToBytes(i.inviteSecret),
      inviterIdentityKey: hexToBytes(i.inviterIdentityKey),
      roomName: i.roomName,
      inviterName: i.inviterName,
    });
    expect(link).toBe(v.outputs.link);
    const parsed = parseInviteLink(v.outputs.link);
    expect(bytesToHex(parsed.inviteSecret!)).toBe(i.inviteSecret);
    expect(parsed.legacy).toBeUndefined();
    expect([parsed.roomName, parsed.inviterName]).toEqual([i.roomName, i.inviterName]);
  });
});
