/**
 * Which room messages a member has already shown, by message id (issue 16: idempotent posts).
 *
 * Owns: `firstSighting` and the record under `room-seen/<room id hex>/ids`: the newest
 * `MAX_SEEN_MESSAGE_IDS` tags, each the first 16 bytes of SHA-256(sender identity key ‖
 * Content.message_id), oldest first. A sender whose post's answer was lost may post the same
 * message again (a fresh envelope with the same id, client/app/post-outbox.ts); receivers
 * show it once. The tag binds the sender, so one member cannot suppress another's message
 * by reusing its id. Does not own: what is shown (room-log.ts).
 */

import { concatBytes, constantTimeEqual } from "../crypto/bytes.js";
import { sha256 } from "../crypto/kdf.js";
import type { Txn } from "../store/state-store.js";
import { bytesToHex } from "./room-store.js";

/**
 * Message ids remembered per room. A retry follows its original within a few posts (the
 * sender re-reads the log before posting again), so 1,024 is far more than a duplicate can
 * be apart; the record stays at 16 KiB.
 */
export const MAX_SEEN_MESSAGE_IDS = 1024;
/** Bytes of one tag. */
const TAG_LENGTH = 16;

function keyOf(roomId: Uint8Array): string {
  return `room-seen/${bytesToHex(roomId)}/ids`;
}

/**
 * True the first time `(sender, messageId)` is seen in the room, and remembers it (in `t`,
 * so it commits with the room's `last_seq`); false for a repeat.
 */
export function firstSighting(t: Txn, roomId: Uint8Array, sender: Uint8Array, messageId: Uint8Array): boolean {
  const tag = sha256(concatBytes(sender, messageId)).slice(0, TAG_LENGTH);
  const seen = t.get(keyOf(roomId)) ?? new Uint8Array(0);
  for (let i = 0; i + TAG_LENGTH <= seen.length; i += TAG_LENGTH) {
    if (constantTimeEqual(seen.subarray(i, i + TAG_LENGTH), tag)) return false;
  }
  const keep = Math.min(seen.length, (MAX_SEEN_MESSAGE_IDS - 1) * TAG_LENGTH);
  t.put(keyOf(roomId), concatBytes(seen.subarray(seen.length - keep), tag));
  return true;
}
