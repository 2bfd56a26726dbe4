/**
 * Serialization of persisted records (securecomm.storage.v1).
 *
 * Owns: `serializeX` / `parseX` for session records and prekey / identity records. Parsers
 * take untrusted bytes (a corrupted disk, a tampered IndexedDB) and throw ProtocolError
 * "invalid_message" rather than a decoder exception.
 * Does not own: what the records mean (client/session, client/keys).
 */

import { type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import {
  type IdentityKeyPairRecord,
  IdentityKeyPairRecordSchema,
  type KyberPreKeyRecord,
  KyberPreKeyRecordSchema,
  type PreKeyRecord,
  PreKeyRecordSchema,
  type SignedPreKeyRecord,
  SignedPreKeyRecordSchema,
  type TrustedIdentityRecord,
  TrustedIdentityRecordSchema,
} from "../../gen/securecomm/storage/v1/keys_pb.js";
import { type SessionRecord, SessionRecordSchema } from "../../gen/securecomm/storage/v1/session_pb.js";
import { ProtocolError } from "../errors.js";
import { compileCodec } from "./compiled-codec.js";

/**
 * The session record's codec: written and read on every message, so compiled (the same bytes
 * and messages as protobuf-es, compiled-codec.ts); protobuf-es if the schema ever outgrows it.
 */
const sessionCodec = compileCodec(SessionRecordSchema);

function parse<Desc extends DescMessage>(schema: Desc, bytes: Uint8Array): MessageShape<Desc> {
  try {
    return fromBinary(schema, bytes);
  } catch (cause) {
    throw new ProtocolError("invalid_message", { cause });
  }
}

/** Serializes a session record (storage.v1 SessionRecord): the bytes protobuf-es's `toBinary` gives. */
export function serializeSessionRecord(record: SessionRecord): Uint8Array {
  return sessionCodec !== undefined ? sessionCodec.encode(record) : toBinary(SessionRecordSchema, record);
}

/** Parses a session record; ProtocolError "invalid_message" on malformed bytes. */
export function parseSessionRecord(bytes: Uint8Array): SessionRecord {
  if (sessionCodec === undefined) return parse(SessionRecordSchema, bytes);
  try {
    return sessionCodec.decode(bytes);
  } catch (cause) {
    throw new ProtocolError("invalid_message", { cause });
  }
}

/** Serializes a one-time prekey record. */
export function serializePreKeyRecord(record: PreKeyRecord): Uint8Array {
  return toBinary(PreKeyRecordSchema, record);
}

/** Parses a one-time prekey record. */
export function parsePreKeyRecord(bytes: Uint8Array): PreKeyRecord {
  return parse(PreKeyRecordSchema, bytes);
}

/** Serializes a signed prekey record. */
export function serializeSignedPreKeyRecord(record: SignedPreKeyRecord): Uint8Array {
  return toBinary(SignedPreKeyRecordSchema, record);
}

/** Parses a signed prekey record. */
export function parseSignedPreKeyRecord(bytes: Uint8Array): SignedPreKeyRecord {
  return parse(SignedPreKeyRecordSchema, bytes);
}

/** Serializes a Kyber prekey record. */
export function serializeKyberPreKeyRecord(record: KyberPreKeyRecord): Uint8Array {
  return toBinary(KyberPreKeyRecordSchema, record);
}

/** Parses a Kyber prekey record. */
export function parseKyberPreKeyRecord(bytes: Uint8Array): KyberPreKeyRecord {
  return parse(KyberPreKeyRecordSchema, bytes);
}

/** Serializes a trusted-identity record. */
export function serializeTrustedIdentityRecord(record: TrustedIdentityRecord): Uint8Array {
  return toBinary(TrustedIdentityRecordSchema, record);
}

/** Parses a trusted-identity record. */
export function parseTrustedIdentityRecord(bytes: Uint8Array): TrustedIdentityRecord {
  return parse(TrustedIdentityRecordSchema, bytes);
}

/** Serializes the local identity record. */
export function serializeIdentityKeyPairRecord(record: IdentityKeyPairRecord): Uint8Array {
  return toBinary(IdentityKeyPairRecordSchema, record);
}

/** Parses the local identity record. */
export function parseIdentityKeyPairRecord(bytes: Uint8Array): IdentityKeyPairRecord {
  return parse(IdentityKeyPairRecordSchema, bytes);
}
