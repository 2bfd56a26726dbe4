// Identity keys made from an RFC 8032 seed (spec ID-01, EN-03): the seed travels in the
// identity's record, makes the stored private key, and lets the holder sign natively; the native
// and the XEdDSA (noble) paths give signatures every verifier accepts under the same key, and an
// identity made before seeds (no seed in its record) keeps loading and signing with XEdDSA.
import { create, toBinary } from "@bufbuild/protobuf";
import * as libsignal from "@signalapp/libsignal-client";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { inspect } from "node:util";
import { IdentityKeyPairRecordSchema } from "../../gen/securecomm/storage/v1/keys_pb.js";
import { bytesToHex } from "../crypto/bytes.js";
import { clampPrivateKey, KeyPair, PrivateKey } from "../crypto/curve.js";
import { sha512 } from "../crypto/kdf.js";
import { useNodeCrypto } from "../crypto/node-crypto.js";
import { xeddsaVerifyNoble, xeddsaVerifyNode } from "../crypto/xeddsa.js";
import { codeOf } from "../errors.test-support.js";
import { createIdentityKeyPair, identityToRecord, parseIdentityKeyPair, serializeIdentityKeyPair } from "./identity.js";
import { createKyberPreKey, createSignedPreKey } from "./prekeys.js";

afterEach(() => useNodeCrypto(true));

/** Runs `f` with the Node fast paths off (the paths a browser takes), then turns them back on. */
function withoutNode<T>(f: () => T): T {
  useNodeCrypto(false);
  try {
    return f();
  } finally {
    useNodeCrypto(true);
  }
}

const verifiers = (u: Uint8Array, message: Uint8Array, sig: Uint8Array, theirs: libsignal.PublicKey) => [
  xeddsaVerifyNoble(u, message, sig),
  xeddsaVerifyNode(u, message, sig),
  theirs.verify(new Uint8Array(message), new Uint8Array(sig)),
];

