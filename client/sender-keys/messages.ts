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
import {
  WIRE_LENGTH_DELIMITED,
  WIRE_VARINT,
  bytesFieldSize,
  isUint32,
  readPlainVarint,
  tag,
  varintSize,
  writeBytesField,
  writeVarint,
} from "./wire-writer.js";

const TAG_DISTRIBUTION_ID = tag(1, WIRE_LENGTH_DELIMITED);
const TAG_CHAIN_ID = tag(2, WIRE_VARINT);
const TAG_ITERATION = tag(3, WIRE_VARINT);
const TAG_CIPHERTEXT = tag(4, WIRE_LENGTH_DELIMITED);

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
  if (!isUint32(fields.chainId) || !isUint32(fields.iteration)) {
    // Out of the plain writer's range: protobuf-es says what happens (an error).
    const body = toBinary(SenderKeyMessageSchema, create(SenderKeyMessageSchema, fields));
    const signed = concatBytes(Uint8Array.of(SENDER_KEY_VERSION), body);
    return concatBytes(signed, signingKey.sign(signed));
  }
  // 0x33 ‖ body ‖ signature in one buffer; the body is what `toBinary` writes (messages.test.ts):
  // implicit-presence bytes fields only when non-empty, the two optional uint32 fields always.
  const { distributionId, chainId, iteration, ciphertext } = fields;
  const bodyLength =
    (distributionId.length > 0 ? bytesFieldSize(distributionId.length) : 0) +
    1 + varintSize(chainId) +
    1 + varintSize(iteration) +
    (ciphertext.length > 0 ? bytesFieldSize(ciphertext.length) : 0);
  const out = new Uint8Array(1 + bodyLength + XEDDSA_SIGNATURE_LENGTH);
  out[0] = SENDER_KEY_VERSION;
  let pos = 1;
  if (distributionId.length > 0) pos = writeBytesField(out, pos, TAG_DISTRIBUTION_ID, distributionId);
  out[pos++] = TAG_CHAIN_ID;
  pos = writeVarint(out, pos, chainId);
  out[pos++] = TAG_ITERATION;
  pos = writeVarint(out, pos, iteration);
  if (ciphertext.length > 0) pos = writeBytesField(out, pos, TAG_CIPHERTEXT, ciphertext);
  out.set(signingKey.sign(out.subarray(0, pos)), pos);
  return out;
}

/**
 * The body of a SenderKeyMessage in its plain form — distribution id, chain id, iteration,
 * ciphertext, each once, in that order, with minimal varints — or `undefined` for any other
 * encoding, which `decodeSenderKeyMessage` then gives to the strict decoder. For plain input
 * both readings agree (messages.test.ts compares them), so this only saves time.
 */
function readPlainBody(body: Uint8Array): { distributionId: Uint8Array; chainId: number; iteration: number; ciphertext: Uint8Array } | undefined {
  let pos = 0;
  if (body[pos++] !== TAG_DISTRIBUTION_ID) return undefined;
  const idLength = readPlainVarint(body, pos);
  if (idLength === undefined) return undefined;
  pos = idLength[1];
  const distributionId = body.subarray(pos, pos + idLength[0]);
  pos += idLength[0];
  if (body[pos++] !== TAG_CHAIN_ID) return undefined;
  const chainId = readPlainVarint(body, pos);
  if (chainId === undefined) return undefined;
  pos = chainId[1];
  if (body[pos++] !== TAG_ITERATION) return undefined;
  const iteration = readPlainVarint(body, pos);
  if (iteration === undefined) return undefined;
  pos = iteration[1];
  if (body[pos++] !== TAG_CIPHERTEXT) return undefined;
  const ctLength = readPlainVarint(body, pos);
  if (ctLength === undefined) return undefined;
  pos = ctLength[1];
  if (pos + ctLength[0] !== body.length) return undefined;
  return { distributionId, chainId: chainId[0], iteration: iteration[0], ciphertext: body.subarray(pos) };
}

/**
 * Decodes a SenderKeyMessage (spec SK-05): version 0x33 (`invalid_version`), at least 66 bytes,
 * all four fields present with a 16-byte distribution id and a non-empty whole-block ciphertext
 * (`invalid_message`). The signature is NOT checked here.
 */
export function decodeSenderKeyMessage(bytes: Uint8Array): UnverifiedSenderKeyMessage {
  checkVersion(bytes);
  if (bytes.length < MIN_SENDER_KEY_MESSAGE_LENGTH) throw new ProtocolError("invalid_message");
  // One private copy of the message (the caller may reuse its buffer while we await);
  // `new Uint8Array` copies a Node Buffer too, whose `slice` would be a view.
  const copy = new Uint8Array(bytes);
  const signedBytes = copy.subarray(0, bytes.length - XEDDSA_SIGNATURE_LENGTH);
  const signature = copy.subarray(bytes.length - XEDDSA_SIGNATURE_LENGTH);
  let m: { distributionId: Uint8Array; chainId?: number; iteration?: number; ciphertext: Uint8Array } | undefined = readPlainBody(
    signedBytes.subarray(1),
  );
  if (m === undefined) {
    try {
      m = decodeStrict(SenderKeyMessageSchema, signedBytes.subarray(1));
    } catch {
      throw new ProtocolError("invalid_message");
    }
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
