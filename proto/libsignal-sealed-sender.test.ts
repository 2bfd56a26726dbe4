// The securecomm.wire.v1 sealed-sender schemas decode, field for field, what
// @signalapp/libsignal-client 0.103.0 (the test oracle) produces: server and sender certificates
// and their signed contents, the outer v1 envelope (0x11 ‖ SealedSenderEnvelope), and the inner
// content (SealedSenderContent, libsignal's UnidentifiedSenderMessageContent), whose enum values
// are pinned against libsignal's (spec/08-sealed-sender.md SS-01, SS-04, SS-06, SS-07). Decoding
// leaves no unknown fields.

import { beforeAll, describe, expect, it } from "vitest";
import { create, toBinary } from "@bufbuild/protobuf";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  Aci,
  CiphertextMessage,
  CiphertextMessageType,
  ContentHint as LibContentHint,
  DecryptionErrorMessage,
  PlaintextContent,
  PrivateKey,
  SenderCertificate as LibSenderCertificate,
  ServerCertificate as LibServerCertificate,
  SignalMessage as LibSignalMessage,
  UnidentifiedSenderMessageContent,
  groupEncrypt,
  processSenderKeyDistributionMessage,
  SenderKeyDistributionMessage as LibSenderKeyDistributionMessage,
  sealedSenderDecryptMessage,
  sealedSenderDecryptToUsmc,
  sealedSenderEncrypt,
  sealedSenderEncryptMessage,
} from "@signalapp/libsignal-client";
import {
  ContentHint,
  SealedSenderContentSchema,
  SealedSenderContentType,
  SealedSenderEnvelopeSchema,
  SenderCertificateContentsSchema,
  SenderCertificateSchema,
  ServerCertificateContentsSchema,
  ServerCertificateSchema,
} from "../gen/securecomm/wire/v1/sealed_sender_pb.js";
import type { SealedSenderContent } from "../gen/securecomm/wire/v1/sealed_sender_pb.js";
import { SignalMessageSchema } from "../gen/securecomm/wire/v1/signal_message_pb.js";
import {
  DEVICE_ID,
  createParty,
  receiveSignal,
  sendSignal,
  startSession,
  utf8,
} from "./testing/libsignal-parties.js";
import { decodeStrict, sameBytes, unframe, uuidToBytes } from "./testing/strict-decode.js";

/** Version byte of a sealed-sender v1 envelope (SIGNAL-FACTS.md, Sealed sender v1). */
const SEALED_SENDER_V1 = 0x11;
/** Serialized EC public key: 0x05 ‖ 32-byte u-coordinate. */
const PUBLIC_KEY_LENGTH = 33;
/** Truncated HMAC after each AES-256-CTR part of the envelope. */
const ENVELOPE_MAC_LENGTH = 10;
/** XEdDSA signature length. */
const SIGNATURE_LENGTH = 64;
/** Key id of the test server certificate, distinct from every other number in these tests. */
const SERVER_KEY_ID = 77;
/** Certificate lifetime in the tests: one day, in milliseconds. */
const DAY_MS = 86_400_000;

const alice = createParty(5555);
const bob = createParty(6666);
const trustRoot = PrivateKey.generate();
const serverKey = PrivateKey.generate();
// Expiry in Unix ms: above 2^32, so the high half of the fixed64 `expires` field is exercised.
const expiration = Date.now() + DAY_MS;
let serverCertificate: LibServerCertificate;
let senderCertificate: LibSenderCertificate;

beforeAll(async () => {
  serverCertificate = LibServerCertificate.new(SERVER_KEY_ID, serverKey.getPublicKey(), trustRoot);
  senderCertificate = LibSenderCertificate.new(
    alice.uuid,
    null,
    DEVICE_ID,
    alice.identity.publicKey,
    expiration,
    serverCertificate,
    serverKey,
  );
  await startSession(alice, bob, { preKeyId: 11, signedPreKeyId: 12, kyberPreKeyId: 13 });
});

/**
 * Our content type for each libsignal CiphertextMessageType. The protobuf numbers are not all
 * libsignal's API numbers: a PreKey message is 3 in the API and 1 on the wire.
 */
const CONTENT_TYPE_OF: Record<number, SealedSenderContentType> = {
  [CiphertextMessageType.PreKey]: SealedSenderContentType.PREKEY_MESSAGE,
  [CiphertextMessageType.Whisper]: SealedSenderContentType.MESSAGE,
  [CiphertextMessageType.SenderKey]: SealedSenderContentType.SENDERKEY_MESSAGE,
  [CiphertextMessageType.Plaintext]: SealedSenderContentType.PLAINTEXT_CONTENT,
};

