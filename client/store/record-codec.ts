/**
 * Serialization of persisted records (securecomm.storage.v1).
 *
 * Owns: `serializeX` / `parseX` for session records and prekey / identity records. Parsers
 * take untrusted bytes (a corrupted disk, a tampered IndexedDB) and throw ProtocolError
 * "invalid_message" rather than a decoder exception. The session record (read and written on
 * every message, carrying SPQR's ML-KEM Braid state) and the other records whose schemas
 * compile go through compiled-codec.ts: protobuf-es's bytes and messages, several times faster.
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
import { type CompiledCodec, compileCodec } from "../crypto/compiled-codec.js";

/** Compiled codecs by schema (compiled-codec.ts); a schema that does not compile keeps protobuf-es. */
const codecs = new Map<DescMessage, CompiledCodec<DescMessage> | undefined>();

function codecOf<Desc extends DescMessage>(schema: Desc): CompiledCodec<Desc> | undefined {
  if (!codecs.has(schema)) codecs.set(schema, compileCodec(schema) as CompiledCodec<DescMessage> | undefined);
  return codecs.get(schema) as CompiledCodec<Desc> | undefined;
}

function parse<Desc extends DescMessage>(schema: Desc, bytes: Uint8Array): MessageShape<Desc> {
  const codec = codecOf(schema);
  try {
    return codec !== undefined ? codec.decode(bytes) : fromBinary(schema, bytes);
  } catch (cause) {
    throw new ProtocolError("invalid_message", { cause });
  }
}

function serialize<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): Uint8Array {
  const codec = codecOf(schema);
  return codec !== undefined ? codec.encode(message) : toBinary(schema, message);
}

/** Serializes a session record (storage.v1 SessionRecord): the bytes protobuf-es's `toBinary` gives. */
export function serializeSessionRecord(record: SessionRecord): Uint8Array {
  return serialize(SessionRecordSchema, record);
}

/** Parses a session record; ProtocolError "invalid_message" on malformed bytes. */
export function parseSessionRecord(bytes: Uint8Array): SessionRecord {
  return parse(SessionRecordSchema, bytes);
}

/** Serializes a one-time prekey record. */
export function serializePreKeyRecord(record: PreKeyRecord): Uint8Array {
  return serialize(PreKeyRecordSchema, record);
}

/** Parses a one-time prekey record. */
export function parsePreKeyRecord(bytes: Uint8Array): PreKeyRecord {
  return parse(PreKeyRecordSchema, bytes);
}

/** Serializes a signed prekey record. */
export function serializeSignedPreKeyRecord(record: SignedPreKeyRecord): Uint8Array {
  return serialize(SignedPreKeyRecordSchema, record);
}

/** Parses a signed prekey record. */
export function parseSignedPreKeyRecord(bytes: Uint8Array): SignedPreKeyRecord {
  return parse(SignedPreKeyRecordSchema, bytes);
}

/** Serializes a Kyber prekey record. */
export function serializeKyberPreKeyRecord(record: KyberPreKeyRecord): Uint8Array {
  return serialize(KyberPreKeyRecordSchema, record);
}

/** Parses a Kyber prekey record. */
export function parseKyberPreKeyRecord(bytes: Uint8Array): KyberPreKeyRecord {
  return parse(KyberPreKeyRecordSchema, bytes);
}

/** Serializes a trusted-identity record. */
export function serializeTrustedIdentityRecord(record: TrustedIdentityRecord): Uint8Array {
  return serialize(TrustedIdentityRecordSchema, record);
}

/** Parses a trusted-identity record. */
export function parseTrustedIdentityRecord(bytes: Uint8Array): TrustedIdentityRecord {
  return parse(TrustedIdentityRecordSchema, bytes);
}

/** Serializes the local identity record. */
export function serializeIdentityKeyPairRecord(record: IdentityKeyPairRecord): Uint8Array {
  return serialize(IdentityKeyPairRecordSchema, record);
}

/** Parses the local identity record. */
export function parseIdentityKeyPairRecord(bytes: Uint8Array): IdentityKeyPairRecord {
  return parse(IdentityKeyPairRecordSchema, bytes);
}
