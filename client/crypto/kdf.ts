/**
 * Hashes, HMAC and HKDF (RFC 5869) over SHA-2 (spec EN-07).
 *
 * Owns: the hash and KDF primitives every Signal construction uses (HKDF-SHA256 for PQXDH,
 * the ratchets, sender keys and sealed sender; SHA-512 for XEdDSA and safety numbers).
 * Does not own: any KDF label (those are named constants in the module that uses them).
 * Synchronous on purpose, so the pure ratchet functions stay synchronous: on Node through
 * `node:crypto`'s synchronous OpenSSL calls (HMAC about 2.5× noble's for a chain step,
 * PERFORMANCE.md), self-checked once against noble; elsewhere through noble. The `…Portable`
 * functions are the noble path, exported for the differential tests.
 * On Node, HMACs over at most `SMALL_INPUT_BYTES` (every chain step, HKDF block and message
 * key of the ratchets) go through hmac-sha256-small.ts instead: the `createHmac` call costs more
 * than hashing a few dozen bytes, and a key's HMAC states are set up once for all the blocks
 * of one HKDF or both outputs of a chain step (PERFORMANCE.md). It is self-checked once too.
 */
import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 as nobleSha256, sha512 as nobleSha512 } from "@noble/hashes/sha2.js";
import { hkdfSha256Small, hmacSha256Key, hmacSha256Small } from "./hmac-sha256-small.js";
import { type NodeCrypto, plainBytes, selfChecked } from "./node-crypto.js";

/** Self-check input: RFC 4231 test case 2 ("Jefe" / "what do ya want for nothing?"). */
const CHECK_KEY = new TextEncoder().encode("Jefe");
const CHECK_DATA = new TextEncoder().encode("what do ya want for nothing?");

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Node's hashes, HMAC and HKDF, if present and equal to noble on the RFC 4231 input. */
const nodeHashes = selfChecked(
  (crypto) =>
    sameBytes(plainBytes(crypto.createHmac("sha256", CHECK_KEY).update(CHECK_DATA).digest()), hmac(nobleSha256, CHECK_KEY, CHECK_DATA)) &&
    sameBytes(plainBytes(crypto.createHash("sha256").update(CHECK_DATA).digest()), nobleSha256(CHECK_DATA)) &&
    sameBytes(plainBytes(crypto.createHash("sha512").update(CHECK_DATA).digest()), nobleSha512(CHECK_DATA)) &&
    sameBytes(hkdfNode(crypto, CHECK_DATA, CHECK_KEY, CHECK_DATA, 80), hkdf(nobleSha256, CHECK_DATA, CHECK_KEY, CHECK_DATA, 80)) &&
    sameBytes(hkdfNode(crypto, CHECK_DATA, undefined, CHECK_DATA, 42), hkdf(nobleSha256, CHECK_DATA, undefined, CHECK_DATA, 42)),
);

/**
 * Longest HMAC input (all parts together) hashed by hmac-sha256-small.ts on Node: below about this
 * many bytes it beats a `createHmac` call (measured: 1 byte 2.8 vs 3.7 µs, 64 bytes 2.2–3.3
 * vs 3.1–3.5 µs, 256 bytes 4.3 vs 2.5–3.6 µs; a further message under a prepared key 1.1 µs).
 */
export const SMALL_INPUT_BYTES = 160;

/** The small-input HMAC on Node, if Node is there and it computes RFC 4231 case 2 right. */
const smallHmac = selfChecked(
  (crypto) =>
    nodeHashes() !== undefined &&
    sameBytes(hmacSha256Small(CHECK_KEY, CHECK_DATA), plainBytes(crypto.createHmac("sha256", CHECK_KEY).update(CHECK_DATA).digest())),
);

function totalLength(parts: readonly Uint8Array[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}

/** Whether the Node path of this module is in use (for tests and benchmarks). */
export function kdfUsesNode(): boolean {
  return nodeHashes() !== undefined;
}

/** SHA-256 output length (HashLen). */
const SHA256_LENGTH = 32;
/** HKDF's output limit for SHA-256 (RFC 5869 §2.3: L <= 255 * HashLen). */
const HKDF_SHA256_MAX_LENGTH = 255 * SHA256_LENGTH;
const EMPTY = new Uint8Array(0);

/**
 * HKDF-SHA256 (RFC 5869). `salt` undefined means "no salt" (HashLen zero bytes, which is what
 * Signal's "salt = none" denotes; RFC 5869 §2.2).
 */
export function hkdfSha256(
  ikm: Uint8Array,
  salt: Uint8Array | undefined,
  info: Uint8Array,
  length: number,
): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > HKDF_SHA256_MAX_LENGTH) {
    throw new RangeError("hkdfSha256: bad output length");
  }
  const crypto = nodeHashes();
  if (crypto === undefined) return hkdfSha256Portable(ikm, salt, info, length);
  if (ikm.length <= SMALL_INPUT_BYTES && info.length + SHA256_LENGTH + 1 <= SMALL_INPUT_BYTES && smallHmac() !== undefined) {
    return hkdfSha256Small(ikm, salt, info, length);
  }
  return hkdfNode(crypto, ikm, salt, info, length);
}

