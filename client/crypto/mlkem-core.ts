/**
 * ML-KEM (FIPS 203) for k = 3 (ML-KEM-768) and k = 4 (ML-KEM-1024), written from the standard
 * on typed arrays (spec EN-09, PQ-10).
 *
 * Owns: the arithmetic (NTT over Z_3329 with precomputed ζ powers, base-case multiplication,
 * sampling, compression, byte coding), K-PKE (Alg. 13–15) and ML-KEM's internal algorithms
 * (Alg. 16–18) with the input checks of §7 (encapsulation-key modulus check, decapsulation-key
 * hash check), plus the two halves of K-PKE.Encrypt that the ML-KEM Braid sends apart (u from
 * ρ alone, v from t̂). Polynomials are Uint16Array(256) with coefficients in [0, q); products
 * stay below 2³¹ so every operation is small-integer arithmetic, and no step allocates per
 * coefficient.
 * Hashing is a parameter (`MlKemHash`, native SHA-3 in mlkem-hash.ts); callers use this core
 * only when native hashing is present and keep noble's ML-KEM elsewhere (kem.ts,
 * mlkem768-incremental.ts). Tested byte for byte against noble (mlkem-core.test.ts).
 * Does not own: Kyber round 3's outer hashing (kem.ts), the Braid's split key format
 * (mlkem768-incremental.ts), randomness (callers pass d, z and m).
 */
import { constantTimeEqual } from "./bytes.js";
import type { MlKemHash } from "./mlkem-hash.js";

/** Polynomial degree n. */
const N = 256;
/** The modulus q. */
const Q = 3329;
/** ζ = 17, a primitive 256th root of unity mod q (FIPS 203 §4.3). */
const ZETA = 17;
/** 128⁻¹ mod q, the scale of the inverse NTT (FIPS 203 Alg. 10). */
const INV_128 = 3303;
/** η1 = η2 = 2 for ML-KEM-768 and ML-KEM-1024 (FIPS 203 Table 2). */
const ETA = 2;
/** PRF output length 64·η. */
const PRF_BYTES = 64 * ETA;
/** SHAKE128 rate: one XOF block. */
const SHAKE128_BLOCK = 168;
/**
 * XOF bytes asked for first in SampleNTT: four blocks hold 224 candidate pairs, ~364 accepted
 * coefficients on average for the 256 needed. Fewer (rare) → ask again for twice as many.
 */
export const SAMPLE_NTT_FIRST_BYTES = 4 * SHAKE128_BLOCK;
/** ML-KEM's 32-byte seeds, messages and shared secrets. */
const SEED_BYTES = 32;

/** One parameter set (FIPS 203 Table 2; η1 = η2 = 2 in both). */
export interface MlKemParams {
  readonly k: number;
  readonly du: number;
  readonly dv: number;
}
/** ML-KEM-768. */
export const ML_KEM_768: MlKemParams = Object.freeze({ k: 3, du: 10, dv: 4 });
/** ML-KEM-1024 (and Kyber1024 round 3's K-PKE). */
export const ML_KEM_1024: MlKemParams = Object.freeze({ k: 4, du: 11, dv: 5 });

/** Encapsulation-key length 384·k + 32. */
export const ekBytes = (p: MlKemParams): number => 384 * p.k + 32;
/** Decapsulation-key length 768·k + 96. */
export const dkBytes = (p: MlKemParams): number => 768 * p.k + 96;
/** Ciphertext part c1 = ByteEncode_du(Compress_du(u)): 32·du·k. */
export const c1Bytes = (p: MlKemParams): number => 32 * p.du * p.k;
/** Ciphertext part c2 = ByteEncode_dv(Compress_dv(v)): 32·dv. */
export const c2Bytes = (p: MlKemParams): number => 32 * p.dv;
/** Ciphertext length 32·(du·k + dv). */
export const ctBytes = (p: MlKemParams): number => c1Bytes(p) + c2Bytes(p);

