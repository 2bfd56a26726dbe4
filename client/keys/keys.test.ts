import { create, toBinary } from "@bufbuild/protobuf";
import * as libsignal from "@signalapp/libsignal-client";
import { describe, expect, it } from "vitest";
import { PreKeyBundleSchema, type PreKeyBundle } from "../../gen/securecomm/relay/v1/keys_pb.js";
import { IdentityKeyPairRecordSchema } from "../../gen/securecomm/storage/v1/keys_pb.js";
import { bytesToHex } from "../crypto/bytes.js";
import { KeyPair } from "../crypto/curve.js";
import { KemKeyPair } from "../crypto/kem.js";
import { inspect } from "node:util";
import { addressFromIdentityKey } from "./address.js";
import { verifyPreKeyBundle } from "./bundle.js";
import {
  createIdentityKeyPair,
  generateRegistrationId,
  parseIdentityKeyPair,
  serializeIdentityKeyPair,
} from "./identity.js";
import {
  createKyberPreKey,
  createOneTimePreKeys,
  createSignedPreKey,
  kyberPreKeyUpload,
  parseKyberPreKey,
  parsePreKey,
  parseSignedPreKey,
  preKeyUpload,
  randomPreKeyId,
  serializeKyberPreKey,
  serializePreKey,
  serializeSignedPreKey,
  signedPreKeyUpload,
} from "./prekeys.js";
import { codeOf } from "../errors.test-support.js";