/** Decodes libsignal's USMC bytes as our SealedSenderContent and checks it against libsignal's view. */
function decodeContent(usmc: UnidentifiedSenderMessageContent): SealedSenderContent {
  const content = decodeStrict(SealedSenderContentSchema, usmc.serialize());
  expect(content.type).toBe(CONTENT_TYPE_OF[usmc.msgType()]);
  expect(content.contentHint).toBe(usmc.contentHint());
  expect(sameBytes(content.content, usmc.contents())).toBe(true);
  const certificate = content.senderCertificate;
  expect(certificate).toBeDefined();
  expect(sameBytes(toBinary(SenderCertificateSchema, certificate!), usmc.senderCertificate().serialize())).toBe(true);
  return content;
}

describe("libsignal certificates decode with securecomm.wire.v1", () => {
  it("SS-04 ServerCertificate and ServerCertificateContents", () => {
    const bytes = serverCertificate.serialize();
    const certificate = decodeStrict(ServerCertificateSchema, bytes);
    expect(sameBytes(certificate.certificate, serverCertificate.certificateData())).toBe(true);
    expect(sameBytes(certificate.signature, serverCertificate.signature())).toBe(true);
    expect(certificate.signature).toHaveLength(SIGNATURE_LENGTH);
    expect(trustRoot.getPublicKey().verify(Uint8Array.from(certificate.certificate), Uint8Array.from(certificate.signature))).toBe(true);

    const contents = decodeStrict(ServerCertificateContentsSchema, certificate.certificate);
    expect(contents.id).toBe(SERVER_KEY_ID);
    expect(contents.id).toBe(serverCertificate.keyId());
    expect(contents.key).toHaveLength(PUBLIC_KEY_LENGTH);
    expect(sameBytes(contents.key, serverKey.getPublicKey().serialize())).toBe(true);
  });

  it("SS-04 SenderCertificate and SenderCertificateContents: key, expiry, device, uuid, signer", () => {
    const bytes = senderCertificate.serialize();
    const certificate = decodeStrict(SenderCertificateSchema, bytes);
    expect(sameBytes(certificate.certificate, senderCertificate.certificate())).toBe(true);
    expect(sameBytes(certificate.signature, senderCertificate.signature())).toBe(true);
    expect(serverKey.getPublicKey().verify(Uint8Array.from(certificate.certificate), Uint8Array.from(certificate.signature))).toBe(true);
    expect(senderCertificate.validate(trustRoot.getPublicKey(), Date.now())).toBe(true);

    const contents = decodeStrict(SenderCertificateContentsSchema, certificate.certificate);
    expect(sameBytes(contents.identityKey, alice.identity.publicKey.serialize())).toBe(true);
    expect(contents.expires).toBe(BigInt(expiration));
    expect(contents.expires).toBe(BigInt(senderCertificate.expiration()));
    expect(contents.senderDevice).toBe(DEVICE_ID);
    expect(contents.senderE164).toBeUndefined();
    expect(contents.signer.case).toBe("serverCertificate");
    if (contents.signer.case === "serverCertificate") {
      expect(sameBytes(toBinary(ServerCertificateSchema, contents.signer.value), serverCertificate.serialize())).toBe(true);
    }
    // libsignal 0.103 writes the sender as a UUID string (field 6) for a string or an Aci.
    expect(contents.senderUuid).toEqual({ case: "senderUuidString", value: alice.uuid });
  });

  it("SS-04 SenderCertificate with an Aci and a phone number fills sender_uuid and sender_e164", () => {
    const e164 = "+14155550123";
    const withAci = LibSenderCertificate.new(
      Aci.fromUuid(bob.uuid), e164, 3, bob.identity.publicKey, expiration, serverCertificate, serverKey,
    );
    const certificate = decodeStrict(SenderCertificateSchema, withAci.serialize());
    const contents = decodeStrict(SenderCertificateContentsSchema, certificate.certificate);
    expect(contents.senderE164).toBe(e164);
    expect(contents.senderDevice).toBe(3);
    // An Aci is written as the same UUID string; the 16-byte arm (field 7) stays unused.
    expect(contents.senderUuid).toEqual({ case: "senderUuidString", value: bob.uuid });
  });
});

