/**
 * The persistent key-value store the whole client state lives in.
 *
 * Owns: the `KeyValueStore` contract (three methods a backend implements: file, IndexedDB,
 * memory) and `MemoryKeyValueStore`. Does not own: what the keys and values mean (the protocol
 * stores here and in client/room build identity, prekeys, sessions, sender keys, rooms and the account on
 * top of it, with securecomm.storage.v1 records as values). Message plaintext never goes in.
 */

/** One write of a batch: `value` undefined deletes `key`. */
export interface KeyValueWrite {
  key: string;
  value: Uint8Array | undefined;
}

/** A persistent key-value store the whole client state lives in (file, IndexedDB, memory). */
export interface KeyValueStore {
  /** The value stored under `key`, if any. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** All entries whose key starts with prefix, sorted by key. */
  list(prefix: string): Promise<Array<[string, Uint8Array]>>;
  /** Applies every write atomically (all or none); value undefined deletes the key. */
  write(batch: ReadonlyArray<KeyValueWrite>): Promise<void>;
  /** Releases the backend (file handles, database connections); optional. */
  close?(): Promise<void>;
}

/**
 * An in-memory `KeyValueStore` (tests, and a session that keeps nothing). Values are copied in
 * and out so a caller mutating a returned array cannot change stored state.
 */
export class MemoryKeyValueStore implements KeyValueStore {
  private readonly entries = new Map<string, Uint8Array>();
  private closed = false;

  async get(key: string): Promise<Uint8Array | undefined> {
    this.assertOpen();
    const v = this.entries.get(key);
    return v === undefined ? undefined : v.slice();
  }

  async list(prefix: string): Promise<Array<[string, Uint8Array]>> {
    this.assertOpen();
    const out: Array<[string, Uint8Array]> = [];
    for (const [k, v] of this.entries) if (k.startsWith(prefix)) out.push([k, v.slice()]);
    out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return out;
  }

  async write(batch: ReadonlyArray<KeyValueWrite>): Promise<void> {
    this.assertOpen();
    for (const w of batch) {
      if (typeof w.key !== "string") throw new TypeError("key must be a string");
      if (w.value !== undefined && !(w.value instanceof Uint8Array)) throw new TypeError("value must be a Uint8Array");
    }
    // Validated first, so applying cannot fail half-way: all or none.
    for (const w of batch) {
      if (w.value === undefined) this.entries.delete(w.key);
      else this.entries.set(w.key, w.value.slice());
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** Number of keys held (tests). */
  get size(): number {
    return this.entries.size;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("The store is closed.");
  }
}
