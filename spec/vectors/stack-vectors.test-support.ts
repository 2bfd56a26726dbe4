/**
 * Test support (never product code): the fixed-input computations behind
 * spec/vectors/rooms.json and spec/vectors/full-stack.json.
 *
 * Owns: every input of those files (SHA-256 of fixed labels, so nothing is random) and the
 * functions that turn the inputs into the pinned bytes with this project's code. The generator
 * (generate-stack-vectors.test-support.ts) writes their output; stack-vectors.test.ts recomputes
 * it and checks it against @signalapp/libsignal-client and node:crypto. Randomized steps take
 * their randomness as an input: the GCM nonces, XEdDSA's Z, the sealed-sender ephemeral key.
 */

import { create, toBinary } from "@bufbuild/protobuf";
import {
  ContentSchema,
  type Content,
  ReceiptType,
} from "../../gen/securecomm/wire/v1/content_pb.js";
import { DepartureAnnouncementSchema, DepartureStatementSchema, InviteSchema, JoinAnnouncementSchema, JoinStatementSchema, RoomEnvelopeBodySchema, RoomEnvelopeSchema, type RoomEnvelopeBody } from "../../gen/securecomm/wire/v1/room_pb.js";
import {
  SenderCertificateContentsSchema,
  SenderCertificateSchema,
  ServerCertificateContentsSchema,
  ServerCertificateSchema,
} from "../../gen/securecomm/wire/v1/sealed_sender_pb.js";
import { be32, concatBytes, utf8 } from "../../client/crypto/bytes.js";
import { aes256CbcEncrypt, aes256GcmEncrypt } from "../../client/crypto/cipher.js";
import { KeyPair, PrivateKey, PublicKey } from "../../client/crypto/curve.js";
import { sha256 } from "../../client/crypto/kdf.js";
import { xeddsaSign } from "../../client/crypto/xeddsa.js";
import { addressFromIdentityKey, addressToString } from "../../client/keys/address.js";
import { pad } from "../../client/padding.js";
import { base64url } from "../../client/relay/base64url.js";
import { createInviteLink } from "../../client/room/invite.js";
import { DEPARTURE_SIGNATURE_LABEL } from "../../client/room/departure.js";
import { JOIN_SIGNATURE_LABEL } from "../../client/room/join.js";
import { ACCESS_KEY_INFO, accessKey, accessKeyHash, ENVELOPE_AAD_LABEL, ENVELOPE_KEY_INFO, envelopeKey } from "../../client/room/room-keys.js";
import { sealedSenderEncrypt } from "../../client/sealed-sender/sealed-sender.js";
import { messageKeysFromSeed, messageSeed } from "../../client/sender-keys/chain.js";
import { SENDER_KEY_VERSION } from "../../client/sender-keys/constants.js";
import { encodeSenderKeyDistribution } from "../../client/sender-keys/messages.js";
import { SenderKeyMessageSchema } from "../../gen/securecomm/wire/v1/sender_key_pb.js";
import { type ConversationInputs, hex, type PqxdhInputs, runConversation, unhex } from "../../client/session/vector-scenario.test-support.js";

/** 32 bytes fixed by `label` (hex): SHA-256("SecureComm test vector: " ‖ label). */
export function fixed(label: string): string {
  return hex(sha256(utf8(`SecureComm test vector: ${label}`)));
}

/** `n` bytes fixed by `label` (hex), n ≤ 64. */
export function fixedBytes(label: string, n: number): string {
  return (fixed(`${label} (1)`) + fixed(`${label} (2)`)).slice(0, 2 * n);
}

const priv = (h: string) => PrivateKey.deserialize(unhex(h));
const pub = (h: string) => PrivateKey.deserialize(unhex(h)).getPublicKey();

/** Content fields as the vectors give them (hex bytes, decimal milliseconds). */
export interface ContentCase {
  readonly name: string;
  readonly from: "alice" | "bob";
  readonly roomId: string;
  readonly messageId: string;
  readonly sentAtMs: number;
  /** The body as protobuf-es JSON-like init (case + value), hex for bytes. */
  readonly body: { readonly case: string; readonly value: Record<string, unknown> };
}

// ---------------------------------------------------------------------------------------------
// rooms.json

