// Our ML-KEM core (mlkem-core.ts on native SHA-3, mlkem-hash.ts) against published known
// answers and byte for byte against noble's ML-KEM-768/1024 (spec EN-09, PQ-10): key
// generation from (d, z), encapsulation with a fixed m, decapsulation of valid and tampered
// ciphertexts (implicit rejection), the encapsulation-key modulus check and the
// decapsulation-key hash check, SampleNTT's longer second XOF read, and the Â cache.
import { sha3_256 } from "@noble/hashes/sha3.js";
import { ml_kem768, ml_kem1024 } from "@noble/post-quantum/ml-kem.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytesToHex, hexToBytes } from "./bytes.js";
import {
  decapsInternal,
  dkBytes,
  ekBytes,
  encapsInternal,
  expandMatrix,
  keygenInternal,
  ML_KEM_1024,
  ML_KEM_768,
  type MlKemParams,
  SAMPLE_NTT_FIRST_BYTES,
  sampleNtt,
} from "./mlkem-core.js";
import { type MlKemHash, nativeMlKemHash } from "./mlkem-hash.js";
import { cachedMatrix, cachedMatrixCount, MAX_CACHED_MATRICES } from "./mlkem-matrix-cache.js";

const hash = nativeMlKemHash() as MlKemHash;
const SETS: readonly [string, MlKemParams, typeof ml_kem768][] = [
  ["ML-KEM-768", ML_KEM_768, ml_kem768],
  ["ML-KEM-1024", ML_KEM_1024, ml_kem1024],
];
const Q = 3329;

/** The outcome of a call: hex bytes, `undefined`, or "throws". */
function outcome(f: () => Uint8Array | undefined): string {
  try {
    const r = f();
    return r === undefined ? "refused" : bytesToHex(r);
  } catch {
    return "refused";
  }
}

/** A property seed, printed so a failure can be replayed (becomes a named regression test). */
function propertySeed(name: string): number {
  const seed = Number(process.env.MLKEM_SEED ?? Math.floor(Math.random() * 2 ** 31));
  console.log(`${name} property seed ${seed} (MLKEM_SEED=${seed} replays it)`);
  return seed;
}

/**
 * C2SP CCTV "unluckysample" vectors (c2sp.org/CCTV/ML-KEM, CC0): key pairs whose matrix
 * needs an unusually long SHAKE128 read in SampleNTT. Full ek, dk and c are long; the test
 * holds d, z, m, K and SHA3-256 of ek, dk and c (SHA3-256(ek) is also the H(ek) inside dk).
 */
const UNLUCKY = [
  {
    params: ML_KEM_768,
    d: "82c4a361586b9715c2375a45fb85c32d04be7fe6e26acd820ec5d4080093afe1",
    hEk: "451f9b6547b8f6e927fbfe7598658160206040fdb57dd39ba8bf1f3a5ff89b9c",
    hDk: "7f2dd0ad9dc1d87809d36fb96df939148006246af01591321f6f09609949b7e9",
    k: "4f7cc64c040fc4e335a539691f4638caf8b1bf5da6455754afe699e41813801b",
    hC: "9eb061a5fb76505eefffdedea62615eab765aa3d89ff7f1f3df7d8142981a30b",
  },
  {
    params: ML_KEM_1024,
    d: "9526e27d918ae2379c067c81c59eca33fcd7045ea098c6ea6ed7d8aaea511cb6",
    hEk: "0b3db073d1219b2145b830dca13b466e6afa69b00c86e05b01385ed5af0c4876",
    hDk: "2d50e2cbe30f1060a8396d01bbd16f5870b14df0363f4ac933f3178df5986914",
    k: "984b648fda1cc7ff5fb01d89387f1827ffd43f0bd6c12b157b8b6101273a01ee",
    hC: "017d3ea72172f873c639b27179c634d6046f28b82d5d73c8edc061c970c923a1",
  },
] as const;
const UNLUCKY_Z = hexToBytes("8476013560151d986dc7834dcb57c75f845f8d7ee71558d0955f3f4feb723cf2");
const UNLUCKY_M = hexToBytes("e48f74ad416e99631003ded1478aec62a02c245d88ed7f2fae92aedf13ca03b3");

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });

