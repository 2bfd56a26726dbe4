/**
 * Hashes, HMAC and HKDF (RFC 5869) over SHA-2 (spec EN-07).
 *
 * Owns: the hash and KDF primitives every Signal construction uses (HKDF-SHA256 for PQXDH,
 * the ratchets, sender keys and sealed sender; SHA-512 for XEdDSA and safety numbers).
 * Does not own: any KDF label (those are named constants in the module that uses them).
 * Synchronous on purpose: noble's SHA-2 is fast enough for these small inputs and keeps the
 * pure ratchet functions synchronous.
 */
import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 as nobleSha256, sha512 as nobleSha512 } from "@noble/hashes/sha2.js";

/** HKDF's output limit for SHA-256 (RFC 5869 §2.3: L <= 255 * HashLen). */
const HKDF_SHA256_MAX_LENGTH = 255 * 32;

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
  return hkdf(nobleSha256, ikm, salt, info, length);
}

/** HMAC-SHA256 (RFC 2104) of `data` under `key`: 32 bytes. */
export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  return hmac(nobleSha256, key, data);
}

/**
 * HMAC-SHA256 of the concatenation of `parts` (spec EN-07), fed to the hash part by part rather
 * than copied into one buffer first: the same bytes as `hmacSha256(key, concatBytes(...parts))`
 * (property in kdf.test.ts).
 */
export function hmacSha256Parts(key: Uint8Array, parts: readonly Uint8Array[]): Uint8Array {
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
  const keyed = hmac.create(nobleSha256, key);
  return messages.map((m) => keyed.clone().update(m).digest());
}

/** SHA-256 digest: 32 bytes. */
export function sha256(data: Uint8Array): Uint8Array {
  return nobleSha256(data);
}

/** SHA-512 digest: 64 bytes. */
export function sha512(data: Uint8Array): Uint8Array {
  return nobleSha512(data);
}