/** The fixed inputs of rooms.json. */
export interface RoomInputs {
  readonly roomId: string;
  readonly roomSecret: string;
  readonly epochs: readonly number[];
  readonly inviterIdentityPrivate: string;
  readonly roomName: string;
  readonly origin: string;
  readonly joinerIdentityPrivate: string;
  readonly joinerDeliveryToken: string;
  readonly joinerDisplayName: string;
  readonly joinNonce: string;
  readonly joinCreatedAtMs: number;
  readonly joinSignatureZ: string;
  readonly envelopeNonce: string;
  readonly departureCreatedAtMs: number;
  readonly departureSignatureZ: string;
  readonly departureEnvelopeNonce: string;
}

/** The rooms.json inputs. */
export function roomInputs(): RoomInputs {
  return {
    roomId: fixedBytes("room id", 16),
    roomSecret: fixed("room secret"),
    epochs: [0, 1, 4_294_967_295],
    inviterIdentityPrivate: fixed("alice identity"),
    roomName: "Team",
    origin: "https://relay.example",
    joinerIdentityPrivate: fixed("bob identity"),
    joinerDeliveryToken: fixed("bob delivery token"),
    joinerDisplayName: "Bob",
    joinNonce: fixedBytes("join nonce", 16),
    joinCreatedAtMs: 1_700_000_000_000,
    joinSignatureZ: fixedBytes("join signature z", 64),
    envelopeNonce: fixedBytes("join envelope nonce", 12),
    departureCreatedAtMs: 1_700_000_060_000,
    departureSignatureZ: fixedBytes("departure signature z", 64),
    departureEnvelopeNonce: fixedBytes("departure envelope nonce", 12),
  };
}

/** The RM-06 associated data of `roomId` at `epoch`. */
export function envelopeAad(roomId: Uint8Array, epoch: number): Uint8Array {
  return concatBytes(ENVELOPE_AAD_LABEL, roomId, be32(epoch));
}

/** A RoomEnvelope with an explicit nonce (RM-06), and the intermediate values. */
export function sealEnvelopeWithNonce(roomId: Uint8Array, secret: Uint8Array, epoch: number, nonce: Uint8Array, body: RoomEnvelopeBody) {
  const bodyBytes = toBinary(RoomEnvelopeBodySchema, body);
  const paddedBody = pad(bodyBytes);
  const ciphertext = aes256GcmEncrypt(envelopeKey(roomId, secret, epoch), nonce, paddedBody, envelopeAad(roomId, epoch));
  const envelope = toBinary(RoomEnvelopeSchema, create(RoomEnvelopeSchema, { epoch, nonce, ciphertext }));
  return { body: hex(bodyBytes), paddedBody: hex(paddedBody), ciphertext: hex(ciphertext), envelope: hex(envelope) };
}