describe("libsignal reads certificates securecomm.wire.v1 encodes", () => {
  /** Our SenderCertificate around `contents`, signed by the test server key. */
  function signedSenderCertificate(contents: MessageInitShape<typeof SenderCertificateContentsSchema>): Uint8Array<ArrayBuffer> {
    const certificate = toBinary(SenderCertificateContentsSchema, create(SenderCertificateContentsSchema, contents));
    const signature = serverKey.sign(Uint8Array.from(certificate));
    return Uint8Array.from(toBinary(SenderCertificateSchema, create(SenderCertificateSchema, { certificate, signature })));
  }
  const common = () => ({
    senderDevice: DEVICE_ID,
    expires: BigInt(expiration),
    identityKey: alice.identity.publicKey.serialize(),
  });

  it("SS-04 sender_uuid_bytes (field 7) is libsignal's 16-byte sender UUID", () => {
    const bytes = signedSenderCertificate({
      ...common(),
      signer: { case: "serverCertificate", value: decodeStrict(ServerCertificateSchema, serverCertificate.serialize()) },
      senderUuid: { case: "senderUuidBytes", value: uuidToBytes(alice.uuid) },
    });
    const parsed = LibSenderCertificate.deserialize(bytes);
    expect(parsed.senderUuid()).toBe(alice.uuid);
    expect(parsed.senderDeviceId()).toBe(DEVICE_ID);
    expect(parsed.expiration()).toBe(expiration);
    expect(parsed.key().equals(alice.identity.publicKey)).toBe(true);
    expect(parsed.validate(trustRoot.getPublicKey(), Date.now())).toBe(true);
  });

  it("SS-06 server_certificate_id (field 8) is libsignal's well-known server certificate id", () => {
    // SecureComm has no well-known certificates; libsignal looks the id up and finds none.
    const bytes = signedSenderCertificate({
      ...common(),
      signer: { case: "serverCertificateId", value: 999_999 },
      senderUuid: { case: "senderUuidString", value: alice.uuid },
    });
    const parsed = LibSenderCertificate.deserialize(bytes);
    expect(() => parsed.serverCertificate()).toThrow(/unknown server certificate ID/i);
    // Without any signer libsignal rejects the certificate outright: field 8 was what it read.
    const unsigned = signedSenderCertificate({ ...common(), senderUuid: { case: "senderUuidString", value: alice.uuid } });
    expect(() => LibSenderCertificate.deserialize(unsigned)).toThrow();
  });
});

