/**
 * HMAC-SHA256 and HKDF-SHA256 (RFC 2104, RFC 4231, RFC 5869; FIPS 180-4 SHA-256) for the short
 * inputs of per-message key derivation, computed in JavaScript.
 *
 * Owns: `hmacSha256Small`, `hmacSha256Pair` and `hkdfSha256Small`. Why not node:crypto: for a
 * 1- to 100-byte message each `createHmac` call costs ~4 µs of binding overhead, while the
 * work itself is 4 SHA-256 compressions (~0.45 µs each here in plain 32-bit JavaScript). A
 * sender-key message derives 5 HMACs and a sealed-sender envelope 10 on each side
 * (client/crypto/PERFORMANCE.md, "Sender keys and sealed sender"). The HMAC key's padded
 * blocks are compressed once per key (the RFC 2104 ipad/opad midstates) and reused for each
 * message under that key. Only 32-bit integer operations, no table lookups by secret data and
 * no branches on it: as constant-time as the portable SHA-256 it stands beside.
 * Checked against node:crypto on random keys and messages and on the RFC 4231 / RFC 5869
 * vectors (hmac-sha256-small.test.ts). Keys longer than one block are hashed first (RFC 2104).
 * Does not own: the general-purpose KDF entry points (kdf.ts), which other modules use.
 */

/** SHA-256 round constants (FIPS 180-4 §4.2.2). */
const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
  0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
  0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
  0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** SHA-256 initial hash value (FIPS 180-4 §5.3.3). */
const INITIAL = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

/** SHA-256 block and output lengths. */
const BLOCK = 64;
const DIGEST = 32;

/** Message schedule, reused by every compression (single-threaded, never re-entered). */
const W = new Int32Array(64);

/**
 * One SHA-256 compression into `state` (FIPS 180-4 §6.2.2) of the block whose 16 big-endian
 * words are already in `W[0..16]`.
 */
function compressSchedule(state: Int32Array): void {
  for (let i = 16; i < 64; i++) {
    const x = W[i - 15] as number;
    const y = W[i - 2] as number;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    W[i] = ((W[i - 16] as number) + s0 + (W[i - 7] as number) + s1) | 0;
  }
  let a = state[0] as number;
  let b = state[1] as number;
  let c = state[2] as number;
  let d = state[3] as number;
  let e = state[4] as number;
  let f = state[5] as number;
  let g = state[6] as number;
  let h = state[7] as number;
  for (let i = 0; i < 64; i++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + s1 + ((e & f) ^ (~e & g)) + (K[i] as number) + (W[i] as number)) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  state[0] = ((state[0] as number) + a) | 0;
  state[1] = ((state[1] as number) + b) | 0;
  state[2] = ((state[2] as number) + c) | 0;
  state[3] = ((state[3] as number) + d) | 0;
  state[4] = ((state[4] as number) + e) | 0;
  state[5] = ((state[5] as number) + f) | 0;
  state[6] = ((state[6] as number) + g) | 0;
  state[7] = ((state[7] as number) + h) | 0;
}

/** One SHA-256 compression of `block[offset .. offset + 64]` into `state` (FIPS 180-4 §6.2.2). */
function compress(state: Int32Array, block: Uint8Array, offset: number): void {
  for (let i = 0; i < 16; i++) {
    const j = offset + 4 * i;
    W[i] = ((block[j] as number) << 24) | ((block[j + 1] as number) << 16) | ((block[j + 2] as number) << 8) | (block[j + 3] as number);
  }
  compressSchedule(state);
}

/** One compression of the 16 words `words[0..16]` into `state`. */
function compressWords(state: Int32Array, words: Int32Array): void {
  for (let i = 0; i < 16; i++) W[i] = words[i] as number;
  compressSchedule(state);
}

/**
 * Longest message finished in one block after a whole-block prefix: 64 − 1 (the 0x80 byte) − 8
 * (the bit length) bytes. Every per-message HMAC of the sender-key chain and of HKDF's expand
 * step is this short.
 */
const ONE_BLOCK_MESSAGE = BLOCK - 9;

/** The padded last block of a short message, as 16 big-endian words (wiped after use). */
const M = new Int32Array(16);

/**
 * Finishes a hash whose `state` has absorbed `prefixBlocks` whole blocks with `parts` (at most
 * `ONE_BLOCK_MESSAGE` bytes together): the parts, the 0x80 byte and the bit length (FIPS 180-4
 * §5.1.1) in one block, one compression. The digest stays in `state`.
 */
function finishShort(state: Int32Array, prefixBlocks: number, parts: readonly Uint8Array[], total: number): void {
  M.fill(0);
  let p = 0;
  for (const part of parts) p = packWords(part, p);
  M[p >> 2] = (M[p >> 2] as number) | (0x80 << (24 - 8 * (p & 3)));
  M[15] = (prefixBlocks * BLOCK + total) * 8;
  compressWords(state, M);
}

/**
 * Packs `bytes` into `M` as big-endian words from byte position `p` (M zeroed beyond `p`);
 * returns the position after them. Four bytes at a time while word-aligned.
 */