/** Every value rooms.json pins, computed from `inputs` with our code. */
export function computeRoomVectors(inputs: RoomInputs) {
  const roomId = unhex(inputs.roomId);
  const secret = unhex(inputs.roomSecret);
  const keys = inputs.epochs.map((epoch) => {
    const ak = accessKey(roomId, secret, epoch);
    return {
      epoch,
      accessKeyInfo: hex(concatBytes(ACCESS_KEY_INFO, be32(epoch))),
      accessKey: hex(ak),
      accessKeyHash: hex(accessKeyHash(ak)),
      envelopeKeyInfo: hex(concatBytes(ENVELOPE_KEY_INFO, be32(epoch))),
      envelopeKey: hex(envelopeKey(roomId, secret, epoch)),
      envelopeAad: hex(envelopeAad(roomId, epoch)),
    };
  });

  const joiner = KeyPair.fromPrivateKey(priv(inputs.joinerIdentityPrivate));
  const statement = toBinary(
    JoinStatementSchema,
    create(JoinStatementSchema, {
      roomId,
      epoch: 0,
      identityKey: joiner.publicKey.serialize(),
      deliveryToken: unhex(inputs.joinerDeliveryToken),
      profile: { displayName: inputs.joinerDisplayName },
      nonce: unhex(inputs.joinNonce),
      createdAtMs: BigInt(inputs.joinCreatedAtMs),
    }),
  );
  const signatureInput = concatBytes(JOIN_SIGNATURE_LABEL, statement);
  const signature = xeddsaSign(joiner.privateKey.serialize(), signatureInput, unhex(inputs.joinSignatureZ));
  const announcement = create(JoinAnnouncementSchema, { statement, signature });
  const joinEnvelope = sealEnvelopeWithNonce(roomId, secret, 0, unhex(inputs.envelopeNonce), create(RoomEnvelopeBodySchema, { body: { case: "join", value: announcement } }));

  // RM-35: the joiner leaves again, with a signed departure naming itself, at epoch 0.
  const departureStatement = toBinary(
    DepartureStatementSchema,
    create(DepartureStatementSchema, {
      roomId,
      epoch: 0,
      signerIdentityKey: joiner.publicKey.serialize(),
      memberIdentityKey: joiner.publicKey.serialize(),
      createdAtMs: BigInt(inputs.departureCreatedAtMs),
    }),
  );
  const departureSignatureInput = concatBytes(DEPARTURE_SIGNATURE_LABEL, departureStatement);
  const departureSignature = xeddsaSign(joiner.privateKey.serialize(), departureSignatureInput, unhex(inputs.departureSignatureZ));
  const departure = create(DepartureAnnouncementSchema, { statement: departureStatement, signature: departureSignature });
  const departureEnvelope = sealEnvelopeWithNonce(roomId, secret, 0, unhex(inputs.departureEnvelopeNonce), create(RoomEnvelopeBodySchema, { body: { case: "departure", value: departure } }));

  const inviter = pub(inputs.inviterIdentityPrivate);
  const inviteFields = { roomId, roomSecret: secret, epoch: 0, inviterIdentityKey: inviter.serialize(), roomName: inputs.roomName };
  const inviteBytes = toBinary(InviteSchema, create(InviteSchema, inviteFields));
  return {
    keys,
    join: {
      joinerIdentityPublic: hex(joiner.publicKey.serialize()),
      statement: hex(statement),
      signatureInput: hex(signatureInput),
      signature: hex(signature),
      announcement: hex(toBinary(JoinAnnouncementSchema, announcement)),
      envelope: { epoch: 0, nonce: inputs.envelopeNonce, ...joinEnvelope },
    },
    departure: {
      statement: hex(departureStatement),
      signatureInput: hex(departureSignatureInput),
      signature: hex(departureSignature),
      announcement: hex(toBinary(DepartureAnnouncementSchema, departure)),
      envelope: { epoch: 0, nonce: inputs.departureEnvelopeNonce, ...departureEnvelope },
    },
    invite: {
      inviterIdentityPublic: hex(inviter.serialize()),
      invite: hex(inviteBytes),
      encoded: base64url(inviteBytes),
      link: createInviteLink(inputs.origin, inviteFields),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// full-stack.json

/** The fixed inputs of full-stack.json (the conversation is ratchet.json's, with Contents). */
export interface FullStackInputs {
  readonly roomId: string;
  readonly roomSecret: string;
  /** ratchet.json's conversation inputs; `plaintexts` are replaced by the padded Contents. */
  readonly conversation: Omit<ConversationInputs, "plaintexts">;
  readonly contents: readonly ContentCase[];
  readonly aliceSenderKey: {
    readonly distributionId: string;
    readonly chainId: number;
    readonly chainKey: string;
    readonly signingPrivateKey: string;
    readonly signatureZ: string;
  };
  readonly roomMessage: ContentCase;
  readonly roomEnvelopeNonce: string;
  readonly sealedSender: {
    readonly trustRootPrivate: string;
    readonly serverPrivate: string;
    readonly serverCertificateId: number;
    readonly serverCertificateZ: string;
    readonly senderCertificateZ: string;
    readonly expiresAtMs: number;
    readonly nowMs: number;
    readonly ephemeralPrivate: string;
  };
}

/** The full-stack.json inputs, given ratchet.json's conversation inputs. */
export function fullStackInputs(conversation: ConversationInputs, skdmHexOf: (i: FullStackInputs["aliceSenderKey"]) => string): FullStackInputs {
  const { plaintexts: _dropped, ...rest } = conversation;
  const room = roomInputs();
  const aliceSenderKey = {
    distributionId: fixedBytes("alice distribution id", 16),
    chainId: 0x1234_5678,
    chainKey: fixed("alice sender chain key"),
    signingPrivateKey: fixed("alice sender signing key"),
    signatureZ: fixedBytes("alice sender-key signature z", 64),
  };
  const base = { roomId: room.roomId, sentAtMs: 1_700_000_000_000 };
  const bobIdentity = hex(pub(conversation.pqxdh.bobIdentityPrivate).serialize());
  const aliceIdentity = hex(pub(conversation.pqxdh.aliceIdentityPrivate).serialize());
  const contents: ContentCase[] = [
    {
      ...base,
      name: "m0: Alice's Welcome to Bob (RM-08): her SKDM, profile, delivery token and roster",
      from: "alice",
      messageId: fixedBytes("m0 message id", 16),
      body: {
        case: "welcome",
        value: {
          distributionMessage: skdmHexOf(aliceSenderKey),
          profile: { displayName: "Alice" },
          deliveryToken: fixed("alice delivery token"),
          roster: {
            members: [
              { identityKey: aliceIdentity, profile: { displayName: "Alice" }, joinedSeq: 0, deliveryToken: fixed("alice delivery token") },
              { identityKey: bobIdentity, profile: { displayName: "Bob" }, joinedSeq: 1, deliveryToken: room.joinerDeliveryToken },
            ],
            asOfSeq: 1,
            adminIdentityKey: aliceIdentity,
            epoch: 0,
          },
        },
      },
    },
    { ...base, name: "m1: Alice's profile (pairwise)", from: "alice", messageId: fixedBytes("m1 message id", 16), body: { case: "profile", value: { displayName: "Alice A." } } },
    {
      ...base,
      name: "m2: Bob's answer with his own SKDM (RM-08)",
      from: "bob",
      messageId: fixedBytes("m2 message id", 16),
      body: { case: "senderKeyDistribution", value: { distributionMessage: skdmHexOf({ ...aliceSenderKey, distributionId: fixedBytes("bob distribution id", 16), chainKey: fixed("bob sender chain key"), signingPrivateKey: fixed("bob sender signing key"), chainId: 0x0765_4321 }) } },
    },
    { ...base, name: "m3: Alice's delivery receipt (pairwise)", from: "alice", messageId: fixedBytes("m3 message id", 16), body: { case: "receipt", value: { type: ReceiptType.DELIVERED, messageIds: [fixedBytes("m2 message id", 16)] } } },
  ];
  return {
    roomId: room.roomId,
    roomSecret: room.roomSecret,
    conversation: rest,
    contents,
    aliceSenderKey,
    roomMessage: { ...base, name: "Alice's text in the room (RM-07)", from: "alice", messageId: fixedBytes("room text message id", 16), body: { case: "text", value: { body: "hello, room" } } },
    roomEnvelopeNonce: fixedBytes("room text envelope nonce", 12),
    sealedSender: {
      trustRootPrivate: fixed("trust root"),
      serverPrivate: fixed("server key"),
      serverCertificateId: 1,
      serverCertificateZ: fixedBytes("server certificate z", 64),
      senderCertificateZ: fixedBytes("sender certificate z", 64),
      expiresAtMs: 1_800_000_000_000,
      nowMs: 1_700_000_000_000,
      ephemeralPrivate: fixed("sealed sender ephemeral"),
    },
  };
}

/** Converts hex strings in a ContentCase body to bytes (fields named as in content.proto). */
function bodyInit(value: unknown): unknown {
  if (typeof value === "string" && /^[0-9a-f]*$/.test(value) && value.length % 2 === 0 && value.length >= 32) return unhex(value);
  if (Array.isArray(value)) return value.map(bodyInit);
  if (typeof value === "number") return value;
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = k === "joinedSeq" || k === "asOfSeq" ? BigInt(v as number) : bodyInit(v);
    return out;
  }
  return value;
}

/** The Content message of a case. */
export function contentOf(c: ContentCase): Content {
  return create(ContentSchema, {
    roomId: unhex(c.roomId),
    messageId: unhex(c.messageId),
    sentAtMs: BigInt(c.sentAtMs),
    body: { case: c.body.case, value: bodyInit(c.body.value) } as Content["body"],
  });
}

/** The serialized SKDM (0x33 ‖ …) of a fixed sender key at iteration 0 (SK-06). */
export function skdmHex(k: FullStackInputs["aliceSenderKey"]): string {
  return hex(
    encodeSenderKeyDistribution({
      distributionId: unhex(k.distributionId),
      chainId: k.chainId,
      iteration: 0,
      chainKey: unhex(k.chainKey),
      signingKey: pub(k.signingPrivateKey),
    }),
  );
}

/** A SenderKeyMessage at iteration 0 of `k` over `plaintext`, signed with the fixed Z (SK-04, SK-05). */
export function senderKeyMessage(k: FullStackInputs["aliceSenderKey"], plaintext: Uint8Array): Uint8Array {
  const { iv, cipherKey } = messageKeysFromSeed(messageSeed(unhex(k.chainKey)));
  const ciphertext = aes256CbcEncrypt(cipherKey, iv, plaintext);
  const body = toBinary(SenderKeyMessageSchema, create(SenderKeyMessageSchema, { distributionId: unhex(k.distributionId), chainId: k.chainId, iteration: 0, ciphertext }));
  const signed = concatBytes(Uint8Array.of(SENDER_KEY_VERSION), body);
  return concatBytes(signed, xeddsaSign(priv(k.signingPrivateKey).serialize(), signed, unhex(k.signatureZ)));
}

/** Serialized server and sender certificates for Alice, signed with the fixed Zs (SS-04). */
export function certificates(s: FullStackInputs["sealedSender"], aliceIdentity: PublicKey) {
  const serverKey = pub(s.serverPrivate);
  const serverContents = toBinary(ServerCertificateContentsSchema, create(ServerCertificateContentsSchema, { id: s.serverCertificateId, key: serverKey.serialize() }));
  const serverCertificate = create(ServerCertificateSchema, {
    certificate: serverContents,
    signature: xeddsaSign(priv(s.trustRootPrivate).serialize(), serverContents, unhex(s.serverCertificateZ)),
  });
  const senderContents = toBinary(
    SenderCertificateContentsSchema,
    create(SenderCertificateContentsSchema, {
      senderDevice: 1,
      expires: BigInt(s.expiresAtMs),
      identityKey: aliceIdentity.serialize(),
      signer: { case: "serverCertificate", value: serverCertificate },
      senderUuid: { case: "senderUuidString", value: addressToString(addressFromIdentityKey(aliceIdentity)) },
    }),
  );
  const senderCertificate = toBinary(
    SenderCertificateSchema,
    create(SenderCertificateSchema, { certificate: senderContents, signature: xeddsaSign(priv(s.serverPrivate).serialize(), senderContents, unhex(s.senderCertificateZ)) }),
  );
  return { trustRootPublic: hex(pub(s.trustRootPrivate).serialize()), serverCertificate: hex(toBinary(ServerCertificateSchema, serverCertificate)), senderCertificate: hex(senderCertificate) };
}

/** Every value full-stack.json pins, computed from `inputs` with our code. */
export async function computeFullStackVectors(inputs: FullStackInputs, pqxdh: PqxdhInputs) {
  const contents = inputs.contents.map((c) => {
    const bytes = toBinary(ContentSchema, contentOf(c));
    return { name: c.name, content: hex(bytes), paddedContent: hex(pad(bytes)) };
  });
  const conversation = await runConversation({ ...inputs.conversation, pqxdh, plaintexts: contents.map((c) => c.paddedContent) });
  const messages = conversation.messages.map((m) => ({ from: m.from, type: m.type, body: m.body }));

  const alice = KeyPair.fromPrivateKey(priv(pqxdh.aliceIdentityPrivate));
  const bob = pub(pqxdh.bobIdentityPrivate);
  const certs = certificates(inputs.sealedSender, alice.publicKey);
  const m0 = messages[0];
  if (m0 === undefined) throw new Error("no m0");
  const sealed = await sealedSenderEncrypt(
    bob,
    unhex(certs.senderCertificate),
    { type: "prekey_message", content: unhex(m0.body) },
    alice,
    KeyPair.fromPrivateKey(priv(inputs.sealedSender.ephemeralPrivate)),
  );

  const text = toBinary(ContentSchema, contentOf(inputs.roomMessage));
  const skm = senderKeyMessage(inputs.aliceSenderKey, pad(text));
  const roomId = unhex(inputs.roomId);
  const envelope = sealEnvelopeWithNonce(roomId, unhex(inputs.roomSecret), 0, unhex(inputs.roomEnvelopeNonce), create(RoomEnvelopeBodySchema, { body: { case: "senderKeyMessage", value: skm } }));

  return {
    pairwise: {
      contents,
      messages,
      sealedSender: {
        senderAddress: addressToString(addressFromIdentityKey(alice.publicKey)),
        aliceIdentityPublic: hex(alice.publicKey.serialize()),
        bobIdentityPublic: hex(bob.serialize()),
        ...certs,
        ephemeralPublic: hex(pub(inputs.sealedSender.ephemeralPrivate).serialize()),
        envelope: hex(sealed),
      },
    },
    room: {
      aliceSkdm: skdmHex(inputs.aliceSenderKey),
      signingPublicKey: hex(pub(inputs.aliceSenderKey.signingPrivateKey).serialize()),
      content: hex(text),
      paddedContent: hex(pad(text)),
      senderKeyMessage: hex(skm),
      envelope: { epoch: 0, nonce: inputs.roomEnvelopeNonce, ...envelope },
    },
  };
}
