/**
 * The ML-KEM Braid's erasure code: a systematic Reed–Solomon-style code over GF(2^16).
 *
 * Owns: splitting a Braid payload (header, encapsulation-key vector, ciphertext parts) into
 * 32-byte chunks for any chunk index, and rebuilding the payload from any `n` distinct chunks
 * (spec PQ-11). Pure functions over bytes; no state.
 * Does not own: which payload is sent when (spqr-braid.ts) or the message bytes (spqr-message.ts).
 *
 * The rules, pinned against libsignal 0.103 output (spec PQ-11): a payload of `n` 32-byte
 * chunks is read as 16 lanes of big-endian 16-bit field elements per chunk; lane `l` of chunk
 * `k` is the value at `x = k` of the polynomial of degree < n through lane `l` of chunks
 * 0..n−1. Chunks 0..n−1 are therefore the payload itself.
 */

import { ProtocolError } from "../errors.js";

/** Bytes per chunk. */
export const CHUNK_BYTES = 32;

/** Field elements (lanes) per chunk. */
const LANES = CHUNK_BYTES / 2;

/** GF(2^16) reduction polynomial x^16 + x^12 + x^3 + x + 1 (spec PQ-11). */
const FIELD_POLY = 0x1100b;

/** Number of distinct chunk indices: the field's size. */
export const MAX_CHUNK_INDEX = 0xffff;

let EXP: Uint16Array | undefined;
let LOG: Uint16Array | undefined;

/** Builds log/antilog tables once; x (= 2) generates the multiplicative group. */
function tables(): [Uint16Array, Uint16Array] {
  if (EXP === undefined || LOG === undefined) {
    const exp = new Uint16Array(2 * 65535);
    const log = new Uint16Array(65536);
    let v = 1;
    for (let i = 0; i < 65535; i++) {
      exp[i] = v;
      log[v] = i;
      v <<= 1;
      if (v & 0x10000) v ^= FIELD_POLY;
    }
    for (let i = 65535; i < exp.length; i++) exp[i] = exp[i - 65535] as number;
    EXP = exp;
    LOG = log;
  }
  return [EXP, LOG];
}

/** Field multiplication. */
export function gfMul(a: number, b: number): number {
  if (a === 0 || b === 0) return 0;
  const [exp, log] = tables();
  return exp[(log[a] as number) + (log[b] as number)] as number;
}

/**
 * Logarithms of the Lagrange weights at `x` for the points `xs` (distinct field elements, `x`
 * not among them): weight j = Π_{m≠j} (x − x_m) / (x_j − x_m), computed in the log domain.
 */
function logWeights(xs: readonly number[], x: number): number[] {
  const [, log] = tables();
  return xs.map((xj, j) => {
    let acc = 0;
    for (let m = 0; m < xs.length; m++) {
      if (m === j) continue;
      const xm = xs[m] as number;
      acc += (log[x ^ xm] as number) - (log[xj ^ xm] as number);
    }
    return ((acc % 65535) + 65535) % 65535;
  });
}

/** Evaluates at `x` the lane polynomials through the chunks `ys` at points `xs`. */
function interpolate(xs: readonly number[], ys: readonly Uint8Array[], x: number): Uint8Array {
  const [exp, log] = tables();
  const w = logWeights(xs, x);
  const out = new Uint8Array(CHUNK_BYTES);
  for (let l = 0; l < LANES; l++) {
    let acc = 0;
    for (let j = 0; j < xs.length; j++) {
      const y = ys[j] as Uint8Array;
      const v = ((y[2 * l] as number) << 8) | (y[2 * l + 1] as number);
      if (v !== 0) acc ^= exp[(w[j] as number) + (log[v] as number)] as number;
    }
    out[2 * l] = acc >> 8;
    out[2 * l + 1] = acc & 0xff;
  }
  return out;
}

/** Number of chunks a payload of `length` bytes (a multiple of 32) splits into. */
export function chunkCount(length: number): number {
  if (length === 0 || length % CHUNK_BYTES !== 0) throw new RangeError("payload length must be a positive multiple of 32");
  return length / CHUNK_BYTES;
}

/** Chunk `index` of `payload` (spec PQ-11): the payload's own bytes below n, parity above. */
export function encodeChunk(payload: Uint8Array, index: number): Uint8Array {
  const n = chunkCount(payload.length);
  if (!Number.isInteger(index) || index < 0 || index > MAX_CHUNK_INDEX) throw new RangeError("chunk index out of range");
  if (index < n) return payload.slice(index * CHUNK_BYTES, (index + 1) * CHUNK_BYTES);
  const xs = Array.from({ length: n }, (_, i) => i);
  const ys = xs.map((i) => payload.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES));
  return interpolate(xs, ys, index);
}

/** One received chunk. */
export interface Chunk {
  readonly index: number;
  readonly data: Uint8Array;
}

/**
 * Rebuilds an `n`-chunk payload from `n` chunks with distinct indices (spec PQ-11). Throws
 * ProtocolError "invalid_message" for a wrong number of chunks, a repeated index, an index out
 * of range or a chunk of the wrong size.
 */
export function decodeChunks(n: number, chunks: readonly Chunk[]): Uint8Array {
  if (chunks.length !== n) throw new ProtocolError("invalid_message");
  const seen = new Set<number>();
  for (const c of chunks) {
    if (c.data.length !== CHUNK_BYTES || c.index < 0 || c.index > MAX_CHUNK_INDEX || seen.has(c.index)) {
      throw new ProtocolError("invalid_message");
    }
    seen.add(c.index);
  }
  const xs = chunks.map((c) => c.index);
  const ys = chunks.map((c) => c.data);
  const out = new Uint8Array(n * CHUNK_BYTES);
  for (let k = 0; k < n; k++) {
    const direct = chunks.find((c) => c.index === k);
    out.set(direct !== undefined ? direct.data : interpolate(xs, ys, k), k * CHUNK_BYTES);
  }
  return out;
}
