/**
 * Room authorization by access key (spec/10-relay-api.md API-18), shared by the RoomService and
 * the BlobService (API-61): SHA-256 of the presented key compared in constant time with the
 * stored hash. Owns nothing else.
 */
import { constantTimeEqual, SECRET_BYTES, sha256 } from "../auth.js";
import { relayError } from "../errors.js";
import type { RelayStore, RoomRecord } from "../store/relay-store.js";
import { requireLength, ROOM_ID_BYTES } from "./validate.js";

/** Validates ids, finds the room and checks the access key; returns the room and key hash. */
export async function authorizeRoom(store: RelayStore, roomId: Uint8Array, accessKey: Uint8Array): Promise<{ room: RoomRecord; hash: Uint8Array }> {
  requireLength(roomId, ROOM_ID_BYTES, "BAD_ROOM_ID");
  requireLength(accessKey, SECRET_BYTES, "BAD_ACCESS_KEY");
  const room = await store.getRoom(roomId);
  if (!room) throw relayError("ROOM_NOT_FOUND");
  const hash = sha256(accessKey);
  if (!constantTimeEqual(hash, room.accessKeyHash)) throw relayError("ROOM_ACCESS_DENIED");
  return { room, hash };
}
