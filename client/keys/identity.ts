/**
 * The local identity: an X25519 identity key pair and a registration id (spec ID-01, ID-02).
 *
 * Owns: `IdentityKeyPair`, its creation from the CSPRNG, and its persisted form
 * `securecomm.storage.v1.IdentityKeyPairRecord`. Prints as a redacted tag.
 * Does not own: trust decisions about other identities (client/store, client/session).
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { decodeStrict } from "../crypto/proto-strict.js";
import {
  IdentityKeyPairRecordSchema,
  type IdentityKeyPairRecord,
} from "../../gen/securecomm/storage/v1/keys_pb.js";
import { ProtocolError } from "../errors.js";
import { constantTimeEqual, randomBytes } from "../crypto/bytes.js";
import { KeyPair, PrivateKey, PublicKey } from "../crypto/curve.js";
import { SecretHolder } from "../crypto/redact.js";
import { addressFromIdentityKey } from "./address.js";

/** The only device id in this version: one device per account (spec ID-02). */
export const DEVICE_ID = 1;

/** Smallest registration id (spec ID-02). */
export const MIN_REGISTRATION_ID = 1;
/** Largest registration id (spec ID-02; libsignal's range, so ids fit its 14-bit checks). */
export const MAX_REGISTRATION_ID = 16380;

/** A registration id drawn uniformly from 1..16380 (spec ID-02), by rejection sampling. */
export function generateRegistrationId(): number {
  for (;;) {
    const b = randomBytes(2);
    const v = (((b[0] as number) << 8) | (b[1] as number)) & 0x3fff; // 0..16383
    if (v >= MIN_REGISTRATION_ID && v <= MAX_REGISTRATION_ID) return v;
  }
}

/** True when `id` is a valid registration id (spec ID-02). */
export function isValidRegistrationId(id: number): boolean {
  return Number.isInteger(id) && id >= MIN_REGISTRATION_ID && id <= MAX_REGISTRATION_ID;
}

/** Our identity key pair and registration id (spec ID-01, ID-02). Prints as a redacted tag. */
export class IdentityKeyPair extends SecretHolder {
  readonly keyPair: KeyPair;
  readonly registrationId: number;

  constructor(keyPair: KeyPair, registrationId: number) {
    super("IdentityKeyPair");
    if (!isValidRegistrationId(registrationId)) throw new RangeError("registration id out of range");
    this.keyPair = keyPair;
    this.registrationId = registrationId;
  }

  /** The identity public key. */
  get publicKey(): PublicKey {
    return this.keyPair.publicKey;
  }

  /** The identity private key. */
  get privateKey(): PrivateKey {
    return this.keyPair.privateKey;
  }

  /** Our 16-byte address (spec ID-03). */
  get address(): Uint8Array {
    return addressFromIdentityKey(this.keyPair.publicKey);
  }
}

/**
 * A fresh identity: key pair and registration id from the CSPRNG (spec ID-01, ID-02). The
 * private key is made from an RFC 8032 seed (EN-03), kept in the identity's record, so that
 * where the runtime signs Ed25519 natively the identity's signatures (prekeys, joins, relay
 * challenges) take the native signer; they verify exactly as XEdDSA signatures do.
 */
export function createIdentityKeyPair(): IdentityKeyPair {
  return new IdentityKeyPair(KeyPair.fromPrivateKey(PrivateKey.generateFromEd25519Seed()), generateRegistrationId());
}

/** The storage record of an identity (holds the private key: encrypt at rest). */
export function identityToRecord(identity: IdentityKeyPair): IdentityKeyPairRecord {
  return create(IdentityKeyPairRecordSchema, {
    publicKey: identity.publicKey.serialize(),
    privateKey: identity.privateKey.serialize(),
    registrationId: identity.registrationId,
    ed25519Seed: identity.privateKey.ed25519Seed ?? new Uint8Array(0),
  });
}

/**
 * Rebuilds an identity from its record, checking that the public key matches the private key,
 * the seed (when the record has one: ID-01, EN-03) makes that private key, and the
 * registration id is in range; otherwise `ProtocolError("invalid_key")`. A record without a
 * seed (an identity made before seeds) signs with XEdDSA as before.
 */
export function identityFromRecord(record: IdentityKeyPairRecord): IdentityKeyPair {
  let privateKey = PrivateKey.deserialize(record.privateKey);
  if (record.ed25519Seed.length > 0) {
    const seeded = PrivateKey.fromEd25519Seed(record.ed25519Seed);
    if (!constantTimeEqual(seeded.serialize(), privateKey.serialize())) throw new ProtocolError("invalid_key");
    privateKey = seeded;
  }
  const publicKey = PublicKey.deserialize(record.publicKey);
  if (!privateKey.getPublicKey().equals(publicKey)) throw new ProtocolError("invalid_key");
  if (!isValidRegistrationId(record.registrationId)) throw new ProtocolError("invalid_key");
  return new IdentityKeyPair(new KeyPair(publicKey, privateKey), record.registrationId);
}

/** Serializes an identity as `securecomm.storage.v1.IdentityKeyPairRecord` bytes. */
export function serializeIdentityKeyPair(identity: IdentityKeyPair): Uint8Array {
  return toBinary(IdentityKeyPairRecordSchema, identityToRecord(identity));
}

/** Parses `IdentityKeyPairRecord` bytes; malformed or inconsistent → ProtocolError. */
export function parseIdentityKeyPair(bytes: Uint8Array): IdentityKeyPair {
  let record: IdentityKeyPairRecord;
  try {
    record = decodeStrict(IdentityKeyPairRecordSchema, bytes);
  } catch {
    throw new ProtocolError("invalid_message");
  }
  return identityFromRecord(record);
}
