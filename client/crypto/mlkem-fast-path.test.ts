// The two ML-KEM paths through the public API (spec EN-09, PQ-10): on Node, our core on native
// SHA-3; with `useNodeCrypto(false)` (what a browser runs), noble. Same bytes for Kyber1024
// (kem.ts) and for the incremental ML-KEM-768 (mlkem768-incremental.ts), the same typed
// refusals for bad input, and keys left unchanged by a refusal.
import { sha3_256 } from "@noble/hashes/sha3.js";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { isProtocolError } from "../errors.js";
import { bytesToHex, concatBytes } from "./bytes.js";
import { KEM_CIPHERTEXT_LENGTH, KemKeyPair, KemPublicKey, KemSecretKey } from "./kem.js";
import {
  decapsulate,
  encaps1,
  encaps2,
  generateSplitKeyPair,
  MLKEM768_VECTOR_BYTES,
  vectorMatchesHeader,
} from "./mlkem768-incremental.js";
import { nativeMlKemHash } from "./mlkem-hash.js";
import { useNodeCrypto } from "./node-crypto.js";

afterEach(() => useNodeCrypto(true));

/** Runs `f` on the fast path and on the portable path; returns both results. */
function bothPaths<T>(f: () => T): [fast: T, portable: T] {
  expect(nativeMlKemHash()).toBeDefined();
  const fast = f();
  useNodeCrypto(false);
  try {
    expect(nativeMlKemHash()).toBeUndefined();
    return [fast, f()];
  } finally {
    useNodeCrypto(true);
  }
}

/** Hex bytes, or the ProtocolError code, or another error's message. */
function outcome(f: () => Uint8Array): string {
  try {
    return bytesToHex(f());
  } catch (e) {
    return isProtocolError(e) ? `ProtocolError:${(e as { code: string }).code}` : `other:${e instanceof Error ? e.message : String(e)}`;
  }
}

function propertySeed(name: string): number {
  const seed = Number(process.env.MLKEM_SEED ?? Math.floor(Math.random() * 2 ** 31));
  console.log(`${name} property seed ${seed} (MLKEM_SEED=${seed} replays it)`);
  return seed;
}

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });

describe("Kyber1024 (kem.ts): native-SHA-3 core and noble give the same bytes", () => {
  it("encapsulation with a fixed m, decapsulation of valid and tampered ciphertexts, on keys from either path (property)", () => {
    const keys = [KemKeyPair.generate()];
    useNodeCrypto(false);
    keys.push(KemKeyPair.generate());
    useNodeCrypto(true);
    fc.assert(
      fc.property(fc.nat(1), bytes(32), fc.nat(KEM_CIPHERTEXT_LENGTH - 2), fc.integer({ min: 1, max: 255 }), (which, m, at, flip) => {
        const kp = keys[which] as KemKeyPair;
        const [fast, portable] = bothPaths(() => kp.publicKey.encapsulateWithMessage(m));
        expect(bytesToHex(fast.ciphertext)).toBe(bytesToHex(portable.ciphertext));
        expect(bytesToHex(fast.sharedSecret)).toBe(bytesToHex(portable.sharedSecret));
        const [dFast, dPortable] = bothPaths(() => outcome(() => kp.secretKey.decapsulate(fast.ciphertext)));
        expect(dFast).toBe(bytesToHex(fast.sharedSecret));
        expect(dPortable).toBe(dFast);
        const bad = Uint8Array.from(fast.ciphertext);
        bad[1 + at] = (bad[1 + at] as number) ^ flip;
        const [rFast, rPortable] = bothPaths(() => outcome(() => kp.secretKey.decapsulate(bad)));
        expect(rFast).toBe(rPortable);
        expect(rFast).not.toBe(dFast);
      }),
      { numRuns: 20, seed: propertySeed("Kyber1024 fast vs portable") },
    );
  });

  it("bad keys and ciphertexts: the same ProtocolError on both paths, and the keys are unchanged", () => {
    const kp = KemKeyPair.generate();
    const pub = kp.publicKey.serialize();
    const sec = kp.secretKey.serialize();
    const { ciphertext } = kp.publicKey.encapsulate();
    // Coefficient ≥ q in the public key (FIPS 203 modulus check).
    const outOfRange = Uint8Array.from(pub);
    outOfRange[1] = 0xff;
    outOfRange[2] = (outOfRange[2] as number) | 0x0f;
    const [e1, e2] = bothPaths(() => outcome(() => KemPublicKey.deserialize(outOfRange).encapsulateWithMessage(new Uint8Array(32)).ciphertext));
    expect(e1).toBe("ProtocolError:invalid_key");
    expect(e2).toBe(e1);
    // A secret key whose H(ek) does not match (FIPS 203 hash check).
    const corrupt = Uint8Array.from(sec);
    corrupt[1 + 1536 + 3] = (corrupt[1 + 1536 + 3] as number) ^ 4;
    const badKey = KemSecretKey.deserialize(corrupt);
    const [h1, h2] = bothPaths(() => outcome(() => badKey.decapsulate(ciphertext)));
    expect(h1).toBe("ProtocolError:invalid_key");
    expect(h2).toBe(h1);
    // Wrong ciphertext length and type byte.
    const [c1, c2] = bothPaths(() => outcome(() => kp.secretKey.decapsulate(ciphertext.subarray(0, 100))));
    expect(c1).toBe("ProtocolError:invalid_ciphertext");
    expect(c2).toBe(c1);
    // Nothing changed: the same keys still agree on the same secret.
    expect(bytesToHex(kp.publicKey.serialize())).toBe(bytesToHex(pub));
    expect(bytesToHex(kp.secretKey.serialize())).toBe(bytesToHex(sec));
    const again = kp.publicKey.encapsulate();
    expect(bytesToHex(kp.secretKey.decapsulate(again.ciphertext))).toBe(bytesToHex(again.sharedSecret));
  });
});

