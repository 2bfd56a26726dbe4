import { ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { concatBytes } from "./bytes.js";
import {
  decapsulate,
  encaps1,
  encaps2,
  generateSplitKeyPair,
  MLKEM768_CT1_BYTES,
  MLKEM768_CT2_BYTES,
  vectorMatchesHeader,
} from "./mlkem768-incremental.js";

describe("incremental ML-KEM-768 (spec PQ-10)", () => {
  it("PQ-10 Encaps1 then Encaps2 equals ML-KEM-768 encapsulation with the same m (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (seed, m) => {
        const kp = generateSplitKeyPair(seed);
        const ek = concatBytes(kp.vector, kp.header.subarray(0, 32));
        const whole = ml_kem768.encapsulate(ek, m);
        const one = encaps1(kp.header, m);
        const ct2 = encaps2(one.m, kp.header, kp.vector);
        expect(one.ct1.length).toBe(MLKEM768_CT1_BYTES);
        expect(ct2.length).toBe(MLKEM768_CT2_BYTES);
        expect(concatBytes(one.ct1, ct2)).toEqual(whole.cipherText);
        expect(one.sharedSecret).toEqual(whole.sharedSecret);
        expect(decapsulate(kp.decapsulationKey, one.ct1, ct2)).toEqual(one.sharedSecret);
      }),
      { numRuns: 12 },
    );
  });

  it("PQ-10 a vector that does not match the header is refused", () => {
    const a = generateSplitKeyPair();
    const b = generateSplitKeyPair();
    expect(vectorMatchesHeader(a.header, a.vector)).toBe(true);
    expect(vectorMatchesHeader(a.header, b.vector)).toBe(false);
    const one = encaps1(a.header);
    expect(() => encaps2(one.m, a.header, b.vector)).toThrow(expect.objectContaining({ code: "invalid_key" }));
  });
});
