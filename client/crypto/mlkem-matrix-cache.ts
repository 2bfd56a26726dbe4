/**
 * A bounded cache of expanded ML-KEM matrices Â, keyed by (k, ρ) (spec EN-09).
 *
 * Owns: keeping Â = SampleNTT(ρ ‖ j ‖ i) for the few decapsulation keys used again and again —
 * a responder's last-resort Kyber prekey serves every session set up without a one-time Kyber
 * key, and each decapsulation re-encrypts under the same ρ (FIPS 203 Alg. 18), so its k² XOF
 * expansions need to run once, not per session. Â is public (a function of the public key's
 * ρ); nothing secret is kept. At most `MAX_CACHED_MATRICES` entries, least recently used
 * evicted first.
 * Does not own: the arithmetic (mlkem-core.ts).
 */
import { bytesToHex } from "./bytes.js";
import { expandMatrix, type MatrixSource } from "./mlkem-core.js";

/** Matrices kept (k = 4: 8 KiB each). */
export const MAX_CACHED_MATRICES = 8;

const cache = new Map<string, Uint16Array>();

/** Â for (k, ρ) from the cache, expanding and keeping it on a miss. */
export const cachedMatrix: MatrixSource = (hash, p, rho) => {
  const key = `${p.k}:${bytesToHex(rho)}`;
  const hit = cache.get(key);
  if (hit !== undefined) {
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  const aHat = expandMatrix(hash, p, rho);
  cache.set(key, aHat);
  if (cache.size > MAX_CACHED_MATRICES) cache.delete(cache.keys().next().value as string);
  return aHat;
};

/** Entries held now (tests: the bound holds). */
export function cachedMatrixCount(): number {
  return cache.size;
}
