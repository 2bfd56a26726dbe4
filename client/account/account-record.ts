/**
 * The account's local record: what the client knows about itself beyond its identity key.
 *
 * Owns: `AccountRecord` and its encoding. storage.v1 has no account message (a proto change
 * is outside client/account), so this record is a small JSON document with base64url bytes;
 * it holds no message plaintext. Fields: display name, delivery token (RM-04), the pinned
 * trust root (SS-05), the sender certificate (SS-09), prekey id counters (ID-13) and the
 * current signed / last-resort prekey ids with their creation time (ID-10).
 */

import { base64url, fromBase64url } from "../relay/base64url.js";
import { utf8 } from "../crypto/bytes.js";

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

const BYTES_FIELDS = ["deliveryToken", "trustRoot", "senderCertificate"] as const;

/** Serializes the record (JSON, bytes as base64url). */
export function serializeAccountRecord(r: AccountRecord): Uint8Array {
  const o: Record<string, unknown> = { ...r };
  for (const f of BYTES_FIELDS) {
    const v = r[f];
    o[f] = v === undefined ? undefined : base64url(v);
  }
  return utf8(JSON.stringify(o));
}

/** Parses a record written by `serializeAccountRecord`; a corrupt record throws TypeError. */
export function parseAccountRecord(bytes: Uint8Array): AccountRecord {
  const o = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
  for (const f of BYTES_FIELDS) {
    const v = o[f];
    if (v === undefined || v === null) {
      o[f] = undefined;
      continue;
    }
    const b = typeof v === "string" ? fromBase64url(v) : undefined;
    if (b === undefined) throw new TypeError("corrupt account record");
    o[f] = b;
  }
  return o as unknown as AccountRecord;
}
