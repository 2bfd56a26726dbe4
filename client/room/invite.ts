/**
 * Invite links (spec RM-03): `<origin>/#join=<base64url(Proto{Invite})>`.
 *
 * Owns: `createInviteLink` and `parseInviteLink`. The invite travels only in the URL fragment;
 * nothing here sends it anywhere. Does not own: joining (room-engine.ts).
 */

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { type Invite, InviteSchema } from "../../gen/securecomm/wire/v1/room_pb.js";
import { PublicKey } from "../crypto/curve.js";
import { ProtocolError } from "../errors.js";
import { base64url, fromBase64url } from "../relay/base64url.js";
import { ROOM_ID_LENGTH, ROOM_SECRET_LENGTH } from "./room-keys.js";

/** The fragment parameter name of an invite (RM-03). */
export const INVITE_FRAGMENT_PREFIX = "#join=";
/** Room names are local labels; 1..64 UTF-8 bytes like display names (RM-18) keeps links short. */
export const MAX_ROOM_NAME_BYTES = 64;

/** A parsed invite (RM-03). */
export interface ParsedInvite {
  roomId: Uint8Array;
  roomSecret: Uint8Array;
  epoch: number;
  inviterIdentityKey: Uint8Array;
  roomName: string;
}

/** Builds an invite link under `origin` (e.g. "https://chat.example"; trailing "/" optional). */
export function createInviteLink(origin: string, invite: ParsedInvite): string {
  const bytes = toBinary(InviteSchema, create(InviteSchema, invite satisfies Partial<Invite>));
  return `${origin.replace(/\/+$/, "")}/${INVITE_FRAGMENT_PREFIX}${base64url(bytes)}`;
}

/**
 * Parses an invite link, or just its fragment or encoded part (RM-03). Rejects
 * (ProtocolError "invalid_message") a link without `#join=`, bad base64url, a body that does
 * not parse, a room id not 16 bytes, a secret not 32 bytes, or an invalid inviter key.
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
  if (invite.roomId.length !== ROOM_ID_LENGTH || invite.roomSecret.length !== ROOM_SECRET_LENGTH) {
    throw new ProtocolError("invalid_message");
  }
  try {
    PublicKey.deserialize(invite.inviterIdentityKey);
  } catch (e) {
    throw new ProtocolError("invalid_message", { cause: e });
  }
  return {
    roomId: invite.roomId,
    roomSecret: invite.roomSecret,
    epoch: invite.epoch,
    inviterIdentityKey: invite.inviterIdentityKey,
    roomName: invite.roomName,
  };
}
