/**
 * The rules every protocol store applies, whatever holds its records.
 *
 * Owns: trust on first use and the verification hold (spec ID-11, ID-12), and what using a
 * Kyber prekey does to its record (spec PX-11). Pure functions over storage.v1 records, used
 * by the client's one protocol store (protocol-store.ts). Does not own: where records live.
 */

import { create } from "@bufbuild/protobuf";
import {
  type KyberPreKeyRecord,
  type TrustedIdentityRecord,
  TrustedIdentityRecordSchema,
  UsedBaseKeySchema,
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
 * The Kyber prekey record after a use with (signed prekey id, base key) (PX-11): a one-time
 * key is deleted (undefined); a last-resort key remembers the pair so a replay is refused.
 */
export function kyberPreKeyAfterUse(
  record: KyberPreKeyRecord,
  signedPreKeyId: number,
  baseKey: Uint8Array,
): KyberPreKeyRecord | undefined {
  if (!record.lastResort) return undefined;
  record.usedBaseKeys.push(create(UsedBaseKeySchema, { signedPreKeyId, baseKey: Uint8Array.from(baseKey) }));
  return record;
}
