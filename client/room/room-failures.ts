/**
 * How the room driver names failures (spec RM-06, RM-29).
 *
 * Owns: `sendFailureKind` (may a failed send succeed later?) and `reason` (the short, non-secret
 * text a failure is reported with). Does not own: retry scheduling (room-outbox.ts,
 * client/app's post outbox). Pure: no I/O.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { RoomRecord } from "../../gen/securecomm/storage/v1/room_pb.js";
import { isProtocolError } from "../errors.js";

/**
 * RM-29: whether a failed send may succeed if retried later (`transient`: the relay or the
 * network is unwell, or our access key was rotated and the new secret is on its way) or never
 * will (`permanent`: we left or were removed, the room is gone, the input is invalid).
 */
export function sendFailureKind(e: unknown, room: RoomRecord | undefined): "transient" | "permanent" {
  if (room === undefined || room.departed) return "permanent";
  if (e instanceof ConnectError) {
    if ([Code.Unavailable, Code.Unknown, Code.Internal, Code.Canceled, Code.DeadlineExceeded, Code.ResourceExhausted, Code.Aborted].includes(e.code)) return "transient";
    // Our key was rotated away: a member receives the new secret in its mailbox (RM-14).
    if (e.code === Code.PermissionDenied) return "transient";
    return "permanent";
  }
  if (e instanceof TypeError && /still being joined/.test(e.message)) return "transient";
  return "permanent";
}

/** The reported reason of a failure: a ProtocolError code, a relay code, or "internal". */
export function reason(e: unknown): string {
  if (isProtocolError(e)) return e.code;
  if (e instanceof ConnectError) return `relay:${Code[e.code]}`;
  return "internal";
}
