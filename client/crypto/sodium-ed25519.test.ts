// libsodium's Ed25519 verification as a yes-only fast path (sodium-ed25519.ts, spec EN-03):
// found and self-checked on this machine, never accepting what OpenSSL refuses, and the
// OpenSSL answer standing wherever libsodium says no (so XEdDSA verification still answers
// every signature as libsignal does).

import { createPublicKey, generateKeyPairSync, sign as nodeSign, verify as nodeVerify } from "node:crypto";
import { readFileSync } from "node:fs";
import { ed25519 } from "@noble/curves/ed25519.js";
import * as libsignal from "@signalapp/libsignal-client";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { hexToBytes } from "./bytes.js";
import { PublicKey } from "./curve.js";
import { useNodeCrypto } from "./node-crypto.js";
import { sodiumEd25519Verify } from "./sodium-ed25519.js";
import { edwardsKeyFromMontgomery, xeddsaVerifyNoble } from "./xeddsa.js";

const lowOrderU = (
  JSON.parse(readFileSync(new URL("../../spec/vectors/rfc7748.json", import.meta.url), "utf8")) as { lowOrder: { u: string[] } }
).lowOrder.u.map(hexToBytes);

/** The group order L (RFC 8032 §5.1). */
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
/** libsignal's API wants ArrayBuffer-backed arrays. */
const ab = (b: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(b);

/** The eight points of small order (the torsion subgroup), from a point of order 8. */
function torsionPoints(): Uint8Array[] {
  const order8 = ed25519.Point.fromHex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a");
  const points: Uint8Array[] = [];
  let p = ed25519.Point.ZERO;
  for (let i = 0; i < 8; i++) {
    points.push(p.toBytes());
    p = p.add(order8);
  }
  return points;
}

/** OpenSSL's answer for a raw 32-byte Ed25519 key, independent of our code. */
function opensslVerify(a: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(a).toString("base64url") }, format: "jwk" });
    return nodeVerify(null, message, key, signature);
  } catch {
    return false;
  }
}

afterEach(() => useNodeCrypto(true));

describe("libsodium's Ed25519 verification (yes-only fast path)", () => {
  it("is found and passes its known-answer check on this machine, and is off with the Node paths", () => {
    expect(sodiumEd25519Verify()).toBeDefined();
    useNodeCrypto(false);
    expect(sodiumEd25519Verify()).toBeUndefined();
  });

  it("never accepts a signature OpenSSL refuses: valid, bit flips, s + kL, small-order R and A, non-canonical A (property)", () => {
    const verify = sodiumEd25519Verify()!;
    const torsion = torsionPoints();
    const mutations = ["valid", "flip", "s-plus-kL", "small-order-A", "small-order-R", "non-canonical-A"] as const;
    let accepted = 0;
    fc.assert(
      fc.property(fc.constantFrom(...mutations), fc.uint8Array({ maxLength: 40 }), fc.nat(511), fc.nat(7), (mutation, message, bit, index) => {
        const { publicKey, privateKey } = generateKeyPairSync("ed25519");
        let a: Uint8Array = Buffer.from(publicKey.export({ format: "jwk" }).x as string, "base64url");
        let sig: Uint8Array = new Uint8Array(nodeSign(null, message, privateKey));
        if (mutation === "flip") sig[bit >> 3] = (sig[bit >> 3] as number) ^ (1 << (bit & 7));
        else if (mutation === "s-plus-kL") {
          let s = 0n;
          for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(sig[32 + i] as number);
          s += BigInt(1 + (bit % 7)) * L;
          for (let i = 0; i < 32; i++) sig[32 + i] = Number((s >> BigInt(8 * i)) & 0xffn);
        } else if (mutation === "small-order-A") {
          a = torsion[index] as Uint8Array;
          sig = new Uint8Array(64);
          sig.set(torsion[bit % 8] as Uint8Array);
        } else if (mutation === "small-order-R") {
          sig.set(torsion[index] as Uint8Array);
        } else if (mutation === "non-canonical-A") {
          // y + p for a y below 19 (still 255 bits): the same point, another encoding.
          a = new Uint8Array(32);
          a[0] = (index + 1) + 0xed;
          a.fill(0xff, 1, 31);
          a[31] = 0x7f;
        }
        const sodium = verify(sig, message, a);
        if (sodium) {
          accepted++;
          expect([mutation, opensslVerify(a, message, sig)]).toEqual([mutation, true]);
        }
        if (mutation === "valid") expect(sodium).toBe(true);
      }),
      { numRuns: 400 },
    );
    expect(accepted).toBeGreaterThan(0);
  });

  it("XEdDSA under a small-order key: signatures libsignal accepts (and libsodium refuses) are accepted, so OpenSSL's answer stands", async () => {
    const verify = sodiumEd25519Verify()!;
    let checked = 0;
    let refusedBySodium = 0;
    for (const u of lowOrderU) {
      for (const signBit of [0, 1] as const) {
        const a = edwardsKeyFromMontgomery(u, signBit);
        for (const r of torsionPoints()) {
          for (let m = 0; m < 4; m++) {
            const message = new Uint8Array([m]);
            const sig = new Uint8Array(64);
            sig.set(r);
            sig[63] = signBit << 7; // s = 0
            const theirs = libsignal.PublicKey.deserialize(ab(new Uint8Array([5, ...u]))).verify(ab(message), ab(sig));
            const ours = await PublicKey.fromPublicBytes(u).verifySignature(message, sig);
            expect(ours).toBe(theirs);
            expect(ours).toBe(xeddsaVerifyNoble(u, message, sig));
            if (theirs) {
              checked++;
              const plain = Uint8Array.from(sig);
              plain[63] = 0;
              if (a !== undefined && !verify(plain, message, a)) refusedBySodium++;
            }
          }
        }
      }
    }
    // These signatures are valid for the cofactorless check libsignal makes; libsodium refuses
    // them all (small-order A and R), so only the OpenSSL fallback accepts them.
    expect(checked).toBeGreaterThan(10);
    expect(refusedBySodium).toBe(checked);
  });
});
