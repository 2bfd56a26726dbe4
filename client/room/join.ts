/**
 * Join announcements (spec RM-08, RM-09): building, signing and checking JoinStatements.
 *
 * Owns: the join signature label, `createJoinAnnouncement` and `verifyJoinAnnouncement` (every
 * check of RM-08 on the statement itself). Does not own: roster decisions (is it a current
 * member, was the nonce seen: the room engine applies RM-09 with its record).
 */

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  type JoinAnnouncement,
  JoinAnnouncementSchema,
  type JoinStatement,
  JoinStatementSchema,
} from "../../gen/securecomm/wire/v1/room_pb.js";
import { ProfileSchema } from "../../gen/securecomm/wire/v1/content_pb.js";
import { concatBytes, constantTimeEqual, randomBytes, utf8 } from "../crypto/bytes.js";
import { PublicKey } from "../crypto/curve.js";
import type { IdentityKeyPair } from "../keys/identity.js";
import { ProtocolError } from "../errors.js";
import { ROOM_ID_LENGTH } from "./room-keys.js";

/** Domain-separation prefix of the join signature (RM-08). */
export const JOIN_SIGNATURE_LABEL = utf8("SecureComm join v1");
/** Join nonces are 16 random bytes (RM-08), so replays are recognisable (RM-09). */
export const JOIN_NONCE_LENGTH = 16;
/** Delivery tokens are 32 random bytes (RM-04). */
export const DELIVERY_TOKEN_LENGTH = 32;
/** Display names are 1..64 UTF-8 bytes (RM-18): enough for a name, bounded for storage. */
export const MAX_DISPLAY_NAME_BYTES = 64;

/** True when `name` is a valid display name (RM-18: 1..64 UTF-8 bytes). */
export function isValidDisplayName(name: string): boolean {
  const n = utf8(name).length;
  return n >= 1 && n <= MAX_DISPLAY_NAME_BYTES;
}

/** Builds and signs a join announcement for `roomId` at `epoch` (RM-08 step 2). */
export function createJoinAnnouncement(p: {
  identity: IdentityKeyPair;
  roomId: Uint8Array;
  epoch: number;
  deliveryToken: Uint8Array;
  displayName: string;
  nowMs: number;
}): JoinAnnouncement {
  const statement = toBinary(
    JoinStatementSchema,
    create(JoinStatementSchema, {
      roomId: p.roomId,
      epoch: p.epoch,
      identityKey: p.identity.publicKey.serialize(),
      deliveryToken: p.deliveryToken,
      profile: create(ProfileSchema, { displayName: p.displayName }),
      nonce: randomBytes(JOIN_NONCE_LENGTH),
      createdAtMs: BigInt(p.nowMs),
    }),
  );
  const signature = p.identity.privateKey.sign(concatBytes(JOIN_SIGNATURE_LABEL, statement));
  return create(JoinAnnouncementSchema, { statement, signature });
}

/** A join statement whose every RM-08 field check and signature passed. */
export interface VerifiedJoin {
  statement: JoinStatement;
  identityKey: PublicKey;
  displayName: string;
}

/**
 * Checks a join announcement (RM-08, RM-09 room and epoch): statement parses; room id equal to
 * `roomId`; epoch equal to `envelopeEpoch`; valid 33-byte identity key; 32-byte delivery
 * token; 16-byte nonce; display name 1..64 bytes; 64-byte signature over label ‖ statement as
 * received. Throws ProtocolError ("invalid_message" or "invalid_signature").
 */
export async function verifyJoinAnnouncement(
  announcement: JoinAnnouncement,
  roomId: Uint8Array,
  envelopeEpoch: number,
): Promise<VerifiedJoin> {
  let st: JoinStatement;
  try {
    st = fromBinary(JoinStatementSchema, announcement.statement);
  } catch (e) {
    throw new ProtocolError("invalid_message", { cause: e });
  }
  if (st.roomId.length !== ROOM_ID_LENGTH || !constantTimeEqual(st.roomId, roomId)) throw new ProtocolError("invalid_message");
  if (st.epoch !== envelopeEpoch) throw new ProtocolError("invalid_message");
  if (st.deliveryToken.length !== DELIVERY_TOKEN_LENGTH || st.nonce.length !== JOIN_NONCE_LENGTH) {
    throw new ProtocolError("invalid_message");
  }
  const displayName = st.profile?.displayName ?? "";
  if (!isValidDisplayName(displayName)) throw new ProtocolError("invalid_message");
  let identityKey: PublicKey;
  try {
    identityKey = PublicKey.deserialize(st.identityKey);
  } catch (e) {
    throw new ProtocolError("invalid_message", { cause: e });
  }
  if (announcement.signature.length !== 64) throw new ProtocolError("invalid_signature");
  const ok = await identityKey.verifySignature(concatBytes(JOIN_SIGNATURE_LABEL, announcement.statement), announcement.signature);
  if (!ok) throw new ProtocolError("invalid_signature");
  return { statement: st, identityKey, displayName };
}
