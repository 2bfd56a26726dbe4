import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { be32, be64, bytesToHex, concatBytes, constantTimeEqual, hexToBytes, randomBytes, utf8 } from "./bytes.js";

describe("bytes", () => {
  it("concatBytes joins in order", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 6 }), (parts) => {
        const joined = concatBytes(...parts);
        expect(Array.from(joined)).toEqual(parts.flatMap((p) => Array.from(p)));
      }),
    );
  });

  it("constantTimeEqual agrees with element-wise equality and rejects different lengths", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 }), (a, b) => {
        const expected = a.length === b.length && a.every((x, i) => x === b[i]);
        expect(constantTimeEqual(a, b)).toBe(expected);
        expect(constantTimeEqual(a, Uint8Array.from(a))).toBe(true);
      }),
    );
    expect(constantTimeEqual(new Uint8Array(0), new Uint8Array(1))).toBe(false);
  });

  it("randomBytes returns the requested length, differs between calls, and fills beyond 64 KiB", () => {
    expect(randomBytes(0).length).toBe(0);
    const a = randomBytes(32);
    const b = randomBytes(32);
    expect(a.length).toBe(32);
    expect(constantTimeEqual(a, b)).toBe(false);
    const big = randomBytes(70_000);
    expect(big.length).toBe(70_000);
    // The tail past the first getRandomValues chunk is filled too.
    expect(big.subarray(65_536).some((x) => x !== 0)).toBe(true);
    expect(() => randomBytes(-1)).toThrow(RangeError);
  });

  it("utf8, be32, be64 and hex encodings match node's Buffer", () => {
    expect(bytesToHex(utf8("héllo ✓"))).toBe(Buffer.from("héllo ✓", "utf8").toString("hex"));
    expect(bytesToHex(be32(0x01020304))).toBe("01020304");
    expect(bytesToHex(be32(0xffffffff))).toBe("ffffffff");
    expect(bytesToHex(be64(1n))).toBe("0000000000000001");
    expect(bytesToHex(be64(0x0102030405060708n))).toBe("0102030405060708");
    expect(bytesToHex(be64(2 ** 40))).toBe("0000010000000000");
    expect(() => be32(2 ** 32)).toThrow(RangeError);
    expect(() => be32(-1)).toThrow(RangeError);
    expect(() => be64(-1n)).toThrow(RangeError);
    expect(() => be64(2n ** 64n)).toThrow(RangeError);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        expect(bytesToHex(b)).toBe(Buffer.from(b).toString("hex"));
        expect(Array.from(hexToBytes(bytesToHex(b)))).toEqual(Array.from(b));
      }),
    );
    expect(() => hexToBytes("abc")).toThrow(RangeError);
    expect(() => hexToBytes("zz")).toThrow(RangeError);
  });
});
