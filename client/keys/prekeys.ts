/**
 * Prekeys: one-time EC prekeys, the signed EC prekey, and signed Kyber prekeys (one-time and
 * last-resort) (spec ID-04, ID-05, ID-06).
 *
 * Owns: creating each kind (signatures by the identity key over the serialized public key, as
 * it travels: 33 bytes for EC, 1569 for Kyber), their storage records
 * (`securecomm.storage.v1` PreKeyRecord / SignedPreKeyRecord / KyberPreKeyRecord, which the
 * stores in client/store persist), parsing records back with consistency checks, and the
 * public upload forms (`securecomm.relay.v1` SignedPreKey / OneTimePreKey / KyberPreKey).
 * Does not own: when to refill or rotate (client runtime), bundle checks (bundle.ts).
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { decodeStrict } from "../crypto/proto-strict.js";
import {
  KyberPreKeyRecordSchema,
  PreKeyRecordSchema,
  SignedPreKeyRecordSchema,
  type KyberPreKeyRecord,
  type PreKeyRecord,
  type SignedPreKeyRecord,
} from "../../gen/securecomm/storage/v1/keys_pb.js";
import {
  KyberPreKeySchema,
  OneTimePreKeySchema,
  SignedPreKeySchema,
  type KyberPreKey as KyberPreKeyUpload,
  type OneTimePreKey as OneTimePreKeyUpload,
  type SignedPreKey as SignedPreKeyUpload,
} from "../../gen/securecomm/relay/v1/keys_pb.js";
import { ProtocolError } from "../errors.js";
import { constantTimeEqual, randomBytes } from "../crypto/bytes.js";
import { KeyPair, PrivateKey, PublicKey } from "../crypto/curve.js";
import { KemKeyPair, KemPublicKey, KemSecretKey } from "../crypto/kem.js";
import { XEDDSA_SIGNATURE_LENGTH } from "../crypto/xeddsa.js";
import type { IdentityKeyPair } from "./identity.js";

/** Largest prekey id on the wire (uint32). */
const MAX_PREKEY_ID = 0xffff_ffff;
/**
 * Ids we draw stay in 1..0xFFFFFF (spec ID-13, as Signal's clients do), leaving room above and
 * never using 0, which some decoders read as "absent".
 */
export const MAX_DRAWN_PREKEY_ID = 0xff_ffff;

/** A random starting id in 1..0xFFFFFF (spec ID-13). */
export function randomPreKeyId(): number {
  const b = randomBytes(3);
  return ((((b[0] as number) << 16) | ((b[1] as number) << 8) | (b[2] as number)) % MAX_DRAWN_PREKEY_ID) + 1;
}

/** The id after `id`, wrapping from 0xFFFFFF back to 1 (spec ID-13). */
export function nextPreKeyId(id: number): number {
  return id >= MAX_DRAWN_PREKEY_ID ? 1 : id + 1;
}

function checkId(id: number): void {
  if (!Number.isInteger(id) || id < 0 || id > MAX_PREKEY_ID) throw new RangeError("prekey id out of range");
}

function decode<T>(f: () => T): T {
  try {
    return f();
  } catch {
    throw new ProtocolError("invalid_message");
  }
}

function ecKeyPairFromRecord(publicBytes: Uint8Array, privateBytes: Uint8Array): KeyPair {
  const privateKey = PrivateKey.deserialize(privateBytes);
  const publicKey = PublicKey.deserialize(publicBytes);
  if (!privateKey.getPublicKey().equals(publicKey)) throw new ProtocolError("invalid_key");
  return new KeyPair(publicKey, privateKey);
}

/** Offset of the encapsulation key inside a Kyber/ML-KEM-1024 secret key (FIPS 203 §7.1). */
const KYBER_SECRET_EMBEDDED_PUBLIC_OFFSET = 1536;

function kemKeyPairFromRecord(publicBytes: Uint8Array, secretBytes: Uint8Array): KemKeyPair {
  const publicKey = KemPublicKey.deserialize(publicBytes);
  const secretKey = KemSecretKey.deserialize(secretBytes);
  // The secret key embeds its public key; a record whose halves disagree is corrupt.
  const embedded = secretBytes.subarray(1 + KYBER_SECRET_EMBEDDED_PUBLIC_OFFSET, 1 + KYBER_SECRET_EMBEDDED_PUBLIC_OFFSET + 1568);
  if (!constantTimeEqual(embedded, publicBytes.subarray(1))) throw new ProtocolError("invalid_key");
  return new KemKeyPair(publicKey, secretKey);
}

// ---------------------------------------------------------------- one-time EC prekeys (ID-05)

/**
 * Creates `count` one-time EC prekey records with ids `startId` and its successors
 * (`nextPreKeyId`: wrapping from 0xFFFFFF to 1, spec ID-13).
 */
export function createOneTimePreKeys(startId: number, count: number): PreKeyRecord[] {
  checkId(startId);
  const out: PreKeyRecord[] = [];
  let id = startId;
  for (let i = 0; i < count; i++) {
    const kp = KeyPair.generate();
    out.push(create(PreKeyRecordSchema, { id, publicKey: kp.publicKey.serialize(), privateKey: kp.privateKey.serialize() }));
    id = nextPreKeyId(id);
  }
  return out;
}

