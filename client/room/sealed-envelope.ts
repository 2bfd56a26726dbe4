/**
 * Sealed sender v1 envelopes (spec SS-01..SS-03, SS-07, SS-08), as the room layer uses them.
 *
 * Owns: `sealEnvelope` and `openEnvelope` (ephemeral and static layers, the 10-byte truncated
 * MACs checked in constant time before decrypting, content parsing, certificate validation
 * through client/sealed-sender/certificates.ts). This lives in the room layer only because
 * client/sealed-sender had no envelope code when rooms were built; it follows spec/08 exactly
 * and can be swapped for that module's version without changing callers. Does not own: the
 * Signal session step (pairwise.ts), certificates (client/sealed-sender).
 */

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  SealedSenderContentSchema,
  SealedSenderContentType,
  SealedSenderEnvelopeSchema,
  SenderCertificateSchema,
} from "../../gen/securecomm/wire/v1/sealed_sender_pb.js";
import { concatBytes, constantTimeEqual } from "../crypto/bytes.js";
import { aes256Ctr } from "../crypto/cipher.js";
import { KeyPair, type PrivateKey, PublicKey } from "../crypto/curve.js";
import { hkdfSha256, hmacSha256 } from "../crypto/kdf.js";
import { ProtocolError } from "../errors.js";
import { addressEquals } from "../keys/address.js";
import {
  parseSenderCertificate,
  validateSenderCertificate,
  type VerifiedSenderCertificate,
} from "../sealed-sender/certificates.js";

/** Version byte of sealed sender v1 (SS-01). */
export const SEALED_SENDER_V1 = 0x11;
/** HKDF salt label of the ephemeral layer (SS-02). */
const UNIDENTIFIED_DELIVERY = new TextEncoder().encode("UnidentifiedDelivery");
/** Truncated MAC length of both layers (spec 08 notation `Enc`). */
const MAC_LENGTH = 10;
/** encrypted_static = 33-byte key ‖ 10-byte MAC (SS-02). */
const ENCRYPTED_STATIC_LENGTH = 43;

/** The Signal message carried inside: a PreKeySignalMessage or a SignalMessage (SS-07). */
export type SealedMessageType = "prekey" | "message";

function enc(cipherKey: Uint8Array, macKey: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const ct = aes256Ctr(cipherKey, new Uint8Array(16), plaintext);
  return concatBytes(ct, hmacSha256(macKey, ct).slice(0, MAC_LENGTH));
}

function dec(cipherKey: Uint8Array, macKey: Uint8Array, data: Uint8Array): Uint8Array {
  if (data.length < MAC_LENGTH) throw new ProtocolError("invalid_message");
  const ct = data.subarray(0, data.length - MAC_LENGTH);
  const mac = data.subarray(data.length - MAC_LENGTH);
  if (!constantTimeEqual(hmacSha256(macKey, ct).slice(0, MAC_LENGTH), mac)) throw new ProtocolError("bad_mac");
  return aes256Ctr(cipherKey, new Uint8Array(16), ct);
}

function ephemeralKeys(recipient: PublicKey, ephemeral: PublicKey, dh: Uint8Array) {
  const okm = hkdfSha256(dh, concatBytes(UNIDENTIFIED_DELIVERY, recipient.serialize(), ephemeral.serialize()), new Uint8Array(0), 96);
  return { chainKey: okm.slice(0, 32), cipherKey: okm.slice(32, 64), macKey: okm.slice(64, 96) };
}

function staticKeys(chainKey: Uint8Array, encryptedStatic: Uint8Array, dh: Uint8Array) {
  const okm = hkdfSha256(dh, concatBytes(chainKey, encryptedStatic), new Uint8Array(0), 96);
  return { cipherKey: okm.slice(32, 64), macKey: okm.slice(64, 96) };
}

function allZero(b: Uint8Array): boolean {
  let acc = 0;
  for (const x of b) acc |= x;
  return acc === 0;
}