function packWords(bytes: Uint8Array, p: number): number {
  let i = 0;
  if ((p & 3) === 0) {
    for (; i + 4 <= bytes.length; i += 4, p += 4) {
      M[p >> 2] = ((bytes[i] as number) << 24) | ((bytes[i + 1] as number) << 16) | ((bytes[i + 2] as number) << 8) | (bytes[i + 3] as number);
    }
  }
  for (; i < bytes.length; i++, p++) M[p >> 2] = (M[p >> 2] as number) | ((bytes[i] as number) << (24 - 8 * (p & 3)));
  return p;
}

/** Writes the 32-byte digest held in `state` to `out[offset..]`. */
function digestInto(state: Int32Array, out: Uint8Array, offset: number): void {
  for (let i = 0; i < 8; i++) {
    const v = state[i] as number;
    out[offset + 4 * i] = v >>> 24;
    out[offset + 4 * i + 1] = v >>> 16;
    out[offset + 4 * i + 2] = v >>> 8;
    out[offset + 4 * i + 3] = v;
  }
}

/** Scratch block for the final padded block(s). */
const TAIL = new Uint8Array(2 * BLOCK);

/**
 * Finishes a hash whose `state` has absorbed `prefixBlocks` whole blocks: absorbs the parts
 * (concatenated), pads (FIPS 180-4 §5.1.1) and writes the digest to `out[outOffset..]`.
 */
function finish(state: Int32Array, prefixBlocks: number, parts: readonly Uint8Array[], out: Uint8Array, outOffset: number): void {
  let total = 0;
  let fill = 0;
  for (const part of parts) {
    let i = 0;
    total += part.length;
    // Whole blocks straight from the part when the tail is empty.
    if (fill === 0) {
      for (; i + BLOCK <= part.length; i += BLOCK) compress(state, part, i);
    }
    for (; i < part.length; i++) {
      TAIL[fill++] = part[i] as number;
      if (fill === BLOCK) {
        compress(state, TAIL, 0);
        fill = 0;
      }
    }
  }
  TAIL[fill++] = 0x80;
  const end = fill + 8 <= BLOCK ? BLOCK : 2 * BLOCK;
  TAIL.fill(0, fill, end);
  const bits = (prefixBlocks * BLOCK + total) * 8;
  // Message lengths here stay far below 2^53 bits: the high word is bits / 2^32.
  const high = Math.floor(bits / 0x1_0000_0000);
  TAIL[end - 8] = high >>> 24;
  TAIL[end - 7] = high >>> 16;
  TAIL[end - 6] = high >>> 8;
  TAIL[end - 5] = high;
  TAIL[end - 4] = bits >>> 24;
  TAIL[end - 3] = bits >>> 16;
  TAIL[end - 2] = bits >>> 8;
  TAIL[end - 1] = bits;
  compress(state, TAIL, 0);
  if (end === 2 * BLOCK) compress(state, TAIL, BLOCK);
  TAIL.fill(0);
  digestInto(state, out, outOffset);
}

/** SHA-256 of the concatenated parts (used for keys longer than a block). */
function sha256Parts(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(DIGEST);
  finish(INITIAL.slice(), 0, parts, out, 0);
  return out;
}

/** An HMAC-SHA256 key with its inner and outer padded blocks already compressed (RFC 2104). */
export interface HmacSha256Key {
  readonly inner: Int32Array;
  readonly outer: Int32Array;
}

/** Prepares `key` (any length; longer than 64 bytes is hashed first, RFC 2104 §2). */
export function hmacSha256Key(key: Uint8Array): HmacSha256Key {
  const k = key.length > BLOCK ? sha256Parts([key]) : key;
  // The key zero-padded to a block, as big-endian words, then XORed with ipad / opad.
  M.fill(0);
  packWords(k, 0);
  return keyFromBlock();
}

/**
 * The prepared key whose zero-padded block is in `M` (as words), into `into` (fresh arrays by
 * default; a scratch key for one-call keys, which the caller wipes); wipes `M`.
 */
function keyFromBlock(into: HmacSha256Key = { inner: new Int32Array(8), outer: new Int32Array(8) }): HmacSha256Key {
  const { inner, outer } = into;
  inner.set(INITIAL);
  outer.set(INITIAL);
  for (let i = 0; i < 16; i++) W[i] = (M[i] as number) ^ 0x36363636;
  compressSchedule(inner);
  for (let i = 0; i < 16; i++) W[i] = (M[i] as number) ^ 0x5c5c5c5c;
  compressSchedule(outer);
  M.fill(0);
  return { inner, outer };
}

const innerDigest = new Uint8Array(DIGEST);
const innerDigestParts = [innerDigest];
/** Working state of the hash being finished (copied from a prepared key's midstate). */
const work = new Int32Array(8);

/** HMAC-SHA256 under a prepared key over the concatenation of `parts`, into `out[offset..]`. */
function macInto(key: HmacSha256Key, parts: readonly Uint8Array[], out: Uint8Array, offset: number): void {
  let total = 0;
  for (const part of parts) total += part.length;
  if (total > ONE_BLOCK_MESSAGE) {
    work.set(key.inner);
    finish(work, 1, parts, innerDigest, 0);
    work.set(key.outer);
    finish(work, 1, innerDigestParts, out, offset);
    return;
  }
  macShort(key, parts, total);
  digestInto(work, out, offset);
}