// ---- ζ powers -----------------------------------------------------------------------------

function powMod(base: number, exp: number): number {
  let r = 1;
  let b = base % Q;
  for (let e = exp; e > 0; e >>= 1) {
    if (e & 1) r = (r * b) % Q;
    b = (b * b) % Q;
  }
  return r;
}

function bitRev7(i: number): number {
  let r = 0;
  for (let b = 0; b < 7; b++) r |= ((i >> b) & 1) << (6 - b);
  return r;
}

/**
 * Montgomery form: x·R mod q with R = 2¹⁶. `montgomeryReduce(x)` = x·R⁻¹ mod q in (−q, q) for
 * |x| < 2¹⁵·q (FIPS 203 leaves the reduction method open; this keeps every step in int32
 * arithmetic: a multiply, two shifts, no division).
 */
const QINV = 62209; // q⁻¹ mod 2¹⁶
/** R² mod q: `montgomeryReduce(x · R2)` = x·R mod q, turning a Montgomery product back. */
const R2 = 1353;
function montgomeryReduce(x: number): number {
  const t = (Math.imul(x, QINV) << 16) >> 16;
  return (x - Math.imul(t, Q)) >> 16;
}
/** x ∈ (−q, q) → [0, q). */
function normalize(x: number): number {
  return x + ((x >> 31) & Q);
}

const toMontgomery = (x: number): number => (x * 65536) % Q;
/** ζ^BitRev7(i)·R mod q for i < 128 (Alg. 9/10). */
const ZETAS = Int32Array.from({ length: 128 }, (_, i) => toMontgomery(powMod(ZETA, bitRev7(i))));
/** γ_i·R mod q, γ_i = ζ^(2·BitRev7(i)+1), for i < 128 (Alg. 11). */
const GAMMAS = Int32Array.from({ length: 128 }, (_, i) => toMontgomery(powMod(ZETA, 2 * bitRev7(i) + 1)));
/**
 * 128⁻¹·R² mod q: `reduceInto(out, acc, INV_128_R2)` returns acc·R·128⁻¹, folding Alg. 10's
 * final scaling by 128⁻¹ into the reduction before the inverse NTT (the NTT is linear).
 */
const INV_128_R2 = (toMontgomery(INV_128) * 65536) % Q;

/** Overwrites secret temporaries with zeros once they are used (as noble does). */
function wipe(...arrays: (Uint8Array | Uint16Array | Int32Array)[]): void {
  for (const a of arrays) a.fill(0);
}

// ---- NTT (Alg. 9–12) -----------------------------------------------------------------------

/** NTT in place (Alg. 9). */
function ntt(f: Uint16Array): void {
  let i = 1;
  for (let len = 128; len >= 2; len >>= 1) {
    for (let start = 0; start < N; start += 2 * len) {
      const z = ZETAS[i++] as number;
      for (let j = start; j < start + len; j++) {
        const t = normalize(montgomeryReduce(z * (f[j + len] as number)));
        const a = f[j] as number;
        const d = a - t;
        f[j + len] = d + ((d >> 31) & Q);
        const s = a + t - Q;
        f[j] = s + ((s >> 31) & Q);
      }
    }
  }
}

/**
 * Inverse NTT in place (Alg. 10) *without* its final scaling by 128⁻¹: every caller feeds it
 * the output of `reduceInto(…, INV_128_R2)`, which already applied that factor.
 */
function nttInverse(f: Uint16Array): void {
  let i = 127;
  for (let len = 2; len <= 128; len <<= 1) {
    for (let start = 0; start < N; start += 2 * len) {
      const z = ZETAS[i--] as number;
      for (let j = start; j < start + len; j++) {
        const t = f[j] as number;
        const u = f[j + len] as number;
        const s = t + u - Q;
        f[j] = s + ((s >> 31) & Q);
        f[j + len] = normalize(montgomeryReduce(z * (u - t)));
      }
    }
  }
}

