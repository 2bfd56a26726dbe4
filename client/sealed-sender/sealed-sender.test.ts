import { fromBinary } from "@bufbuild/protobuf";
import * as libsignal from "@signalapp/libsignal-client";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SealedSenderEnvelopeSchema } from "../../gen/securecomm/wire/v1/sealed_sender_pb.js";
import { bytesToHex } from "../crypto/bytes.js";
import { KeyPair, PrivateKey, PublicKey } from "../crypto/curve.js";
import { addressFromIdentityKey, addressToString } from "../keys/address.js";
import { sealedSenderDecryptToContent, sealedSenderEncrypt } from "./sealed-sender.js";
import { certificateChain } from "./certificate-chain.test-support.js";
import { codeOf } from "../errors.test-support.js";

const ab = (b: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(b);
const NOW = 1_800_000_000_000;
const EXPIRES = NOW + 86_400_000;

/** libsignal's identity store, in memory: our own key plus what we know of others. */
class LIdentityStore extends libsignal.IdentityKeyStore {
  readonly known = new Map<string, libsignal.PublicKey>();
  constructor(readonly key: libsignal.PrivateKey, readonly registrationId = 1) {
    super();
  }
  async getIdentityKey(): Promise<libsignal.PrivateKey> {
    return this.key;
  }
  async getLocalRegistrationId(): Promise<number> {
    return this.registrationId;
  }
  async saveIdentity(name: libsignal.ProtocolAddress, key: libsignal.PublicKey): Promise<libsignal.IdentityChange> {
    const had = this.known.get(name.toString());
    this.known.set(name.toString(), key);
    return had !== undefined && !had.equals(key) ? libsignal.IdentityChange.ReplacedExisting : libsignal.IdentityChange.NewOrUnchanged;
  }
  async isTrustedIdentity(): Promise<boolean> {
    return true;
  }
  async getIdentity(name: libsignal.ProtocolAddress): Promise<libsignal.PublicKey | null> {
    return this.known.get(name.toString()) ?? null;
  }
}

class LSessionStore extends libsignal.SessionStore {
  readonly sessions = new Map<string, libsignal.SessionRecord>();
  async saveSession(name: libsignal.ProtocolAddress, record: libsignal.SessionRecord): Promise<void> {
    this.sessions.set(name.toString(), record);
  }
  async getSession(name: libsignal.ProtocolAddress): Promise<libsignal.SessionRecord | null> {
    return this.sessions.get(name.toString()) ?? null;
  }
  async getExistingSessions(addresses: libsignal.ProtocolAddress[]): Promise<libsignal.SessionRecord[]> {
    return addresses.map((a) => this.sessions.get(a.toString())).filter((r): r is libsignal.SessionRecord => r !== undefined);
  }
}

const chain = () => certificateChain(EXPIRES);


describe("sealed sender v1 (spec/08-sealed-sender.md)", () => {
  it("SS-01..SS-03: round-trips our own envelopes; the ephemeral key is fresh each time", async () => {
    const { root, issue } = chain();
    const alice = KeyPair.generate();
    const bob = KeyPair.generate();
    const cert = issue(alice.publicKey);
    const inner = { type: "message" as const, content: new Uint8Array([1, 2, 3, 4]) };
    const env = await sealedSenderEncrypt(bob.publicKey, cert, inner, alice);
    const env2 = await sealedSenderEncrypt(bob.publicKey, cert, inner, alice);
    expect(env[0]).toBe(0x11);
    const parsed = fromBinary(SealedSenderEnvelopeSchema, env.subarray(1));
    expect(parsed.ephemeralPublic.length).toBe(33);
    expect(parsed.encryptedStatic.length).toBe(43);
    expect(bytesToHex(parsed.ephemeralPublic)).not.toBe(bytesToHex(fromBinary(SealedSenderEnvelopeSchema, env2.subarray(1)).ephemeralPublic));
    const opened = await sealedSenderDecryptToContent(env, bob, root.publicKey, NOW);
    expect(opened.sender).toBe(addressToString(addressFromIdentityKey(alice.publicKey)));
    expect(opened.senderIdentityKey.equals(alice.publicKey)).toBe(true);
    expect(opened.type).toBe("message");
    expect(Array.from(opened.content)).toEqual([1, 2, 3, 4]);
  });

  it("SS-08: our envelopes open in libsignal (sealedSenderDecryptToUsmc), certificate and content intact", async () => {
    const { root, issue } = chain();
    for (const type of ["message", "prekey_message"] as const) {
      const alice = KeyPair.generate();
      const bob = KeyPair.generate();
      const cert = issue(alice.publicKey);
      const content = new Uint8Array(256).map((_, i) => i);
      const env = await sealedSenderEncrypt(bob.publicKey, cert, { type, content }, alice);
      const usmc = await libsignal.sealedSenderDecryptToUsmc(ab(env), new LIdentityStore(libsignal.PrivateKey.deserialize(ab(bob.privateKey.serialize()))));
      expect(usmc.msgType()).toBe(type === "message" ? 2 : 3);
      expect(bytesToHex(usmc.contents())).toBe(bytesToHex(content));
      const theirCert = usmc.senderCertificate();
      expect(theirCert.validate(libsignal.PublicKey.deserialize(ab(root.publicKey.serialize())), NOW)).toBe(true);
      expect(theirCert.senderUuid()).toBe(addressToString(addressFromIdentityKey(alice.publicKey)));
      expect(bytesToHex(theirCert.serialize())).toBe(bytesToHex(cert));
    }
  });

  it("SS-08: libsignal's envelopes (sealedSenderEncryptMessage over a real session) open with ours; field numbers pinned", async () => {
    const { root, issue } = chain();
    // Bob (recipient) publishes a bundle made with libsignal's own key types.
    const bobIdentity = libsignal.PrivateKey.generate();
    const bobSigned = libsignal.PrivateKey.generate();
    const bobKyber = libsignal.KEMKeyPair.generate();
    const bundle = libsignal.PreKeyBundle.new(
      7, 1, null, null, 5, bobSigned.getPublicKey(), bobIdentity.sign(bobSigned.getPublicKey().serialize()),
      bobIdentity.getPublicKey(), 9, bobKyber.getPublicKey(), bobIdentity.sign(bobKyber.getPublicKey().serialize()),
    );
    const alice = KeyPair.generate();
    const aliceL = libsignal.PrivateKey.deserialize(ab(alice.privateKey.serialize()));
    const aliceIds = new LIdentityStore(aliceL, 3);
    const sessions = new LSessionStore();
    const bobAddr = libsignal.ProtocolAddress.new(addressToString(addressFromIdentityKey(PublicKey.deserialize(bobIdentity.getPublicKey().serialize()))), 1);
    const aliceAddr = libsignal.ProtocolAddress.new(addressToString(addressFromIdentityKey(alice.publicKey)), 1);
    await libsignal.processPreKeyBundle(bundle, bobAddr, aliceAddr, sessions, aliceIds);
    const cert = libsignal.SenderCertificate.deserialize(ab(issue(alice.publicKey)));
    const plaintext = new Uint8Array(256).fill(0x61);
    const env = await libsignal.sealedSenderEncryptMessage(ab(plaintext), bobAddr, cert, sessions, aliceIds);

    const bob = new KeyPair(PublicKey.deserialize(bobIdentity.getPublicKey().serialize()), PrivateKey.deserialize(bobIdentity.serialize()));
    const opened = await sealedSenderDecryptToContent(env, bob, root.publicKey, NOW);
    expect(opened.type).toBe("prekey_message");
    expect(opened.senderIdentityKey.equals(alice.publicKey)).toBe(true);
    expect(opened.sender).toBe(aliceAddr.name());
    const pksm = libsignal.PreKeySignalMessage.deserialize(ab(opened.content));
    expect(pksm.registrationId()).toBe(3);
    expect(pksm.signedPreKeyId()).toBe(5);
    // Our decoding agrees with libsignal's view of its own envelope.
    const usmc = await libsignal.sealedSenderDecryptToUsmc(env, new LIdentityStore(bobIdentity));
    expect(bytesToHex(usmc.contents())).toBe(bytesToHex(opened.content));
    expect(bytesToHex(usmc.senderCertificate().serialize())).toBe(bytesToHex(opened.certificate.serialized));
    const parsed = fromBinary(SealedSenderEnvelopeSchema, env.subarray(1));
    expect(parsed.ephemeralPublic.length).toBe(33);
    expect(parsed.encryptedStatic.length).toBe(43);
    expect(opened.contentHint).toBe(0);
    // Fields 4 (content_hint) and 5 (group_id): libsignal's content with both set.
    const ctm = await libsignal.signalEncrypt(ab(new Uint8Array(10)), bobAddr, aliceAddr, sessions, aliceIds);
    expect(ctm.type()).toBe(3);
    const usmc2 = libsignal.UnidentifiedSenderMessageContent.new(ctm, cert, 2, ab(new Uint8Array([7, 7, 7])));
    const env2 = await libsignal.sealedSenderEncrypt(usmc2, bobAddr, aliceIds);
    const opened2 = await sealedSenderDecryptToContent(env2, bob, root.publicKey, NOW);
    expect(opened2.type).toBe("prekey_message");
    expect(opened2.contentHint).toBe(2);
    expect(Array.from(opened2.groupId)).toEqual([7, 7, 7]);
    expect(bytesToHex(opened2.content)).toBe(bytesToHex(ctm.serialize()));
  });

  it("SS-07: libsignal content of another type (sender-key message) is rejected", async () => {
    const { root, issue } = chain();
    const alice = KeyPair.generate();
    const bob = KeyPair.generate();
    class SKStore extends libsignal.SenderKeyStore {
      r = new Map<string, libsignal.SenderKeyRecord>();
      async saveSenderKey(s: libsignal.ProtocolAddress, d: string, rec: libsignal.SenderKeyRecord) {
        this.r.set(s.toString() + d, rec);
      }
      async getSenderKey(s: libsignal.ProtocolAddress, d: string) {
        return this.r.get(s.toString() + d) ?? null;
      }
    }
    const sk = new SKStore();
    const addr = libsignal.ProtocolAddress.new("a", 1);
    const dist = crypto.randomUUID();
    await libsignal.SenderKeyDistributionMessage.create(addr, dist, sk);
    const ctm = await libsignal.groupEncrypt(addr, dist, sk, ab(new Uint8Array(5)));
    const usmc = libsignal.UnidentifiedSenderMessageContent.new(ctm, libsignal.SenderCertificate.deserialize(ab(issue(alice.publicKey))), 0, null);
    const ids = new LIdentityStore(libsignal.PrivateKey.deserialize(ab(alice.privateKey.serialize())));
    const bobAddr = libsignal.ProtocolAddress.new("bob", 1);
    await ids.saveIdentity(bobAddr, libsignal.PublicKey.deserialize(ab(bob.publicKey.serialize())));
    const env = await libsignal.sealedSenderEncrypt(usmc, bobAddr, ids);
    expect(await codeOf(sealedSenderDecryptToContent(env, bob, root.publicKey, NOW))).toBe("invalid_message");
  });

  it("SS-05/SS-08: rejects expired or foreign certificates, a certificate for another key, and the wrong recipient", async () => {
    const { root, issue } = chain();
    const alice = KeyPair.generate();
    const bob = KeyPair.generate();
    const inner = { type: "message" as const, content: new Uint8Array([9]) };
    const env = await sealedSenderEncrypt(bob.publicKey, issue(alice.publicKey), inner, alice);
    expect(await codeOf(sealedSenderDecryptToContent(env, bob, root.publicKey, EXPIRES + 1))).toBe("expired_certificate");
    expect(await codeOf(sealedSenderDecryptToContent(env, bob, KeyPair.generate().publicKey, NOW))).toBe("invalid_certificate");
    expect(await codeOf(sealedSenderDecryptToContent(env, KeyPair.generate(), root.publicKey, NOW))).toBe("bad_mac");
    // Mallory holds a valid certificate for her own key but encrypts as Alice? She cannot do the
    // static DH as Alice; the reverse, Alice's certificate with Mallory's key, is caught here.
    const mallory = KeyPair.generate();
    const forged = await sealedSenderEncrypt(bob.publicKey, issue(alice.publicKey), inner, mallory);
    expect(await codeOf(sealedSenderDecryptToContent(forged, bob, root.publicKey, NOW))).toBe("invalid_certificate");
    const v2 = Uint8Array.from(env);
    v2[0] = 0x22;
    expect(await codeOf(sealedSenderDecryptToContent(v2, bob, root.publicKey, NOW))).toBe("invalid_version");
  });

  it("SS-08: any bit flip gives a typed error, never another exception (property)", async () => {
    const { root, issue } = chain();
    const alice = KeyPair.generate();
    const bob = KeyPair.generate();
    const env = await sealedSenderEncrypt(bob.publicKey, issue(alice.publicKey), { type: "message", content: new Uint8Array(40).fill(1) }, alice);
    await fc.assert(
      fc.asyncProperty(fc.nat(env.length * 8 - 1), async (bit) => {
        const bad = Uint8Array.from(env);
        bad[bit >> 3] = (bad[bit >> 3] as number) ^ (1 << (bit & 7));
        const code = await codeOf(sealedSenderDecryptToContent(bad, bob, root.publicKey, NOW));
        expect(["invalid_version", "invalid_message", "invalid_key", "bad_mac", "invalid_certificate"]).toContain(code);
      }),
      { numRuns: 120 },
    );
  });
});
