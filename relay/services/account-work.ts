/**
 * The proof of work that makes account creation cost something (spec/10-relay-api.md API-28):
 * SHA-256("SecureComm relay work v1" ‖ challenge ‖ identity_key ‖ nonce) must start with
 * `bits` zero bits. Bound to one single-use challenge and one identity key, so a solution can
 * be neither precomputed nor reused.
 *
 * Owns: the puzzle's bytes and its check. Does not own when work is required (AccountService:
 * only when a proof would create an account) or the difficulty (relay/limits.ts).
 */
import { createHash } from "node:crypto";

/** Domain-separation prefix of the work hash (API-28). */
export const WORK_LABEL = new TextEncoder().encode("SecureComm relay work v1");
/** Length of a work nonce: 64 bits is far more than any difficulty needs to try. */
export const WORK_NONCE_BYTES = 8;

/** Number of leading zero bits of `hash`. */
export function leadingZeroBits(hash: Uint8Array): number {
  let n = 0;
  for (const byte of hash) {
    if (byte === 0) {
      n += 8;
      continue;
    }
    return n + Math.clz32(byte) - 24;
  }
  return n;
}

/** Whether `nonce` solves the puzzle for this challenge and identity key at `bits` (API-28). */
export function verifyWork(challenge: Uint8Array, identityKey: Uint8Array, nonce: Uint8Array, bits: number): boolean {
  if (bits <= 0) return true;
  if (nonce.length !== WORK_NONCE_BYTES) return false;
  const hash = createHash("sha256").update(WORK_LABEL).update(challenge).update(identityKey).update(nonce).digest();
  return leadingZeroBits(hash) >= bits;
}
