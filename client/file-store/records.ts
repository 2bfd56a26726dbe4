/**
 * Sealed records and the key table: how the file store makes a deleted value unreadable.
 *
 * Owns: sealing one entry's value under its own random record key, the reference a snapshot or
 * batch file holds (`record id ‖ nonce ‖ ciphertext`), and the key table (entry key → record id
 * and record key). Does not own: files (file-store.ts) or the frame every file is sealed in
 * (codec.ts).
 *
 * Why: data files are sealed under the store key, which the passphrase re-derives forever, and
 * superseded values stay in batch files until compaction. Sealing each value again under a key
 * that only the key table holds means that once the table no longer lists it (the entry was
 * deleted or replaced) the old ciphertext is noise, even with the passphrase. Only the small
 * key table must be erased on every write, not the snapshot (spec/11 SC-15).
 */

import { aes256GcmDecrypt, aes256GcmEncrypt, AES_GCM_NONCE_LENGTH, AES_GCM_TAG_LENGTH } from "../crypto/cipher.js";
import { concatBytes, constantTimeEqual, randomBytes, utf8 } from "../crypto/bytes.js";
import { parseOps, serializeOps, type EntryOp } from "./codec.js";
import { RECORD_ID_LENGTH, RECORD_KEY_LENGTH, RECORD_LABEL } from "./constants.js";
import { FileStoreError } from "./errors.js";

/** The key table's entry for one live value. */
export interface RecordKey {
  readonly recordId: Uint8Array;
  readonly key: Uint8Array;
}

/** One live entry as the store holds it in memory. */
export interface SealedEntry extends RecordKey {
  readonly value: Uint8Array;
  /** What data files hold for it: `record id ‖ nonce ‖ AES-256-GCM(value)`. */
  readonly sealed: Uint8Array;
}

function recordAssociatedData(name: string, recordId: Uint8Array): Uint8Array {
  return concatBytes(utf8(RECORD_LABEL + name), Uint8Array.of(0), recordId);
}

/** Seals `value` of entry `name` under a fresh record key and record id. */
export function sealRecord(name: string, value: Uint8Array): SealedEntry {
  const recordId = randomBytes(RECORD_ID_LENGTH);
  const key = randomBytes(RECORD_KEY_LENGTH);
  const nonce = randomBytes(AES_GCM_NONCE_LENGTH);
  const sealed = concatBytes(recordId, nonce, aes256GcmEncrypt(key, nonce, value, recordAssociatedData(name, recordId)));
  return { recordId, key, value, sealed };
}

/** The record id at the start of a sealed record; `corrupt` if it is too short to be one. */
export function recordIdOf(sealed: Uint8Array): Uint8Array {
  if (sealed.length < RECORD_ID_LENGTH + AES_GCM_NONCE_LENGTH + AES_GCM_TAG_LENGTH) throw new FileStoreError("corrupt");
  return sealed.subarray(0, RECORD_ID_LENGTH);
}

/** Opens the sealed record of entry `name` with its table entry; a mismatch is `corrupt`. */
export function openRecord(name: string, table: RecordKey, sealed: Uint8Array): SealedEntry {
  const recordId = recordIdOf(sealed);
  if (!constantTimeEqual(recordId, table.recordId)) throw new FileStoreError("corrupt");
  const nonce = sealed.subarray(RECORD_ID_LENGTH, RECORD_ID_LENGTH + AES_GCM_NONCE_LENGTH);
  try {
    const value = aes256GcmDecrypt(table.key, nonce, sealed.subarray(RECORD_ID_LENGTH + AES_GCM_NONCE_LENGTH), recordAssociatedData(name, recordId));
    return { recordId: table.recordId, key: table.key, value, sealed };
  } catch {
    throw new FileStoreError("corrupt");
  }
}

/** Serialises the key table: one put per live entry, value `record id ‖ record key`. */
export function serializeKeyTable(entries: ReadonlyMap<string, RecordKey>): Uint8Array {
  const ops: EntryOp[] = [];
  for (const [name, r] of entries) ops.push({ key: name, value: concatBytes(r.recordId, r.key) });
  return serializeOps(ops);
}

/** Parses what `serializeKeyTable` wrote; anything else is `corrupt`. */
export function parseKeyTable(bytes: Uint8Array): Map<string, RecordKey> {
  const table = new Map<string, RecordKey>();
  for (const op of parseOps(bytes)) {
    if (op.value?.length !== RECORD_ID_LENGTH + RECORD_KEY_LENGTH || table.has(op.key)) throw new FileStoreError("corrupt");
    table.set(op.key, { recordId: op.value.slice(0, RECORD_ID_LENGTH), key: op.value.slice(RECORD_ID_LENGTH) });
  }
  return table;
}
