/**
 * The account's local record: what the client knows about itself beyond its identity key.
 *
 * Owns: `AccountRecord` and its encoding as `securecomm.storage.v1.AccountRecord`. Fields:
 * display name, delivery token (RM-04), the pinned trust root (SS-05), the sender certificate
 * (SS-09), prekey id counters (ID-13) and the current signed / last-resort prekey ids with
 * their creation time (ID-10). It holds no message plaintext.
 */

import { create, toBinary } from "@bufbuild/protobuf";
import {
  AccountRecordSchema,
  RetiredPreKeyKind,
  RetiredPreKeySchema,
} from "../../gen/securecomm/storage/v1/account_pb.js";
import { decodeStrict } from "../crypto/proto-strict.js";

/** The account's local record. */
export interface AccountRecord {
  displayName: string;
  deliveryToken: Uint8Array;
  /** True once SetDeliveryToken succeeded for `deliveryToken`. */
  deliveryTokenRegistered: boolean;
  trustRoot?: Uint8Array | undefined;
  senderCertificate?: Uint8Array | undefined;
  senderCertificateExpiresMs: number;
  nextPreKeyId: number;
  nextKyberPreKeyId: number;
  nextSignedPreKeyId: number;
  signedPreKeyId: number;
  lastResortKyberPreKeyId: number;
  /** When the current signed prekey was made current (ms); 0 before the first upload. */
  signedPreKeyRotatedMs: number;
  /** Replaced signed / last-resort ids with the time they were replaced (deleted after 30 days). */
  retired: Array<{ kind: "signed" | "kyber"; id: number; atMs: number }>;
}

/** Serializes the record as `securecomm.storage.v1.AccountRecord`. */
export function serializeAccountRecord(r: AccountRecord): Uint8Array {
  return toBinary(
    AccountRecordSchema,
    create(AccountRecordSchema, {
      displayName: r.displayName,
      deliveryToken: r.deliveryToken,
      deliveryTokenRegistered: r.deliveryTokenRegistered,
      trustRoot: r.trustRoot ?? new Uint8Array(0),
      senderCertificate: r.senderCertificate ?? new Uint8Array(0),
      senderCertificateExpiresAtMs: BigInt(r.senderCertificateExpiresMs),
      nextPreKeyId: r.nextPreKeyId,
      nextKyberPreKeyId: r.nextKyberPreKeyId,
      nextSignedPreKeyId: r.nextSignedPreKeyId,
      signedPreKeyId: r.signedPreKeyId,
      lastResortKyberPreKeyId: r.lastResortKyberPreKeyId,
      signedPreKeyRotatedAtMs: BigInt(r.signedPreKeyRotatedMs),
      retiredPreKeys: r.retired.map((entry) =>
        create(RetiredPreKeySchema, {
          kind: entry.kind === "signed" ? RetiredPreKeyKind.SIGNED : RetiredPreKeyKind.KYBER,
          id: entry.id,
          retiredAtMs: BigInt(entry.atMs),
        }),
      ),
    }),
  );
}

/** Parses a record written by `serializeAccountRecord`; a corrupt record throws TypeError. */
export function parseAccountRecord(bytes: Uint8Array): AccountRecord {
  let record;
  try {
    record = decodeStrict(AccountRecordSchema, bytes);
  } catch {
    throw new TypeError("corrupt account record");
  }
  const retired = record.retiredPreKeys.map((entry) => {
    if (entry.kind !== RetiredPreKeyKind.SIGNED && entry.kind !== RetiredPreKeyKind.KYBER) {
      throw new TypeError("corrupt account record");
    }
    return {
      kind: entry.kind === RetiredPreKeyKind.SIGNED ? ("signed" as const) : ("kyber" as const),
      id: entry.id,
      atMs: Number(entry.retiredAtMs),
    };
  });
  return {
    displayName: record.displayName,
    deliveryToken: record.deliveryToken,
    deliveryTokenRegistered: record.deliveryTokenRegistered,
    trustRoot: record.trustRoot.length === 0 ? undefined : record.trustRoot,
    senderCertificate: record.senderCertificate.length === 0 ? undefined : record.senderCertificate,
    senderCertificateExpiresMs: Number(record.senderCertificateExpiresAtMs),
    nextPreKeyId: record.nextPreKeyId,
    nextKyberPreKeyId: record.nextKyberPreKeyId,
    nextSignedPreKeyId: record.nextSignedPreKeyId,
    signedPreKeyId: record.signedPreKeyId,
    lastResortKyberPreKeyId: record.lastResortKyberPreKeyId,
    signedPreKeyRotatedMs: Number(record.signedPreKeyRotatedAtMs),
    retired,
  };
}
