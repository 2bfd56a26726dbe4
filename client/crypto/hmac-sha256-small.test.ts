import { createHash, createHmac, hkdfSync } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytesToHex, hexToBytes } from "./bytes.js";
import { hkdfSha256Small, hmacSha256Key, hmacSha256Pair, hmacSha256Small } from "./hmac-sha256-small.js";

const hex = (b: Uint8Array) => bytesToHex(b);

describe("hmac-sha256-small.ts against node:crypto and the RFC vectors", () => {
  it("RFC 4231 test cases 1, 2, 6 and 7 (short key, short data, 131-byte keys)", () => {
    const cases: Array<[string, string, string]> = [
      ["0b".repeat(20), bytesToHex(new TextEncoder().encode("Hi There")), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"],
      [bytesToHex(new TextEncoder().encode("Jefe")), bytesToHex(new TextEncoder().encode("what do ya want for nothing?")), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"],
      ["aa".repeat(131), bytesToHex(new TextEncoder().encode("Test Using Larger Than Block-Size Key - Hash Key First")), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"],
      [
        "aa".repeat(131),
        bytesToHex(new TextEncoder().encode("This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.")),
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
      ],
    ];
    for (const [key, data, mac] of cases) expect(hex(hmacSha256Small(hexToBytes(key), hexToBytes(data)))).toBe(mac);
  });

  it("RFC 5869 test cases 1 and 3 (salt, and no salt or info)", () => {
    const ikm = hexToBytes("0b".repeat(22));
    expect(hex(hkdfSha256Small(ikm, hexToBytes("000102030405060708090a0b0c"), hexToBytes("f0f1f2f3f4f5f6f7f8f9"), 42))).toBe(
      "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
    );
    expect(hex(hkdfSha256Small(ikm, undefined, new Uint8Array(0), 42))).toBe(
      "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
    );
  });

  it("HMAC equals node:crypto for keys of 0..140 bytes and messages of 0..300 bytes split anywhere (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 140 }), fc.uint8Array({ maxLength: 300 }), fc.nat(300), (key, message, cut) => {
        const expected = createHmac("sha256", key).update(message).digest("hex");
        const at = Math.min(cut, message.length);
        expect(hex(hmacSha256Small(key, message))).toBe(expected);
        expect(hex(hmacSha256Small(hmacSha256Key(key), message.subarray(0, at), message.subarray(at)))).toBe(expected);
        const [a, b] = hmacSha256Pair(key, message, message.subarray(at));
        expect([hex(a), hex(b)]).toEqual([expected, createHmac("sha256", key).update(message.subarray(at)).digest("hex")]);
      }),
      { numRuns: 500 },
    );
  });

  it("every message length around the padding boundaries (55, 56, 63, 64, 119, 120 bytes) equals node:crypto", () => {
    const key = new Uint8Array(32).fill(7);
    for (let n = 0; n <= 200; n++) {
      const message = new Uint8Array(n).map((_, i) => (i * 31 + n) & 0xff);
      expect(hex(hmacSha256Small(key, message))).toBe(createHmac("sha256", key).update(message).digest("hex"));
    }
    // And a long key hashed first: same as node.
    const long = new Uint8Array(65).fill(1);
    expect(hex(hmacSha256Small(long, long))).toBe(createHmac("sha256", createHash("sha256").update(long).digest()).update(long).digest("hex"));
  });

  it("HKDF equals node:crypto's hkdfSync for any salt, info and length (property)", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 80 }),
        fc.option(fc.uint8Array({ maxLength: 80 }), { nil: undefined }),
        fc.uint8Array({ maxLength: 80 }),
        fc.integer({ min: 1, max: 200 }),
        (ikm, salt, info, length) => {
          const expected = new Uint8Array(hkdfSync("sha256", ikm, salt ?? new Uint8Array(0), info, length));
          expect(hex(hkdfSha256Small(ikm, salt, info, length))).toBe(hex(expected));
        },
      ),
      { numRuns: 300 },
    );
  });
});
