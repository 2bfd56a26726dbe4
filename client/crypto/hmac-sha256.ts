/**
 * HMAC-SHA256 (RFC 2104, FIPS 180-4; spec EN-07) for short inputs, in plain TypeScript.
 *
 * Owns: `HmacSha256Key` (a key's inner and outer hash states, computed once and reused for
 * every message under that key) and the SHA-256 compression function behind it.
 * Why: the ratchets make many HMACs over a few dozen bytes each (chain steps, HKDF blocks,
 * message MACs: ~26 per DH-step message). Node's `createHmac` costs ~3.5 µs per call here,
 * almost all of it the call itself (a native object, a key import, a Buffer); this code does
 * a 32-byte-key HMAC of a short message in four compressions, and each further message
 * under the same key (HKDF's expand blocks, the chain step's two outputs) in two
 * (PERFORMANCE.md). kdf.ts uses it for inputs up to `SMALL_INPUT_BYTES` and Node's or noble's
 * HMAC above; kdf.test.ts and node-fast-paths.test.ts check it against both, and RFC 4231.
 * Does not own: HKDF (kdf.ts), constant-time comparison (bytes.ts). The computation has no
 * secret-dependent branches or indices (32-bit additions, rotations and table reads by round
 * number only).
 */

/** FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube roots of the first 64 primes. */
const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);

/** FIPS 180-4 §5.3.3: the initial hash value. */
const IV = Int32Array.from([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

/** SHA-256 block size in bytes. */
const BLOCK = 64;
/** SHA-256 output size in bytes. */
const DIGEST = 32;

// Scratch space: every function here runs to completion synchronously, so one set suffices.
// The block buffer is wiped after each MAC (it held key and message bytes).
const W = new Int32Array(64);
const buffer = new Uint8Array(BLOCK);

/** One SHA-256 compression of `bytes[offset..offset+64]` into `s` (FIPS 180-4 §6.2.2). */
function compress(s: Int32Array, bytes: Uint8Array, offset: number): void {
  for (let i = 0, o = offset; i < 16; i++, o += 4) {
    W[i] = ((bytes[o] as number) << 24) | ((bytes[o + 1] as number) << 16) | ((bytes[o + 2] as number) << 8) | (bytes[o + 3] as number);
  }
  for (let i = 16; i < 64; i++) {
    const w15 = W[i - 15] as number;
    const w2 = W[i - 2] as number;
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    W[i] = ((W[i - 16] as number) + s0 + (W[i - 7] as number) + s1) | 0;
  }
  let a = s[0] as number;
  let b = s[1] as number;
  let c = s[2] as number;
  let d = s[3] as number;
  let e = s[4] as number;
  let f = s[5] as number;
  let g = s[6] as number;
  let h = s[7] as number;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + (K[i] as number) + (W[i] as number)) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  s[0] = ((s[0] as number) + a) | 0;
  s[1] = ((s[1] as number) + b) | 0;
  s[2] = ((s[2] as number) + c) | 0;
  s[3] = ((s[3] as number) + d) | 0;
  s[4] = ((s[4] as number) + e) | 0;
  s[5] = ((s[5] as number) + f) | 0;
  s[6] = ((s[6] as number) + g) | 0;
  s[7] = ((s[7] as number) + h) | 0;
}

/** Writes state `s` big-endian into `out` at `offset`. */
function writeState(s: Int32Array, out: Uint8Array, offset: number): void {
  for (let i = 0; i < 8; i++) {
    const v = s[i] as number;
    out[offset + 4 * i] = v >>> 24;
    out[offset + 4 * i + 1] = v >>> 16;
    out[offset + 4 * i + 2] = v >>> 8;
    out[offset + 4 * i + 3] = v;
  }
}

/**
 * Hashes `parts` into `s`, which has already absorbed `absorbed` bytes (a multiple of 64),
 * pads, and leaves the digest state in `s` (FIPS 180-4 §5.1.1). Uses `buffer`.
 */
function absorbAndFinish(s: Int32Array, absorbed: number, parts: readonly Uint8Array[]): void {
  let fill = 0;
  let total = absorbed;
  for (const part of parts) {
    const n = part.length;
    total += n;
    let off = 0;
    if (fill > 0) {
      const take = Math.min(BLOCK - fill, n);
      buffer.set(part.subarray(0, take), fill);
      fill += take;
      off = take;
      if (fill < BLOCK) continue;
      compress(s, buffer, 0);
      fill = 0;
    }
    for (; n - off >= BLOCK; off += BLOCK) compress(s, part, off);
    if (off < n) {
      buffer.set(part.subarray(off), 0);
      fill = n - off;
    }
  }
  buffer[fill++] = 0x80;
  if (fill > BLOCK - 8) {
    buffer.fill(0, fill);
    compress(s, buffer, 0);
    fill = 0;
  }
  buffer.fill(0, fill, BLOCK - 8);
  const bits = total * 8;
  const high = Math.floor(bits / 0x100000000);
  const low = bits >>> 0;
  buffer[56] = high >>> 24;
  buffer[57] = high >>> 16;
  buffer[58] = high >>> 8;
  buffer[59] = high;
  buffer[60] = low >>> 24;
  buffer[61] = low >>> 16;
  buffer[62] = low >>> 8;
  buffer[63] = low;
  compress(s, buffer, 0);
}

/** SHA-256 of `parts` (used for keys longer than a block, RFC 2104 §2). */
function sha256Parts(parts: readonly Uint8Array[]): Uint8Array {
  const s = IV.slice();
  absorbAndFinish(s, 0, parts);
  const out = new Uint8Array(DIGEST);
  writeState(s, out, 0);
  buffer.fill(0);
  return out;
}

/** An HMAC-SHA256 key with its inner and outer states precomputed (RFC 2104 §2). */
export class HmacSha256Key {
  readonly #inner: Int32Array;
  readonly #outer: Int32Array;

  constructor(key: Uint8Array) {
    const k = key.length > BLOCK ? sha256Parts([key]) : key;
    this.#inner = IV.slice();
    this.#outer = IV.slice();
    buffer.fill(0);
    buffer.set(k, 0);
    for (let i = 0; i < BLOCK; i++) (buffer[i] as number) ^= 0x36;
    compress(this.#inner, buffer, 0);
    for (let i = 0; i < BLOCK; i++) (buffer[i] as number) ^= 0x36 ^ 0x5c;
    compress(this.#outer, buffer, 0);
    buffer.fill(0);
  }

  /** HMAC-SHA256 of the concatenation of `parts` under this key: 32 bytes. */
  mac(parts: readonly Uint8Array[]): Uint8Array {
    const s = this.#inner.slice();
    absorbAndFinish(s, BLOCK, parts);
    // Outer hash: one block holding the inner digest and the padding for 64 + 32 bytes.
    writeState(s, buffer, 0);
    buffer[DIGEST] = 0x80;
    buffer.fill(0, DIGEST + 1, BLOCK - 2);
    buffer[BLOCK - 2] = ((BLOCK + DIGEST) * 8) >>> 8;
    buffer[BLOCK - 1] = ((BLOCK + DIGEST) * 8) & 0xff;
    const o = this.#outer.slice();
    compress(o, buffer, 0);
    buffer.fill(0);
    const out = new Uint8Array(DIGEST);
    writeState(o, out, 0);
    return out;
  }

  /** Wipes the precomputed states (they are as secret as the key). */
  wipe(): void {
    this.#inner.fill(0);
    this.#outer.fill(0);
  }

  toString(): string {
    return "[HmacSha256Key: redacted]";
  }

  toJSON(): string {
    return this.toString();
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}
