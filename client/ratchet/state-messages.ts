/**
 * The small storage.v1 messages the ratchets build on every message, as complete literals.
 *
 * Owns: constructors of `ChainKey`, `SkippedMessageKey`, `PqChunk` and `PqSkippedKey`
 * (securecomm.storage.v1). Why: protobuf-es's `create(schema, init)` builds a zero message
 * and copies `init` in field by field through reflection, several times the cost of the
 * literal for these two-field messages, on every chain step (PERFORMANCE.md). A literal with
 * every field and the `$typeName` is the message `create` returns (`create` hands back any
 * object carrying the schema's `$typeName` as is); the types make every field required.
 * Does not own: what the fields mean (session_pb.ts, the ratchet modules).
 */

import type {
  ChainKey,
  PqChunk,
  PqSkippedKey,
  SkippedMessageKey,
} from "../../gen/securecomm/storage/v1/session_pb.js";

/** A chain key at `index` (ChainKey). */
export function chainKeyMessage(index: number, key: Uint8Array): ChainKey {
  return { $typeName: "securecomm.storage.v1.ChainKey", index, key };
}

/** The stored seed of skipped message `counter` (SkippedMessageKey). */
export function skippedKeyMessage(counter: number, seed: Uint8Array): SkippedMessageKey {
  return { $typeName: "securecomm.storage.v1.SkippedMessageKey", counter, seed };
}

/** A received Braid chunk (PqChunk). */
export function pqChunkMessage(index: number, data: Uint8Array): PqChunk {
  return { $typeName: "securecomm.storage.v1.PqChunk", index, data };
}

/** An SPQR key derived ahead of its message (PqSkippedKey). */
export function pqSkippedKeyMessage(index: number, key: Uint8Array): PqSkippedKey {
  return { $typeName: "securecomm.storage.v1.PqSkippedKey", index, key };
}
