/**
 * The rules every protocol store applies, whatever holds its records.
 *
 * Owns: trust on first use and the verification hold (spec ID-11, ID-12), and what using a
 * Kyber prekey record remembers (spec PX-11). Pure functions over storage.v1 records, used
 * by the client's one protocol store (protocol-store.ts). Does not own: where records live.
 */

import { create } from "@bufbuild/protobuf";
import {
  type KyberPreKeyRecord,
  type TrustedIdentityRecord,
  TrustedIdentityRecordSchema,
  VerificationState,
} from "../../gen/securecomm/storage/v1/keys_pb.js";
import { constantTimeEqual } from "../crypto/bytes.js";
import type { PublicKey } from "../crypto/curve.js";
import { type ProtocolAddress, uuidToBytes } from "./protocol-address.js";
import type { Direction } from "./store-interfaces.js";

/**
 * What `saveIdentity` stores (ID-11): nothing when `key` is already the trusted one, else a
 * fresh unverified record, with `replaced` telling whether it replaced a different key.
 */
export function identityToSave(
  existing: TrustedIdentityRecord | undefined,
  address: ProtocolAddress,
  key: PublicKey,
  nowMs: number,
): { record: TrustedIdentityRecord; replaced: boolean } | undefined {
  const serialized = key.serialize();
  if (existing !== undefined && constantTimeEqual(existing.identityKey, serialized)) return undefined;
  const record = create(TrustedIdentityRecordSchema, {
    address: uuidToBytes(address.name),
    identityKey: serialized,
    verification: VerificationState.UNSPECIFIED,
    firstSeenMs: BigInt(nowMs),
  });
  return { record, replaced: existing !== undefined };
}

/**
 * Whether `key` may be used for an address (ID-11, ID-12): an unknown address is trusted on
 * first use; a known one only with the same key; a key marked CHANGED is not sent to until
 * the user accepts it.
 */
export function isTrustedIdentityRecord(
  existing: TrustedIdentityRecord | undefined,
  key: PublicKey,
  direction: Direction,
): boolean {
  if (existing === undefined) return true;
  if (direction === "sending" && existing.verification === VerificationState.CHANGED) return false;
  return constantTimeEqual(existing.identityKey, key.serialize());
}

/**
 * Whether a last-resort Kyber prekey record written by an earlier version remembers the use
 * (signed prekey id, base key) in its own `used_base_keys` list (PX-11). Uses are now
 * remembered as store entries of their own (protocol-store.ts); the list is still honoured
 * for records that carry one, and never grows.
 */
export function legacyListRemembersUse(record: KyberPreKeyRecord, signedPreKeyId: number, baseKey: Uint8Array): boolean {
  return record.usedBaseKeys.some((u) => u.signedPreKeyId === signedPreKeyId && constantTimeEqual(u.baseKey, baseKey));
}
