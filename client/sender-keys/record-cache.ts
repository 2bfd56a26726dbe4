/**
 * Parsed sender-key records remembered by their exact stored bytes, so a group message does not
 * decode the record it just encoded (spec SK-04, SK-07; client/crypto/PERFORMANCE.md).
 *
 * Owns: a bounded process-wide map from (sender, distribution id) to the last few records seen
 * there, each with a private copy of the bytes it was decoded from or encoded to. A lookup
 * answers only when the stored bytes are byte-for-byte those bytes, and decoding is a pure
 * function of the bytes, so a hit returns exactly what `parseSenderKeyRecord` would return,
 * whichever store the bytes came from. Records handed out are shared and must never be
 * changed: callers change a `copyForUpdate` copy and `remember` it only after their store
 * write succeeded, so a failed decryption leaves the cache as it leaves the store (SK-07, "bad
 * input changes nothing"; group-cipher.test.ts plays a lying sender against it).
 * Secrets: the records hold chain keys and signing keys, as the store does. When a record is
 * replaced through `remember`, the entry it replaced is dropped at once, so a superseded chain
 * key is not kept here (forward secrecy, SK-02); entries are otherwise bounded and evicted
 * oldest first.
 * Does not own: decoding rules (sender-key-state.ts), stores.
 */
import type { SenderKeyRecord } from "../../gen/securecomm/storage/v1/sender_key_pb.js";
import { parseSenderKeyRecord } from "./sender-key-state.js";

/**
 * (sender, distribution id) pairs remembered: one per member of the rooms in active use; more
 * only costs a decode per message for the least recently used ones.
 */
export const RECORD_CACHE_KEYS = 256;
/**
 * Records per (sender, distribution id): one per store holding that pair in this process (a
 * test or benchmark runs a sender's and a receiver's store side by side).
 */
export const RECORD_CACHE_ENTRIES_PER_KEY = 4;

interface Entry {
  /** Private copy of the record's bytes (never handed out, never changed). */
  readonly bytes: Uint8Array;
  readonly record: SenderKeyRecord;
}

const entries = new Map<string, Entry[]>();

function keyOf(sender: string, distributionId: Uint8Array): string {
  // One character per byte: cheaper than hex, and as unambiguous after the separator.
  return `${sender}\u0000${String.fromCharCode(...distributionId)}`;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function slot(key: string): Entry[] {
  let list = entries.get(key);
  if (list === undefined) {
    list = [];
    if (entries.size >= RECORD_CACHE_KEYS) {
      const oldest = entries.keys().next().value;
      if (oldest !== undefined) entries.delete(oldest);
    }
  } else {
    entries.delete(key);
  }
  // (Re)inserted last: the map's order is least recently used first.
  entries.set(key, list);
  return list;
}

function add(list: Entry[], entry: Entry): void {
  list.unshift(entry);
  if (list.length > RECORD_CACHE_ENTRIES_PER_KEY) list.length = RECORD_CACHE_ENTRIES_PER_KEY;
}

/**
 * The record stored as `stored` for (sender, distribution id): remembered if these exact bytes
 * were seen there, else decoded (`ProtocolError("invalid_message")` for corrupt bytes, as
 * `parseSenderKeyRecord`) and remembered. The result is shared: never change it.
 */
export function lookupSenderKeyRecord(sender: string, distributionId: Uint8Array, stored: Uint8Array): SenderKeyRecord {
  const list = slot(keyOf(sender, distributionId));
  for (const e of list) if (sameBytes(e.bytes, stored)) return e.record;
  const bytes = Uint8Array.from(stored);
  const record = parseSenderKeyRecord(bytes);
  add(list, { bytes, record });
  return record;
}

/**
 * Remembers `record`, just stored as `bytes` for (sender, distribution id), in place of
 * `replaced` (the record it was derived from), which is dropped. `record` must not be changed
 * afterwards.
 */
export function rememberSenderKeyRecord(
  sender: string,
  distributionId: Uint8Array,
  replaced: SenderKeyRecord | undefined,
  bytes: Uint8Array,
  record: SenderKeyRecord,
): void {
  const list = slot(keyOf(sender, distributionId));
  const at = list.findIndex((e) => e.record === replaced);
  if (at >= 0) list.splice(at, 1);
  add(list, { bytes: Uint8Array.from(bytes), record });
}

/** Forgets every remembered record (tests, and a caller wiping its sender keys). */
export function clearSenderKeyRecordCache(): void {
  entries.clear();
}
