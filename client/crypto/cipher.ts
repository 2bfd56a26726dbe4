/**
 * Symmetric ciphers: AES-256 in CBC (PKCS#7), CTR and GCM modes (spec EN-08).
 *
 * Owns: the cipher calls and their failure mapping (malformed CBC input →
 * `invalid_ciphertext`, GCM tag mismatch → `bad_mac`). Does not own: MACs around CBC/CTR
 * (callers verify their HMAC before decrypting, as Signal does).
 * Synchronous so pure ratchet steps stay synchronous: on Node through `node:crypto`'s
 * synchronous OpenSSL ciphers (self-checked once against noble), elsewhere through noble.
 * `portableCiphers` is the noble path, exported for the differential tests.
 */
import { cbc, ctr, gcm } from "@noble/ciphers/aes.js";
import { ProtocolError } from "../errors.js";
import { type NodeCrypto, selfChecked } from "./node-crypto.js";

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

function joined(first: Uint8Array, last: Uint8Array): Uint8Array {
  const out = new Uint8Array(first.length + last.length);
  out.set(first, 0);
  out.set(last, first.length);
  return out;
}

/**
 * The bytes of a Buffer that node:crypto just made for one result, as a Uint8Array: a view when
 * the Buffer owns its whole memory (cipher output does), else a copy (never pooled memory).
 */
function owned(buffer: Uint8Array): Uint8Array {
  if (buffer.byteOffset === 0 && buffer.byteLength === buffer.buffer.byteLength && buffer.buffer instanceof ArrayBuffer) {
    return new Uint8Array(buffer.buffer);
  }
  return new Uint8Array(buffer);
}

/**
 * `plaintext` with PKCS#7 padding applied here (RFC 5652 §6.3), so OpenSSL runs one `update`
 * with its own padding off and no `final`: two binding calls and a copy less per message.
 */
function nodeCbcEncrypt(crypto: NodeCrypto, key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const pad = AES_BLOCK_LENGTH - (plaintext.length % AES_BLOCK_LENGTH);
  const padded = new Uint8Array(plaintext.length + pad);
  padded.set(plaintext);
  padded.fill(pad, plaintext.length);
  const c = crypto.createCipheriv("aes-256-cbc", key, iv).setAutoPadding(false);
  const out = owned(c.update(padded));
  padded.fill(0);
  return out;
}

/**
 * Whether the decrypted `blocks` end in valid PKCS#7 padding: a last byte p in 1..16 and the
 * last p bytes all equal to p. Every one of the last 16 bytes is read and no branch depends on
 * them (constant time); `blocks` is a non-empty whole number of blocks.
 */
export function validPkcs7Padding(blocks: Uint8Array): boolean {
  const n = blocks.length;
  const p = blocks[n - 1] as number;
  // (x >>> 31) is 1 exactly when x < 0, for the small integers here.
  let bad = ((p - 1) >>> 31) | ((AES_BLOCK_LENGTH - p) >>> 31);
  for (let i = 1; i <= AES_BLOCK_LENGTH; i++) {
    const inPadding = ((i - p - 1) >>> 31) & 1;
    const differs = (((blocks[n - i] as number) ^ p) + 0xff) >>> 8;
    bad |= inPadding & differs;
  }
  return bad === 0;
}

/**
 * Throws (any error) on bad padding: OpenSSL decrypts with its padding off (one `update`, no
 * `final`) and every PKCS#7 padding byte is checked here (`validPkcs7Padding`).
 */
function nodeCbcDecrypt(crypto: NodeCrypto, key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  const d = crypto.createDecipheriv("aes-256-cbc", key, iv).setAutoPadding(false);
  const blocks = d.update(ciphertext);
  if (blocks.length !== ciphertext.length || blocks.length === 0 || !validPkcs7Padding(blocks)) {
    blocks.fill(0);
    throw new RangeError("bad CBC padding");
  }
  const length = blocks.length - (blocks[blocks.length - 1] as number);
  const plaintext = new Uint8Array(length);
  plaintext.set(blocks.subarray(0, length));
  blocks.fill(0);
  return plaintext;
}

function nodeCtr(crypto: NodeCrypto, key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  const c = crypto.createCipheriv("aes-256-ctr", key, iv);
  return joined(c.update(data), c.final());
}

