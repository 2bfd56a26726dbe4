import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytesToHex, hexToBytes } from "../crypto/bytes.js";
import { CHUNK_BYTES, decodeChunks, encodeChunk, gfMul, MAX_CHUNK_INDEX } from "./spqr-erasure.js";

interface VectorPayload {
  readonly payload: string;
  readonly chunks: ReadonlyArray<{ index: number; data: string }>;
}
const vectors = JSON.parse(readFileSync(new URL("../../spec/vectors/spqr-erasure.json", import.meta.url), "utf8")) as {
  header: VectorPayload;
  ekVector: VectorPayload;
};

describe("SPQR erasure code (spec PQ-11)", () => {
  it("PQ-11 GF(2^16) with x^16+x^12+x^3+x+1: 2 generates the multiplicative group", () => {
    let v = 1;
    const seen = new Set<number>();
    for (let i = 0; i < 65535; i++) {
      seen.add(v);
      v = gfMul(v, 2);
    }
    expect(seen.size).toBe(65535);
    expect(v).toBe(1);
    expect(gfMul(0x8000, 2)).toBe(0x100b);
  });

  it("PQ-11 reproduces the chunks libsignal sent, systematic and parity", () => {
    for (const v of [vectors.header, vectors.ekVector]) {
      const payload = hexToBytes(v.payload);
      for (const c of v.chunks) expect(bytesToHex(encodeChunk(payload, c.index))).toBe(c.data);
      expect(encodeChunk(payload, 1)).toEqual(payload.subarray(CHUNK_BYTES, 2 * CHUNK_BYTES));
    }
  });

  it("PQ-11 rebuilds the payload from libsignal's parity chunks alone", () => {
    const v = vectors.header;
    const chunks = v.chunks.slice(0, 3).map((c) => ({ index: c.index, data: hexToBytes(c.data) }));
    expect(bytesToHex(decodeChunks(3, chunks))).toBe(v.payload);
  });

  it("PQ-11 any n distinct chunks rebuild the payload (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 36 }).chain((n) =>
          fc.tuple(
            fc.uint8Array({ minLength: n * CHUNK_BYTES, maxLength: n * CHUNK_BYTES }),
            fc.uniqueArray(fc.integer({ min: 0, max: MAX_CHUNK_INDEX }), { minLength: n, maxLength: n }),
          ),
        ),
        ([payload, indices]) => {
          const n = payload.length / CHUNK_BYTES;
          const chunks = indices.map((index) => ({ index, data: encodeChunk(payload, index) }));
          expect(decodeChunks(n, chunks)).toEqual(payload);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("PQ-11 refuses repeated indices, wrong counts and wrong sizes", () => {
    const payload = new Uint8Array(96).fill(3);
    const c = (index: number) => ({ index, data: encodeChunk(payload, index) });
    for (const bad of [[c(0), c(0), c(1)], [c(0), c(1)], [c(0), c(1), { index: 2, data: new Uint8Array(31) }], [c(0), c(1), { index: 65536, data: new Uint8Array(32) }]]) {
      expect(() => decodeChunks(3, bad)).toThrow(expect.objectContaining({ code: "invalid_message" }));
    }
  });
});
