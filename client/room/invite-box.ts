/**
 * Invite boxes (spec/09-rooms.md RM-50, RM-51): how an invite secret leads to the room's
 * current secret through the relay without the relay learning either.
 *
 * Owns: the invite-secret length, the KDF labels of the box key (the relay-side read
 * capability) and of the wrap key, `sealInviteBox` / `openInviteBox`, and `InviteError`, the
 * typed failures a joiner meets. Pure: no I/O. Does not own: the link format (invite.ts), the
 * relay calls and when the box is written (room-invites.ts, the engine).
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { InviteBoxSchema } from "../../gen/securecomm/wire/v1/room_pb.js";
import { be32, concatBytes, randomBytes, utf8 } from "../crypto/bytes.js";
import { aes256GcmDecrypt, aes256GcmEncrypt } from "../crypto/cipher.js";
import { hkdfSha256, sha256 } from "../crypto/kdf.js";
import { ROOM_ID_LENGTH, ROOM_SECRET_LENGTH } from "./room-keys.js";

/** Invite secrets are 32 random bytes (RM-50): a full 256-bit capability, like a room secret. */
export const INVITE_SECRET_LENGTH = 32;
/** HKDF info of the box key (RM-51): what a joiner presents; the relay stores its SHA-256. */
export const INVITE_BOX_KEY_INFO = utf8("SecureComm invite box key v1");
/** HKDF info of the wrap key (RM-51): AES-256-GCM key of the box; never leaves clients. */
export const INVITE_WRAP_KEY_INFO = utf8("SecureComm invite wrap key v1");
/** AAD prefix of a box (RM-51), followed by room_id: a box of one room never opens for another. */
export const INVITE_BOX_AAD_LABEL = utf8("SecureComm invite box v1");
/** GCM nonce length of a box: 12 random bytes per write. */
export const INVITE_BOX_NONCE_LENGTH = 12;

/** Why joining by an invite link failed (RM-51, RM-52); each has a fixed sentence. */
export type InviteErrorCode =
  /** The relay has no box for this link: the admin reset it (or the room never had one). */
  | "invite_reset"
  /** The box does not open, or holds a secret the relay no longer accepts: not usable now. */
  | "invite_unusable"
  /** The room does not exist at this relay. */
  | "room_not_found"
  /** A link of the old kind (RM-03) whose epoch has been rotated away. */
  | "invite_expired";

const INVITE_SENTENCES: Readonly<Record<InviteErrorCode, string>> = {
  invite_reset: "This invite link was reset by the room's admin. Ask a member for the current link.",
  invite_unusable: "This invite link cannot be used right now: the room's invite is out of date. Ask the room's admin to reset the link.",
  room_not_found: "The room of this invite link does not exist on this relay.",
  invite_expired: "This invite link has expired (it is of an older kind that stops working when the room's keys change). Ask a member for a new link.",
};

/** A joiner's failure to use an invite link (RM-51, RM-52); `message` is a fixed sentence. */
export class InviteError extends Error {
  readonly code: InviteErrorCode;
  constructor(code: InviteErrorCode, options?: { cause?: unknown }) {
    super(INVITE_SENTENCES[code], options);
    this.name = "InviteError";
    this.code = code;
  }
}

/** Narrowing guard for {@link InviteError}. */
export function isInviteError(e: unknown, code?: InviteErrorCode): e is InviteError {
  return e instanceof InviteError && (code === undefined || e.code === code);
}

function check(roomId: Uint8Array, inviteSecret: Uint8Array): void {
  if (roomId.length !== ROOM_ID_LENGTH) throw new RangeError("room id must be 16 bytes");
  if (inviteSecret.length !== INVITE_SECRET_LENGTH) throw new RangeError("invite secret must be 32 bytes");
}

/** A fresh invite secret (RM-50). */
export function createInviteSecret(): Uint8Array {
  return randomBytes(INVITE_SECRET_LENGTH);
}

/** `box_key = HKDF(salt = room_id, ikm = invite_secret, info = "SecureComm invite box key v1")` (RM-51). */
export function inviteBoxKey(roomId: Uint8Array, inviteSecret: Uint8Array): Uint8Array {
  check(roomId, inviteSecret);
  return hkdfSha256(inviteSecret, roomId, INVITE_BOX_KEY_INFO, 32);
}

/** The box's address at the relay: SHA-256(box_key) (RM-51, API-40). */
export function inviteBoxAddressHash(roomId: Uint8Array, inviteSecret: Uint8Array): Uint8Array {
  return sha256(inviteBoxKey(roomId, inviteSecret));
}

function wrapKey(roomId: Uint8Array, inviteSecret: Uint8Array): Uint8Array {
  check(roomId, inviteSecret);
  return hkdfSha256(inviteSecret, roomId, INVITE_WRAP_KEY_INFO, 32);
}

/** The room secret and epoch a box holds. */
export interface BoxedSecret {
  roomSecret: Uint8Array;
  epoch: number;
}

/**
 * Seals `secret` for holders of `inviteSecret` (RM-51; `nonce` is fresh and random except in
 * spec/vectors/invites.json): nonce ‖ AES-256-GCM(wrap key, nonce,
 * Proto{InviteBox}, aad = label ‖ room_id ‖ BE32(epoch)) — the epoch is both inside and bound
 * by the AAD, so a box cannot be relabelled.
 */
export function sealInviteBox(roomId: Uint8Array, inviteSecret: Uint8Array, secret: BoxedSecret, nonce: Uint8Array = randomBytes(INVITE_BOX_NONCE_LENGTH)): Uint8Array {
  if (secret.roomSecret.length !== ROOM_SECRET_LENGTH) throw new RangeError("room secret must be 32 bytes");
  if (nonce.length !== INVITE_BOX_NONCE_LENGTH) throw new RangeError("nonce must be 12 bytes");
  const plaintext = toBinary(InviteBoxSchema, create(InviteBoxSchema, { roomSecret: secret.roomSecret, epoch: secret.epoch }));
  // The epoch travels in the clear in front of the ciphertext so the opener can rebuild the AAD.
  const ct = aes256GcmEncrypt(wrapKey(roomId, inviteSecret), nonce, plaintext, concatBytes(INVITE_BOX_AAD_LABEL, roomId, be32(secret.epoch)));
  return concatBytes(be32(secret.epoch), nonce, ct);
}

/**
 * Opens a box (RM-51). Throws InviteError("invite_unusable") for anything that does not open
 * to a well-formed secret of the epoch the box is bound to: garbage, a box of another room or
 * under another invite secret, a relabelled epoch.
 */
export function openInviteBox(roomId: Uint8Array, inviteSecret: Uint8Array, box: Uint8Array): BoxedSecret {
  if (box.length < 4 + INVITE_BOX_NONCE_LENGTH + 16) throw new InviteError("invite_unusable");
  const epoch = new DataView(box.buffer, box.byteOffset, 4).getUint32(0);
  const nonce = box.slice(4, 4 + INVITE_BOX_NONCE_LENGTH);
  let parsed;
  try {
    const plaintext = aes256GcmDecrypt(wrapKey(roomId, inviteSecret), nonce, box.slice(4 + INVITE_BOX_NONCE_LENGTH), concatBytes(INVITE_BOX_AAD_LABEL, roomId, be32(epoch)));
    parsed = fromBinary(InviteBoxSchema, plaintext);
  } catch (e) {
    throw new InviteError("invite_unusable", { cause: e });
  }
  if (parsed.roomSecret.length !== ROOM_SECRET_LENGTH || parsed.epoch !== epoch) throw new InviteError("invite_unusable");
  return { roomSecret: parsed.roomSecret, epoch };
}