function nodeGcmEncrypt(crypto: NodeCrypto, key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  const c = crypto.createCipheriv("aes-256-gcm", key, nonce, { authTagLength: AES_GCM_TAG_LENGTH });
  c.setAAD(aad);
  const body = joined(c.update(plaintext), c.final());
  return joined(body, c.getAuthTag());
}

/** Throws (any error) when the tag does not verify. */
function nodeGcmDecrypt(crypto: NodeCrypto, key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array {
  const split = sealed.length - AES_GCM_TAG_LENGTH;
  const d = crypto.createDecipheriv("aes-256-gcm", key, nonce, { authTagLength: AES_GCM_TAG_LENGTH });
  d.setAAD(aad);
  d.setAuthTag(sealed.subarray(split));
  return joined(d.update(sealed.subarray(0, split)), d.final());
}

/** The noble (portable) path of every cipher here, for the differential tests. */
export const portableCiphers = {
  cbcEncrypt: (key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array): Uint8Array => cbc(key, iv).encrypt(plaintext),
  cbcDecrypt: (key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array): Uint8Array => cbc(key, iv).decrypt(ciphertext),
  ctr: (key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array => ctr(key, iv).encrypt(data),
  gcmEncrypt: (key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array => gcm(key, nonce, aad).encrypt(plaintext),
  gcmDecrypt: (key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array => gcm(key, nonce, aad).decrypt(sealed),
} as const;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Node's AES, if present and equal to noble on a fixed input in every mode (checked once). */
const nodeAes = selfChecked((crypto) => {
  const key = Uint8Array.from({ length: AES256_KEY_LENGTH }, (_, i) => i);
  const iv = Uint8Array.from({ length: AES_BLOCK_LENGTH }, (_, i) => 0xf0 + i);
  iv[15] = 0xff; // the CTR check crosses a carry into the next byte
  const nonce = iv.subarray(0, AES_GCM_NONCE_LENGTH);
  const data = Uint8Array.from({ length: 45 }, (_, i) => i * 7);
  const aad = data.subarray(0, 9);
  const sealedCbc = nodeCbcEncrypt(crypto, key, iv, data);
  const sealedGcm = nodeGcmEncrypt(crypto, key, nonce, data, aad);
  const tampered = Uint8Array.from(sealedGcm);
  tampered[0] = (tampered[0] as number) ^ 1;
  let tamperRefused = false;
  try {
    nodeGcmDecrypt(crypto, key, nonce, tampered, aad);
  } catch {
    tamperRefused = true;
  }
  return (
    sameBytes(sealedCbc, portableCiphers.cbcEncrypt(key, iv, data)) &&
    sameBytes(nodeCbcDecrypt(crypto, key, iv, sealedCbc), data) &&
    sameBytes(nodeCtr(crypto, key, iv, data), portableCiphers.ctr(key, iv, data)) &&
    sameBytes(sealedGcm, portableCiphers.gcmEncrypt(key, nonce, data, aad)) &&
    sameBytes(nodeGcmDecrypt(crypto, key, nonce, sealedGcm, aad), data) &&
    tamperRefused
  );
});

/** Whether the Node path of this module is in use (for tests and benchmarks). */
export function cipherUsesNode(): boolean {
  return nodeAes() !== undefined;
}

/** AES-256-CBC encryption with PKCS#7 padding (Signal's message cipher). */
export function aes256CbcEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array): Uint8Array {
  checkLength(key, AES256_KEY_LENGTH, "AES key");
  checkLength(iv, AES_BLOCK_LENGTH, "CBC IV");
  const crypto = nodeAes();
  if (crypto !== undefined) return nodeCbcEncrypt(crypto, key, iv, plaintext);
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
    const crypto = nodeAes();
    if (crypto !== undefined) return nodeCbcDecrypt(crypto, key, iv, ciphertext);
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
  const crypto = nodeAes();
  if (crypto !== undefined) return nodeCtr(crypto, key, iv, data);
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
  const crypto = nodeAes();
  if (crypto !== undefined) return nodeGcmEncrypt(crypto, key, nonce, plaintext, aad);
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
    const crypto = nodeAes();
    if (crypto !== undefined) return nodeGcmDecrypt(crypto, key, nonce, ciphertext, aad);
    return gcm(key, nonce, aad).decrypt(ciphertext);
  } catch {
    throw new ProtocolError("bad_mac");
  }
}