/**
 * RFC 5869 extract and expand on Node's HMAC: for the short outputs of the protocol this is
 * faster than `hkdfSync`, which imports a key object per call (PERFORMANCE.md).
 */
function hkdfNode(crypto: NodeCrypto, ikm: Uint8Array, salt: Uint8Array | undefined, info: Uint8Array, length: number): Uint8Array {
  // No salt and an empty salt are the same HMAC key (RFC 2104 pads keys with zeros).
  const prk = crypto.createHmac("sha256", salt ?? EMPTY).update(ikm).digest();
  const out = new Uint8Array(length);
  let previous: Uint8Array = EMPTY;
  for (let block = 1, offset = 0; offset < length; block++, offset += SHA256_LENGTH) {
    previous = crypto.createHmac("sha256", prk).update(previous).update(info).update(Uint8Array.of(block)).digest();
    out.set(previous.subarray(0, Math.min(SHA256_LENGTH, length - offset)), offset);
  }
  return out;
}

/** `hkdfSha256` through noble (the portable path). */
export function hkdfSha256Portable(ikm: Uint8Array, salt: Uint8Array | undefined, info: Uint8Array, length: number): Uint8Array {
  return hkdf(nobleSha256, ikm, salt, info, length);
}

/** HMAC-SHA256 (RFC 2104) of `data` under `key`: 32 bytes. */
export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  const crypto = nodeHashes();
  if (crypto === undefined) return hmac(nobleSha256, key, data);
  if (data.length <= SMALL_INPUT_BYTES && smallHmac() !== undefined) return hmacSha256Small(key, data);
  return plainBytes(crypto.createHmac("sha256", key).update(data).digest());
}

/**
 * HMAC-SHA256 of the concatenation of `parts` (spec EN-07), fed to the hash part by part rather
 * than copied into one buffer first: the same bytes as `hmacSha256(key, concatBytes(...parts))`
 * (property in kdf.test.ts).
 */
export function hmacSha256Parts(key: Uint8Array, parts: readonly Uint8Array[]): Uint8Array {
  const crypto = nodeHashes();
  if (crypto !== undefined && totalLength(parts) <= SMALL_INPUT_BYTES && smallHmac() !== undefined) {
    return hmacSha256Small(key, ...parts);
  }
  if (crypto !== undefined) {
    const h = crypto.createHmac("sha256", key);
    for (const part of parts) h.update(part);
    return plainBytes(h.digest());
  }
  const h = hmac.create(nobleSha256, key);
  for (const part of parts) h.update(part);
  return h.digest();
}

/**
 * HMAC-SHA256 of each of `messages` under one `key` (spec EN-07): the same bytes as
 * `hmacSha256(key, m)` for each m (property in kdf.test.ts), with the keyed inner and outer
 * states set up once and cloned, which is half the hashing for the short inputs of a chain step.
 */
export function hmacSha256Each(key: Uint8Array, messages: readonly Uint8Array[]): Uint8Array[] {
  const crypto = nodeHashes();
  if (crypto !== undefined && messages.every((m) => m.length <= SMALL_INPUT_BYTES) && smallHmac() !== undefined) {
    const keyed = hmacSha256Key(key);
    return messages.map((m) => hmacSha256Small(keyed, m));
  }
  if (crypto !== undefined) return messages.map((m) => plainBytes(crypto.createHmac("sha256", key).update(m).digest()));
  const keyed = hmac.create(nobleSha256, key);
  return messages.map((m) => keyed.clone().update(m).digest());
}

/** SHA-256 digest: 32 bytes. */
export function sha256(data: Uint8Array): Uint8Array {
  const crypto = nodeHashes();
  if (crypto !== undefined) return plainBytes(crypto.createHash("sha256").update(data).digest());
  return nobleSha256(data);
}

/** SHA-512 digest: 64 bytes. */
export function sha512(data: Uint8Array): Uint8Array {
  const crypto = nodeHashes();
  if (crypto !== undefined) return plainBytes(crypto.createHash("sha512").update(data).digest());
  return nobleSha512(data);
}

/** The noble (portable) paths of `hmacSha256`, `sha256` and `sha512`, for differential tests. */
export const portable = {
  hmacSha256: (key: Uint8Array, data: Uint8Array): Uint8Array => hmac(nobleSha256, key, data),
  sha256: (data: Uint8Array): Uint8Array => nobleSha256(data),
  sha512: (data: Uint8Array): Uint8Array => nobleSha512(data),
} as const;
