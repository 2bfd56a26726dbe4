import { describe, expect, it } from "vitest";
import { bytesToHex } from "../crypto/bytes.js";
import { KeyPair } from "../crypto/curve.js";
import { addressFromIdentityKey } from "../keys/address.js";
import {
  clearRememberedSenderCertificates,
  createSenderCertificate,
  createServerCertificate,
  parseSenderCertificate,
  validateSenderCertificate,
} from "./certificates.js";
import { sealedSenderDecryptToContent, sealedSenderEncrypt } from "./sealed-sender.js";
import { certificateChain } from "./certificate-chain.test-support.js";
import { codeOf } from "../errors.test-support.js";

const NOW = 1_800_000_000_000;
const EXPIRES = NOW + 86_400_000;
const inner = { type: "message" as const, content: new Uint8Array([1, 2, 3]) };

const chain = () => certificateChain(EXPIRES);


describe("remembered certificate validations and static agreements refuse what the full checks refuse (SS-05, SS-08)", () => {
  it("a remembered certificate still expires: each envelope's time is checked", async () => {
    const { root, issue } = chain();
    const alice = KeyPair.generate();
    const bob = KeyPair.generate();
    const certificate = issue(alice.publicKey);
    const env = await sealedSenderEncrypt(bob.publicKey, certificate, inner, alice);
    expect((await sealedSenderDecryptToContent(env, bob, root.publicKey, NOW)).sender).toBeTypeOf("string");
    expect((await sealedSenderDecryptToContent(env, bob, root.publicKey, EXPIRES)).sender).toBeTypeOf("string");
    expect(await codeOf(sealedSenderDecryptToContent(env, bob, root.publicKey, EXPIRES + 1))).toBe("expired_certificate");
    expect(await codeOf(validateSenderCertificate(parseSenderCertificate(certificate), root.publicKey, EXPIRES + 1))).toBe("expired_certificate");
    expect(await codeOf(validateSenderCertificate(parseSenderCertificate(certificate), root.publicKey, BigInt(EXPIRES) + 1n))).toBe("expired_certificate");
    // And is valid again for an earlier time: expiry is never remembered.
    expect((await validateSenderCertificate(parseSenderCertificate(certificate), root.publicKey, NOW)).expiresAtMs).toBe(BigInt(EXPIRES));
  });

  it("the same certificate bytes under another trust root are refused after they validated under theirs", async () => {
    const { root, issue } = chain();
    const alice = KeyPair.generate();
    const bob = KeyPair.generate();
    const env = await sealedSenderEncrypt(bob.publicKey, issue(alice.publicKey), inner, alice);
    await sealedSenderDecryptToContent(env, bob, root.publicKey, NOW);
    expect(await codeOf(sealedSenderDecryptToContent(env, bob, KeyPair.generate().publicKey, NOW))).toBe("invalid_certificate");
  });

  it("a certificate with the same contents signed by a server key the root did not certify is refused after the genuine one", async () => {
    const { root, serverCert, issue } = chain();
    const alice = KeyPair.generate();
    const bob = KeyPair.generate();
    const genuine = await sealedSenderEncrypt(bob.publicKey, issue(alice.publicKey), inner, alice);
    await sealedSenderDecryptToContent(genuine, bob, root.publicKey, NOW);
    // The genuine server certificate inside, but signed by another server key.
    const rogue = KeyPair.generate();
    const forged = createSenderCertificate({ serverCertificate: serverCert, serverPrivateKey: rogue.privateKey, senderIdentityKey: alice.publicKey, expiresAtMs: EXPIRES });
    const env = await sealedSenderEncrypt(bob.publicKey, forged, inner, alice);
    expect(await codeOf(sealedSenderDecryptToContent(env, bob, root.publicKey, NOW))).toBe("invalid_certificate");
    // A server certificate for the rogue key signed by another root, same story.
    const otherRoot = KeyPair.generate();
    const rogueServer = createServerCertificate(otherRoot.privateKey, 1, rogue.publicKey);
    const chained = createSenderCertificate({ serverCertificate: rogueServer, serverPrivateKey: rogue.privateKey, senderIdentityKey: alice.publicKey, expiresAtMs: EXPIRES });
    expect(await codeOf(sealedSenderDecryptToContent(await sealedSenderEncrypt(bob.publicKey, chained, inner, alice), bob, root.publicKey, NOW))).toBe(
      "invalid_certificate",
    );
    // The genuine certificate's signature moved onto other contents (a later expiry).
    const parsed = parseSenderCertificate(issue(alice.publicKey));
    const later = parseSenderCertificate(issue(alice.publicKey, EXPIRES + 1000));
    expect(await codeOf(validateSenderCertificate({ ...later, signature: parsed.signature }, root.publicKey, NOW))).toBe("invalid_certificate");
  });

  it("results handed out are copies: changing one changes no later answer", async () => {
    const { root, issue } = chain();
    const alice = KeyPair.generate();
    const bob = KeyPair.generate();
    const certificate = issue(alice.publicKey);
    const env = await sealedSenderEncrypt(bob.publicKey, certificate, inner, alice);
    const first = await sealedSenderDecryptToContent(env, bob, root.publicKey, NOW);
    first.senderAddress.fill(0);
    first.certificate.senderAddress.fill(0);
    first.certificate.serialized.fill(0);
    const second = await sealedSenderDecryptToContent(env, bob, root.publicKey, NOW);
    expect(bytesToHex(second.senderAddress)).toBe(bytesToHex(addressFromIdentityKey(alice.publicKey)));
    expect(bytesToHex(second.certificate.serialized)).toBe(bytesToHex(certificate));
    clearRememberedSenderCertificates();
    const fresh = await sealedSenderDecryptToContent(env, bob, root.publicKey, NOW);
    expect(fresh.sender).toBe(second.sender);
    expect(bytesToHex(fresh.certificate.serialized)).toBe(bytesToHex(second.certificate.serialized));
  });

  it("with remembered agreements for two senders, each envelope opens as its own sender; a sender posing with another's certificate is refused", async () => {
    const { root, issue } = chain();
    const alice = KeyPair.generate();
    const carol = KeyPair.generate();
    const bob = KeyPair.generate();
    for (let i = 0; i < 3; i++) {
      for (const [who, name] of [
        [alice, "alice"],
        [carol, "carol"],
      ] as const) {
        const env = await sealedSenderEncrypt(bob.publicKey, issue(who.publicKey), { type: "message", content: new Uint8Array([i]) }, who);
        const opened = await sealedSenderDecryptToContent(env, bob, root.publicKey, NOW);
        expect([name, bytesToHex(opened.senderAddress), bytesToHex(opened.content)]).toEqual([
          name,
          bytesToHex(addressFromIdentityKey(who.publicKey)),
          bytesToHex(new Uint8Array([i])),
        ]);
      }
    }
    // Carol (agreement with Bob remembered on both sides) seals with Alice's certificate.
    const posing = await sealedSenderEncrypt(bob.publicKey, issue(alice.publicKey), inner, carol);
    expect(await codeOf(sealedSenderDecryptToContent(posing, bob, root.publicKey, NOW))).toBe("invalid_certificate");
    // An envelope to Bob opened by someone else, after Bob's agreements are remembered.
    const toBob = await sealedSenderEncrypt(bob.publicKey, issue(alice.publicKey), inner, alice);
    expect(await codeOf(sealedSenderDecryptToContent(toBob, carol, root.publicKey, NOW))).toBe("bad_mac");
  });
});
