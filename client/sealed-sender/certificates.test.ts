import { fromBinary } from "@bufbuild/protobuf";
import * as libsignal from "@signalapp/libsignal-client";
import { describe, expect, it } from "vitest";
import {
  SenderCertificateContentsSchema,
  SenderCertificateSchema,
} from "../../gen/securecomm/wire/v1/sealed_sender_pb.js";
import { isProtocolError } from "../errors.js";
import { bytesToHex } from "../crypto/bytes.js";
import { KeyPair, PublicKey } from "../crypto/curve.js";
import { addressFromIdentityKey, addressToString } from "../keys/address.js";
import {
  createSenderCertificate,
  createServerCertificate,
  parseSenderCertificate,
  validateSenderCertificate,
} from "./certificates.js";

const ab = (b: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(b);
const NOW = 1_800_000_000_000;
const LATER = NOW + 7 * 24 * 3600 * 1000;

function ourChain(id = 1) {
  const root = KeyPair.generate();
  const server = KeyPair.generate();
  const sender = KeyPair.generate();
  const serverCert = createServerCertificate(root.privateKey, id, server.publicKey);
  const senderCert = createSenderCertificate({
    serverCertificate: serverCert,
    serverPrivateKey: server.privateKey,
    senderIdentityKey: sender.publicKey,
    expiresAtMs: LATER,
  });
  return { root, server, sender, serverCert, senderCert };
}

async function errorCode(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return isProtocolError(e) ? e.code : `other: ${String(e)}`;
  }
  return undefined;
}

