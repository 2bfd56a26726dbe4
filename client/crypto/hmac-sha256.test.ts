import { createHmac } from "node:crypto";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytesToHex, hexToBytes } from "./bytes.js";
import { HmacSha256Key } from "./hmac-sha256.js";
import { hkdfSha256, hkdfSha256Portable, hmacSha256, SMALL_INPUT_BYTES } from "./kdf.js";

const utf8 = (s: string) => new TextEncoder().encode(s);

/** RFC 4231 §4.2–4.8, HMAC-SHA-256 (case 5 is a truncated output, not applicable). */
const RFC4231: Array<{ key: Uint8Array; data: Uint8Array; mac: string }> = [
  { key: hexToBytes("0b".repeat(20)), data: utf8("Hi There"), mac: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
  { key: utf8("Jefe"), data: utf8("what do ya want for nothing?"), mac: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
  { key: hexToBytes("aa".repeat(20)), data: hexToBytes("dd".repeat(50)), mac: "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
  {
    key: hexToBytes("0102030405060708090a0b0c0d0e0f10111213141516171819"),
    data: hexToBytes("cd".repeat(50)),
    mac: "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
  },
  {
    key: hexToBytes("aa".repeat(131)),
    data: utf8("Test Using Larger Than Block-Size Key - Hash Key First"),
    mac: "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
  },
  {
    key: hexToBytes("aa".repeat(131)),
    data: utf8(
      "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.",
    ),
    mac: "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
  },
];

describe("HMAC-SHA256 for short inputs (hmac-sha256.ts)", () => {
  it("RFC 4231 test cases 1–4, 6, 7", () => {
    for (const c of RFC4231) expect(bytesToHex(new HmacSha256Key(c.key).mac([c.data]))).toBe(c.mac);
  });

  it("equals node:crypto and noble for any key, any split of the message, and reuse of one key (property)", () => {
    // Lengths around the block boundaries (55/56/63/64/119/120) are where padding goes wrong.
    const data = fc.oneof(fc.uint8Array({ maxLength: 130 }), fc.uint8Array({ minLength: 50, maxLength: 70 }), fc.uint8Array({ maxLength: 400 }));
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 150 }), data, fc.array(fc.nat(), { maxLength: 4 }), fc.uint8Array({ maxLength: 80 }), (key, message, cuts, second) => {
        const points = [...new Set(cuts.map((c) => c % (message.length + 1)))].sort((a, b) => a - b);
        const parts: Uint8Array[] = [];
        let at = 0;
        for (const p of [...points, message.length]) {
          parts.push(message.subarray(at, p));
          at = p;
        }
        const keyed = new HmacSha256Key(key);
        const expected = createHmac("sha256", key).update(message).digest("hex");
        expect(bytesToHex(keyed.mac(parts))).toBe(expected);
        expect(bytesToHex(hmac(sha256, key, message))).toBe(expected);
        // The same prepared key again, on another message: the states were not consumed.
        expect(bytesToHex(keyed.mac([second]))).toBe(createHmac("sha256", key).update(second).digest("hex"));
        expect(bytesToHex(keyed.mac(parts))).toBe(expected);
      }),
      { numRuns: 400 },
    );
  });

  it("kdf.ts takes it for inputs up to SMALL_INPUT_BYTES and Node's HMAC above; both give noble's bytes at the boundary", () => {
    const key = new Uint8Array(32).fill(9);
    for (const n of [SMALL_INPUT_BYTES - 1, SMALL_INPUT_BYTES, SMALL_INPUT_BYTES + 1]) {
      const data = new Uint8Array(n).fill(n & 0xff);
      expect(bytesToHex(hmacSha256(key, data))).toBe(bytesToHex(hmac(sha256, key, data)));
      expect(bytesToHex(hkdfSha256(data, key, data.subarray(0, 40), 80))).toBe(bytesToHex(hkdfSha256Portable(data, key, data.subarray(0, 40), 80)));
    }
  });

  it("a prepared key prints redacted", () => {
    const keyed = new HmacSha256Key(new Uint8Array(32).fill(1));
    expect(String(keyed)).toBe("[HmacSha256Key: redacted]");
    expect(JSON.stringify({ keyed })).toBe('{"keyed":"[HmacSha256Key: redacted]"}');
  });
});
