/**
 * Public halves of Curve25519 private keys, remembered per private key (spec EN-01, EN-03).
 *
 * Owns: a bounded process-wide map from a one-way identifier of a private key to its public
 * u-coordinate and its Edwards form A = aB. Records are parsed into fresh `PrivateKey` objects
 * for every operation (the identity key on each session setup, signed prekeys, a sender key's
 * signing key on every group message), and deriving either public form is a scalar
 * multiplication (about 0.4–0.8 ms here, `npm run bench:crypto`): with this map that work is
 * done once per key per process.
 * Holds public data only, under SHA-256(label ‖ k): the private key itself is never kept, so
 * dropping a record still forgets its secret.
 * Does not own: the derivations (curve.ts, xeddsa.ts).
 */
import { concatBytes, utf8 } from "./bytes.js";
import { sha256 } from "./kdf.js";

/**
 * Domain separation for the identifier hash, so it can never equal a hash of the same key
 * computed for any protocol purpose.
 */
const PUBLIC_HALF_ID_LABEL = utf8("SecureComm public-half cache v1");

/**
 * Entries kept. A device has one identity key, a few signed prekeys and one signing key per
 * sender key it holds (one per room member); 1024 covers large rooms while bounding memory to
 * well under 200 KiB. The oldest entry is dropped first.
 */
export const PUBLIC_HALF_CACHE_LIMIT = 1024;

/** What is known about a private key's public half. */
export interface PublicHalf {
  /** The X25519 public u-coordinate (32 bytes). */
  readonly u?: Uint8Array;
  /** The XEdDSA signer's Edwards public key A = aB, compressed (32 bytes). */
  readonly a?: Uint8Array;
}

const cache = new Map<string, PublicHalf>();

/** The cache identifier of the clamped private key `k`: hex of SHA-256(label ‖ k). */
export function publicHalfId(k: Uint8Array): string {
  const digest = sha256(concatBytes(PUBLIC_HALF_ID_LABEL, k));
  let hex = "";
  for (const b of digest) hex += b.toString(16).padStart(2, "0");
  return hex;
}

/** The remembered public half for `id`, if any (copies; callers may keep them). */
export function lookupPublicHalf(id: string): PublicHalf | undefined {
  const entry = cache.get(id);
  if (entry === undefined) return undefined;
  return {
    ...(entry.u === undefined ? {} : { u: Uint8Array.from(entry.u) }),
    ...(entry.a === undefined ? {} : { a: Uint8Array.from(entry.a) }),
  };
}

/** Records (merges) what was derived for `id`; drops the oldest entry beyond the limit. */
export function rememberPublicHalf(id: string, half: PublicHalf): void {
  const previous = cache.get(id);
  cache.delete(id);
  cache.set(id, {
    u: half.u === undefined ? previous?.u : Uint8Array.from(half.u),
    a: half.a === undefined ? previous?.a : Uint8Array.from(half.a),
  });
  if (cache.size > PUBLIC_HALF_CACHE_LIMIT) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) cache.delete(oldest);
  }
}