describe("SS-04/SS-05 sender certificates", () => {
  it("SS-04: our certificates validate in libsignal (SenderCertificate.validate) and carry the address as UUID text", () => {
    const { root, sender, serverCert, senderCert } = ourChain(7);
    const theirs = libsignal.SenderCertificate.deserialize(ab(senderCert));
    expect(theirs.validate(libsignal.PublicKey.deserialize(ab(root.publicKey.serialize())), NOW)).toBe(true);
    expect(theirs.validate(libsignal.PublicKey.deserialize(ab(root.publicKey.serialize())), LATER + 1)).toBe(false);
    expect(theirs.validate(libsignal.PublicKey.deserialize(ab(KeyPair.generate().publicKey.serialize())), NOW)).toBe(false);
    expect(theirs.senderUuid()).toBe(addressToString(addressFromIdentityKey(sender.publicKey)));
    expect(theirs.senderDeviceId()).toBe(1);
    expect(theirs.expiration()).toBe(LATER);
    expect(bytesToHex(theirs.key().serialize())).toBe(bytesToHex(sender.publicKey.serialize()));
    expect(theirs.serverCertificate().keyId()).toBe(7);
    expect(bytesToHex(theirs.serverCertificate().serialize())).toBe(bytesToHex(serverCert));
  });

  it("SS-05: libsignal-issued certificates validate with ours; field numbers pinned by decoding libsignal's bytes", async () => {
    const root = libsignal.PrivateKey.generate();
    const server = libsignal.PrivateKey.generate();
    const sender = KeyPair.generate();
    const address = addressToString(addressFromIdentityKey(sender.publicKey));
    const serverCert = libsignal.ServerCertificate.new(3, server.getPublicKey(), root);
    const cert = libsignal.SenderCertificate.new(
      address, null, 1, libsignal.PublicKey.deserialize(ab(sender.publicKey.serialize())), LATER, serverCert, server,
    );
    const bytes = cert.serialize();
    // Decoding with our schema recovers every field libsignal set: the field numbers agree.
    const outer = fromBinary(SenderCertificateSchema, bytes);
    expect(bytesToHex(outer.signature)).toBe(bytesToHex(cert.signature()));
    const contents = fromBinary(SenderCertificateContentsSchema, outer.certificate);
    expect(contents.senderDevice).toBe(1);
    expect(contents.expires).toBe(BigInt(LATER));
    expect(bytesToHex(contents.identityKey)).toBe(bytesToHex(sender.publicKey.serialize()));
    expect(contents.signer.case).toBe("serverCertificate");
    expect(contents.senderUuid.case === "senderUuidString" || contents.senderUuid.case === "senderUuidBytes").toBe(true);

    const verified = await validateSenderCertificate(parseSenderCertificate(bytes), PublicKey.deserialize(root.getPublicKey().serialize()), NOW);
    expect(verified.senderAddressString).toBe(address);
    expect(verified.senderIdentityKey.equals(sender.publicKey)).toBe(true);
    expect(verified.serverCertificateId).toBe(3);
    expect(verified.expiresAtMs).toBe(BigInt(LATER));
  });

  it("SS-05: rejects wrong trust root, expiry, tampering, address mismatch and the revoked id", async () => {
    const { root, server, sender, senderCert } = ourChain();
    const rootPub = root.publicKey;
    expect(await errorCode(validateSenderCertificate(parseSenderCertificate(senderCert), rootPub, NOW))).toBeUndefined();
    expect(await errorCode(validateSenderCertificate(parseSenderCertificate(senderCert), rootPub, LATER))).toBeUndefined();
    expect(await errorCode(validateSenderCertificate(parseSenderCertificate(senderCert), rootPub, LATER + 1))).toBe("expired_certificate");
    expect(await errorCode(validateSenderCertificate(parseSenderCertificate(senderCert), KeyPair.generate().publicKey, NOW))).toBe("invalid_certificate");
    // Every single-bit flip is rejected (by the parser or the validator) with a typed error.
    for (let i = 0; i < senderCert.length; i += 3) {
      const bad = Uint8Array.from(senderCert);
      bad[i] = (bad[i] as number) ^ 0x10;
      const code = await errorCode((async () => validateSenderCertificate(parseSenderCertificate(bad), rootPub, NOW))());
      expect(["invalid_certificate", "expired_certificate"]).toContain(code);
    }
    // A certificate whose address does not match its key (signed by a dishonest libsignal server).
    const lServer = libsignal.PrivateKey.deserialize(ab(server.privateKey.serialize()));
    const lRoot = libsignal.PrivateKey.deserialize(ab(root.privateKey.serialize()));
    const lServerCert = libsignal.ServerCertificate.new(1, lServer.getPublicKey(), lRoot);
    const other = addressToString(addressFromIdentityKey(KeyPair.generate().publicKey));
    const mismatched = libsignal.SenderCertificate.new(other, null, 1, libsignal.PublicKey.deserialize(ab(sender.publicKey.serialize())), LATER, lServerCert, lServer);
    expect(await errorCode(validateSenderCertificate(parseSenderCertificate(mismatched.serialize()), rootPub, NOW))).toBe("invalid_certificate");
    // Device 2 is rejected.
    const device2 = libsignal.SenderCertificate.new(addressToString(addressFromIdentityKey(sender.publicKey)), null, 2, libsignal.PublicKey.deserialize(ab(sender.publicKey.serialize())), LATER, lServerCert, lServer);
    expect(await errorCode(validateSenderCertificate(parseSenderCertificate(device2.serialize()), rootPub, NOW))).toBe("invalid_certificate");
    // SS-06: the revoked server certificate id is refused by us, as libsignal refuses it.
    const revoked = libsignal.ServerCertificate.new(0xdeadc357, lServer.getPublicKey(), lRoot);
    const revokedCert = libsignal.SenderCertificate.new(addressToString(addressFromIdentityKey(sender.publicKey)), null, 1, libsignal.PublicKey.deserialize(ab(sender.publicKey.serialize())), LATER, revoked, lServer);
    expect(revokedCert.validate(lRoot.getPublicKey(), NOW)).toBe(false);
    expect(await errorCode(validateSenderCertificate(parseSenderCertificate(revokedCert.serialize()), rootPub, NOW))).toBe("invalid_certificate");
    expect(() => createServerCertificate(root.privateKey, 0xdeadc357, server.publicKey)).toThrow(RangeError);
    // Issuing for an address that is not the key's is refused.
    expect(() =>
      createSenderCertificate({
        serverCertificate: createServerCertificate(root.privateKey, 1, server.publicKey),
        serverPrivateKey: server.privateKey,
        senderIdentityKey: sender.publicKey,
        senderAddress: new Uint8Array(16),
        expiresAtMs: LATER,
      }),
    ).toThrow(expect.objectContaining({ code: "invalid_certificate" }));
  });

  it("SS-05: a certificate signed by a server key the trust root did not certify is rejected", async () => {
    const { root, server, sender } = ourChain();
    const rogue = KeyPair.generate();
    const serverCert = createServerCertificate(root.privateKey, 1, server.publicKey);
    const forged = createSenderCertificate({ serverCertificate: serverCert, serverPrivateKey: rogue.privateKey, senderIdentityKey: sender.publicKey, expiresAtMs: LATER });
    expect(await errorCode(validateSenderCertificate(parseSenderCertificate(forged), root.publicKey, NOW))).toBe("invalid_certificate");
    expect(libsignal.SenderCertificate.deserialize(ab(forged)).validate(libsignal.PublicKey.deserialize(ab(root.publicKey.serialize())), NOW)).toBe(false);
  });
});

describe("certificate parsing of garbage", () => {
  it("EN-04/SS-05: random bytes give only typed errors (property)", async () => {
    const { default: fc } = await import("fast-check");
    const root = KeyPair.generate().publicKey;
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (raw) => {
        const code = await errorCode((async () => validateSenderCertificate(parseSenderCertificate(raw), root, NOW))());
        expect(["invalid_certificate", "expired_certificate"]).toContain(code);
      }),
      { numRuns: 300 },
    );
  });
});
