/**
 * Room envelopes seen from a room record (spec RM-06, RM-08, RM-14).
 *
 * Owns: which secret opens an envelope of a given epoch (the current one or a kept previous
 * one), opening an envelope for a room record, and sealing a join announcement for an invite.
 * Does not own: the envelope format and its keys (room-keys.ts), join statements (join.ts),
 * what an opened envelope means (room-core.ts, room-rules.ts). Pure: no I/O.
 */
import { create } from "@bufbuild/protobuf";
import { RoomEnvelopeBodySchema } from "../../gen/securecomm/wire/v1/room_pb.js";
import type { RoomRecord } from "../../gen/securecomm/storage/v1/room_pb.js";
import type { IdentityKeyPair } from "../keys/identity.js";
import { createJoinAnnouncement } from "./join.js";
import { openRoomEnvelope, ROOM_SECRET_LENGTH, sealRoomEnvelope } from "./room-keys.js";

/** The room secret of `epoch` if we still hold it (RM-14: previous secrets are kept a while). */
export function secretFor(room: RoomRecord, epoch: number): Uint8Array | undefined {
  if (epoch === room.epoch && room.roomSecret.length === ROOM_SECRET_LENGTH) return room.roomSecret;
  return room.previousSecrets.find((p) => p.epoch === epoch)?.roomSecret;
}

/** Opens a room envelope with the secrets `room` holds (RM-06); throws when it does not open. */
export function openForRoom(room: RoomRecord, envelope: Uint8Array): ReturnType<typeof openRoomEnvelope> {
  return openRoomEnvelope(room.roomId, envelope, (epoch) => secretFor(room, epoch));
}

/** Our signed join announcement for an invite, sealed under the epoch the invite led to (RM-08 step 2). */
export function sealJoin(inv: { roomId: Uint8Array; roomSecret: Uint8Array; epoch: number }, identity: IdentityKeyPair, profile: { deliveryToken: Uint8Array; displayName: string }, nowMs: number): Uint8Array {
  const ann = createJoinAnnouncement({
    identity,
    roomId: inv.roomId,
    epoch: inv.epoch,
    deliveryToken: profile.deliveryToken,
    displayName: profile.displayName,
    nowMs,
  });
  return sealRoomEnvelope(inv.roomId, inv.roomSecret, inv.epoch, create(RoomEnvelopeBodySchema, { body: { case: "join", value: ann } }));
}
