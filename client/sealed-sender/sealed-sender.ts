/**
 * Sealed sender v1 envelopes (spec SS-01, SS-02, SS-03, SS-07, SS-08).
 *
 * Owns: wrapping a pairwise ciphertext (PreKeySignalMessage or SignalMessage bytes) with the
 * sender's certificate in an envelope only the recipient can open, and opening one: ephemeral
 * layer, static layer, content, certificate validation, and the check that the certificate's
 * key is the key used in the static DH. Opening is pure (no stores), so a rejected envelope
 * changes nothing.
 * Does not own: decrypting the inner ciphertext with a session (client/session), fetching or
 * renewing certificates (SS-09, client runtime), pinning the trust root (SS-05, the caller).
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { decodeStrict } from "../crypto/proto-strict.js";
import {
  SealedSenderContentSchema,
  SealedSenderContentType,
  SealedSenderEnvelopeSchema,
  SenderCertificateSchema,
} from "../../gen/securecomm/wire/v1/sealed_sender_pb.js";
import { ProtocolError } from "../errors.js";
import { concatBytes, constantTimeEqual, utf8 } from "../crypto/bytes.js";
import { aes256Ctr } from "../crypto/cipher.js";
import { KeyPair, PublicKey } from "../crypto/curve.js";
import { hmacSha256 } from "../crypto/kdf.js";
// Both layers' key derivations are short-input HKDFs (4 HMACs each): computed in JavaScript,
// which avoids node:crypto's per-call overhead (client/crypto/hmac-sha256-small.ts).
import { hkdfSha256Small } from "../crypto/hmac-sha256-small.js";
import { addressToString } from "../keys/address.js";
import {
  parseSenderCertificate,
  rememberedSenderCertificate,
  validateSenderCertificate,
  type VerifiedSenderCertificate,
} from "./certificates.js";
import { staticAgreement } from "./static-agreement.js";

/** Envelope version byte of sealed sender v1 (spec SS-01; libsignal's 0x11). */
export const SEALED_SENDER_V1_VERSION = 0x11;
/** HKDF salt prefix of the ephemeral layer (spec SS-02). */
const UNIDENTIFIED_DELIVERY_LABEL = utf8("UnidentifiedDelivery");
/** Each layer's HKDF output: chain key ‖ cipher key ‖ MAC key (spec SS-02, SS-03). */
const LAYER_KEYS_LENGTH = 96;
/** Truncated HMAC length appended to each encrypted part (spec §8: 10 bytes, libsignal's). */
const SEALED_MAC_LENGTH = 10;
/** All-zero CTR initial counter block; safe because both keys are unique per envelope (§8). */
const ZERO_IV = new Uint8Array(16);
/** `encrypted_static` = Enc(33-byte identity key) = 33 + 10 bytes (spec SS-01). */
const ENCRYPTED_STATIC_LENGTH = 33 + SEALED_MAC_LENGTH;
/** Empty HKDF info for both layers (spec SS-02, SS-03). */
const EMPTY = new Uint8Array(0);

/** The two content types SecureComm accepts inside an envelope (spec SS-07). */
export type SealedContentType = "prekey_message" | "message";

const TYPE_TO_WIRE: Record<SealedContentType, SealedSenderContentType> = {
  prekey_message: SealedSenderContentType.PREKEY_MESSAGE,
  message: SealedSenderContentType.MESSAGE,
};

/** What the sender seals: the pairwise ciphertext and its type. */
export interface SealedInnerContent {
  readonly type: SealedContentType;
  /** PreKeySignalMessage or SignalMessage bytes. */
  readonly content: Uint8Array;
}

