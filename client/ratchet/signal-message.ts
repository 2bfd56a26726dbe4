/**
 * Wire encoding of SignalMessage and PreKeySignalMessage (message version 4).
 *
 * Owns: the version byte, protobuf body and MAC framing of both message types, and parsing
 * untrusted bytes into `UnverifiedSignalMessage` / `ParsedPreKeySignalMessage`. The MAC is not
 * checked here (that needs keys; see ratchet-decrypt.ts), so the parsed SignalMessage is
 * "unverified" and keeps the exact bytes the MAC covers (never re-encode before verifying).
 * Does not own: key derivation or the MAC computation.
 */

import { create, toBinary } from "@bufbuild/protobuf";
import {
  PreKeySignalMessageSchema,
  type SignalMessage,
  SignalMessageSchema,
} from "../../gen/securecomm/wire/v1/signal_message_pb.js";
import { concatBytes } from "../crypto/bytes.js";
import { compileCodec } from "../crypto/compiled-codec.js";
import { AES_BLOCK_LENGTH } from "../crypto/cipher.js";
import { decodeStrict } from "../crypto/proto-strict.js";
import { ProtocolError } from "../errors.js";
import { MAC_LENGTH, MESSAGE_VERSION_BYTE } from "./constants.js";

/** Length of a serialized EC public key (0x05 ‖ u). */
const PUBLIC_KEY_LENGTH = 33;

/** Shortest input worth parsing: version byte, a little protobuf and the 8-byte MAC (spec DR-10). */
const MIN_SIGNAL_MESSAGE_LENGTH = 10;

/** Length of a serialized Kyber1024 ciphertext (0x08 ‖ 1568). */
const KYBER_CIPHERTEXT_LENGTH = 1569;

/** A SignalMessage whose MAC has not been checked yet (spec DR-10). */
export interface UnverifiedSignalMessage {
  /** The sender's ratchet public key, 33 bytes. */
  readonly ratchetKey: Uint8Array;
  /** Index in the sender's chain. */
  readonly counter: number;
  /** Length of the sender's previous chain (informative). */
  readonly previousCounter: number;
  /** AES-256-CBC ciphertext. */
  readonly ciphertext: Uint8Array;
  /** The SPQR message bytes. */
  readonly pqRatchet: Uint8Array;
  /** Version byte ‖ protobuf: exactly the bytes the MAC covers after the two identities. */
  readonly macInput: Uint8Array;
  /** The received 8-byte MAC. */
  readonly mac: Uint8Array;
}

/** The fields of a SignalMessage before framing. */
export interface SignalMessageFields {
  readonly ratchetKey: Uint8Array;
  readonly counter: number;
  readonly previousCounter: number;
  readonly ciphertext: Uint8Array;
  readonly pqRatchet: Uint8Array;
}

/** Encodes version byte ‖ protobuf of a SignalMessage, the part its MAC covers (spec DR-10). */
export function encodeSignalMessageBody(fields: SignalMessageFields): Uint8Array {
  // Encoded on every message: through the codec compiled from the schema (protobuf-es's
  // bytes, client/crypto/compiled-codec.ts), from a complete literal (what create() returns).
  const message: SignalMessage = {
    $typeName: "securecomm.wire.v1.SignalMessage",
    ratchetKey: fields.ratchetKey,
    counter: fields.counter,
    previousCounter: fields.previousCounter,
    ciphertext: fields.ciphertext,
    pqRatchet: fields.pqRatchet,
    addresses: EMPTY,
  };
  const body = signalMessageCodec !== undefined ? signalMessageCodec.encode(message) : toBinary(SignalMessageSchema, message);
  return concatBytes(Uint8Array.of(MESSAGE_VERSION_BYTE), body);
}

const EMPTY = new Uint8Array(0);
/** The SignalMessage encoder (decoding stays strict: `decodeStrict` then protobuf-es). */
const signalMessageCodec = compileCodec(SignalMessageSchema);

function checkVersion(bytes: Uint8Array): void {
  if (bytes.length < 1) throw new ProtocolError("invalid_message");
  // Only version 4 in both nibbles is spoken (libsignal 0.103 rejects older and newer ones).
  if (bytes[0] !== MESSAGE_VERSION_BYTE) throw new ProtocolError("invalid_version");
}