/**
 * HMAC-SHA256 under a prepared key of `parts` (`total` ≤ `ONE_BLOCK_MESSAGE` bytes): two
 * compressions; the MAC is left in `work` as words.
 */
function macShort(key: HmacSha256Key, parts: readonly Uint8Array[], total: number): void {
  work.set(key.inner);
  finishShort(work, 1, parts, total);
  // The outer hash's one block: the inner digest (still as words), 0x80, the bit length of
  // opad block ‖ digest.
  for (let i = 0; i < 8; i++) M[i] = work[i] as number;
  M.fill(0, 8);
  M[8] = 0x80 << 24;
  M[15] = (BLOCK + DIGEST) * 8;
  work.set(key.outer);
  compressWords(work, M);
  M.fill(0);
}

/** HMAC-SHA256(key, parts concatenated): 32 bytes. */
export function hmacSha256Small(key: Uint8Array | HmacSha256Key, ...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(DIGEST);
  macInto(key instanceof Uint8Array ? hmacSha256Key(key) : key, parts, out, 0);
  return out;
}

/**
 * Scratch prepared key for keys used within one call only (a chain step's chain key, HKDF's
 * PRK): no allocation per call; wiped before the call returns.
 */
const oneCallKey: HmacSha256Key = { inner: new Int32Array(8), outer: new Int32Array(8) };
const EMPTY = new Uint8Array(0);
/** Scratch part lists and HKDF counter byte (single-threaded; emptied after use). */
const onePart: Uint8Array[] = [EMPTY];
const twoParts: Uint8Array[] = [EMPTY, EMPTY];
const threeParts: Uint8Array[] = [EMPTY, EMPTY, EMPTY];
const counter = new Uint8Array(1);

function wipeOneCallKey(): void {
  oneCallKey.inner.fill(0);
  oneCallKey.outer.fill(0);
}

/** HMAC-SHA256 of two messages under one key (the key prepared once): a chain step. */
export function hmacSha256Pair(key: Uint8Array, first: Uint8Array, second: Uint8Array): [Uint8Array, Uint8Array] {
  let k: HmacSha256Key;
  if (key.length <= BLOCK) {
    M.fill(0);
    packWords(key, 0);
    k = keyFromBlock(oneCallKey);
  } else {
    k = hmacSha256Key(key);
  }
  const out = new Uint8Array(2 * DIGEST);
  onePart[0] = first;
  macInto(k, onePart, out, 0);
  onePart[0] = second;
  macInto(k, onePart, out, DIGEST);
  onePart[0] = EMPTY;
  wipeOneCallKey();
  work.fill(0);
  return [out.subarray(0, DIGEST), out.subarray(DIGEST)];
}

/** Prepared key of HKDF-Extract's default salt, a block of zeros (RFC 5869 §2.2). */
let zeroSaltKey: HmacSha256Key | undefined;

/**
 * HKDF-SHA256 (RFC 5869): Extract with `salt` (none → 32 zero bytes), then Expand with `info`
 * to `length` bytes (at most 255 · 32).
 */
export function hkdfSha256Small(ikm: Uint8Array, salt: Uint8Array | undefined, info: Uint8Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > 255 * DIGEST) throw new RangeError("hkdf: bad output length");
  const saltKey = salt === undefined || salt.length === 0 ? (zeroSaltKey ??= hmacSha256Key(new Uint8Array(DIGEST))) : hmacSha256Key(salt);
  let prkKey: HmacSha256Key;
  if (ikm.length <= ONE_BLOCK_MESSAGE) {
    // PRK stays in words: straight from the extract MAC into the expand key's block.
    onePart[0] = ikm;
    macShort(saltKey, onePart, ikm.length);
    onePart[0] = EMPTY;
    M.fill(0);
    for (let i = 0; i < 8; i++) M[i] = work[i] as number;
    work.fill(0);
    prkKey = keyFromBlock(oneCallKey);
  } else {
    const prk = hmacSha256Small(saltKey, ikm);
    prkKey = hmacSha256Key(prk);
    prk.fill(0);
  }
  const blocks = Math.ceil(length / DIGEST);
  const okm = new Uint8Array(blocks * DIGEST);
  for (let i = 0; i < blocks; i++) {
    counter[0] = i + 1;
    if (i === 0) {
      twoParts[0] = info;
      twoParts[1] = counter;
      macInto(prkKey, twoParts, okm, 0);
    } else {
      threeParts[0] = okm.subarray((i - 1) * DIGEST, i * DIGEST);
      threeParts[1] = info;
      threeParts[2] = counter;
      macInto(prkKey, threeParts, okm, i * DIGEST);
    }
  }
  twoParts.fill(EMPTY);
  threeParts.fill(EMPTY);
  if (prkKey === oneCallKey) wipeOneCallKey();
  innerDigest.fill(0);
  work.fill(0);
  return length === okm.length ? okm : okm.slice(0, length);
}
