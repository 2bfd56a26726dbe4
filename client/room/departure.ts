/**
 * Departure announcements (spec RM-35): a leave (RM-10) or a removal (RM-11) as a statement
 * signed by the identity key of the member that makes it, posted in a RoomEnvelope. Unlike a
 * sender-key message, every member holding the epoch's secret can read it, whether or not it
 * ever received the signer's sender key, so every member applies every departure at its `seq`
 * and rosters stay a function of the log (RM-15).
 *
 * Owns: the departure signature label, `createDepartureAnnouncement` and
 * `verifyDepartureAnnouncement` (every check of RM-35 on the statement itself). Does not own:
 * whether the signer may make it (a current member leaving, the admin removing: room-core.ts).
 */

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  type DepartureAnnouncement,
  DepartureAnnouncementSchema,
  type DepartureStatement,
  DepartureStatementSchema,
} from "../../gen/securecomm/wire/v1/room_pb.js";
import { concatBytes, constantTimeEqual, utf8 } from "../crypto/bytes.js";
import { PublicKey } from "../crypto/curve.js";
import { ProtocolError } from "../errors.js";
import type { IdentityKeyPair } from "../keys/identity.js";
import { ROOM_ID_LENGTH } from "./room-keys.js";

/** Domain-separation prefix of the departure signature (RM-35). */
export const DEPARTURE_SIGNATURE_LABEL = utf8("SecureComm departure v1");
/** Serialized identity public keys are 33 bytes (0x05 ‖ X25519 key). */
const IDENTITY_KEY_LENGTH = 33;

/** Builds and signs a departure of `member` (ours for a leave) in `roomId` at `epoch` (RM-35). */
export function createDepartureAnnouncement(p: { identity: IdentityKeyPair; roomId: Uint8Array; epoch: number; member: Uint8Array; nowMs: number }): DepartureAnnouncement {
  const statement = toBinary(
    DepartureStatementSchema,
    create(DepartureStatementSchema, {
      roomId: p.roomId,
      epoch: p.epoch,
      signerIdentityKey: p.identity.publicKey.serialize(),
      memberIdentityKey: p.member,
      createdAtMs: BigInt(p.nowMs),
    }),
  );
  const signature = p.identity.privateKey.sign(concatBytes(DEPARTURE_SIGNATURE_LABEL, statement));
  return create(DepartureAnnouncementSchema, { statement, signature });
}

/** A departure statement whose every RM-35 field check and signature passed. */
export interface VerifiedDeparture {
  statement: DepartureStatement;
  signer: Uint8Array;
  member: Uint8Array;
}

/**
 * Checks a departure announcement (RM-35): the statement parses; room id equal to `roomId`;
 * epoch equal to `envelopeEpoch`; valid 33-byte signer key; 33-byte member key; 64-byte
 * signature by the signer over label ‖ statement as received. Throws ProtocolError
 * ("invalid_message" or "invalid_signature").
 */
export async function verifyDepartureAnnouncement(announcement: DepartureAnnouncement, roomId: Uint8Array, envelopeEpoch: number): Promise<VerifiedDeparture> {
  let st: DepartureStatement;
  try {
    st = fromBinary(DepartureStatementSchema, announcement.statement);
  } catch (e) {
    throw new ProtocolError("invalid_message", { cause: e });
  }
  if (st.roomId.length !== ROOM_ID_LENGTH || !constantTimeEqual(st.roomId, roomId)) throw new ProtocolError("invalid_message");
  if (st.epoch !== envelopeEpoch) throw new ProtocolError("invalid_message");
  if (st.memberIdentityKey.length !== IDENTITY_KEY_LENGTH || st.signerIdentityKey.length !== IDENTITY_KEY_LENGTH) throw new ProtocolError("invalid_message");
  let signer: PublicKey;
  try {
    signer = PublicKey.deserialize(st.signerIdentityKey);
  } catch (e) {
    throw new ProtocolError("invalid_message", { cause: e });
  }
  if (announcement.signature.length !== 64) throw new ProtocolError("invalid_signature");
  const ok = await signer.verifySignature(concatBytes(DEPARTURE_SIGNATURE_LABEL, announcement.statement), announcement.signature);
  if (!ok) throw new ProtocolError("invalid_signature");
  return { statement: st, signer: st.signerIdentityKey, member: st.memberIdentityKey };
}
