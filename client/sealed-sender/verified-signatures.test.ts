import * as libsignal from "@signalapp/libsignal-client";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KeyPair, PublicKey } from "../crypto/curve.js";
import { VERIFIED_SIGNATURE_CACHE_LIMIT, verifySignatureOnce } from "./verified-signatures.js";

const ab = (b: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(b);

describe("verifySignatureOnce (SS-05)", () => {
  it("answers exactly as verifySignature and libsignal, on first sight and when remembered, for good, flipped and garbage inputs", async () => {
    const signer = KeyPair.generate();
    const other = KeyPair.generate();
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 120 }),
        fc.constantFrom("good", "flip message", "flip signature", "other key", "garbage"),
        fc.nat(),
        fc.uint8Array({ minLength: 0, maxLength: 70 }),
        async (message, kind, position, garbage) => {
          const signature = signer.privateKey.sign(message);
          let key: PublicKey = signer.publicKey;
          let m = message;
          let s = signature;
          if (kind === "flip message" && message.length > 0) {
            m = Uint8Array.from(message);
            m[position % m.length] = (m[position % m.length] as number) ^ (1 << (position % 8));
          } else if (kind === "flip signature") {
            s = Uint8Array.from(signature);
            s[position % 64] = (s[position % 64] as number) ^ (1 << (position % 8));
          } else if (kind === "other key") {
            key = other.publicKey;
          } else if (kind === "garbage") {
            s = garbage;
          }
          const expected = await key.verifySignature(m, s);
          const oracle = libsignal.PublicKey.deserialize(ab(key.serialize()));
          let libsignalAnswer = false;
          try {
            libsignalAnswer = oracle.verify(ab(m), ab(s));
          } catch {
            libsignalAnswer = false;
          }
          expect(expected).toBe(libsignalAnswer);
          expect(await verifySignatureOnce(key, m, s)).toBe(expected);
          expect(await verifySignatureOnce(key, m, s)).toBe(expected); // remembered (or still refused)
          // A success for one (key, message, signature) never vouches for a neighbour.
          const neighbour = Uint8Array.from(s);
          if (neighbour.length > 0) neighbour[0] = (neighbour[0] as number) ^ 1;
          expect(await verifySignatureOnce(key, m, neighbour)).toBe(await key.verifySignature(m, neighbour));
        },
      ),
      { numRuns: 60 },
    );
  });

  it("stays correct once the remembered set overflows (oldest entries are dropped, answers unchanged)", async () => {
    const signer = KeyPair.generate();
    const first = new Uint8Array([1, 2, 3]);
    const firstSignature = signer.privateKey.sign(first);
    expect(await verifySignatureOnce(signer.publicKey, first, firstSignature)).toBe(true);
    // Past the limit with distinct successes, so the first one has been dropped and is verified anew.
    for (let i = 0; i <= VERIFIED_SIGNATURE_CACHE_LIMIT; i++) {
      const m = new Uint8Array([i & 0xff, i >> 8, 9]);
      expect(await verifySignatureOnce(signer.publicKey, m, signer.privateKey.sign(m))).toBe(true);
    }
    expect(await verifySignatureOnce(signer.publicKey, first, firstSignature)).toBe(true);
    const flipped = Uint8Array.from(firstSignature);
    flipped[5] = (flipped[5] as number) ^ 0x10;
    expect(await verifySignatureOnce(signer.publicKey, first, flipped)).toBe(false);
  });
});
