import { readFileSync } from "node:fs";
import * as libsignal from "@signalapp/libsignal-client";
import { describe, expect, it } from "vitest";
import { isProtocolError } from "../errors.js";
import { bytesToHex, hexToBytes } from "../crypto/bytes.js";
import { KeyPair, PrivateKey, PublicKey } from "../crypto/curve.js";
import { sealedSenderDecryptToContent } from "./sealed-sender.js";

const ab = (b: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(b);
const v = JSON.parse(readFileSync(new URL("../../spec/vectors/sealed-sender.json", import.meta.url), "utf8")) as Record<string, string | number>;
const hex = (k: string) => hexToBytes(v[k] as string);

class LIdentityStore extends libsignal.IdentityKeyStore {
  constructor(readonly key: libsignal.PrivateKey) {
    super();
  }
  async getIdentityKey() {
    return this.key;
  }
  async getLocalRegistrationId() {
    return 1;
  }
  async saveIdentity() {
    return libsignal.IdentityChange.NewOrUnchanged;
  }
  async isTrustedIdentity() {
    return true;
  }
  async getIdentity() {
    return null;
  }
}

describe("sealed-sender vector (spec/vectors/sealed-sender.json)", () => {
  it("SS-08: the pinned envelope opens with ours and with libsignal", async () => {
    const recipient = KeyPair.fromPrivateKey(PrivateKey.deserialize(hex("recipientPrivate")));
    expect(bytesToHex(recipient.publicKey.serialize())).toBe(v.recipientPublic);
    const trustRoot = PublicKey.deserialize(hex("trustRootPublic"));
    const opened = await sealedSenderDecryptToContent(hex("envelope"), recipient, trustRoot, v.nowMs as number);
    expect(opened.sender).toBe(v.senderAddress);
    expect(bytesToHex(opened.senderIdentityKey.serialize())).toBe(v.senderPublic);
    expect(opened.type).toBe(v.type);
    expect(bytesToHex(opened.content)).toBe(v.content);
    expect(bytesToHex(opened.certificate.serialized)).toBe(v.senderCertificate);

    const usmc = await libsignal.sealedSenderDecryptToUsmc(ab(hex("envelope")), new LIdentityStore(libsignal.PrivateKey.deserialize(ab(hex("recipientPrivate")))));
    expect(bytesToHex(usmc.contents())).toBe(v.content);
    expect(usmc.senderCertificate().senderUuid()).toBe(v.senderAddress);
    expect(usmc.senderCertificate().validate(libsignal.PublicKey.deserialize(ab(hex("trustRootPublic"))), v.nowMs as number)).toBe(true);

    let err: unknown;
    try {
      await sealedSenderDecryptToContent(hex("envelope"), recipient, trustRoot, (v.expiresAtMs as number) + 1);
    } catch (e) {
      err = e;
    }
    expect(isProtocolError(err, "expired_certificate")).toBe(true);
  });
});
