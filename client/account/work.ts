/**
 * Solving the relay's account-creation proof of work (spec/10-relay-api.md API-28): find an
 * 8-byte nonce such that SHA-256("SecureComm relay work v1" ‖ challenge ‖ identity_key ‖ nonce)
 * starts with `bits` zero bits.
 *
 * Owns: the search. Hashes the fixed prefix once and only the nonce per attempt, and yields to
 * the event loop every {@link WORK_YIELD_EVERY} attempts so a page stays responsive. Does not
 * own when work is needed (Account.authenticate: only when the relay answers WORK_REQUIRED).
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { randomBytes, utf8 } from "../crypto/bytes.js";

/** Domain-separation prefix of the work hash (API-28). */
export const WORK_LABEL = utf8("SecureComm relay work v1");
/** Nonce length the relay accepts (API-28). */
export const WORK_NONCE_BYTES = 8;
/** Attempts between yields to the event loop: a few milliseconds of hashing. */
export const WORK_YIELD_EVERY = 1 << 14;
/** Most bits a client agrees to solve: 2^32 hashes would take hours; a relay asking that is misconfigured. */
export const MAX_WORK_BITS = 32;

/** Number of leading zero bits of `hash`. */
export function leadingZeroBits(hash: Uint8Array): number {
  let n = 0;
  for (const byte of hash) {
    if (byte !== 0) return n + Math.clz32(byte) - 24;
    n += 8;
  }
  return n;
}

/** The work hash for one nonce (API-28). */
export function workHash(challenge: Uint8Array, identityKey: Uint8Array, nonce: Uint8Array): Uint8Array {
  return sha256.create().update(WORK_LABEL).update(challenge).update(identityKey).update(nonce).digest();
}

/**
 * Finds a nonce for `bits` (API-28). Starts from a random nonce so two clients never race on
 * the same sequence. Throws RangeError for `bits` outside 1..{@link MAX_WORK_BITS}.
 */
export async function solveWork(challenge: Uint8Array, identityKey: Uint8Array, bits: number): Promise<Uint8Array> {
  if (!Number.isInteger(bits) || bits < 1 || bits > MAX_WORK_BITS) throw new RangeError("work bits out of range");
  const prefix = sha256.create().update(WORK_LABEL).update(challenge).update(identityKey);
  const nonce = new Uint8Array(randomBytes(WORK_NONCE_BYTES));
  const view = new DataView(nonce.buffer);
  for (let attempt = 1; ; attempt++) {
    if (leadingZeroBits(prefix.clone().update(nonce).digest()) >= bits) return nonce;
    // Counter in the low 32 bits; the random high half keeps nonces distinct across clients.
    view.setUint32(4, (view.getUint32(4) + 1) >>> 0);
    if (attempt % WORK_YIELD_EVERY === 0) await new Promise((r) => setTimeout(r, 0));
  }
}
