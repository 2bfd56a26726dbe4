/**
 * The hash functions of ML-KEM (FIPS 203 §4.1) on the runtime's native SHA-3 (spec EN-09,
 * PQ-10).
 *
 * Owns: H = SHA3-256, G = SHA3-512, J = SHAKE256 to 32 bytes, PRF_η = SHAKE256 to 64·η bytes
 * and the matrix XOF = SHAKE128, computed by `node:crypto` (OpenSSL's Keccak) where the runtime
 * has it, after a one-time self-check against noble's SHA-3 on known inputs (including an XOF
 * output longer than one SHAKE128 block, and the prefix property SampleNTT relies on).
 * Returns `undefined` without Node (browsers): callers then keep noble's ML-KEM.
 * Why: noble's pure-JS Keccak was most of a session setup's ML-KEM time (PERFORMANCE.md).
 * Does not own: any ML-KEM arithmetic (mlkem-core.ts).
 */
import { sha3_256, sha3_512, shake128, shake256 } from "@noble/hashes/sha3.js";
import { type NodeCrypto, selfChecked } from "./node-crypto.js";

/**
 * The five hash roles of FIPS 203 §4.1, on one implementation. Outputs may be Node Buffers:
 * callers copy what they hand out (`new Uint8Array(…)`), never `Buffer.slice` views.
 */
export interface MlKemHash {
  /** H(parts…) = SHA3-256 (32 bytes). */
  h(...parts: Uint8Array[]): Uint8Array;
  /** G(parts…) = SHA3-512 (64 bytes). */
  g(...parts: Uint8Array[]): Uint8Array;
  /** SHAKE256(parts…) to `length` bytes: J (32 bytes), PRF (seed ‖ nonce) and Kyber's final KDF. */
  shake256(length: number, ...parts: Uint8Array[]): Uint8Array;
  /**
   * SHAKE128(ρ ‖ a ‖ b) to `length` bytes: the XOF of SampleNTT (FIPS 203 Alg. 7 on ρ ‖ j ‖ i).
   * An XOF's output is a stream, so a longer `length` extends a shorter one's bytes.
   */
  xof(rho: Uint8Array, a: number, b: number, length: number): Uint8Array;
}

function digest(crypto: NodeCrypto, algorithm: string, outputLength: number | undefined, parts: Uint8Array[]): Uint8Array {
  const hash = outputLength === undefined ? crypto.createHash(algorithm) : crypto.createHash(algorithm, { outputLength });
  for (const part of parts) hash.update(part);
  return hash.digest();
}

function nodeHash(crypto: NodeCrypto): MlKemHash {
  const suffix = new Uint8Array(2);
  return {
    h: (...parts) => digest(crypto, "sha3-256", undefined, parts),
    g: (...parts) => digest(crypto, "sha3-512", undefined, parts),
    shake256: (length, ...parts) => digest(crypto, "shake256", length, parts),
    xof: (rho, a, b, length) => {
      suffix[0] = a;
      suffix[1] = b;
      return crypto.createHash("shake128", { outputLength: length }).update(rho).update(suffix).digest();
    },
  };
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Self-check: every role against noble on a fixed input, XOF over several blocks. */
function check(crypto: NodeCrypto): boolean {
  const hash = nodeHash(crypto);
  const input = new Uint8Array(200).map((_, i) => (i * 73 + 11) & 0xff);
  const rho = input.subarray(0, 32);
  const xofInput = new Uint8Array([...rho, 3, 1]);
  const long = hash.xof(rho, 3, 1, 3 * 168 + 7);
  return (
    same(hash.h(input.subarray(0, 100), input.subarray(100)), sha3_256(input)) &&
    same(hash.g(input), sha3_512(input)) &&
    same(hash.shake256(128, input), shake256(input, { dkLen: 128 })) &&
    same(hash.shake256(32, input.subarray(0, 5)), shake256(input.subarray(0, 5), { dkLen: 32 })) &&
    same(long, shake128(xofInput, { dkLen: long.length })) &&
    same(hash.xof(rho, 3, 1, 168), long.subarray(0, 168))
  );
}

const native = selfChecked(check);
let cached: { crypto: NodeCrypto; hash: MlKemHash } | undefined;

/** ML-KEM's hashes on native SHA-3 (self-checked), or `undefined` where there is none. */
export function nativeMlKemHash(): MlKemHash | undefined {
  const crypto = native();
  if (crypto === undefined) return undefined;
  if (cached?.crypto !== crypto) cached = { crypto, hash: nodeHash(crypto) };
  return cached.hash;
}
