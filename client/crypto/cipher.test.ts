import { createCipheriv } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isProtocolError } from "../errors.js";
import { bytesToHex } from "./bytes.js";
import {
  aes256CbcDecrypt,
  aes256CbcEncrypt,
  aes256Ctr,
  aes256GcmDecrypt,
  aes256GcmEncrypt,
} from "./cipher.js";

const key32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const iv16 = fc.uint8Array({ minLength: 16, maxLength: 16 });
const nonce12 = fc.uint8Array({ minLength: 12, maxLength: 12 });

function nodeEncrypt(alg: string, key: Uint8Array, iv: Uint8Array, data: Uint8Array): string {
  const c = createCipheriv(alg, key, iv);
  return Buffer.concat([c.update(data), c.final()]).toString("hex");
}

function expectCode(f: () => unknown, code: string): void {
  let thrown: unknown;
  try {
    f();
  } catch (e) {
    thrown = e;
  }
  expect(isProtocolError(thrown) && thrown.code).toBe(code);
}

describe("AES-256-CBC", () => {
  it("equals node:crypto and round-trips", () => {
    fc.assert(
      fc.property(key32, iv16, fc.uint8Array({ maxLength: 200 }), (key, iv, pt) => {
        const ct = aes256CbcEncrypt(key, iv, pt);
        expect(bytesToHex(ct)).toBe(nodeEncrypt("aes-256-cbc", key, iv, pt));
        expect(bytesToHex(aes256CbcDecrypt(key, iv, ct))).toBe(bytesToHex(pt));
      }),
      { numRuns: 100 },
    );
  });

  it("rejects empty, non-block-multiple and badly padded ciphertexts with invalid_ciphertext", () => {
    const key = new Uint8Array(32).fill(7);
    const iv = new Uint8Array(16).fill(9);
    expectCode(() => aes256CbcDecrypt(key, iv, new Uint8Array(0)), "invalid_ciphertext");
    expectCode(() => aes256CbcDecrypt(key, iv, new Uint8Array(17)), "invalid_ciphertext");
    // Blocks whose decryption ends in bytes that are never valid PKCS#7 (0x00, 0x11) or whose
    // padding bytes disagree (…0x01 0x02).
    for (const tail of [[0x00], [0x11], [0x01, 0x02]]) {
      const pt = new Uint8Array(16).fill(0x41);
      pt.set(tail, 16 - tail.length);
      const raw = createCipheriv("aes-256-cbc", key, iv).setAutoPadding(false);
      const ct = new Uint8Array(Buffer.concat([raw.update(pt), raw.final()]));
      expectCode(() => aes256CbcDecrypt(key, iv, ct), "invalid_ciphertext");
    }
  });

  it("throws RangeError (misuse) on wrong key or IV sizes", () => {
    expect(() => aes256CbcEncrypt(new Uint8Array(16), new Uint8Array(16), new Uint8Array(1))).toThrow(RangeError);
    expect(() => aes256CbcEncrypt(new Uint8Array(32), new Uint8Array(12), new Uint8Array(1))).toThrow(RangeError);
  });
});

describe("AES-256-CTR", () => {
  it("equals node:crypto and is its own inverse", () => {
    fc.assert(
      fc.property(key32, iv16, fc.uint8Array({ maxLength: 200 }), (key, iv, data) => {
        const out = aes256Ctr(key, iv, data);
        expect(bytesToHex(out)).toBe(nodeEncrypt("aes-256-ctr", key, iv, data));
        expect(bytesToHex(aes256Ctr(key, iv, out))).toBe(bytesToHex(data));
      }),
      { numRuns: 100 },
    );
  });
});

describe("AES-256-GCM", () => {
  it("equals node:crypto (ciphertext ‖ tag) and round-trips", () => {
    fc.assert(
      fc.property(key32, nonce12, fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 40 }), (key, nonce, pt, aad) => {
        const ct = aes256GcmEncrypt(key, nonce, pt, aad);
        const c = createCipheriv("aes-256-gcm", key, nonce);
        c.setAAD(aad);
        const node = Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]).toString("hex");
        expect(bytesToHex(ct)).toBe(node);
        expect(bytesToHex(aes256GcmDecrypt(key, nonce, ct, aad))).toBe(bytesToHex(pt));
      }),
      { numRuns: 100 },
    );
  });

  it("any bit flip in ciphertext, tag or AAD gives bad_mac", () => {
    fc.assert(
      fc.property(key32, nonce12, fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ minLength: 1, maxLength: 16 }), fc.nat(), fc.nat(7), fc.boolean(), (key, nonce, pt, aad, pos, bit, flipAad) => {
        const ct = aes256GcmEncrypt(key, nonce, pt, aad);
        if (flipAad) {
          const a2 = Uint8Array.from(aad);
          a2[pos % a2.length] = (a2[pos % a2.length] as number) ^ (1 << bit);
          expectCode(() => aes256GcmDecrypt(key, nonce, ct, a2), "bad_mac");
        } else {
          const c2 = Uint8Array.from(ct);
          c2[pos % c2.length] = (c2[pos % c2.length] as number) ^ (1 << bit);
          expectCode(() => aes256GcmDecrypt(key, nonce, c2, aad), "bad_mac");
        }
      }),
      { numRuns: 100 },
    );
    expectCode(() => aes256GcmDecrypt(new Uint8Array(32), new Uint8Array(12), new Uint8Array(15), new Uint8Array(0)), "bad_mac");
  });
});