/**
 * acc += (f ∘ g)·R⁻¹ in T_q (Alg. 11 with Alg. 12), each term a Montgomery reduction in
 * (−q, q): an Int32Array accumulator over up to k = 4 products stays far inside int32.
 * `reduceInto` multiplies the R⁻¹ back out.
 */
function multiplyAccumulate(acc: Int32Array, f: Uint16Array, fOff: number, g: Uint16Array, gOff: number): void {
  for (let i = 0; i < 128; i++) {
    const a0 = f[fOff + 2 * i] as number;
    const a1 = f[fOff + 2 * i + 1] as number;
    const b0 = g[gOff + 2 * i] as number;
    const b1 = g[gOff + 2 * i + 1] as number;
    acc[2 * i] = (acc[2 * i] as number) + montgomeryReduce(a0 * b0 + montgomeryReduce(a1 * b1) * (GAMMAS[i] as number));
    acc[2 * i + 1] = (acc[2 * i + 1] as number) + montgomeryReduce(a0 * b1 + a1 * b0);
  }
}

/**
 * out = acc·R·c mod q in [0, q) for `scale` = c·R² mod q: R2 undoes multiplyAccumulate's R⁻¹;
 * INV_128_R2 also applies the inverse NTT's 128⁻¹.
 */
function reduceInto(out: Uint16Array, acc: Int32Array, scale: number = R2): void {
  for (let i = 0; i < N; i++) out[i] = normalize(montgomeryReduce((acc[i] as number) * scale));
}

// ---- sampling (Alg. 7, 8) ------------------------------------------------------------------

/**
 * SampleNTT(ρ ‖ a ‖ b) into `out` at `off` (Alg. 7): 12-bit candidates from the XOF stream,
 * accepted below q. Asks the XOF for `firstBytes` (a multiple of 3), then for twice as many
 * while 256 coefficients are not reached: the longer output begins with the shorter one, so
 * the result is the one stream's.
 */
export function sampleNtt(
  hash: MlKemHash,
  rho: Uint8Array,
  a: number,
  b: number,
  out: Uint16Array,
  off: number,
  firstBytes: number = SAMPLE_NTT_FIRST_BYTES,
): void {
  let length = firstBytes;
  let pos = 0;
  let j = 0;
  for (;;) {
    const stream = hash.xof(rho, a, b, length);
    for (; pos + 3 <= length && j < N; pos += 3) {
      const b0 = stream[pos] as number;
      const b1 = stream[pos + 1] as number;
      const b2 = stream[pos + 2] as number;
      const d1 = b0 | ((b1 & 0x0f) << 8);
      const d2 = (b1 >> 4) | (b2 << 4);
      if (d1 < Q) out[off + j++] = d1;
      if (d2 < Q && j < N) out[off + j++] = d2;
    }
    if (j === N) return;
    length *= 2;
  }
}

/** SamplePolyCBD_2(PRF_2(seed, nonce)) into `out` (Alg. 8, η = 2). */
function sampleCbd(hash: MlKemHash, seed: Uint8Array, nonce: number, out: Uint16Array): void {
  const bytes = hash.shake256(PRF_BYTES, seed, Uint8Array.of(nonce));
  for (let i = 0; i < PRF_BYTES; i++) {
    const byte = bytes[i] as number;
    const lo = (byte & 1) + ((byte >> 1) & 1) - ((byte >> 2) & 1) - ((byte >> 3) & 1);
    const hi = ((byte >> 4) & 1) + ((byte >> 5) & 1) - ((byte >> 6) & 1) - ((byte >> 7) & 1);
    out[2 * i] = lo < 0 ? lo + Q : lo;
    out[2 * i + 1] = hi < 0 ? hi + Q : hi;
  }
}

// ---- byte coding and compression (§4.2.1) --------------------------------------------------

