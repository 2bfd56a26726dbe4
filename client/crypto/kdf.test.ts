import { createHash, createHmac, hkdfSync } from "node:crypto";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytesToHex, concatBytes, hexToBytes } from "./bytes.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { hkdfSha256, hkdfSha256Portable, hmacSha256, hmacSha256Each, hmacSha256Parts, SMALL_INPUT_BYTES, sha256, sha512 } from "./kdf.js";

interface HkdfCase {
  source: string;
  ikm: string;
  salt: string;
  info: string;
  length: number;
  okm: string;
}
const vectors = JSON.parse(
  readFileSync(new URL("../../spec/vectors/rfc5869.json", import.meta.url), "utf8"),
) as { cases: HkdfCase[] };

describe("HKDF-SHA256", () => {
  it.each(vectors.cases.map((c) => [c.source, c] as const))("matches %s", (_name, c) => {
    const out = hkdfSha256(hexToBytes(c.ikm), hexToBytes(c.salt), hexToBytes(c.info), c.length);
    expect(bytesToHex(out)).toBe(c.okm);
  });

  it("treats an undefined salt as HashLen zero bytes (Signal's 'salt = none')", () => {
    const ikm = hexToBytes("0b".repeat(22));
    expect(bytesToHex(hkdfSha256(ikm, undefined, new Uint8Array(0), 42))).toBe(
      vectors.cases[2]?.okm,
    );
    expect(bytesToHex(hkdfSha256(ikm, new Uint8Array(32), new Uint8Array(0), 42))).toBe(
      vectors.cases[2]?.okm,
    );
  });

  it("equals node:crypto hkdfSync on random inputs", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 100 }),
        fc.uint8Array({ maxLength: 80 }),
        fc.uint8Array({ maxLength: 80 }),
        fc.integer({ min: 1, max: 255 * 32 }),
        (ikm, salt, info, length) => {
          const ours = hkdfSha256(ikm, salt, info, length);
          const node = new Uint8Array(hkdfSync("sha256", ikm, salt, info, length));
          expect(bytesToHex(ours)).toBe(bytesToHex(node));
        },
      ),
      { numRuns: 60 },
    );
  });

  it("rejects output lengths beyond 255 * HashLen (misuse)", () => {
    expect(() => hkdfSha256(new Uint8Array(1), undefined, new Uint8Array(0), 255 * 32 + 1)).toThrow(RangeError);
  });
});

describe("hashes and HMAC", () => {
  it("equal node:crypto on random inputs", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 100 }), (data, key) => {
        expect(bytesToHex(sha256(data))).toBe(createHash("sha256").update(data).digest("hex"));
        expect(bytesToHex(sha512(data))).toBe(createHash("sha512").update(data).digest("hex"));
        expect(bytesToHex(hmacSha256(key, data))).toBe(createHmac("sha256", key).update(data).digest("hex"));
      }),
      { numRuns: 100 },
    );
  });

  it("hmacSha256Parts equals hmacSha256 over the concatenation and node:crypto", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 100 }),
        fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 4 }),
        (key, parts) => {
          const whole = concatBytes(...parts);
          expect(bytesToHex(hmacSha256Parts(key, parts))).toBe(bytesToHex(hmacSha256(key, whole)));
          expect(bytesToHex(hmacSha256Parts(key, parts))).toBe(createHmac("sha256", key).update(whole).digest("hex"));
        },
      ),
      { numRuns: 100 },
    );
  });

  it("hmacSha256Each (one keyed state, cloned) equals hmacSha256 and node:crypto per message", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 100 }),
        fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 4 }),
        (key, messages) => {
          const each = hmacSha256Each(key, messages).map(bytesToHex);
          expect(each).toEqual(messages.map((m) => bytesToHex(hmacSha256(key, m))));
          expect(each).toEqual(messages.map((m) => createHmac("sha256", key).update(m).digest("hex")));
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe("the short-input path (hmac-sha256-small.ts below SMALL_INPUT_BYTES, createHmac above)", () => {
  it("gives noble's bytes on both sides of the boundary, for HMAC, parts, each and HKDF", () => {
    const key = new Uint8Array(32).fill(9);
    for (const n of [SMALL_INPUT_BYTES - 1, SMALL_INPUT_BYTES, SMALL_INPUT_BYTES + 1]) {
      const data = new Uint8Array(n).fill(n & 0xff);
      const expected = bytesToHex(hmac(nobleSha256, key, data));
      expect(bytesToHex(hmacSha256(key, data))).toBe(expected);
      expect(bytesToHex(hmacSha256Parts(key, [data.subarray(0, 7), data.subarray(7)]))).toBe(expected);
      expect(hmacSha256Each(key, [data, data.subarray(1)]).map(bytesToHex)).toEqual([expected, bytesToHex(hmac(nobleSha256, key, data.subarray(1)))]);
      expect(bytesToHex(hkdfSha256(data, key, data.subarray(0, 40), 80))).toBe(bytesToHex(hkdfSha256Portable(data, key, data.subarray(0, 40), 80)));
    }
  });
});
