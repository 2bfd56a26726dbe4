/**
 * Byte helpers shared by every protocol module.
 *
 * Owns: concatenation, constant-time comparison, CSPRNG bytes, UTF-8 and big-endian integer
 * encodings. Does not own: any protocol framing (each format lives in its own module).
 */

/** Concatenates byte arrays into one new array. */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/**
 * Compares two byte arrays in time that depends only on their lengths, never on their contents
 * (spec EN-11). Different lengths compare unequal (lengths are public).
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

/**
 * WebCrypto's getRandomValues refuses more than 65,536 bytes per call (a Web Crypto limit), so
 * larger requests are filled in chunks.
 */
const MAX_RANDOM_CHUNK = 65_536;

/** Returns `n` bytes from the platform CSPRNG, `crypto.getRandomValues` (spec EN-10). */
export function randomBytes(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError("randomBytes: bad length");
  const out = new Uint8Array(n);
  for (let off = 0; off < n; off += MAX_RANDOM_CHUNK) {
    globalThis.crypto.getRandomValues(out.subarray(off, Math.min(n, off + MAX_RANDOM_CHUNK)));
  }
  return out;
}

const encoder = new TextEncoder();

/** UTF-8 encoding of `s`. */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** 4-byte big-endian encoding of an unsigned 32-bit integer. */
export function be32(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff) throw new RangeError("be32: out of range");
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n, false);
  return out;
}

/** 8-byte big-endian encoding of an unsigned 64-bit integer. */
export function be64(n: bigint | number): Uint8Array {
  const v = typeof n === "bigint" ? n : BigInt(n);
  if (v < 0n || v > 0xffff_ffff_ffff_ffffn) throw new RangeError("be64: out of range");
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, v, false);
  return out;
}

/** Lower-case hexadecimal encoding (for vectors and tests; never log key material with it). */
export function bytesToHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** Decodes hexadecimal; odd length or a non-hex digit is a `RangeError` (misuse). */
export function hexToBytes(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new RangeError("hexToBytes: not hex");
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}