/**
 * Parses untrusted SignalMessage bytes (spec DR-10). Throws ProtocolError "invalid_version"
 * for a version byte other than 0x44 and "invalid_message" for anything malformed.
 */
export function parseSignalMessage(bytes: Uint8Array): UnverifiedSignalMessage {
  checkVersion(bytes);
  if (bytes.length < MIN_SIGNAL_MESSAGE_LENGTH) throw new ProtocolError("invalid_message");
  const macInput = bytes.subarray(0, bytes.length - MAC_LENGTH);
  const mac = bytes.slice(bytes.length - MAC_LENGTH);
  // Every field known, once, with its declared wire type: the generic decoder would read a
  // scalar whatever wire type its tag says, so a flipped tag bit could go unnoticed.
  const decoded = decodeStrict(SignalMessageSchema, macInput.subarray(1), { exact: true });
  if (
    decoded.ratchetKey.length !== PUBLIC_KEY_LENGTH ||
    decoded.counter === undefined ||
    decoded.previousCounter === undefined ||
    decoded.ciphertext.length === 0 ||
    decoded.ciphertext.length % AES_BLOCK_LENGTH !== 0 ||
    decoded.pqRatchet.length === 0
  ) {
    throw new ProtocolError("invalid_message");
  }
  return {
    ratchetKey: decoded.ratchetKey,
    counter: decoded.counter,
    previousCounter: decoded.previousCounter,
    ciphertext: decoded.ciphertext,
    pqRatchet: decoded.pqRatchet,
    macInput: macInput.slice(),
    mac,
  };
}

/** The fields of a PreKeySignalMessage (spec PX-08). */
export interface PreKeySignalMessageFields {
  /** One-time EC prekey id, undefined when none was used. */
  readonly preKeyId: number | undefined;
  readonly baseKey: Uint8Array;
  readonly identityKey: Uint8Array;
  /** The embedded SignalMessage bytes. */
  readonly message: Uint8Array;
  readonly registrationId: number;
  readonly signedPreKeyId: number;
  readonly kyberPreKeyId: number;
  readonly kyberCiphertext: Uint8Array;
}

/** Serializes a PreKeySignalMessage: version byte ‖ protobuf (spec PX-08). */
export function serializePreKeySignalMessage(fields: PreKeySignalMessageFields): Uint8Array {
  const body = toBinary(
    PreKeySignalMessageSchema,
    create(PreKeySignalMessageSchema, {
      ...(fields.preKeyId === undefined ? {} : { preKeyId: fields.preKeyId }),
      baseKey: fields.baseKey,
      identityKey: fields.identityKey,
      message: fields.message,
      registrationId: fields.registrationId,
      signedPreKeyId: fields.signedPreKeyId,
      kyberPreKeyId: fields.kyberPreKeyId,
      kyberCiphertext: fields.kyberCiphertext,
    }),
  );
  return concatBytes(Uint8Array.of(MESSAGE_VERSION_BYTE), body);
}

/**
 * Parses untrusted PreKeySignalMessage bytes (spec PX-08). Kyber fields are mandatory (PQXDH).
 * The embedded SignalMessage is returned as bytes, to be parsed and verified by the ratchet.
 */
export function parsePreKeySignalMessage(bytes: Uint8Array): PreKeySignalMessageFields {
  checkVersion(bytes);
  // Exact shape: these fields are not covered by any MAC, so nothing extra may ride along.
  const decoded = decodeStrict(PreKeySignalMessageSchema, bytes.subarray(1), { exact: true });
  if (
    decoded.baseKey.length !== PUBLIC_KEY_LENGTH ||
    decoded.identityKey.length !== PUBLIC_KEY_LENGTH ||
    decoded.message.length === 0 ||
    decoded.signedPreKeyId === undefined ||
    decoded.kyberPreKeyId === undefined ||
    decoded.kyberCiphertext.length !== KYBER_CIPHERTEXT_LENGTH
  ) {
    throw new ProtocolError("invalid_message");
  }
  return {
    preKeyId: decoded.preKeyId,
    baseKey: decoded.baseKey,
    identityKey: decoded.identityKey,
    message: decoded.message,
    registrationId: decoded.registrationId ?? 0,
    signedPreKeyId: decoded.signedPreKeyId,
    kyberPreKeyId: decoded.kyberPreKeyId,
    kyberCiphertext: decoded.kyberCiphertext,
  };
}
