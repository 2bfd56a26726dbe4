/**
 * The Double Ratchet's three KDF chains: root step, chain step and message keys (version 4).
 *
 * Owns: KDF_RK, KDF_CK and the message-key expansion, as pure functions of bytes.
 * Does not own: Diffie-Hellman (the caller passes the DH output), SPQR (the caller passes the
 * SPQR message key), or any state.
 */

import { hkdfSha256, hmacSha256, hmacSha256Each } from "../crypto/kdf.js";
import {
  CHAIN_KEY_BYTE,
  KEY_LENGTH,
  MESSAGE_KEYS_INFO,
  MESSAGE_SEED_BYTE,
  ROOT_KDF_INFO,
} from "./constants.js";

/** Output of one root-key step: the new root key and the new chain key. */
export interface RootStep {
  readonly rootKey: Uint8Array;
  readonly chainKey: Uint8Array;
}

/** KDF_RK: `HKDF(salt = root, ikm = DH, info = "WhisperRatchet", 64)` → root ‖ chain (spec DR-03). */
export function rootStep(rootKey: Uint8Array, dhOutput: Uint8Array): RootStep {
  const out = hkdfSha256(dhOutput, rootKey, ROOT_KDF_INFO, 2 * KEY_LENGTH);
  return { rootKey: out.slice(0, KEY_LENGTH), chainKey: out.slice(KEY_LENGTH) };
}

/** The message seed of a chain key: `HMAC-SHA256(ck, 0x01)` (spec DR-04). */
export function messageSeed(chainKey: Uint8Array): Uint8Array {
  return hmacSha256(chainKey, MESSAGE_SEED_BYTE);
}

/** The next chain key: `HMAC-SHA256(ck, 0x02)` (spec DR-04). */
export function nextChainKey(chainKey: Uint8Array): Uint8Array {
  return hmacSha256(chainKey, CHAIN_KEY_BYTE);
}

/** A chain key's message seed and the next chain key, computed together. */
export interface ChainStep {
  readonly seed: Uint8Array;
  readonly nextChainKey: Uint8Array;
}

/**
 * `messageSeed(ck)` and `nextChainKey(ck)` in one go (spec DR-04): the HMAC key is set up once
 * for both (kdf.ts `hmacSha256Each`).
 */
export function chainStep(chainKey: Uint8Array): ChainStep {
  const [seed, next] = hmacSha256Each(chainKey, [MESSAGE_SEED_BYTE, CHAIN_KEY_BYTE]) as [Uint8Array, Uint8Array];
  return { seed, nextChainKey: next };
}

/** The keys of one message: AES-256-CBC key, HMAC key and IV. */
export interface MessageKeys {
  readonly cipherKey: Uint8Array;
  readonly macKey: Uint8Array;
  readonly iv: Uint8Array;
}

/**
 * Message keys from a seed: `HKDF(salt = SPQR key or none, ikm = seed, info =
 * "WhisperMessageKeys", 80)` → cipher key (32) ‖ MAC key (32) ‖ IV (16) (spec DR-05, PQ-03).
 */
export function messageKeys(seed: Uint8Array, pqKey: Uint8Array | undefined): MessageKeys {
  const out = hkdfSha256(seed, pqKey, MESSAGE_KEYS_INFO, 80);
  return { cipherKey: out.slice(0, 32), macKey: out.slice(32, 64), iv: out.slice(64, 80) };
}