describe("ML-KEM core on native SHA-3", () => {
  it("native SHA-3 is found on Node (so these tests exercise the fast path)", () => {
    expect(nativeMlKemHash()).toBeDefined();
  });

  for (const v of UNLUCKY) {
    it(`CCTV unlucky-sample known answers, k = ${v.params.k}: keygen, encapsulation, decapsulation`, () => {
      const kp = keygenInternal(hash, v.params, hexToBytes(v.d), UNLUCKY_Z);
      expect(bytesToHex(sha3_256(kp.encapsulationKey))).toBe(v.hEk);
      expect(bytesToHex(sha3_256(kp.decapsulationKey))).toBe(v.hDk);
      const enc = encapsInternal(hash, v.params, kp.encapsulationKey, UNLUCKY_M);
      expect(enc).toBeDefined();
      expect(bytesToHex(enc?.sharedSecret as Uint8Array)).toBe(v.k);
      expect(bytesToHex(sha3_256(enc?.ciphertext as Uint8Array))).toBe(v.hC);
      expect(bytesToHex(decapsInternal(hash, v.params, kp.decapsulationKey, enc?.ciphertext as Uint8Array) as Uint8Array)).toBe(v.k);
    });

    it(`k = ${v.params.k}: SampleNTT gives the same Â when its first XOF read is short and it must read again`, () => {
      const rho = keygenInternal(hash, v.params, hexToBytes(v.d), UNLUCKY_Z).encapsulationKey.subarray(384 * v.params.k);
      const whole = expandMatrix(hash, v.params, rho);
      let longerReads = 0;
      const counting: MlKemHash = {
        ...hash,
        xof: (r, a, b, length) => {
          if (length > 3 * 168) longerReads++;
          return hash.xof(r, a, b, length);
        },
      };
      for (const first of [3, 168, 3 * 168]) {
        const out = new Uint16Array(whole.length);
        for (let i = 0; i < v.params.k; i++) {
          for (let j = 0; j < v.params.k; j++) sampleNtt(counting, rho, j, i, out, (i * v.params.k + j) * 256, first);
        }
        expect(out).toEqual(whole);
      }
      // The vector is "unlucky": three SHAKE128 blocks are not enough for some entry of Â.
      expect(longerReads).toBeGreaterThan(0);
      expect(SAMPLE_NTT_FIRST_BYTES % 3).toBe(0);
    });
  }

  for (const [name, p, noble] of SETS) {
    it(`${name}: keygen, encapsulation, decapsulation (valid and tampered) equal noble's (property)`, () => {
      fc.assert(
        fc.property(bytes(32), bytes(32), bytes(32), fc.nat(), fc.integer({ min: 1, max: 255 }), (d, z, m, at, flip) => {
          const ours = keygenInternal(hash, p, d, z);
          const ref = noble.keygen(Uint8Array.from([...d, ...z]));
          expect(bytesToHex(ours.encapsulationKey)).toBe(bytesToHex(ref.publicKey));
          expect(bytesToHex(ours.decapsulationKey)).toBe(bytesToHex(ref.secretKey));
          const enc = encapsInternal(hash, p, ref.publicKey, m);
          const refEnc = noble.encapsulate(ref.publicKey, m);
          expect(bytesToHex(enc?.ciphertext as Uint8Array)).toBe(bytesToHex(refEnc.cipherText));
          expect(bytesToHex(enc?.sharedSecret as Uint8Array)).toBe(bytesToHex(refEnc.sharedSecret));
          expect(bytesToHex(decapsInternal(hash, p, ref.secretKey, refEnc.cipherText) as Uint8Array)).toBe(bytesToHex(refEnc.sharedSecret));
          // A tampered ciphertext: implicit rejection gives noble's pseudo-random key J(z ‖ c).
          const bad = Uint8Array.from(refEnc.cipherText);
          const i = at % bad.length;
          bad[i] = (bad[i] as number) ^ flip;
          const rejected = decapsInternal(hash, p, ref.secretKey, bad) as Uint8Array;
          expect(bytesToHex(rejected)).toBe(bytesToHex(noble.decapsulate(bad, ref.secretKey)));
          expect(bytesToHex(rejected)).not.toBe(bytesToHex(refEnc.sharedSecret));
        }),
        { numRuns: 25, seed: propertySeed(`${name} core vs noble`) },
      );
    });

    it(`${name}: an encapsulation key with a coefficient ≥ q is refused like noble refuses it (property)`, () => {
      fc.assert(
        fc.property(bytes(64), bytes(32), fc.nat(p.k * 256 - 1), fc.integer({ min: Q, max: 4095 }), (seed, m, coeff, value) => {
          const ek = noble.keygen(seed).publicKey;
          // Coefficient `coeff` is 12 bits at bit offset 12·coeff (ByteEncode12, little-endian).
          const bit = 12 * coeff;
          const byte = bit >> 3;
          if (bit % 8 === 0) {
            ek[byte] = value & 0xff;
            ek[byte + 1] = ((ek[byte + 1] as number) & 0xf0) | (value >> 8);
          } else {
            ek[byte] = ((ek[byte] as number) & 0x0f) | ((value & 0x0f) << 4);
            ek[byte + 1] = value >> 4;
          }
          expect(outcome(() => encapsInternal(hash, p, ek, m)?.ciphertext)).toBe("refused");
          expect(outcome(() => noble.encapsulate(ek, m).cipherText)).toBe("refused");
        }),
        { numRuns: 40, seed: propertySeed(`${name} modulus check`) },
      );
    });

    it(`${name}: a decapsulation key whose H(ek) does not match is refused like noble refuses it`, () => {
      const ref = noble.keygen(new Uint8Array(64).fill(5));
      const { cipherText } = noble.encapsulate(ref.publicKey, new Uint8Array(32).fill(9));
      // A bit of ek inside dk, a bit of H(ek): both fail FIPS 203's hash check; z does not.
      for (const [at, refused] of [
        [384 * p.k + 7, true],
        [768 * p.k + 40, true],
        [768 * p.k + 70, false],
      ] as const) {
        const dk = Uint8Array.from(ref.secretKey);
        dk[at] = (dk[at] as number) ^ 0x10;
        const ours = outcome(() => decapsInternal(hash, p, dk, cipherText));
        expect(ours).toBe(outcome(() => noble.decapsulate(cipherText, dk)));
        expect(ours === "refused").toBe(refused);
      }
      expect(ekBytes(p)).toBe(ref.publicKey.length);
      expect(dkBytes(p)).toBe(ref.secretKey.length);
    });
  }
});