const ab = (b: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(b);


describe("ID-01/ID-02 identity", () => {
  it("ID-02: registration ids are uniform-ish in 1..16380", () => {
    const seen = new Set<number>();
    for (let i = 0; i < 3000; i++) {
      const id = generateRegistrationId();
      expect(id).toBeGreaterThanOrEqual(1);
      expect(id).toBeLessThanOrEqual(16380);
      seen.add(id);
    }
    expect(seen.size).toBeGreaterThan(2500);
  });

  it("ID-01: identity round-trips through IdentityKeyPairRecord and prints redacted", () => {
    const id = createIdentityKeyPair();
    const back = parseIdentityKeyPair(serializeIdentityKeyPair(id));
    expect(back.publicKey.equals(id.publicKey)).toBe(true);
    expect(bytesToHex(back.privateKey.serialize())).toBe(bytesToHex(id.privateKey.serialize()));
    expect(back.registrationId).toBe(id.registrationId);
    expect(bytesToHex(back.address)).toBe(bytesToHex(addressFromIdentityKey(id.publicKey)));
    expect(String(id)).toBe("[IdentityKeyPair: redacted]");
    expect(inspect(id)).toBe("[IdentityKeyPair: redacted]");
    expect(JSON.stringify(id)).not.toContain(bytesToHex(id.privateKey.serialize()).slice(0, 12));
  });

  it("ID-01: a record whose public key does not match its private key, or with a bad registration id, is rejected", async () => {
    const id = createIdentityKeyPair();
    const mismatched = toBinary(IdentityKeyPairRecordSchema, create(IdentityKeyPairRecordSchema, {
      publicKey: KeyPair.generate().publicKey.serialize(), privateKey: id.privateKey.serialize(), registrationId: 5,
    }));
    expect(await codeOf(() => parseIdentityKeyPair(mismatched))).toBe("invalid_key");
    const badReg = toBinary(IdentityKeyPairRecordSchema, create(IdentityKeyPairRecordSchema, {
      publicKey: id.publicKey.serialize(), privateKey: id.privateKey.serialize(), registrationId: 16381,
    }));
    expect(await codeOf(() => parseIdentityKeyPair(badReg))).toBe("invalid_key");
    expect(await codeOf(() => parseIdentityKeyPair(new Uint8Array([0xff, 0xff, 0xff])))).toBe("invalid_message");
  });
});

describe("ID-04..ID-06 prekeys", () => {
  it("signed EC and Kyber prekey signatures verify in libsignal over the serialized keys", () => {
    const identity = createIdentityKeyPair();
    const lIdentity = libsignal.PublicKey.deserialize(ab(identity.publicKey.serialize()));
    const spk = createSignedPreKey(identity, 42, 1000);
    expect(spk.publicKey.length).toBe(33);
    expect(lIdentity.verify(ab(spk.publicKey), ab(spk.signature))).toBe(true);
    const kpk = createKyberPreKey(identity, 43, 1000, { lastResort: true });
    expect(kpk.publicKey.length).toBe(1569);
    expect(kpk.secretKey.length).toBe(3169);
    expect(kpk.lastResort).toBe(true);
    expect(lIdentity.verify(ab(kpk.publicKey), ab(kpk.signature))).toBe(true);
    // libsignal accepts the keys themselves.
    libsignal.PublicKey.deserialize(ab(spk.publicKey));
    libsignal.KEMPublicKey.deserialize(ab(kpk.publicKey));
    libsignal.KEMSecretKey.deserialize(ab(kpk.secretKey));
  });

  it("records round-trip; parsers reject inconsistent key halves", async () => {
    const identity = createIdentityKeyPair();
    const [opk, opk2, opk3] = createOneTimePreKeys(0xff_fffe, 3);
    expect([opk?.id, opk2?.id, opk3?.id]).toEqual([0xff_fffe, 0xff_ffff, 1]);
    for (let i = 0; i < 200; i++) {
      const id = randomPreKeyId();
      expect(id >= 1 && id <= 0xff_ffff).toBe(true);
    }
    expect(bytesToHex(serializePreKey(parsePreKey(serializePreKey(opk!))))).toBe(bytesToHex(serializePreKey(opk!)));
    const spk = createSignedPreKey(identity, 1, 5);
    expect(parseSignedPreKey(serializeSignedPreKey(spk)).createdAtMs).toBe(5n);
    const kpk = createKyberPreKey(identity, 2, 6);
    expect(parseKyberPreKey(serializeKyberPreKey(kpk)).lastResort).toBe(false);

    const swapped = { ...opk!, privateKey: opk2!.privateKey };
    expect(await codeOf(() => parsePreKey(serializePreKey(swapped)))).toBe("invalid_key");
    const otherKem = KemKeyPair.generate();
    expect(await codeOf(() => parseKyberPreKey(serializeKyberPreKey({ ...kpk, secretKey: otherKem.secretKey.serialize() })))).toBe("invalid_key");
    expect(await codeOf(() => parseSignedPreKey(serializeSignedPreKey({ ...spk, signature: new Uint8Array(3) })))).toBe("invalid_signature");
    expect(await codeOf(() => parseSignedPreKey(new Uint8Array([0x0a, 0xff])))).toBe("invalid_message");
  });
});

describe("ID-08 bundle validation", () => {
  function bundleFor(options: { withOneTime?: boolean } = {}) {
    const identity = createIdentityKeyPair();
    const spk = createSignedPreKey(identity, 11, 0);
    const kpk = createKyberPreKey(identity, 22, 0, { lastResort: true });
    const [opk] = createOneTimePreKeys(33, 1);
    const bundle: PreKeyBundle = create(PreKeyBundleSchema, {
      identityKey: identity.publicKey.serialize(),
      registrationId: identity.registrationId,
      deviceId: 1,
      signedPreKey: signedPreKeyUpload(spk),
      kyberPreKey: kyberPreKeyUpload(kpk),
      kyberPreKeyIsLastResort: true,
      ...(options.withOneTime === false ? {} : { oneTimePreKey: preKeyUpload(opk!) }),
    });
    return { identity, bundle, address: identity.address };
  }

  it("ID-08: a well-formed bundle verifies, with or without a one-time prekey", async () => {
    const { identity, bundle, address } = bundleFor();
    const v = await verifyPreKeyBundle(bundle, address);
    expect(v.identityKey.equals(identity.publicKey)).toBe(true);
    expect(v.signedPreKeyId).toBe(11);
    expect(v.kyberPreKeyId).toBe(22);
    expect(v.preKeyId).toBe(33);
    expect(v.preKey).toBeDefined();
    expect(v.kyberPreKeyIsLastResort).toBe(true);
    const without = bundleFor({ withOneTime: false });
    const w = await verifyPreKeyBundle(without.bundle, without.address);
    expect(w.preKey).toBeUndefined();
    expect(w.preKeyId).toBeUndefined();
  });

  it("ID-08: rejects substituted identity, missing or mis-signed prekeys, bad keys and other device ids", async () => {
    const { bundle, address } = bundleFor();
    const other = bundleFor();
    const cases: [string, PreKeyBundle, string][] = [
      ["identity substituted", { ...bundle, identityKey: other.bundle.identityKey }, "untrusted_identity"],
      ["identity malformed", { ...bundle, identityKey: bundle.identityKey.subarray(1) }, "invalid_key"],
      ["no signed prekey", { ...bundle, signedPreKey: undefined }, "missing_prekey"],
      ["no kyber prekey", { ...bundle, kyberPreKey: undefined }, "missing_prekey"],
      ["signed prekey from another identity", { ...bundle, signedPreKey: other.bundle.signedPreKey }, "invalid_signature"],
      ["kyber prekey from another identity", { ...bundle, kyberPreKey: other.bundle.kyberPreKey }, "invalid_signature"],
      ["signed prekey signature swapped", { ...bundle, signedPreKey: { ...bundle.signedPreKey!, signature: bundle.kyberPreKey!.signature } }, "invalid_signature"],
      ["kyber key of wrong type", { ...bundle, kyberPreKey: { ...bundle.kyberPreKey!, publicKey: Uint8Array.from(bundle.kyberPreKey!.publicKey).fill(0x0a, 0, 1) } }, "invalid_key"],
      ["one-time prekey malformed", { ...bundle, oneTimePreKey: { ...bundle.oneTimePreKey!, publicKey: new Uint8Array(32) } }, "invalid_key"],
      ["device 2", { ...bundle, deviceId: 2 }, "invalid_message"],
    ];
    for (const [name, b, code] of cases) {
      expect([name, await codeOf(verifyPreKeyBundle(b, address))]).toEqual([name, code]);
    }
    expect(await codeOf(verifyPreKeyBundle(bundle, other.address))).toBe("untrusted_identity");
  });
});