/** ByteEncode_d of `count` d-bit values into `out` at `outOff` (Alg. 5, little-endian bits). */
function encodeBits(values: ArrayLike<number>, count: number, d: number, out: Uint8Array, outOff: number): void {
  let acc = 0;
  let bits = 0;
  let o = outOff;
  for (let i = 0; i < count; i++) {
    acc |= (values[i] as number) << bits;
    bits += d;
    while (bits >= 8) {
      out[o++] = acc & 0xff;
      acc >>>= 8;
      bits -= 8;
    }
  }
}

/** ByteDecode_d of 256 d-bit values (Alg. 6) without the mod-q step (callers apply it). */
function decodeBits(bytes: Uint8Array, off: number, d: number, out: Uint16Array, outOff: number): void {
  const mask = (1 << d) - 1;
  let acc = 0;
  let bits = 0;
  let p = off;
  for (let i = 0; i < N; i++) {
    while (bits < d) {
      acc |= (bytes[p++] as number) << bits;
      bits += 8;
    }
    out[outOff + i] = acc & mask;
    acc >>>= d;
    bits -= d;
  }
}

/** Compress_d over a polynomial into `out` (round(2^d·x/q) mod 2^d). */
function compress(f: Uint16Array, d: number, out: Uint16Array): void {
  const mask = (1 << d) - 1;
  for (let i = 0; i < N; i++) out[i] = Math.floor(((f[i] as number) * (1 << d) + 1664) / Q) & mask;
}

/** Decompress_d in place (round(q·y/2^d)). */
function decompress(f: Uint16Array, d: number): void {
  const half = 1 << (d - 1);
  for (let i = 0; i < N; i++) f[i] = ((f[i] as number) * Q + half) >> d;
}

/**
 * ByteDecode_12 of `count` coefficients from `bytes` at `off` (Alg. 6, d = 12: three bytes
 * hold two coefficients, little-endian), without the mod-q step. Returns whether every
 * coefficient was already below q.
 */
function decode12(bytes: Uint8Array, off: number, count: number, out: Uint16Array): boolean {
  let bad = 0;
  for (let i = 0, p = off; i < count; i += 2, p += 3) {
    const b1 = bytes[p + 1] as number;
    const c0 = (bytes[p] as number) | ((b1 & 0x0f) << 8);
    const c1 = (b1 >> 4) | ((bytes[p + 2] as number) << 4);
    out[i] = c0;
    out[i + 1] = c1;
    bad |= ((Q - 1 - c0) | (Q - 1 - c1)) >>> 31;
  }
  return bad === 0;
}

/** ByteEncode_12 of `count` coefficients (each < 2¹²) into `out` at `off` (Alg. 5, d = 12). */
function encode12(values: Uint16Array, count: number, out: Uint8Array, off: number): void {
  for (let i = 0, p = off; i < count; i += 2, p += 3) {
    const c0 = values[i] as number;
    const c1 = values[i + 1] as number;
    out[p] = c0 & 0xff;
    out[p + 1] = (c0 >> 8) | ((c1 & 0x0f) << 4);
    out[p + 2] = c1 >> 4;
  }
}

/**
 * ByteDecode_12 of a k-vector with the encapsulation-key modulus check (FIPS 203 §7.2): a
 * coefficient ≥ q (which re-encoding would change) → `undefined`.
 */
export function decodeVectorChecked(p: MlKemParams, bytes: Uint8Array): Uint16Array | undefined {
  const out = new Uint16Array(p.k * N);
  return decode12(bytes, 0, p.k * N, out) ? out : undefined;
}

/** ByteDecode_12 of a k-vector, coefficients taken mod q (Alg. 6 with m = q). */
function decodeVector(p: MlKemParams, bytes: Uint8Array, off: number): Uint16Array {
  const out = new Uint16Array(p.k * N);
  if (!decode12(bytes, off, p.k * N, out)) {
    for (let i = 0; i < out.length; i++) {
      const x = out[i] as number;
      out[i] = x >= Q ? x - Q : x;
    }
  }
  return out;
}