/** An opened envelope: who sent it (certificate verified) and the ciphertext to decrypt. */
export interface OpenedSealedSender {
  /** The sender's address in UUID text form (spec ID-03). */
  readonly sender: string;
  /** The sender's address, 16 bytes. */
  readonly senderAddress: Uint8Array;
  readonly senderIdentityKey: PublicKey;
  readonly type: SealedContentType;
  readonly content: Uint8Array;
  readonly certificate: VerifiedSenderCertificate;
  /** `content_hint` as sent (spec SS-07: receivers ignore it; exposed for diagnostics). */
  readonly contentHint: number;
  /** `group_id` as sent (spec SS-07: unused by SecureComm, ignored). */
  readonly groupId: Uint8Array;
}

function encryptPart(cipherKey: Uint8Array, macKey: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const ct = aes256Ctr(cipherKey, ZERO_IV, plaintext);
  return concatBytes(ct, hmacSha256(macKey, ct).subarray(0, SEALED_MAC_LENGTH));
}

function decryptPart(cipherKey: Uint8Array, macKey: Uint8Array, data: Uint8Array): Uint8Array {
  if (data.length < SEALED_MAC_LENGTH) throw new ProtocolError("invalid_message");
  const ct = data.subarray(0, data.length - SEALED_MAC_LENGTH);
  const mac = data.subarray(data.length - SEALED_MAC_LENGTH);
  if (!constantTimeEqual(hmacSha256(macKey, ct).subarray(0, SEALED_MAC_LENGTH), mac)) {
    throw new ProtocolError("bad_mac");
  }
  return aes256Ctr(cipherKey, ZERO_IV, ct);
}

function ephemeralKeys(recipient: PublicKey, ephemeral: PublicKey, dh: Uint8Array) {
  const okm = hkdfSha256Small(dh, concatBytes(UNIDENTIFIED_DELIVERY_LABEL, recipient.serialize(), ephemeral.serialize()), EMPTY, LAYER_KEYS_LENGTH);
  return { chainKey: okm.slice(0, 32), cipherKey: okm.slice(32, 64), macKey: okm.slice(64, 96) };
}

function staticKeys(chainKey: Uint8Array, encryptedStatic: Uint8Array, dh: Uint8Array) {
  const okm = hkdfSha256Small(dh, concatBytes(chainKey, encryptedStatic), EMPTY, LAYER_KEYS_LENGTH);
  return { cipherKey: okm.slice(32, 64), macKey: okm.slice(64, 96) };
}

/**
 * Seals `inner` from `senderIdentity` to `destinationIdentity` with the sender certificate
 * `senderCertificate` (serialized, as issued by the relay) (spec SS-01..SS-03, SS-07; a fresh
 * ephemeral key per envelope, SS-09). `fixedEphemeral` exists only so the generator of
 * spec/vectors/full-stack.json produces the same bytes on every run; production callers omit
 * it, and reusing an ephemeral key across envelopes would break SS-09.
 */
export async function sealedSenderEncrypt(
  destinationIdentity: PublicKey,
  senderCertificate: Uint8Array,
  inner: SealedInnerContent,
  senderIdentity: KeyPair,
  fixedEphemeral?: KeyPair,
): Promise<Uint8Array> {
  let certificate;
  try {
    certificate = decodeStrict(SenderCertificateSchema, senderCertificate);
  } catch {
    throw new ProtocolError("invalid_certificate");
  }
  const type = TYPE_TO_WIRE[inner.type];
  if (type === undefined) throw new RangeError("unsupported sealed content type");
  const contentBytes = toBinary(
    SealedSenderContentSchema,
    create(SealedSenderContentSchema, { type, senderCertificate: certificate, content: inner.content }),
  );

  const ephemeral = fixedEphemeral ?? (await KeyPair.generateAsync());
  const e = ephemeralKeys(destinationIdentity, ephemeral.publicKey, await ephemeral.privateKey.agree(destinationIdentity));
  const encryptedStatic = encryptPart(e.cipherKey, e.macKey, senderIdentity.publicKey.serialize());
  const s = staticKeys(e.chainKey, encryptedStatic, await staticAgreement(senderIdentity.privateKey, destinationIdentity));
  const encryptedMessage = encryptPart(s.cipherKey, s.macKey, contentBytes);

  const body = toBinary(
    SealedSenderEnvelopeSchema,
    create(SealedSenderEnvelopeSchema, { ephemeralPublic: ephemeral.publicKey.serialize(), encryptedStatic, encryptedMessage }),
  );
  return concatBytes(Uint8Array.of(SEALED_SENDER_V1_VERSION), body);
}

