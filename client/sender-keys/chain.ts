/**
 * The sender-key hash chain and message keys (spec SK-02, SK-03). Pure functions.
 *
 * Owns: chain steps and the derivation of IV ‖ key from a message seed.
 * Does not own: state bookkeeping (sender-key-state.ts).
 */
import { hkdfSha256Small, hmacSha256Pair, hmacSha256Small } from "../crypto/hmac-sha256-small.js";
import { CHAIN_KEY_BYTE, MESSAGE_SEED_BYTE, SENDER_KEY_DERIVED_LENGTH, SENDER_KEY_INFO } from "./constants.js";

/** The message seed of the chain key's iteration: HMAC-SHA256(ck, 0x01) (spec SK-02). */
export function messageSeed(chainKey: Uint8Array): Uint8Array {
  return hmacSha256Small(chainKey, MESSAGE_SEED_BYTE);
}

/** The chain key of the next iteration: HMAC-SHA256(ck, 0x02) (spec SK-02). */
export function nextChainKey(chainKey: Uint8Array): Uint8Array {
  return hmacSha256Small(chainKey, CHAIN_KEY_BYTE);
}

/**
 * `messageSeed(ck)` and `nextChainKey(ck)` together (spec SK-02), the HMAC key set up once for
 * both. The small-input HMAC (client/crypto/hmac-sha256-small.ts) is used for every chain
 * step: a step is two 1-byte HMACs, where node:crypto's per-call overhead is most of the cost.
 */
export function chainStep(chainKey: Uint8Array): { seed: Uint8Array; nextChainKey: Uint8Array } {
  const [seed, next] = hmacSha256Pair(chainKey, MESSAGE_SEED_BYTE, CHAIN_KEY_BYTE);
  return { seed, nextChainKey: next };
}

/** AES-256-CBC IV and key of one message. */
export interface SenderMessageKeys {
  readonly iv: Uint8Array;
  readonly cipherKey: Uint8Array;
}

/** `HKDF(salt = none, ikm = seed, info = "WhisperGroup", 48)` → IV (0..16) ‖ key (16..48) (spec SK-03). */
export function messageKeysFromSeed(seed: Uint8Array): SenderMessageKeys {
  const okm = hkdfSha256Small(seed, undefined, SENDER_KEY_INFO, SENDER_KEY_DERIVED_LENGTH);
  return { iv: okm.subarray(0, 16), cipherKey: okm.subarray(16, 48) };
}