/** The key pair of a one-time prekey record; inconsistent record → ProtocolError("invalid_key"). */
export function preKeyKeyPair(record: PreKeyRecord): KeyPair {
  return ecKeyPairFromRecord(record.publicKey, record.privateKey);
}

/** The public upload form of a one-time prekey. */
export function preKeyUpload(record: PreKeyRecord): OneTimePreKeyUpload {
  return create(OneTimePreKeySchema, { id: record.id, publicKey: record.publicKey });
}

/** Serializes a one-time prekey record. */
export function serializePreKey(record: PreKeyRecord): Uint8Array {
  return toBinary(PreKeyRecordSchema, record);
}

/** Parses and checks a one-time prekey record (keys consistent). */
export function parsePreKey(bytes: Uint8Array): PreKeyRecord {
  const record = decode(() => decodeStrict(PreKeyRecordSchema, bytes));
  preKeyKeyPair(record);
  return record;
}

// ---------------------------------------------------------------- signed EC prekey (ID-04)

/** Creates a signed EC prekey record: a fresh key pair signed by the identity over its 33 bytes. */
export function createSignedPreKey(identity: IdentityKeyPair, id: number, nowMs: number): SignedPreKeyRecord {
  checkId(id);
  const kp = KeyPair.generate();
  const publicKey = kp.publicKey.serialize();
  return create(SignedPreKeyRecordSchema, {
    id,
    publicKey,
    privateKey: kp.privateKey.serialize(),
    signature: identity.privateKey.sign(publicKey),
    createdAtMs: BigInt(nowMs),
  });
}

/** The key pair of a signed prekey record; inconsistent → ProtocolError("invalid_key"). */
export function signedPreKeyKeyPair(record: SignedPreKeyRecord): KeyPair {
  return ecKeyPairFromRecord(record.publicKey, record.privateKey);
}

/** The public upload form of a signed prekey. */
export function signedPreKeyUpload(record: SignedPreKeyRecord): SignedPreKeyUpload {
  return create(SignedPreKeySchema, { id: record.id, publicKey: record.publicKey, signature: record.signature });
}

/** Serializes a signed prekey record. */
export function serializeSignedPreKey(record: SignedPreKeyRecord): Uint8Array {
  return toBinary(SignedPreKeyRecordSchema, record);
}

/** Parses and checks a signed prekey record (keys consistent, 64-byte signature). */
export function parseSignedPreKey(bytes: Uint8Array): SignedPreKeyRecord {
  const record = decode(() => decodeStrict(SignedPreKeyRecordSchema, bytes));
  signedPreKeyKeyPair(record);
  if (record.signature.length !== XEDDSA_SIGNATURE_LENGTH) throw new ProtocolError("invalid_signature");
  return record;
}

// ---------------------------------------------------------------- Kyber prekeys (ID-06)

/**
 * Creates a signed Kyber1024 prekey record: a fresh KEM key pair signed by the identity over
 * its 1569 serialized bytes. `lastResort` marks the key that is never deleted on use.
 */
export function createKyberPreKey(
  identity: IdentityKeyPair,
  id: number,
  nowMs: number,
  options: { lastResort?: boolean } = {},
): KyberPreKeyRecord {
  checkId(id);
  const kp = KemKeyPair.generate();
  const publicKey = kp.publicKey.serialize();
  return create(KyberPreKeyRecordSchema, {
    id,
    publicKey,
    secretKey: kp.secretKey.serialize(),
    signature: identity.privateKey.sign(publicKey),
    createdAtMs: BigInt(nowMs),
    lastResort: options.lastResort ?? false,
    usedBaseKeys: [],
  });
}

/** The KEM key pair of a Kyber prekey record; inconsistent → ProtocolError("invalid_key"). */
export function kyberPreKeyKeyPair(record: KyberPreKeyRecord): KemKeyPair {
  return kemKeyPairFromRecord(record.publicKey, record.secretKey);
}

/** The public upload form of a Kyber prekey. */
export function kyberPreKeyUpload(record: KyberPreKeyRecord): KyberPreKeyUpload {
  return create(KyberPreKeySchema, { id: record.id, publicKey: record.publicKey, signature: record.signature });
}

/** Serializes a Kyber prekey record. */
export function serializeKyberPreKey(record: KyberPreKeyRecord): Uint8Array {
  return toBinary(KyberPreKeyRecordSchema, record);
}

/** Parses and checks a Kyber prekey record (keys consistent, 64-byte signature). */
export function parseKyberPreKey(bytes: Uint8Array): KyberPreKeyRecord {
  const record = decode(() => decodeStrict(KyberPreKeyRecordSchema, bytes));
  kyberPreKeyKeyPair(record);
  if (record.signature.length !== XEDDSA_SIGNATURE_LENGTH) throw new ProtocolError("invalid_signature");
  return record;
}
