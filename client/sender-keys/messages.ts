/**
 * Sender-key wire formats (spec SK-05, SK-06): `SenderKeyMessage` (0x33 ‖ protobuf ‖ 64-byte
 * signature) and `SenderKeyDistributionMessage` (0x33 ‖ protobuf).
 *
 * Owns: encoding, strict decoding (version byte, required fields and lengths) and the signed
 * byte range. Decoding yields unverified values; group-cipher.ts verifies the signature over
 * the bytes as received. Does not own: chains or stores.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { decodeStrict } from "../crypto/proto-strict.js";
import {
  SenderKeyDistributionMessageSchema,
  SenderKeyMessageSchema,
} from "../../gen/securecomm/wire/v1/sender_key_pb.js";
import { ProtocolError } from "../errors.js";
import { concatBytes } from "../crypto/bytes.js";
import { PublicKey, type PrivateKey } from "../crypto/curve.js";
import { XEDDSA_SIGNATURE_LENGTH } from "../crypto/xeddsa.js";
import { AES_BLOCK_LENGTH } from "../crypto/cipher.js";
import { CHAIN_KEY_LENGTH, DISTRIBUTION_ID_LENGTH, SENDER_KEY_VERSION } from "./constants.js";

/** Shortest possible SenderKeyMessage: version + empty body + signature (spec SK-05). */
const MIN_SENDER_KEY_MESSAGE_LENGTH = 1 + 1 + XEDDSA_SIGNATURE_LENGTH;

/** A decoded SenderKeyMessage whose signature has not been checked. */
export interface UnverifiedSenderKeyMessage {
  readonly distributionId: Uint8Array;
  readonly chainId: number;
  readonly iteration: number;
  readonly ciphertext: Uint8Array;
  /** Everything the signature covers: version byte ‖ protobuf, as received. */
  readonly signedBytes: Uint8Array;
  readonly signature: Uint8Array;
}

/** A decoded SenderKeyDistributionMessage. */
export interface SenderKeyDistribution {
  readonly distributionId: Uint8Array;
  readonly chainId: number;
  readonly iteration: number;
  readonly chainKey: Uint8Array;
  readonly signingKey: PublicKey;
}

function checkVersion(bytes: Uint8Array): void {
  if (bytes.length === 0) throw new ProtocolError("invalid_message");
  if (bytes[0] !== SENDER_KEY_VERSION) throw new ProtocolError("invalid_version");
}

/** Encodes and signs a SenderKeyMessage (spec SK-05). */
export function encodeSenderKeyMessage(
  fields: { distributionId: Uint8Array; chainId: number; iteration: number; ciphertext: Uint8Array },
  signingKey: PrivateKey,
): Uint8Array {
  const body = toBinary(SenderKeyMessageSchema, create(SenderKeyMessageSchema, fields));
  const signed = concatBytes(Uint8Array.of(SENDER_KEY_VERSION), body);
  return concatBytes(signed, signingKey.sign(signed));
}

/**
 * Decodes a SenderKeyMessage (spec SK-05): version 0x33 (`invalid_version`), at least 66 bytes,
 * all four fields present with a 16-byte distribution id and a non-empty whole-block ciphertext
 * (`invalid_message`). The signature is NOT checked here.
 */
export function decodeSenderKeyMessage(bytes: Uint8Array): UnverifiedSenderKeyMessage {
  checkVersion(bytes);
  if (bytes.length < MIN_SENDER_KEY_MESSAGE_LENGTH) throw new ProtocolError("invalid_message");
  const signedBytes = bytes.slice(0, bytes.length - XEDDSA_SIGNATURE_LENGTH);
  const signature = bytes.slice(bytes.length - XEDDSA_SIGNATURE_LENGTH);
  let m;
  try {
    m = decodeStrict(SenderKeyMessageSchema, signedBytes.subarray(1));
  } catch {
    throw new ProtocolError("invalid_message");
  }
  if (
    m.distributionId.length !== DISTRIBUTION_ID_LENGTH ||
    m.chainId === undefined ||
    m.iteration === undefined ||
    m.ciphertext.length === 0 ||
    m.ciphertext.length % AES_BLOCK_LENGTH !== 0
  ) {
    throw new ProtocolError("invalid_message");
  }
  return {
    distributionId: m.distributionId,
    chainId: m.chainId,
    iteration: m.iteration,
    ciphertext: m.ciphertext,
    signedBytes,
    signature,
  };
}

/** Encodes a SenderKeyDistributionMessage (spec SK-06). Contains a secret chain key. */
export function encodeSenderKeyDistribution(d: SenderKeyDistribution): Uint8Array {
  const body = toBinary(
    SenderKeyDistributionMessageSchema,
    create(SenderKeyDistributionMessageSchema, {
      distributionId: d.distributionId,
      chainId: d.chainId,
      iteration: d.iteration,
      chainKey: d.chainKey,
      signingKey: d.signingKey.serialize(),
    }),
  );
  return concatBytes(Uint8Array.of(SENDER_KEY_VERSION), body);
}

/**
 * Decodes a SenderKeyDistributionMessage (spec SK-06, SK-08): version 0x33, all fields present,
 * 16-byte distribution id, 32-byte chain key and a valid 33-byte signing key.
 */
export function decodeSenderKeyDistribution(bytes: Uint8Array): SenderKeyDistribution {
  checkVersion(bytes);
  let m;
  try {
    m = decodeStrict(SenderKeyDistributionMessageSchema, bytes.subarray(1));
  } catch {
    throw new ProtocolError("invalid_message");
  }
  if (
    m.distributionId.length !== DISTRIBUTION_ID_LENGTH ||
    m.chainId === undefined ||
    m.iteration === undefined ||
    m.chainKey.length !== CHAIN_KEY_LENGTH
  ) {
    throw new ProtocolError("invalid_message");
  }
  return {
    distributionId: m.distributionId,
    chainId: m.chainId,
    iteration: m.iteration,
    chainKey: m.chainKey,
    signingKey: PublicKey.deserialize(m.signingKey),
  };
}
