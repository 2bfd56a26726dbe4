/**
 * ML-KEM-768 (FIPS 203) with the incremental interface the ML-KEM Braid needs (spec PQ-10).
 *
 * Owns: key generation split into a 64-byte header (ρ ‖ H(ek)) and the 1152-byte encapsulation
 * key vector (ByteEncode12(t̂)); `encaps1` (header only → ct1 = compressed u, the shared secret
 * and the 32-byte message m the sender keeps) and `encaps2` (m, header, vector → ct2 =
 * compressed v); decapsulation of ct1 ‖ ct2. Encaps1 followed by Encaps2 equals ML-KEM-768
 * encapsulation with randomness m (tested against noble's `ml_kem768.encapsulate`).
 * Two implementations, same bytes (tested against each other): where the runtime has native
 * SHA-3 (Node), our FIPS 203 core (mlkem-core.ts, k = 3) on it; elsewhere noble's ML-KEM-768
 * for key generation and decapsulation and its exported FIPS 203 building blocks (NTT,
 * sampling, compression, byte coding) for the split encryption (the portable path).
 * Does not own: when these run (client/ratchet/spqr-braid.ts).
 */

import { sha3_256, sha3_512, shake256 } from "@noble/hashes/sha3.js";
import { __tests as fips, ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import { ProtocolError } from "../errors.js";
import { concatBytes, constantTimeEqual, randomBytes } from "./bytes.js";
import {
  decapsInternal,
  decodeVectorChecked,
  encryptU,
  encryptV,
  expandMatrix,
  keygenInternal,
  ML_KEM_768,
  sampleYHat,
} from "./mlkem-core.js";
import { nativeMlKemHash } from "./mlkem-hash.js";

/** Module rank k of ML-KEM-768. */
const K = 3;
/** The modulus q. */
const Q = 3329;
/** CBD parameters η1 = η2 = 2 for ML-KEM-768. */
const ETA = 2;
/** Compression bits of u (du) and v (dv). */
const DU = 10;
const DV = 4;

/** ρ ‖ H(ek): what Encaps1 needs. */
export const MLKEM768_HEADER_BYTES = 64;
/** ByteEncode12(t̂): the rest of the encapsulation key. */
export const MLKEM768_VECTOR_BYTES = 384 * K;
/** ct1 = ByteEncode_du(Compress_du(u)). */
export const MLKEM768_CT1_BYTES = 32 * DU * K;
/** ct2 = ByteEncode_dv(Compress_dv(v)). */
export const MLKEM768_CT2_BYTES = 32 * DV;
/** Decapsulation key length (FIPS 203: 768·k + 96). */
export const MLKEM768_DK_BYTES = 768 * K + 96;

type Poly = Uint16Array;

interface Fips203Internals {
  NTT(f: ArrayLike<number>): Poly;
  NTT_inv(f: ArrayLike<number>): Poly;
  MultiplyNTTs(f: ArrayLike<number>, g: ArrayLike<number>): Poly;
  SamplePolyCBD(b: Uint8Array, eta: number): Poly;
  SampleNTT(b: Uint8Array): Poly;
  Compress_d(x: number, d: number): number;
  Decompress_d(y: number, d: number): number;
  ByteEncode_d(f: ArrayLike<number>, d: number): Uint8Array;
  ByteDecode_d(b: Uint8Array, d: number): Poly;
}
const F = fips as Fips203Internals;

function addPoly(a: Poly, b: ArrayLike<number>): Poly {
  const out = new Uint16Array(256);
  for (let i = 0; i < 256; i++) out[i] = ((a[i] as number) + (b[i] as number)) % Q;
  return out;
}

/** PRF_η(s, b) = SHAKE256(s ‖ b, 64·η) (FIPS 203 §4.1). */
function prf(seed: Uint8Array, nonce: number): Uint8Array {
  return shake256(concatBytes(seed, Uint8Array.of(nonce)), { dkLen: 64 * ETA });
}

/** A freshly generated key pair, split as the Braid sends it. */
export interface SplitKeyPair {
  /** ρ ‖ H(ek), 64 bytes. */
  readonly header: Uint8Array;
  /** ByteEncode12(t̂), 1152 bytes. */
  readonly vector: Uint8Array;
  /** The FIPS 203 decapsulation key, 2400 bytes. */
  readonly decapsulationKey: Uint8Array;
}

/** Generates an ML-KEM-768 key pair (CSPRNG, or the 64-byte seed d ‖ z for vectors). */
export function generateSplitKeyPair(seed?: Uint8Array): SplitKeyPair {
  const hash = nativeMlKemHash();
  if (hash !== undefined) {
    const s = seed ?? randomBytes(64);
    if (s.length !== 64) throw new RangeError("ML-KEM-768 keygen: the seed is 64 bytes");
    const { encapsulationKey: ek, decapsulationKey } = keygenInternal(hash, ML_KEM_768, s.subarray(0, 32), s.subarray(32, 64));
    // dk = dk_PKE ‖ ek ‖ H(ek) ‖ z: the header's hash is already in it.
    const header = concatBytes(ek.subarray(MLKEM768_VECTOR_BYTES), decapsulationKey.subarray(768 * K + 32, 768 * K + 64));
    return { header, vector: ek.slice(0, MLKEM768_VECTOR_BYTES), decapsulationKey };
  }
  const { publicKey, secretKey } = ml_kem768.keygen(seed);
  const vector = publicKey.slice(0, MLKEM768_VECTOR_BYTES);
  const rho = publicKey.slice(MLKEM768_VECTOR_BYTES);
  return { header: concatBytes(rho, sha3_256(publicKey)), vector, decapsulationKey: secretKey };
}

/** Whether `vector` completes `header`: H(vector ‖ ρ) must equal the header's hash (PQ-10). */
export function vectorMatchesHeader(header: Uint8Array, vector: Uint8Array): boolean {
  if (header.length !== MLKEM768_HEADER_BYTES || vector.length !== MLKEM768_VECTOR_BYTES) return false;
  const hash = nativeMlKemHash();
  const h = hash === undefined ? sha3_256(concatBytes(vector, header.subarray(0, 32))) : hash.h(vector, header.subarray(0, 32));
  return constantTimeEqual(h, header.subarray(32, 64));
}

/** The per-encapsulation values both halves derive from m and H(ek). */
function encapsulationSecrets(header: Uint8Array, m: Uint8Array): { sharedSecret: Uint8Array; yHat: Poly[]; r: Uint8Array } {
  const g = sha3_512(concatBytes(m, header.subarray(32, 64)));
  const r = g.slice(32, 64);
  const yHat = Array.from({ length: K }, (_, i) => F.NTT(F.SamplePolyCBD(prf(r, i), ETA)));
  return { sharedSecret: g.slice(0, 32), yHat, r };
}

/** Result of Encaps1. */
export interface Encaps1Result {
  readonly ct1: Uint8Array;
  readonly sharedSecret: Uint8Array;
  /** The encapsulation randomness m: the sender keeps it (secret) for Encaps2. */
  readonly m: Uint8Array;
}

/**
 * Encaps1 (spec PQ-10): from the header alone, ct1 = ByteEncode10(Compress10(u)) with
 * u = NTT⁻¹(Âᵀ ∘ ŷ) + e1, and the shared secret K of (K, r) = G(m ‖ H(ek)).
 */
export function encaps1(header: Uint8Array, m: Uint8Array = randomBytes(32)): Encaps1Result {
  if (header.length !== MLKEM768_HEADER_BYTES || m.length !== 32) throw new RangeError("bad Encaps1 input");
  const rho = header.subarray(0, 32);
  const hash = nativeMlKemHash();
  if (hash !== undefined) {
    const kr = hash.g(m, header.subarray(32, 64));
    const r = kr.subarray(32, 64);
    const ct1 = new Uint8Array(MLKEM768_CT1_BYTES);
    const yHat = sampleYHat(hash, ML_KEM_768, r);
    encryptU(hash, ML_KEM_768, expandMatrix(hash, ML_KEM_768, rho), yHat, r, ct1, 0);
    const sharedSecret = new Uint8Array(kr.subarray(0, 32));
    kr.fill(0);
    yHat.fill(0);
    return { ct1, sharedSecret, m: m.slice() };
  }
  const { sharedSecret, yHat, r } = encapsulationSecrets(header, m);
  const parts: Uint8Array[] = [];
  for (let i = 0; i < K; i++) {
    let acc: Poly = new Uint16Array(256);
    for (let j = 0; j < K; j++) {
      // Âᵀ[i][j] = Â[j][i] = SampleNTT(ρ ‖ i ‖ j) (FIPS 203 Alg. 14 indexes Â[i][j] by ρ ‖ j ‖ i).
      const a = F.SampleNTT(concatBytes(rho, Uint8Array.of(i, j)));
      acc = addPoly(acc, F.MultiplyNTTs(a, yHat[j] as Poly));
    }
    const e1 = F.SamplePolyCBD(prf(r, K + i), ETA);
    const u = addPoly(F.NTT_inv(acc), e1);
    parts.push(F.ByteEncode_d(Array.from(u, (x) => F.Compress_d(x, DU)), DU));
  }
  return { ct1: concatBytes(...parts), sharedSecret, m: m.slice() };
}

/**
 * Encaps2 (spec PQ-10): ct2 = ByteEncode4(Compress4(v)) with v = NTT⁻¹(t̂ᵀ ∘ ŷ) + e2 +
 * Decompress1(m), recomputing ŷ and e2 from m and the header. Throws ProtocolError
 * "invalid_key" when the vector does not match the header or holds a coefficient ≥ q.
 */
export function encaps2(m: Uint8Array, header: Uint8Array, vector: Uint8Array): Uint8Array {
  if (!vectorMatchesHeader(header, vector)) throw new ProtocolError("invalid_key");
  if (m.length !== 32) throw new RangeError("bad Encaps2 input");
  const hash = nativeMlKemHash();
  if (hash !== undefined) {
    // FIPS 203 modulus check on t̂.
    const tHat = decodeVectorChecked(ML_KEM_768, vector);
    if (tHat === undefined) throw new ProtocolError("invalid_key");
    const kr = hash.g(m, header.subarray(32, 64));
    const r = kr.subarray(32, 64);
    const ct2 = new Uint8Array(MLKEM768_CT2_BYTES);
    const yHat = sampleYHat(hash, ML_KEM_768, r);
    encryptV(hash, ML_KEM_768, tHat, yHat, r, m, ct2, 0);
    kr.fill(0);
    yHat.fill(0);
    return ct2;
  }
  const tHat: Poly[] = [];
  for (let i = 0; i < K; i++) {
    const bytes = vector.subarray(384 * i, 384 * (i + 1));
    const t = F.ByteDecode_d(bytes, 12);
    // FIPS 203 modulus check: re-encoding must give the same bytes.
    if (!constantTimeEqual(F.ByteEncode_d(t, 12), bytes)) throw new ProtocolError("invalid_key");
    tHat.push(t);
  }
  const { yHat, r } = encapsulationSecrets(header, m);
  let acc: Poly = new Uint16Array(256);
  for (let i = 0; i < K; i++) acc = addPoly(acc, F.MultiplyNTTs(tHat[i] as Poly, yHat[i] as Poly));
  const e2 = F.SamplePolyCBD(prf(r, 2 * K), ETA);
  const mu = Array.from(F.ByteDecode_d(m, 1), (bit) => F.Decompress_d(bit, 1));
  const v = addPoly(addPoly(F.NTT_inv(acc), e2), mu);
  return F.ByteEncode_d(Array.from(v, (x) => F.Compress_d(x, DV)), DV);
}

/** ML-KEM-768 decapsulation of ct1 ‖ ct2 (implicit rejection on a bad ciphertext). */
export function decapsulate(decapsulationKey: Uint8Array, ct1: Uint8Array, ct2: Uint8Array): Uint8Array {
  if (decapsulationKey.length !== MLKEM768_DK_BYTES || ct1.length !== MLKEM768_CT1_BYTES || ct2.length !== MLKEM768_CT2_BYTES) {
    throw new RangeError("bad decapsulation input");
  }
  const hash = nativeMlKemHash();
  if (hash === undefined) return ml_kem768.decapsulate(concatBytes(ct1, ct2), decapsulationKey);
  const k = decapsInternal(hash, ML_KEM_768, decapsulationKey, concatBytes(ct1, ct2));
  // The same refusal noble gives a decapsulation key whose H(ek) does not match (FIPS 203 §7.3).
  if (k === undefined) throw new Error("invalid secretKey: hash check failed");
  return k;
}