// ---- K-PKE (Alg. 13–15) --------------------------------------------------------------------

/**
 * Â as one array: entry (i, j) at (i·k + j)·256 is Â[i][j] = SampleNTT(ρ ‖ j ‖ i) (Alg. 13
 * line 6). Public data: derived from ρ alone.
 */
export function expandMatrix(hash: MlKemHash, p: MlKemParams, rho: Uint8Array): Uint16Array {
  const a = new Uint16Array(p.k * p.k * N);
  for (let i = 0; i < p.k; i++) for (let j = 0; j < p.k; j++) sampleNtt(hash, rho, j, i, a, (i * p.k + j) * N);
  return a;
}

/** ML-KEM.KeyGen_internal(d, z) (Alg. 16 with K-PKE.KeyGen, Alg. 13) → (ek, dk). */
export function keygenInternal(
  hash: MlKemHash,
  p: MlKemParams,
  d: Uint8Array,
  z: Uint8Array,
): { encapsulationKey: Uint8Array; decapsulationKey: Uint8Array } {
  if (d.length !== SEED_BYTES || z.length !== SEED_BYTES) throw new RangeError("ML-KEM keygen: d and z are 32 bytes");
  const { k } = p;
  const g = hash.g(d, Uint8Array.of(k));
  const rho = g.subarray(0, 32);
  const sigma = g.subarray(32, 64);
  const aHat = expandMatrix(hash, p, rho);
  const sHat = new Uint16Array(k * N);
  const poly = new Uint16Array(N);
  for (let i = 0; i < k; i++) {
    sampleCbd(hash, sigma, i, poly);
    ntt(poly);
    sHat.set(poly, i * N);
  }
  const tHat = new Uint16Array(k * N);
  const acc = new Int32Array(N);
  const e = new Uint16Array(N);
  for (let i = 0; i < k; i++) {
    sampleCbd(hash, sigma, k + i, e);
    ntt(e);
    acc.fill(0);
    for (let j = 0; j < k; j++) multiplyAccumulate(acc, aHat, (i * k + j) * N, sHat, j * N);
    reduceInto(poly, acc);
    // t̂[i] = Σ_j Â[i][j] ∘ ŝ[j] + ê[i].
    for (let c = 0; c < N; c++) {
      const x = (poly[c] as number) + (e[c] as number) - Q;
      tHat[i * N + c] = x + ((x >> 31) & Q);
    }
  }
  const ekLen = ekBytes(p);
  const dk = new Uint8Array(dkBytes(p));
  // dk = ByteEncode12(ŝ) ‖ ek ‖ H(ek) ‖ z, ek = ByteEncode12(t̂) ‖ ρ.
  encode12(sHat, k * N, dk, 0);
  encode12(tHat, k * N, dk, 384 * k);
  dk.set(rho, 768 * k);
  const ek = dk.slice(384 * k, 384 * k + ekLen);
  dk.set(hash.h(ek), 384 * k + ekLen);
  dk.set(z, 384 * k + ekLen + 32);
  wipe(g, sHat, poly, e, acc);
  return { encapsulationKey: ek, decapsulationKey: dk };
}

/** ŷ = NTT(y) from r (Alg. 14 lines 9–12): the encryption's secret vector. */
export function sampleYHat(hash: MlKemHash, p: MlKemParams, r: Uint8Array): Uint16Array {
  const yHat = new Uint16Array(p.k * N);
  const poly = new Uint16Array(N);
  for (let i = 0; i < p.k; i++) {
    sampleCbd(hash, r, i, poly);
    ntt(poly);
    yHat.set(poly, i * N);
  }
  return yHat;
}

/**
 * c1 = ByteEncode_du(Compress_du(u)), u = NTT⁻¹(Âᵀ ∘ ŷ) + e1 (Alg. 14 lines 13–19, 22):
 * needs only Â (from ρ) and r. Writes into `out` at `off`.
 */
