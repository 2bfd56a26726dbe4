/**
 * Generator (run by hand, never imported by product code) of spec/vectors/invites.json:
 * `node --import tsx spec/vectors/generate-invites.test-support.ts`. Fixed inputs; the outputs
 * come from this implementation and are checked independently by invites.test.ts.
 */
import { writeFileSync } from "node:fs";
import { bytesToHex, concatBytes, be32, hexToBytes } from "../../client/crypto/bytes.js";
import { hkdfSha256 } from "../../client/crypto/kdf.js";
import { inviteBoxAddressHash, inviteBoxKey, INVITE_BOX_AAD_LABEL, INVITE_WRAP_KEY_INFO, sealInviteBox } from "../../client/room/invite-box.js";
import { createInviteLink } from "../../client/room/invite.js";

const inputs = {
  roomId: "00112233445566778899aabbccddeeff",
  inviteSecret: "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf",
  roomSecret: "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf",
  epoch: 3,
  nonce: "e0e1e2e3e4e5e6e7e8e9eaeb",
  origin: "https://chat.example",
  inviterIdentityKey: "05" + "11".repeat(32),
  roomName: "ops",
  inviterName: "Alice",
};
const roomId = hexToBytes(inputs.roomId);
const inviteSecret = hexToBytes(inputs.inviteSecret);
write();

function write(): void {
  const outputs = {
    boxKey: bytesToHex(inviteBoxKey(roomId, inviteSecret)),
    boxAddressHash: bytesToHex(inviteBoxAddressHash(roomId, inviteSecret)),
    wrapKey: bytesToHex(hkdfSha256(inviteSecret, roomId, INVITE_WRAP_KEY_INFO, 32)),
    aad: bytesToHex(concatBytes(INVITE_BOX_AAD_LABEL, roomId, be32(inputs.epoch))),
    box: bytesToHex(sealInviteBox(roomId, inviteSecret, { roomSecret: hexToBytes(inputs.roomSecret), epoch: inputs.epoch }, hexToBytes(inputs.nonce))),
    link: createInviteLink(inputs.origin, { roomId, inviteSecret, inviterIdentityKey: hexToBytes(inputs.inviterIdentityKey), roomName: inputs.roomName, inviterName: inputs.inviterName }),
  };
  const description =
    "Invite box and current invite link (spec/09-rooms.md RM-50, RM-51, RM-30): box key, its SHA-256 (the relay address), wrap key, AAD, the box for fixed inputs (nonce fixed here, random in use), and the link.";
  writeFileSync(new URL("./invites.json", import.meta.url), `${JSON.stringify({ description, inputs, outputs }, null, 2)}\n`);
  console.log("wrote spec/vectors/invites.json");
}
