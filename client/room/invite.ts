/**
 * Invite links (spec RM-03, RM-50): `<origin>/#join=<base64url(Proto{Invite})>`.
 *
 * Owns: `createInviteLink` and `parseInviteLink`. The invite travels only in the URL fragment;
 * nothing here sends it anywhere. A current link carries an invite secret (RM-50) that leads to
 * the room's current secret through the invite box (invite-box.ts); a link made before RM-50
 * carries one epoch's room secret and is still accepted (it stops working at the next rotation).
 * Does not own: the box (invite-box.ts) or joining (room-engine.ts).
 */

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { type Invite, InviteSchema } from "../../gen/securecomm/wire/v1/room_pb.js";
import { utf8 } from "../crypto/bytes.js";
import { PublicKey } from "../crypto/curve.js";
import { ProtocolError } from "../errors.js";
import { base64url, fromBase64url } from "../relay/base64url.js";
import { INVITE_SECRET_LENGTH } from "./invite-box.js";
import { ROOM_ID_LENGTH, ROOM_SECRET_LENGTH } from "./room-keys.js";

/** The fragment parameter name of an invite (RM-03). */
export const INVITE_FRAGMENT_PREFIX = "#join=";
/** Room names are local labels; 1..64 UTF-8 bytes like display names (RM-18) keeps links short. */
export const MAX_ROOM_NAME_BYTES = 64;
/** The inviter's name in a link is a display name (RM-18, RM-53): at most 64 bytes. */
export const MAX_INVITER_NAME_BYTES = 64;

/** A parsed invite (RM-03, RM-50). Exactly one of `inviteSecret` and `legacy` is set. */
export interface ParsedInvite {
  roomId: Uint8Array;
  inviterIdentityKey: Uint8Array;
  roomName: string;
  /** The inviter's name as the link states it (RM-53); "" in links made before RM-53. */
  inviterName: string;
  /** RM-50: the invite secret (current links). */
  inviteSecret?: Uint8Array;
  /** RM-03: one epoch's secret (links made before RM-50). */
  legacy?: { roomSecret: Uint8Array; epoch: number };
}

/** What a current invite link carries (RM-50). */
export interface InviteLinkFields {
  roomId: Uint8Array;
  inviteSecret: Uint8Array;
  inviterIdentityKey: Uint8Array;
  roomName: string;
  inviterName: string;
}

/** Builds an invite link under `origin` (e.g. "https://chat.example"; trailing "/" optional). */
export function createInviteLink(origin: string, invite: InviteLinkFields): string {
  if (invite.inviteSecret.length !== INVITE_SECRET_LENGTH) throw new RangeError("invite secret must be 32 bytes");
  const inviterName = utf8(invite.inviterName).length <= MAX_INVITER_NAME_BYTES ? invite.inviterName : "";
  const bytes = toBinary(
    InviteSchema,
    create(InviteSchema, {
      roomId: invite.roomId,
      inviteSecret: invite.inviteSecret,
      inviterIdentityKey: invite.inviterIdentityKey,
      roomName: invite.roomName,
      inviterName,
    } satisfies Partial<Invite>),
  );
  return `${origin.replace(/\/+$/, "")}/${INVITE_FRAGMENT_PREFIX}${base64url(bytes)}`;
}

/**
 * Parses an invite link, or just its fragment or encoded part (RM-03, RM-50). Rejects
 * (ProtocolError "invalid_message") a link without `#join=`, bad base64url, a body that does
 * not parse, a room id not 16 bytes, neither (or both) a 32-byte invite secret and a 32-byte
 * room secret, a room or inviter name over 64 bytes, or an invalid inviter key.
 */
export function parseInviteLink(link: string): ParsedInvite {
  const at = link.indexOf(INVITE_FRAGMENT_PREFIX);
  const encoded = at >= 0 ? link.slice(at + INVITE_FRAGMENT_PREFIX.length) : link.trim();
  const bytes = fromBase64url(encoded);
  if (bytes === undefined) throw new ProtocolError("invalid_message");
  let invite: Invite;
  try {
    invite = fromBinary(InviteSchema, bytes);
  } catch (e) {
    throw new ProtocolError("invalid_message", { cause: e });
  }
  if (invite.roomId.length !== ROOM_ID_LENGTH) throw new ProtocolError("invalid_message");
  const current = invite.inviteSecret.length === INVITE_SECRET_LENGTH && invite.roomSecret.length === 0;
  const old = invite.inviteSecret.length === 0 && invite.roomSecret.length === ROOM_SECRET_LENGTH;
  if (!current && !old) throw new ProtocolError("invalid_message");
  if (utf8(invite.roomName).length > MAX_ROOM_NAME_BYTES || utf8(invite.inviterName).length > MAX_INVITER_NAME_BYTES) {
    throw new ProtocolError("invalid_message");
  }
  try {
    PublicKey.deserialize(invite.inviterIdentityKey);
  } catch (e) {
    throw new ProtocolError("invalid_message", { cause: e });
  }
  return {
    roomId: invite.roomId,
    inviterIdentityKey: invite.inviterIdentityKey,
    roomName: invite.roomName,
    inviterName: invite.inviterName,
    ...(current ? { inviteSecret: invite.inviteSecret } : { legacy: { roomSecret: invite.roomSecret, epoch: invite.epoch } }),
  };
}