export function encryptU(
  hash: MlKemHash,
  p: MlKemParams,
  aHat: Uint16Array,
  yHat: Uint16Array,
  r: Uint8Array,
  out: Uint8Array,
  off: number,
): void {
  const { k, du } = p;
  const acc = new Int32Array(N);
  const poly = new Uint16Array(N);
  const e1 = new Uint16Array(N);
  for (let i = 0; i < k; i++) {
    acc.fill(0);
    // Âᵀ[i][j] = Â[j][i].
    for (let j = 0; j < k; j++) multiplyAccumulate(acc, aHat, (j * k + i) * N, yHat, j * N);
    reduceInto(poly, acc, INV_128_R2);
    nttInverse(poly);
    sampleCbd(hash, r, k + i, e1);
    for (let c = 0; c < N; c++) {
      const s = (poly[c] as number) + (e1[c] as number);
      poly[c] = s >= Q ? s - Q : s;
    }
    compress(poly, du, poly);
    encodeBits(poly, N, du, out, off + 32 * du * i);
  }
  wipe(acc, poly, e1);
}

/**
 * c2 = ByteEncode_dv(Compress_dv(v)), v = NTT⁻¹(t̂ᵀ ∘ ŷ) + e2 + Decompress_1(m) (Alg. 14
 * lines 17, 20–21, 23). Writes into `out` at `off`.
 */
export function encryptV(
  hash: MlKemHash,
  p: MlKemParams,
  tHat: Uint16Array,
  yHat: Uint16Array,
  r: Uint8Array,
  m: Uint8Array,
  out: Uint8Array,
  off: number,
): void {
  const { k, dv } = p;
  const acc = new Int32Array(N);
  for (let j = 0; j < k; j++) multiplyAccumulate(acc, tHat, j * N, yHat, j * N);
  const v = new Uint16Array(N);
  reduceInto(v, acc, INV_128_R2);
  nttInverse(v);
  const e2 = new Uint16Array(N);
  sampleCbd(hash, r, 2 * k, e2);
  for (let c = 0; c < N; c++) {
    // Decompress_1(bit) = bit·⌈q/2⌉ = bit·1665.
    const mu = (((m[c >> 3] as number) >> (c & 7)) & 1) * 1665;
    const s = ((v[c] as number) + (e2[c] as number)) % Q;
    const t = s + mu;
    v[c] = t >= Q ? t - Q : t;
  }
  compress(v, dv, v);
  encodeBits(v, N, dv, out, off);
  wipe(acc, v, e2);
}

/** K-PKE.Encrypt(ek, m, r) (Alg. 14) with Â and t̂ already expanded. */
function encrypt(hash: MlKemHash, p: MlKemParams, aHat: Uint16Array, tHat: Uint16Array, m: Uint8Array, r: Uint8Array): Uint8Array {
  const c = new Uint8Array(ctBytes(p));
  const yHat = sampleYHat(hash, p, r);
  encryptU(hash, p, aHat, yHat, r, c, 0);
  encryptV(hash, p, tHat, yHat, r, m, c, c1Bytes(p));
  wipe(yHat);
  return c;
}

/** K-PKE.Decrypt(dk_PKE, c) (Alg. 15) → m (32 bytes). */
function decrypt(p: MlKemParams, dk: Uint8Array, c: Uint8Array): Uint8Array {
  const { k, du, dv } = p;
  const sHat = decodeVector(p, dk, 0);
  const acc = new Int32Array(N);
  const u = new Uint16Array(N);
  for (let i = 0; i < k; i++) {
    decodeBits(c, 32 * du * i, du, u, 0);
    decompress(u, du);
    ntt(u);
    multiplyAccumulate(acc, sHat, i * N, u, 0);
  }
  const w = new Uint16Array(N);
  reduceInto(w, acc, INV_128_R2);
  nttInverse(w);
  const v = new Uint16Array(N);
  decodeBits(c, c1Bytes(p), dv, v, 0);
  decompress(v, dv);
  const m = new Uint8Array(SEED_BYTES);
  for (let i = 0; i < N; i++) {
    const x = (v[i] as number) - (w[i] as number);
    const y = x < 0 ? x + Q : x;
    // Compress_1(y) = round(2y/q) mod 2.
    const bit = Math.floor((2 * y + 1664) / Q) & 1;
    m[i >> 3] = (m[i >> 3] as number) | (bit << (i & 7));
  }
  wipe(sHat, acc, u, w, v);
  return m;
}

