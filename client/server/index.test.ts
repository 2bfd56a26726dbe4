import * as libsignal from "@signalapp/libsignal-client";
import { describe, expect, it } from "vitest";
import { bytesToHex } from "../crypto/bytes.js";
import { KemKeyPair } from "../crypto/kem.js";
import { addressFromIdentityKey as clientAddress, addressToString } from "../keys/address.js";
import { PublicKey } from "../crypto/curve.js";
import {
  addressFromIdentityKey,
  checkSenderCertificate,
  generateKeyPair,
  generateServerKeyPair,
  generateTrustRoot,
  issueSenderCertificate,
  issueServerCertificate,
  verifyIdentitySignature,
  verifyPreKeySignature,
} from "./index.js";

const ab = (b: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(b);
const NOW = 1_800_000_000_000;

describe("client/server relay helpers", () => {
  it("verifyPreKeySignature accepts libsignal-signed EC and Kyber prekeys and rejects everything else", async () => {
    const identity = libsignal.PrivateKey.generate();
    const ik33 = identity.getPublicKey().serialize();
    const ec = libsignal.PrivateKey.generate().getPublicKey().serialize();
    const kyber = libsignal.KEMKeyPair.generate().getPublicKey().serialize();
    expect(kyber.length).toBe(1569);
    const ecSig = identity.sign(ec);
    const kyberSig = identity.sign(kyber);
    expect(await verifyPreKeySignature(ik33, ec, ecSig)).toBe(true);
    expect(await verifyPreKeySignature(ik33, kyber, kyberSig)).toBe(true);
    expect(await verifyPreKeySignature(ik33, kyber, ecSig)).toBe(false);
    const flipped = Uint8Array.from(ec);
    flipped[5] = (flipped[5] as number) ^ 1;
    expect(await verifyPreKeySignature(ik33, flipped, ecSig)).toBe(false);
    expect(await verifyPreKeySignature(ik33.subarray(1), ec, ecSig)).toBe(false);
    expect(await verifyPreKeySignature(new Uint8Array(33), ec, ecSig)).toBe(false);
    expect(await verifyPreKeySignature(ik33, ec, ecSig.subarray(0, 63))).toBe(false);
    // Our own KEM keys signed by libsignal verify too.
    const ours = KemKeyPair.generate().publicKey.serialize();
    expect(await verifyPreKeySignature(ik33, ours, identity.sign(ab(ours)))).toBe(true);
  });

  it("verifyIdentitySignature checks an arbitrary challenge message", async () => {
    const identity = libsignal.PrivateKey.generate();
    const challenge = new Uint8Array(48).fill(3);
    const sig = identity.sign(ab(challenge));
    expect(await verifyIdentitySignature(identity.getPublicKey().serialize(), challenge, sig)).toBe(true);
    expect(await verifyIdentitySignature(identity.getPublicKey().serialize(), challenge.subarray(1), sig)).toBe(false);
  });

  it("issues a certificate chain that libsignal and our validator accept", async () => {
    const root = generateTrustRoot();
    const server = generateServerKeyPair();
    expect(root.publicKey33.length).toBe(33);
    expect(root.privateKey32.length).toBe(32);
    const serverCertificate = issueServerCertificate(root.privateKey32, 1, server);
    const sender = generateKeyPair();
    const senderAddress = addressFromIdentityKey(sender.publicKey33);
    const cert = issueSenderCertificate({
      serverCertificate,
      serverPrivateKey: server.privateKey32,
      senderAddress,
      senderIdentityKey33: sender.publicKey33,
      expiresAtMs: NOW + 1000,
    });
    const theirs = libsignal.SenderCertificate.deserialize(ab(cert));
    expect(theirs.validate(libsignal.PublicKey.deserialize(ab(root.publicKey33)), NOW)).toBe(true);
    expect(theirs.senderUuid()).toBe(addressToString(senderAddress));
    const checked = await checkSenderCertificate(cert, root.publicKey33, NOW);
    expect(bytesToHex(checked.senderAddress)).toBe(bytesToHex(senderAddress));
    await expect(checkSenderCertificate(cert, root.publicKey33, NOW + 1001)).rejects.toMatchObject({ code: "expired_certificate" });
    expect(() =>
      issueSenderCertificate({ serverCertificate, serverPrivateKey: server.privateKey32, senderAddress: new Uint8Array(16), senderIdentityKey33: sender.publicKey33, expiresAtMs: NOW }),
    ).toThrow(expect.objectContaining({ code: "invalid_certificate" }));
  });

  it("addressFromIdentityKey matches the client's and rejects malformed keys", () => {
    const kp = generateKeyPair();
    expect(bytesToHex(addressFromIdentityKey(kp.publicKey33))).toBe(bytesToHex(clientAddress(PublicKey.deserialize(kp.publicKey33))));
    expect(() => addressFromIdentityKey(kp.publicKey33.subarray(1))).toThrow(expect.objectContaining({ code: "invalid_key" }));
  });
});
