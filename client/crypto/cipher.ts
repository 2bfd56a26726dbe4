/**
 * Symmetric ciphers: AES-256 in CBC (PKCS#7), CTR and GCM modes (spec EN-08).
 *
 * Owns: the cipher calls and their failure mapping (malformed CBC input →
 * `invalid_ciphertext`, GCM tag mismatch → `bad_mac`). Does not own: MACs around CBC/CTR
 * (callers verify their HMAC before decrypting, as Signal does).
 * Synchronous (noble) so pure ratchet steps stay synchronous.
 */
import { cbc, ctr, gcm } from "@noble/ciphers/aes.js";
import { ProtocolError } from "../errors.js";

/** AES-256 key length in bytes. */
export const AES256_KEY_LENGTH = 32;
/** AES block length in bytes, which is also the CBC IV and CTR counter-block length. */
export const AES_BLOCK_LENGTH = 16;
/** GCM nonce length in bytes (96 bits, the length GCM is specified for; SP 800-38D §5.2.1.1). */
export const AES_GCM_NONCE_LENGTH = 12;
/** GCM tag length in bytes (full 128-bit tag). */
export const AES_GCM_TAG_LENGTH = 16;

function checkLength(bytes: Uint8Array, length: number, what: string): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
    throw new RangeError(`${what} must be ${length} bytes`);
  }
}

/** AES-256-CBC encryption with PKCS#7 padding (Signal's message cipher). */
export function aes256CbcEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array): Uint8Array {
  checkLength(key, AES256_KEY_LENGTH, "AES key");
  checkLength(iv, AES_BLOCK_LENGTH, "CBC IV");
  return cbc(key, iv).encrypt(plaintext);
}

/**
 * AES-256-CBC decryption with PKCS#7 padding. Throws `ProtocolError("invalid_ciphertext")`
 * when the ciphertext is empty, not a whole number of blocks, or its padding is malformed.
 */
export function aes256CbcDecrypt(key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  checkLength(key, AES256_KEY_LENGTH, "AES key");
  checkLength(iv, AES_BLOCK_LENGTH, "CBC IV");
  if (ciphertext.length === 0 || ciphertext.length % AES_BLOCK_LENGTH !== 0) {
    throw new ProtocolError("invalid_ciphertext");
  }
  try {
    return cbc(key, iv).decrypt(ciphertext);
  } catch {
    throw new ProtocolError("invalid_ciphertext");
  }
}

/**
 * AES-256-CTR with a 16-byte initial counter block (big-endian increment); encryption and
 * decryption are the same operation. Sealed sender uses it with an all-zero IV.
 */
export function aes256Ctr(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  checkLength(key, AES256_KEY_LENGTH, "AES key");
  checkLength(iv, AES_BLOCK_LENGTH, "CTR IV");
  return ctr(key, iv).encrypt(data);
}

/** AES-256-GCM encryption: ciphertext ‖ 16-byte tag. */
export function aes256GcmEncrypt(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  checkLength(key, AES256_KEY_LENGTH, "AES key");
  checkLength(nonce, AES_GCM_NONCE_LENGTH, "GCM nonce");
  return gcm(key, nonce, aad).encrypt(plaintext);
}

/**
 * AES-256-GCM decryption of ciphertext ‖ tag. Throws `ProtocolError("bad_mac")` when the tag
 * does not verify or the input is shorter than a tag.
 */
export function aes256GcmDecrypt(
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  checkLength(key, AES256_KEY_LENGTH, "AES key");
  checkLength(nonce, AES_GCM_NONCE_LENGTH, "GCM nonce");
  if (ciphertext.length < AES_GCM_TAG_LENGTH) throw new ProtocolError("bad_mac");
  try {
    return gcm(key, nonce, aad).decrypt(ciphertext);
  } catch {
    throw new ProtocolError("bad_mac");
  }
}