describe("ID-01/EN-03 identity keys made from an Ed25519 seed", () => {
  it("a new identity keeps its seed in its record; the private key is clamp(SHA-512(seed)[0..32]); the seed never prints", () => {
    const id = createIdentityKeyPair();
    const record = identityToRecord(id);
    expect(record.ed25519Seed.length).toBe(32);
    const k = sha512(record.ed25519Seed).slice(0, 32);
    expect(bytesToHex(record.privateKey)).toBe(bytesToHex(clampPrivateKey(k)));
    const back = parseIdentityKeyPair(serializeIdentityKeyPair(id));
    expect(bytesToHex(back.privateKey.ed25519Seed!)).toBe(bytesToHex(record.ed25519Seed));
    expect(back.publicKey.equals(id.publicKey)).toBe(true);
    const seedHex = bytesToHex(record.ed25519Seed).slice(0, 12);
    expect(JSON.stringify(id)).not.toContain(seedHex);
    expect(inspect(id.privateKey)).not.toContain(seedHex);
    expect(String(id.privateKey)).toBe("[PrivateKey: redacted]");
  });

  it("signs natively (RFC 8032, deterministic) on Node and with XEdDSA (randomized) off it; noble, node:crypto and libsignal accept both and refuse another message (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }), (message, other) => {
        const id = parseIdentityKeyPair(serializeIdentityKeyPair(createIdentityKeyPair()));
        const u = id.publicKey.publicBytes;
        const theirs = libsignal.PublicKey.deserialize(new Uint8Array(id.publicKey.serialize()));
        const native = id.privateKey.sign(message);
        // The native path is the one taken: RFC 8032 signatures are deterministic.
        expect(bytesToHex(id.privateKey.sign(message))).toBe(bytesToHex(native));
        const noble = withoutNode(() => parseIdentityKeyPair(serializeIdentityKeyPair(id)).privateKey.sign(message));
        expect(bytesToHex(noble)).not.toBe(bytesToHex(native));
        const differs = bytesToHex(message) !== bytesToHex(other);
        for (const sig of [native, noble]) {
          expect(verifiers(u, message, sig, theirs)).toEqual([true, true, true]);
          expect(verifiers(u, other, sig, theirs)).toEqual([!differs, !differs, !differs]);
        }
      }),
      { numRuns: 25 },
    );
  });

  it("prekeys signed by a seeded identity verify in libsignal (the Kyber and signed prekeys a refill uploads)", () => {
    const id = createIdentityKeyPair();
    const theirs = libsignal.PublicKey.deserialize(new Uint8Array(id.publicKey.serialize()));
    const kyber = createKyberPreKey(id, 7, Date.now());
    const signed = createSignedPreKey(id, 9, Date.now());
    expect(theirs.verify(new Uint8Array(kyber.publicKey), new Uint8Array(kyber.signature))).toBe(true);
    expect(theirs.verify(new Uint8Array(signed.publicKey), new Uint8Array(signed.signature))).toBe(true);
  });

  it("an identity made before seeds (no seed in its record) loads and signs with XEdDSA, accepted by every verifier", () => {
    const pair = KeyPair.generate();
    const old = toBinary(IdentityKeyPairRecordSchema, create(IdentityKeyPairRecordSchema, { publicKey: pair.publicKey.serialize(), privateKey: pair.privateKey.serialize(), registrationId: 42 }));
    const id = parseIdentityKeyPair(old);
    expect(id.privateKey.ed25519Seed).toBeUndefined();
    expect(identityToRecord(id).ed25519Seed.length).toBe(0);
    const message = new Uint8Array([1, 2, 3]);
    const a = id.privateKey.sign(message);
    const b = id.privateKey.sign(message);
    expect(bytesToHex(a)).not.toBe(bytesToHex(b)); // XEdDSA: fresh Z each time
    const theirs = libsignal.PublicKey.deserialize(new Uint8Array(id.publicKey.serialize()));
    for (const sig of [a, b]) expect(verifiers(id.publicKey.publicBytes, message, sig, theirs)).toEqual([true, true, true]);
  });

  it("a record whose seed does not make its private key, or a seed of another length, is refused (invalid_key)", async () => {
    const id = createIdentityKeyPair();
    const record = identityToRecord(id);
    const otherSeed = identityToRecord(createIdentityKeyPair()).ed25519Seed;
    const mismatched = toBinary(IdentityKeyPairRecordSchema, create(IdentityKeyPairRecordSchema, { ...record, ed25519Seed: otherSeed }));
    expect(await codeOf(() => parseIdentityKeyPair(mismatched))).toBe("invalid_key");
    const short = toBinary(IdentityKeyPairRecordSchema, create(IdentityKeyPairRecordSchema, { ...record, ed25519Seed: record.ed25519Seed.subarray(0, 31) }));
    expect(await codeOf(() => parseIdentityKeyPair(short))).toBe("invalid_key");
    // The seed of another identity with that identity's keys but ours swapped in: the public key check still holds.
    const swapped = toBinary(IdentityKeyPairRecordSchema, create(IdentityKeyPairRecordSchema, { ...identityToRecord(createIdentityKeyPair()), publicKey: record.publicKey }));
    expect(await codeOf(() => parseIdentityKeyPair(swapped))).toBe("invalid_key");
  });

  it("PrivateKey.fromEd25519Seed equals the RFC 8032 derivation of RFC 8032 TEST 1's seed", () => {
    // RFC 8032 §7.1 TEST 1: secret key 9d61b19d…7f60, public key d75a9801…511a.
    const seed = Uint8Array.from(Buffer.from("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "hex"));
    const key = PrivateKey.fromEd25519Seed(seed);
    const sig = key.sign(new Uint8Array(0));
    // RFC 8032 TEST 1's signature, with A's sign bit (0 for this key) in bit 7 of byte 63.
    expect(bytesToHex(sig)).toBe("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
  });
});