describe("libsignal sealed sender v1 decodes with securecomm.wire.v1", () => {
  it("SS-01 envelope (0x11 ‖ SealedSenderEnvelope) and inner PreKey content", async () => {
    const sealed = await sealedSenderEncryptMessage(utf8("sealed hello"), bob.address, senderCertificate, alice.sessions, alice.identities);
    const { body } = unframe(sealed, SEALED_SENDER_V1, 0);
    const envelope = decodeStrict(SealedSenderEnvelopeSchema, body);
    expect(envelope.ephemeralPublic).toHaveLength(PUBLIC_KEY_LENGTH);
    expect(envelope.ephemeralPublic[0]).toBe(0x05);
    // The sender's 33-byte identity key, AES-256-CTR encrypted, then a 10-byte MAC.
    expect(envelope.encryptedStatic).toHaveLength(PUBLIC_KEY_LENGTH + ENVELOPE_MAC_LENGTH);
    expect(envelope.encryptedMessage.length).toBeGreaterThan(ENVELOPE_MAC_LENGTH);
    expect(sameBytes(toBinary(SealedSenderEnvelopeSchema, envelope), body)).toBe(true);

    // The inner content: what Bob's identity key decrypts the envelope to.
    const usmc = await sealedSenderDecryptToUsmc(sealed, bob.identities);
    const content = decodeContent(usmc);
    expect(content.type).toBe(SealedSenderContentType.PREKEY_MESSAGE);
    expect(content.contentHint).toBe(ContentHint.UNSPECIFIED);
    expect(content.groupId).toHaveLength(0);
    // It carries the certificate Alice sent, byte for byte.
    expect(sameBytes(toBinary(SenderCertificateSchema, content.senderCertificate!), senderCertificate.serialize())).toBe(true);

    // The oracle accepts the envelope as a whole (certificate chain, expiry, static key).
    const result = await sealedSenderDecryptMessage(
      sealed, trustRoot.getPublicKey(), Date.now(), null, bob.uuid, DEVICE_ID,
      bob.sessions, bob.identities, bob.preKeys, bob.signedPreKeys, bob.kyberPreKeys,
    );
    expect(result.senderUuid()).toBe(alice.uuid);
    expect(sameBytes(result.message(), utf8("sealed hello"))).toBe(true);
  });

  it("SS-07 content of type MESSAGE on a confirmed session holds a SignalMessage", async () => {
    await receiveSignal(alice, bob, await sendSignal(bob, alice, "reply"));
    const sealed = await sealedSenderEncryptMessage(utf8("second"), bob.address, senderCertificate, alice.sessions, alice.identities);
    decodeStrict(SealedSenderEnvelopeSchema, unframe(sealed, SEALED_SENDER_V1, 0).body);
    const content = decodeContent(await sealedSenderDecryptToUsmc(sealed, bob.identities));
    expect(content.type).toBe(SealedSenderContentType.MESSAGE);
    const inner = decodeStrict(SignalMessageSchema, unframe(content.content, 0x44, 8).body);
    expect(inner.counter).toBe(LibSignalMessage.deserialize(Uint8Array.from(content.content)).counter());
  });

  it("SS-07 content types and hints have libsignal's wire numbers: sender key, plaintext, resendable, implicit", async () => {
    // On the wire: PreKey 1, Message 2, SenderKey 7, Plaintext 8 (libsignal's API says 3 for
    // PreKey); the decoded USMCs below show each number meets libsignal's own reading of it.
    expect([
      SealedSenderContentType.PREKEY_MESSAGE,
      SealedSenderContentType.MESSAGE,
      SealedSenderContentType.SENDERKEY_MESSAGE,
      SealedSenderContentType.PLAINTEXT_CONTENT,
    ]).toEqual([1, 2, 7, 8]);
    expect(ContentHint.UNSPECIFIED).toBe(LibContentHint.Default);
    expect(ContentHint.RESENDABLE).toBe(LibContentHint.Resendable);
    expect(ContentHint.IMPLICIT).toBe(LibContentHint.Implicit);

    // A sender-key message with a group id and the Implicit hint.
    const distributionId = crypto.randomUUID();
    const skdm = await LibSenderKeyDistributionMessage.create(alice.address, distributionId, alice.senderKeys);
    await processSenderKeyDistributionMessage(alice.address, skdm, bob.senderKeys);
    const groupMessage = await groupEncrypt(alice.address, distributionId, alice.senderKeys, utf8("room"));
    const groupId = Uint8Array.from(uuidToBytes(crypto.randomUUID()));
    const senderKeyUsmc = UnidentifiedSenderMessageContent.new(groupMessage, senderCertificate, LibContentHint.Implicit, groupId);
    const senderKeyContent = decodeContent(senderKeyUsmc);
    expect(senderKeyContent.type).toBe(SealedSenderContentType.SENDERKEY_MESSAGE);
    expect(senderKeyContent.contentHint).toBe(ContentHint.IMPLICIT);
    expect(sameBytes(senderKeyContent.groupId, groupId)).toBe(true);
    expect(sameBytes(senderKeyContent.content, groupMessage.serialize())).toBe(true);

    // sealedSenderEncrypt seals a prepared content; Bob recovers the same content bytes.
    const sealed = await sealedSenderEncrypt(senderKeyUsmc, bob.address, alice.identities);
    decodeStrict(SealedSenderEnvelopeSchema, unframe(sealed, SEALED_SENDER_V1, 0).body);
    const opened = await sealedSenderDecryptToUsmc(sealed, bob.identities);
    expect(sameBytes(opened.serialize(), senderKeyUsmc.serialize())).toBe(true);

    // Plaintext content (a decryption-error message) with the Resendable hint.
    const original = await sendSignal(alice, bob, "lost");
    const errorMessage = DecryptionErrorMessage.forOriginal(original.serialize(), original.type(), Date.now(), DEVICE_ID);
    const plaintext = CiphertextMessage.from(PlaintextContent.from(errorMessage));
    const plaintextContent = decodeContent(
      UnidentifiedSenderMessageContent.new(plaintext, senderCertificate, LibContentHint.Resendable, null),
    );
    expect(plaintextContent.type).toBe(SealedSenderContentType.PLAINTEXT_CONTENT);
    expect(plaintextContent.contentHint).toBe(ContentHint.RESENDABLE);
    expect(plaintextContent.groupId).toHaveLength(0);
  });
});
