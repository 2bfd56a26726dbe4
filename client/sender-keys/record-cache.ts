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

/**
 * The records remembered for one (sender, distribution id), most recent first. An operation
 * finds its slot once and both reads and remembers through it; a slot evicted from the cache
 * meanwhile only forgets what is remembered through it afterwards.
 */
export class SenderKeyRecordSlot {
  readonly #entries: Entry[] = [];

  /**
   * The record stored as `stored`: remembered if these exact bytes were seen here, else
   * decoded (`ProtocolError("invalid_message")` for corrupt bytes, as `parseSenderKeyRecord`)
   * and remembered. The result is shared: never change it.
   */
  lookup(stored: Uint8Array): SenderKeyRecord {
    for (const e of this.#entries) if (sameBytes(e.bytes, stored)) return e.record;
    const bytes = new Uint8Array(stored); // a copy, also of a Buffer (whose `slice` is a view)
    const record = parseSenderKeyRecord(bytes);
    this.#add({ bytes, record });
    return record;
  }

  /**
   * Remembers `record`, just stored as `bytes`, in place of `replaced` (the record it was
   * derived from), which is dropped. `record` must not be changed afterwards.
   */
  remember(replaced: SenderKeyRecord | undefined, bytes: Uint8Array, record: SenderKeyRecord): void {
    for (let i = 0; i < this.#entries.length; i++) {
      if ((this.#entries[i] as Entry).record === replaced) {
        this.#entries.splice(i, 1);
        break;
      }
    }
    this.#add({ bytes: new Uint8Array(bytes), record });
  }

  #add(entry: Entry): void {
    this.#entries.unshift(entry);
    if (this.#entries.length > RECORD_CACHE_ENTRIES_PER_KEY) this.#entries.length = RECORD_CACHE_ENTRIES_PER_KEY;
  }
}

const slots = new Map<string, SenderKeyRecordSlot>();
/** The key used last: reading it again needs no reordering. */
let mostRecent: string | undefined;

function keyOf(sender: string, distributionId: Uint8Array): string {
  // One character per byte: cheaper than hex, and as unambiguous after the separator.
  return `${sender}\u0000${String.fromCharCode.apply(null, distributionId as unknown as number[])}`;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The slot of (sender, distribution id), created if new; least recently used slots are evicted. */
export function senderKeyRecordSlot(sender: string, distributionId: Uint8Array): SenderKeyRecordSlot {
  const key = keyOf(sender, distributionId);
  let slot = slots.get(key);
  if (slot === undefined) {
    slot = new SenderKeyRecordSlot();
    if (slots.size >= RECORD_CACHE_KEYS) {
      const oldest = slots.keys().next().value;
      if (oldest !== undefined) slots.delete(oldest);
    }
    slots.set(key, slot);
  } else if (key !== mostRecent) {
    // (Re)inserted last: the map's order is least recently used first.
    slots.delete(key);
    slots.set(key, slot);
  }
  mostRecent = key;
  return slot;
}

/** Forgets every remembered record (tests, and a caller wiping its sender keys). */
export function clearSenderKeyRecordCache(): void {
  slots.clear();
  mostRecent = undefined;
}
