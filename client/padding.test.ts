import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isProtocolError } from "./errors.js";
import { PADDING_BLOCK, pad, unpad } from "./padding.js";

describe("EN-06 padding", () => {
  it("EN-06: pads to the next multiple of 160, always adding at least one byte, and unpad inverts it", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), (x) => {
        const y = pad(x);
        expect(y.length % PADDING_BLOCK).toBe(0);
        expect(y.length).toBeGreaterThan(x.length);
        expect(y.length - x.length).toBeLessThanOrEqual(PADDING_BLOCK);
        expect(y[x.length]).toBe(0x80);
        expect(Array.from(unpad(y))).toEqual(Array.from(x));
      }),
    );
    expect(pad(new Uint8Array(0)).length).toBe(160);
    expect(pad(new Uint8Array(159)).length).toBe(160);
    expect(pad(new Uint8Array(160)).length).toBe(320);
  });

  it("EN-06: unpad does not require a multiple of 160", () => {
    expect(Array.from(unpad(new Uint8Array([1, 2, 0x80, 0, 0])))).toEqual([1, 2]);
    expect(Array.from(unpad(new Uint8Array([0x80])))).toEqual([]);
  });

  it("EN-06: malformed padding is invalid_padding", () => {
    for (const bad of [[], [0], [0, 0, 0], [1, 2, 3], [0x80, 1], [0x81, 0]]) {
      let err: unknown;
      try {
        unpad(new Uint8Array(bad));
      } catch (e) {
        err = e;
      }
      expect(isProtocolError(err, "invalid_padding")).toBe(true);
    }
  });
});

describe("EN-06 padding vectors (spec/vectors/padding.json)", () => {
  it("EN-06: pinned pad/unpad cases", async () => {
    const { readFileSync } = await import("node:fs");
    const { bytesToHex, hexToBytes } = await import("./crypto/bytes.js");
    const v = JSON.parse(readFileSync(new URL("../spec/vectors/padding.json", import.meta.url), "utf8")) as {
      cases: { input: string; padded: string }[];
      unpadAccepted: { padded: string; unpadded: string }[];
      unpadRejected: { padded: string; error: string }[];
    };
    for (const c of v.cases) {
      expect(bytesToHex(pad(hexToBytes(c.input)))).toBe(c.padded);
      expect(bytesToHex(unpad(hexToBytes(c.padded)))).toBe(c.input);
    }
    for (const c of v.unpadAccepted) expect(bytesToHex(unpad(hexToBytes(c.padded)))).toBe(c.unpadded);
    for (const c of v.unpadRejected) {
      let err: unknown;
      try {
        unpad(hexToBytes(c.padded));
      } catch (e) {
        err = e;
      }
      expect(isProtocolError(err, c.error as "invalid_padding")).toBe(true);
    }
  });
});
