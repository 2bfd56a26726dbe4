/**
 * The few protobuf wire pieces the sender-key codecs write and read by hand (varints and
 * length-delimited fields), so a message on the hot path is sized once and written into one
 * buffer instead of going through protobuf-es's reflective codec.
 *
 * Owns: varint size/write/read for uint32 values and the tag bytes of fields 1..15.
 * Does not own: which fields a message has (record-codec.ts, messages.ts), strictness rules
 * (client/crypto/proto-strict.ts decides; the hand readers only take the plain case and leave
 * everything else to it).
 */

/** Largest value of a uint32 field. */
export const MAX_UINT32 = 0xffff_ffff;

/** Wire type of varint fields. */
export const WIRE_VARINT = 0;
/** Wire type of length-delimited fields (bytes, messages). */
export const WIRE_LENGTH_DELIMITED = 2;

/** The one-byte tag of field `number` (1..15) with `wireType`. */
export function tag(number: number, wireType: number): number {
  return (number << 3) | wireType;
}

/** Bytes of the varint encoding of a uint32 `n`. */
export function varintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x20_0000) return 3;
  if (n < 0x1000_0000) return 4;
  return 5;
}

/** Whether `n` can be written as a uint32 field. */
export function isUint32(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= MAX_UINT32;
}

/** Writes uint32 `n` as a varint at `pos`; returns the position after it. */
export function writeVarint(out: Uint8Array, pos: number, n: number): number {
  let v = n;
  while (v >= 0x80) {
    out[pos++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[pos++] = v;
  return pos;
}

/** Writes a length-delimited field: tag, length, bytes. Returns the position after it. */
export function writeBytesField(out: Uint8Array, pos: number, tagByte: number, bytes: Uint8Array): number {
  out[pos++] = tagByte;
  pos = writeVarint(out, pos, bytes.length);
  out.set(bytes, pos);
  return pos + bytes.length;
}

/** Size of a length-delimited field with a one-byte tag and `length` content bytes. */
export function bytesFieldSize(length: number): number {
  return 1 + varintSize(length) + length;
}

/**
 * Reads a minimally encoded uint32 varint at `pos` (at most 5 bytes, value below 2^32), as
 * `[value, next position]`, or `undefined` for anything else (truncated, over-long,
 * non-minimal, too large): callers then hand the whole input to the general decoder.
 */
export function readPlainVarint(bytes: Uint8Array, pos: number): [number, number] | undefined {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 5; i++) {
    if (pos >= bytes.length) return undefined;
    const b = bytes[pos++] as number;
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) {
      // A zero last byte after the first is a non-minimal encoding.
      if (b === 0 && i > 0) return undefined;
      return value <= MAX_UINT32 ? [value, pos] : undefined;
    }
    scale *= 0x80;
  }
  return undefined;
}
