import { describe, expect, it } from "vitest";
import { concatBytes } from "../crypto/bytes.js";
import { KeyPair, PrivateKey } from "../crypto/curve.js";
import { KemKeyPair } from "../crypto/kem.js";
import { pqxdhInitiate, pqxdhRespond } from "./pqxdh.js";
import { isCanonicalPublicKey, type PreKeyBundle, verifyBundleSignatures } from "./prekey-bundle.js";
import { expectCode } from "../errors.test-support.js";


function setup(withOneTime: boolean) {
  const alice = KeyPair.generate();
  const bob = KeyPair.generate();
  const signed = KeyPair.generate();
  const oneTime = KeyPair.generate();
  const kyber = KemKeyPair.generate();
  const bundle: PreKeyBundle = {
    registrationId: 5,
    deviceId: 1,
    preKeyId: withOneTime ? 1 : undefined,
    preKey: withOneTime ? oneTime.publicKey : undefined,
    signedPreKeyId: 2,
    signedPreKey: signed.publicKey,
    signedPreKeySignature: bob.privateKey.sign(signed.publicKey.serialize()),
    identityKey: bob.publicKey,
    kyberPreKeyId: 3,
    kyberPreKey: kyber.publicKey,
    kyberPreKeySignature: bob.privateKey.sign(kyber.publicKey.serialize()),
  };
  return { alice, bob, signed, oneTime, kyber, bundle };
}

describe("PQXDH (spec PX-01..PX-10)", () => {
  for (const withOneTime of [true, false]) {
    it(`PX-06 both sides derive the same 96 bytes (${withOneTime ? "with" : "without"} a one-time prekey)`, async () => {
      const s = setup(withOneTime);
      await verifyBundleSignatures(s.bundle);
      const a = await pqxdhInitiate({ ourIdentity: s.alice, bundle: s.bundle });
      const b = await pqxdhRespond({
        ourIdentity: s.bob,
        ourSignedPreKey: s.signed.privateKey,
        ourOneTimePreKey: withOneTime ? s.oneTime.privateKey : undefined,
        ourKyberPreKey: s.kyber.secretKey,
        theirIdentity: s.alice.publicKey,
        theirBaseKey: a.baseKey.serialize(),
        kyberCiphertext: a.kyberCiphertext,
      });
      expect(b).toEqual(a.secrets);
      expect(new Set([a.secrets.rootKey, a.secrets.chainKey, a.secrets.pqAuthKey].map((k) => Buffer.from(k).toString("hex"))).size).toBe(3);
    });
  }

  it("PX-01, ID-08 a bad prekey signature or a missing Kyber prekey is refused", async () => {
    const s = setup(true);
    const badSig = Uint8Array.from(s.bundle.signedPreKeySignature);
    badSig[0] = (badSig[0] as number) ^ 1;
    await expectCode(verifyBundleSignatures({ ...s.bundle, signedPreKeySignature: badSig }), "invalid_signature");
    await expectCode(verifyBundleSignatures({ ...s.bundle, kyberPreKeySignature: s.bundle.signedPreKeySignature }), "invalid_signature");
    await expectCode(verifyBundleSignatures({ ...s.bundle, kyberPreKey: undefined as never }), "invalid_key");
    await expectCode(verifyBundleSignatures({ ...s.bundle, preKey: undefined }), "invalid_key");
  });

  it("PX-10 the responder refuses a non-canonical base key, a low-order base key and a wrong-size ciphertext", async () => {
    const s = setup(false);
    const a = await pqxdhInitiate({ ourIdentity: s.alice, bundle: s.bundle });
    const respond = (theirBaseKey: Uint8Array, kyberCiphertext = a.kyberCiphertext) =>
      pqxdhRespond({
        ourIdentity: s.bob,
        ourSignedPreKey: s.signed.privateKey,
        ourKyberPreKey: s.kyber.secretKey,
        theirIdentity: s.alice.publicKey,
        theirBaseKey,
        kyberCiphertext,
      });
    // u = p (2^255 − 19) encodes 0 non-canonically; u with the top bit set is non-canonical too.
    const p = new Uint8Array(32).fill(0xff);
    p[0] = 0xed;
    p[31] = 0x7f;
    await expectCode(respond(concatBytes(Uint8Array.of(5), p)), "invalid_key");
    const topBit = a.baseKey.serialize();
    topBit[32] = (topBit[32] as number) | 0x80;
    await expectCode(respond(topBit), "invalid_key");
    // u = 0 is canonical but low-order: the DH output is all zero.
    await expectCode(respond(concatBytes(Uint8Array.of(5), new Uint8Array(32))), "invalid_key");
    await expectCode(respond(a.baseKey.serialize(), a.kyberCiphertext.subarray(1)), "invalid_message");
    expect(await respond(a.baseKey.serialize())).toEqual(a.secrets);
  });

  it("EN-02 canonical keys: honest keys pass, u ≥ p fails", () => {
    for (let i = 0; i < 20; i++) expect(isCanonicalPublicKey(PrivateKey.generate().getPublicKey().serialize())).toBe(true);
    const pMinus1 = new Uint8Array(32).fill(0xff);
    pMinus1[0] = 0xec;
    pMinus1[31] = 0x7f;
    expect(isCanonicalPublicKey(concatBytes(Uint8Array.of(5), pMinus1))).toBe(true);
    pMinus1[0] = 0xed;
    expect(isCanonicalPublicKey(concatBytes(Uint8Array.of(5), pMinus1))).toBe(false);
    expect(isCanonicalPublicKey(concatBytes(Uint8Array.of(8), pMinus1))).toBe(false);
  });
});