/** Seals `message` from us to `recipient` with our sender certificate (SS-01..SS-03, SS-09). */
export async function sealEnvelope(p: {
  ourIdentity: KeyPair;
  recipient: PublicKey;
  senderCertificate: Uint8Array;
  type: SealedMessageType;
  message: Uint8Array;
}): Promise<Uint8Array> {
  const e = KeyPair.generate(); // fresh per envelope (SS-09)
  const eph = ephemeralKeys(p.recipient, e.publicKey, await e.privateKey.agree(p.recipient));
  const encryptedStatic = enc(eph.cipherKey, eph.macKey, p.ourIdentity.publicKey.serialize());
  const st = staticKeys(eph.chainKey, encryptedStatic, await p.ourIdentity.privateKey.agree(p.recipient));
  const content = toBinary(
    SealedSenderContentSchema,
    create(SealedSenderContentSchema, {
      type: p.type === "prekey" ? SealedSenderContentType.PREKEY_MESSAGE : SealedSenderContentType.MESSAGE,
      senderCertificate: fromBinary(SenderCertificateSchema, p.senderCertificate),
      content: p.message,
    }),
  );
  const envelope = create(SealedSenderEnvelopeSchema, {
    ephemeralPublic: e.publicKey.serialize(),
    encryptedStatic,
    encryptedMessage: enc(st.cipherKey, st.macKey, content),
  });
  return concatBytes(new Uint8Array([SEALED_SENDER_V1]), toBinary(SealedSenderEnvelopeSchema, envelope));
}

/** An opened envelope: the verified sender and the Signal message still to decrypt. */
export interface OpenedEnvelope {
  sender: VerifiedSenderCertificate;
  type: SealedMessageType;
  message: Uint8Array;
}

/**
 * Opens a sealed-sender v1 envelope addressed to us (SS-08 order). Throws ProtocolError
 * ("invalid_version", "invalid_message", "bad_mac", "invalid_key", "invalid_certificate",
 * "expired_certificate"). Pure: no store is touched.
 */
export async function openEnvelope(p: {
  ourIdentity: KeyPair;
  ourAddress: Uint8Array;
  trustRoot: PublicKey;
  nowMs: number;
  bytes: Uint8Array;
}): Promise<OpenedEnvelope> {
  if (p.bytes.length < 1 || p.bytes[0] !== SEALED_SENDER_V1) throw new ProtocolError("invalid_version");
  let env;
  try {
    env = fromBinary(SealedSenderEnvelopeSchema, p.bytes.subarray(1));
  } catch (e) {
    throw new ProtocolError("invalid_message", { cause: e });
  }
  if (env.encryptedStatic.length !== ENCRYPTED_STATIC_LENGTH || env.encryptedMessage.length < MAC_LENGTH + 1) {
    throw new ProtocolError("invalid_message");
  }
  const ephemeral = PublicKey.deserialize(env.ephemeralPublic);
  const ourPrivate: PrivateKey = p.ourIdentity.privateKey;
  const dh1 = await ourPrivate.agree(ephemeral);
  if (allZero(dh1)) throw new ProtocolError("invalid_key");
  const eph = ephemeralKeys(p.ourIdentity.publicKey, ephemeral, dh1);
  const senderKey = PublicKey.deserialize(dec(eph.cipherKey, eph.macKey, env.encryptedStatic));
  const dh2 = await ourPrivate.agree(senderKey);
  if (allZero(dh2)) throw new ProtocolError("invalid_key");
  const st = staticKeys(eph.chainKey, env.encryptedStatic, dh2);
  let content;
  try {
    content = fromBinary(SealedSenderContentSchema, dec(st.cipherKey, st.macKey, env.encryptedMessage));
  } catch (e) {
    if (e instanceof ProtocolError) throw e;
    throw new ProtocolError("invalid_message", { cause: e });
  }
  let type: SealedMessageType;
  if (content.type === SealedSenderContentType.PREKEY_MESSAGE) type = "prekey";
  else if (content.type === SealedSenderContentType.MESSAGE) type = "message";
  else throw new ProtocolError("invalid_message");
  if (content.senderCertificate === undefined) throw new ProtocolError("invalid_certificate");
  const serializedCert = toBinary(SenderCertificateSchema, content.senderCertificate);
  const sender = await validateSenderCertificate(parseSenderCertificate(serializedCert), p.trustRoot, p.nowMs);
  if (!sender.senderIdentityKey.equals(senderKey)) throw new ProtocolError("invalid_certificate");
  if (addressEquals(sender.senderAddress, p.ourAddress)) throw new ProtocolError("invalid_certificate");
  return { sender, type, message: content.content };
}
