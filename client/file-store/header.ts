/**
 * The store header: KDF parameters, salt and the passphrase check, and key derivation.
 *
 * Owns: `store.json` (format, version, scrypt parameters, random salt, an AES-GCM check value
 * proving a derived key right) and the derivation passphrase → scrypt → HKDF → store key.
 * Does not own: reading or writing the file (file-store.ts).
 *
 * The header is read before any key exists, so its parameters are bounds-checked first
 * (constants.ts); altering them changes the derived key, so the check fails and the store says
 * "wrong passphrase" rather than opening with attacker-chosen parameters.
 */

import { aes256GcmDecrypt, aes256GcmEncrypt, AES_GCM_NONCE_LENGTH } from "../crypto/cipher.js";
import { concatBytes, constantTimeEqual, randomBytes, utf8 } from "../crypto/bytes.js";
import { hkdfSha256 } from "../crypto/kdf.js";
import { scryptKey } from "../crypto/scrypt.js";
import {
  CHECK_LABEL,
  CHECK_PLAINTEXT,
  FORMAT_VERSION,
  HEADER_FORMAT,
  MAX_LOG_N,
  MAX_P,
  MAX_R,
  MAX_SCRYPT_MEMORY,
  MIN_LOG_N,
  SALT_LENGTH,
  STORE_KEY_INFO,
  type ScryptParams,
} from "./constants.js";
import { FileStoreError } from "./errors.js";

/** The parsed header (its check not yet verified). */
export interface StoreHeader {
  readonly scrypt: ScryptParams;
  readonly salt: Uint8Array;
  /** nonce ‖ AES-256-GCM(CHECK_PLAINTEXT) under the store key. */
  readonly check: Uint8Array;
}

/** Throws `RangeError` unless `params` are within the bounds every header must respect. */
export function validateScryptParams(params: ScryptParams): void {
  const { logN, r, p } = params;
  const ok =
    Number.isInteger(logN) && logN >= MIN_LOG_N && logN <= MAX_LOG_N &&
    Number.isInteger(r) && r >= 1 && r <= MAX_R &&
    Number.isInteger(p) && p >= 1 && p <= MAX_P &&
    128 * 2 ** logN * r <= MAX_SCRYPT_MEMORY;
  if (!ok) throw new RangeError("scrypt parameters out of range");
}

function checkAssociatedData(params: ScryptParams, salt: Uint8Array): Uint8Array {
  return concatBytes(utf8(`${CHECK_LABEL} v${FORMAT_VERSION} ${params.logN} ${params.r} ${params.p} `), salt);
}

/**
 * Derives the 32-byte store key: scrypt over the NFC-normalised passphrase (so the same
 * passphrase typed on different systems matches), then HKDF with a fixed label.
 */
export async function deriveStoreKey(passphrase: string, params: ScryptParams, salt: Uint8Array): Promise<Uint8Array> {
  validateScryptParams(params);
  const raw = await scryptKey(utf8(passphrase.normalize("NFC")), salt, {
    N: 2 ** params.logN,
    r: params.r,
    p: params.p,
    dkLen: 32,
    maxmem: MAX_SCRYPT_MEMORY + 4096,
  });
  return hkdfSha256(raw, salt, utf8(STORE_KEY_INFO), 32);
}

/** Creates a header for a new store: fresh salt, the store key and its check value. */
export async function createHeader(passphrase: string, params: ScryptParams): Promise<{ header: StoreHeader; key: Uint8Array }> {
  const salt = randomBytes(SALT_LENGTH);
  const key = await deriveStoreKey(passphrase, params, salt);
  const nonce = randomBytes(AES_GCM_NONCE_LENGTH);
  const check = concatBytes(nonce, aes256GcmEncrypt(key, nonce, utf8(CHECK_PLAINTEXT), checkAssociatedData(params, salt)));
  return { header: { scrypt: { ...params }, salt, check }, key };
}

/**
 * Derives the key for `header` from `passphrase` and verifies the check value; a mismatch is
 * `FileStoreError("wrong_passphrase")`.
 */
export async function unlockHeader(header: StoreHeader, passphrase: string): Promise<Uint8Array> {
  const key = await deriveStoreKey(passphrase, header.scrypt, header.salt);
  const nonce = header.check.subarray(0, AES_GCM_NONCE_LENGTH);
  let plaintext: Uint8Array;
  try {
    plaintext = aes256GcmDecrypt(key, nonce, header.check.subarray(AES_GCM_NONCE_LENGTH), checkAssociatedData(header.scrypt, header.salt));
  } catch {
    throw new FileStoreError("wrong_passphrase");
  }
  if (!constantTimeEqual(plaintext, utf8(CHECK_PLAINTEXT))) throw new FileStoreError("wrong_passphrase");
  return key;
}

/** Serialises a header as the JSON text of `store.json`. */
export function serializeHeader(header: StoreHeader): string {
  return `${JSON.stringify(
    {
      format: HEADER_FORMAT,
      version: FORMAT_VERSION,
      kdf: { name: "scrypt", logN: header.scrypt.logN, r: header.scrypt.r, p: header.scrypt.p },
      salt: Buffer.from(header.salt).toString("base64"),
      check: Buffer.from(header.check).toString("base64"),
    },
    null,
    2,
  )}\n`;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function decodeBase64(value: unknown, length?: number): Uint8Array {
  if (typeof value !== "string" || !BASE64.test(value)) throw new FileStoreError("corrupt");
  const bytes = new Uint8Array(Buffer.from(value, "base64"));
  if (length !== undefined && bytes.length !== length) throw new FileStoreError("corrupt");
  return bytes;
}

/** Parses `store.json`; anything malformed or out of bounds is `FileStoreError("corrupt")`. */
export function parseHeader(text: string): StoreHeader {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new FileStoreError("corrupt");
  }
  if (typeof json !== "object" || json === null) throw new FileStoreError("corrupt");
  const h = json as Record<string, unknown>;
  if (h.format !== HEADER_FORMAT || h.version !== FORMAT_VERSION) throw new FileStoreError("corrupt");
  const kdf = h.kdf as Record<string, unknown> | null | undefined;
  if (typeof kdf !== "object" || kdf === null || kdf.name !== "scrypt") throw new FileStoreError("corrupt");
  const scrypt = { logN: kdf.logN, r: kdf.r, p: kdf.p } as ScryptParams;
  try {
    validateScryptParams(scrypt);
  } catch {
    throw new FileStoreError("corrupt");
  }
  const salt = decodeBase64(h.salt, SALT_LENGTH);
  const check = decodeBase64(h.check);
  if (check.length !== AES_GCM_NONCE_LENGTH + utf8(CHECK_PLAINTEXT).length + 16) throw new FileStoreError("corrupt");
  return { scrypt, salt, check };
}
