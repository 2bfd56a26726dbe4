/**
 * The bytes of an SPQR message (the `pq_ratchet` field of a SignalMessage).
 *
 * Owns: encoding and strict parsing of `version ‖ epoch ‖ index ‖ type ‖ payload`
 * (spec PQ-04, PQ-09). Pure.
 * Does not own: what the payload means (spqr-braid.ts) or chain keys (spqr-chain.ts).
 */

import { concatBytes } from "../crypto/bytes.js";
import { ProtocolError } from "../errors.js";
import { SPQR_MESSAGE_VERSION } from "./constants.js";
import { CHUNK_BYTES, type Chunk, MAX_CHUNK_INDEX } from "./spqr-erasure.js";

/** SPQR payload types (spec PQ-09), as libsignal 0.103 numbers them. */
export const SpqrType = {
  None: 0,
  Hdr: 1,
  Ek: 2,
  EkCt1Ack: 3,
  Ct1Ack: 4,
  Ct1: 5,
  Ct2: 6,
} as const;
export type SpqrType = (typeof SpqrType)[keyof typeof SpqrType];

/** Types that carry a chunk (varint index ‖ 32 bytes). */
const CHUNK_TYPES: ReadonlySet<number> = new Set([SpqrType.Hdr, SpqrType.Ek, SpqrType.EkCt1Ack, SpqrType.Ct1, SpqrType.Ct2]);

/** A parsed SPQR message. */
export interface SpqrMessage {
  /** The Braid epoch the sender is in (≥ 1); its key comes from chain epoch `epoch − 1`. */
  readonly epoch: number;
  /** Index of the message's key in its chain epoch (≥ 1). */
  readonly index: number;
  readonly type: SpqrType;
  readonly chunk?: Chunk;
}

function encodeVarint(n: number): Uint8Array {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Uint8Array.from(out);
}

/** Reads a varint no larger than `max`; returns [value, next offset]. */
function decodeVarint(bytes: Uint8Array, offset: number, max: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    const b = bytes[offset + i];
    if (b === undefined) throw new ProtocolError("invalid_message");
    value += (b & 0x7f) * scale;
    if (value > max) throw new ProtocolError("invalid_message");
    scale *= 0x80;
    if ((b & 0x80) === 0) {
      // Reject non-minimal encodings (a trailing zero group), so each message has one encoding.
      if (i > 0 && b === 0) throw new ProtocolError("invalid_message");
      return [value, offset + i + 1];
    }
  }
  throw new ProtocolError("invalid_message");
}

/** Largest epoch accepted: epochs advance one per KEM round trip, so 2^32 is never reached honestly. */
const MAX_EPOCH = 0xffffffff;

/** Encodes an SPQR message (spec PQ-04, PQ-09). */
export function encodeSpqrMessage(m: SpqrMessage): Uint8Array {
  const head = concatBytes(
    Uint8Array.of(SPQR_MESSAGE_VERSION),
    encodeVarint(m.epoch),
    encodeVarint(m.index),
    Uint8Array.of(m.type),
  );
  if (!CHUNK_TYPES.has(m.type)) return head;
  if (m.chunk === undefined || m.chunk.data.length !== CHUNK_BYTES) throw new RangeError("chunk type needs a 32-byte chunk");
  return concatBytes(head, encodeVarint(m.chunk.index), m.chunk.data);
}

/**
 * Parses SPQR message bytes strictly (spec PQ-09): version 1, epoch ≥ 1, index ≥ 1, a known
 * type, and exactly the payload that type carries. Throws ProtocolError "invalid_message".
 */
export function parseSpqrMessage(bytes: Uint8Array): SpqrMessage {
  if (bytes.length < 4 || bytes[0] !== SPQR_MESSAGE_VERSION) throw new ProtocolError("invalid_message");
  const [epoch, afterEpoch] = decodeVarint(bytes, 1, MAX_EPOCH);
  const [index, afterIndex] = decodeVarint(bytes, afterEpoch, 0xffffffff);
  const type = bytes[afterIndex];
  if (epoch < 1 || index < 1 || type === undefined || type > SpqrType.Ct2) throw new ProtocolError("invalid_message");
  const t = type as SpqrType;
  if (!CHUNK_TYPES.has(t)) {
    if (afterIndex + 1 !== bytes.length) throw new ProtocolError("invalid_message");
    return { epoch, index, type: t };
  }
  const [chunkIndex, afterChunk] = decodeVarint(bytes, afterIndex + 1, MAX_CHUNK_INDEX);
  if (bytes.length - afterChunk !== CHUNK_BYTES) throw new ProtocolError("invalid_message");
  return { epoch, index, type: t, chunk: { index: chunkIndex, data: bytes.slice(afterChunk) } };
}