describe("incremental ML-KEM-768 (mlkem768-incremental.ts): native-SHA-3 core and noble give the same bytes", () => {
  it("key generation from a seed, Encaps1, Encaps2, decapsulation of valid and tampered ciphertexts (property)", () => {
    fc.assert(
      fc.property(bytes(64), bytes(32), fc.nat(), fc.integer({ min: 1, max: 255 }), (seed, m, at, flip) => {
        const [kp, kpPortable] = bothPaths(() => generateSplitKeyPair(seed));
        expect(bytesToHex(kp.header)).toBe(bytesToHex(kpPortable.header));
        expect(bytesToHex(kp.vector)).toBe(bytesToHex(kpPortable.vector));
        expect(bytesToHex(kp.decapsulationKey)).toBe(bytesToHex(kpPortable.decapsulationKey));
        const [one, onePortable] = bothPaths(() => encaps1(kp.header, m));
        expect(bytesToHex(one.ct1)).toBe(bytesToHex(onePortable.ct1));
        expect(bytesToHex(one.sharedSecret)).toBe(bytesToHex(onePortable.sharedSecret));
        const [ct2, ct2Portable] = bothPaths(() => encaps2(m, kp.header, kp.vector));
        expect(bytesToHex(ct2)).toBe(bytesToHex(ct2Portable));
        const [k, kPortable] = bothPaths(() => decapsulate(kp.decapsulationKey, one.ct1, ct2));
        expect(bytesToHex(k)).toBe(bytesToHex(one.sharedSecret));
        expect(bytesToHex(kPortable)).toBe(bytesToHex(k));
        const whole = concatBytes(one.ct1, ct2);
        const i = at % whole.length;
        whole[i] = (whole[i] as number) ^ flip;
        const ct1Bad = whole.subarray(0, one.ct1.length);
        const ct2Bad = whole.subarray(one.ct1.length);
        const [r, rPortable] = bothPaths(() => decapsulate(kp.decapsulationKey, ct1Bad, ct2Bad));
        expect(bytesToHex(r)).toBe(bytesToHex(rPortable));
        expect(bytesToHex(r)).not.toBe(bytesToHex(k));
      }),
      { numRuns: 20, seed: propertySeed("ML-KEM-768 incremental fast vs portable") },
    );
  });

  it("a vector with a coefficient ≥ q, a vector of another key and a decapsulation key with a bad H(ek) are refused alike", () => {
    const kp = generateSplitKeyPair(new Uint8Array(64).fill(1));
    const other = generateSplitKeyPair(new Uint8Array(64).fill(2));
    const m = new Uint8Array(32).fill(3);
    const [w1, w2] = bothPaths(() => outcome(() => encaps2(m, kp.header, other.vector)));
    expect(w1).toBe("ProtocolError:invalid_key");
    expect(w2).toBe(w1);
    // A vector with 0xfff in its first coefficient, and a header whose hash commits to it: only
    // the modulus check can refuse it.
    const outOfRange = Uint8Array.from(kp.vector);
    outOfRange[0] = 0xff;
    outOfRange[1] = (outOfRange[1] as number) | 0x0f;
    const header = concatBytes(kp.header.subarray(0, 32), sha3_256(concatBytes(outOfRange, kp.header.subarray(0, 32))));
    const [v1, v2] = bothPaths(() => vectorMatchesHeader(header, outOfRange));
    expect(v1).toBe(true);
    expect(v2).toBe(true);
    const [o1, o2] = bothPaths(() => outcome(() => encaps2(m, header, outOfRange)));
    expect(o1).toBe("ProtocolError:invalid_key");
    expect(o2).toBe(o1);
    expect(outOfRange.length).toBe(MLKEM768_VECTOR_BYTES);
    // Decapsulation key whose H(ek) does not match.
    const one = encaps1(kp.header, m);
    const ct2 = encaps2(m, kp.header, kp.vector);
    const dk = Uint8Array.from(kp.decapsulationKey);
    dk[1200] = (dk[1200] as number) ^ 1;
    const [d1, d2] = bothPaths(() => outcome(() => decapsulate(dk, one.ct1, ct2)));
    expect(d1.startsWith("other:")).toBe(true);
    expect(d2).toBe(d1);
  });
});