describe("the Â cache (mlkem-matrix-cache.ts)", () => {
  it("gives the expanded matrix, keeps at most MAX_CACHED_MATRICES, and decapsulation through it equals noble", () => {
    const ref = ml_kem1024.keygen(new Uint8Array(64).fill(3));
    const rho = ref.publicKey.subarray(384 * 4);
    expect(cachedMatrix(hash, ML_KEM_1024, rho)).toEqual(expandMatrix(hash, ML_KEM_1024, rho));
    for (let i = 0; i < 2 * MAX_CACHED_MATRICES; i++) cachedMatrix(hash, ML_KEM_768, new Uint8Array(32).fill(i));
    expect(cachedMatrixCount()).toBe(MAX_CACHED_MATRICES);
    const m = new Uint8Array(32).fill(1);
    const { cipherText, sharedSecret } = ml_kem1024.encapsulate(ref.publicKey, m);
    for (let i = 0; i < 3; i++) {
      expect(decapsInternal(hash, ML_KEM_1024, ref.secretKey, cipherText, cachedMatrix)).toEqual(sharedSecret);
    }
    // Same ρ under another k is another matrix (the key includes k).
    expect(cachedMatrix(hash, ML_KEM_768, rho)).toEqual(expandMatrix(hash, ML_KEM_768, rho));
  });
});