/**
 * Opens a sealed-sender v1 envelope addressed to `recipientIdentity` (spec SS-08), validating
 * the sender certificate against the pinned `trustRoot` at `nowMs` (SS-05) and checking that
 * the certificate's identity key is the key that performed the static DH. Errors (all
 * `ProtocolError`): `invalid_version`, `invalid_message` (malformed, or a content type other
 * than PreKey/Signal message), `invalid_key` (bad ephemeral or sender key, all-zero DH),
 * `bad_mac`, `invalid_certificate`, `expired_certificate`.
 */
export async function sealedSenderDecryptToContent(
  envelope: Uint8Array,
  recipientIdentity: KeyPair,
  trustRoot: PublicKey,
  nowMs: number | bigint,
): Promise<OpenedSealedSender> {
  if (envelope.length === 0) throw new ProtocolError("invalid_message");
  if (envelope[0] !== SEALED_SENDER_V1_VERSION) throw new ProtocolError("invalid_version");
  let outer;
  try {
    outer = decodeStrict(SealedSenderEnvelopeSchema, envelope.subarray(1));
  } catch {
    throw new ProtocolError("invalid_message");
  }
  if (outer.encryptedStatic.length !== ENCRYPTED_STATIC_LENGTH || outer.encryptedMessage.length < SEALED_MAC_LENGTH + 1) {
    throw new ProtocolError("invalid_message");
  }
  const ephemeral = PublicKey.deserialize(outer.ephemeralPublic);
  const e = ephemeralKeys(recipientIdentity.publicKey, ephemeral, await recipientIdentity.privateKey.agree(ephemeral));
  const senderKey = PublicKey.deserialize(decryptPart(e.cipherKey, e.macKey, outer.encryptedStatic));
  const s = staticKeys(e.chainKey, outer.encryptedStatic, await staticAgreement(recipientIdentity.privateKey, senderKey));
  const contentBytes = decryptPart(s.cipherKey, s.macKey, outer.encryptedMessage);

  let content;
  try {
    content = decodeStrict(SealedSenderContentSchema, contentBytes);
  } catch {
    throw new ProtocolError("invalid_message");
  }
  let type: SealedContentType;
  if (content.type === SealedSenderContentType.PREKEY_MESSAGE) type = "prekey_message";
  else if (content.type === SealedSenderContentType.MESSAGE) type = "message";
  else throw new ProtocolError("invalid_message");
  if (content.senderCertificate === undefined) throw new ProtocolError("invalid_certificate");

  const carried = content.senderCertificate;
  // A certificate seen before (every envelope from this sender carries the same one) is
  // answered for its exact bytes without re-encoding it; expiry is still checked (SS-05).
  const certificate =
    (carried.$unknown === undefined || carried.$unknown.length === 0
      ? rememberedSenderCertificate(carried.certificate, carried.signature, trustRoot, nowMs)
      : undefined) ??
    (await validateSenderCertificate(parseSenderCertificate(toBinary(SenderCertificateSchema, carried)), trustRoot, nowMs));
  if (!certificate.senderIdentityKey.equals(senderKey)) throw new ProtocolError("invalid_certificate");
  return {
    sender: addressToString(certificate.senderAddress),
    senderAddress: certificate.senderAddress,
    senderIdentityKey: certificate.senderIdentityKey,
    type,
    content: content.content,
    certificate,
    contentHint: content.contentHint,
    groupId: content.groupId,
  };
}