// ---- ML-KEM internal algorithms (Alg. 17, 18) with the input checks of §7 -------------------

/** Options of encapsulation/decapsulation: a source of Â for ρ (e.g. a bounded cache). */
export interface MatrixSource {
  (hash: MlKemHash, p: MlKemParams, rho: Uint8Array): Uint16Array;
}

/**
 * ML-KEM.Encaps_internal(ek, m) (Alg. 17) after the modulus check of §7.2: `undefined` when
 * ek holds a coefficient ≥ q (wrong lengths throw RangeError: callers check them first).
 */
export function encapsInternal(
  hash: MlKemHash,
  p: MlKemParams,
  ek: Uint8Array,
  m: Uint8Array,
  matrix: MatrixSource = expandMatrix,
): { sharedSecret: Uint8Array; ciphertext: Uint8Array } | undefined {
  if (ek.length !== ekBytes(p) || m.length !== SEED_BYTES) throw new RangeError("ML-KEM encapsulate: bad input length");
  const tHat = decodeVectorChecked(p, ek);
  if (tHat === undefined) return undefined;
  const kr = hash.g(m, hash.h(ek));
  const rho = ek.subarray(384 * p.k);
  const ciphertext = encrypt(hash, p, matrix(hash, p, rho), tHat, m, kr.subarray(32, 64));
  const sharedSecret = new Uint8Array(kr.subarray(0, 32));
  wipe(kr);
  return { sharedSecret, ciphertext };
}

/**
 * ML-KEM.Decaps_internal(dk, c) (Alg. 18) after the hash check of §7.3: `undefined` when
 * H(ek) in dk is not the hash of the ek in dk. An invalid ciphertext gives the implicit-
 * rejection key J(z ‖ c).
 */
export function decapsInternal(
  hash: MlKemHash,
  p: MlKemParams,
  dk: Uint8Array,
  c: Uint8Array,
  matrix: MatrixSource = expandMatrix,
): Uint8Array | undefined {
  if (dk.length !== dkBytes(p) || c.length !== ctBytes(p)) throw new RangeError("ML-KEM decapsulate: bad input length");
  const { k } = p;
  const ek = dk.subarray(384 * k, 768 * k + 32);
  const h = dk.subarray(768 * k + 32, 768 * k + 64);
  const z = dk.subarray(768 * k + 64, 768 * k + 96);
  if (!constantTimeEqual(hash.h(ek), h)) return undefined;
  const mPrime = decrypt(p, dk, c);
  const kr = hash.g(mPrime, h);
  const kBar = hash.shake256(SEED_BYTES, z, c);
  const tHat = decodeVector(p, ek, 0);
  const cPrime = encrypt(hash, p, matrix(hash, p, ek.subarray(384 * k)), tHat, mPrime, kr.subarray(32, 64));
  const valid = constantTimeEqual(c, cPrime);
  // Select without branching on the secret comparison's bytes.
  const mask = valid ? 0xff : 0;
  const out = new Uint8Array(SEED_BYTES);
  for (let i = 0; i < SEED_BYTES; i++) out[i] = ((kr[i] as number) & mask) | ((kBar[i] as number) & ~mask);
  wipe(mPrime, kr, kBar, cPrime);
  return out;
}
