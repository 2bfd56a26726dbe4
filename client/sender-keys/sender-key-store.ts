/**
 * Where sender-key records live.
 *
 * Owns: the `SenderKeyStore` interface (serialized `securecomm.storage.v1.SenderKeyRecord`
 * bytes per (sender, distribution id)) and `InMemorySenderKeyStore`. Storing bytes keeps every
 * backend (memory, file, IndexedDB) trivially identical and makes "commit only on success" a
 * single write.
 * Does not own: what a record means (sender-key-state.ts).
 */

/** Persistence of sender-key records, keyed by sender (address string) and distribution id. */
export interface SenderKeyStore {
  /** The serialized record, or null when none exists. */
  loadSenderKey(sender: string, distributionId: Uint8Array): Promise<Uint8Array | null>;
  /** Replaces the serialized record. */
  storeSenderKey(sender: string, distributionId: Uint8Array, record: Uint8Array): Promise<void>;
}

/** A `SenderKeyStore` in memory; copies on the way in and out so callers cannot alias it. */
export class InMemorySenderKeyStore implements SenderKeyStore {
  readonly #records = new Map<string, Uint8Array>();

  #key(sender: string, distributionId: Uint8Array): string {
    // One character per byte after the separator: unambiguous, and cheaper than hex.
    return `${sender}\u0000${String.fromCharCode.apply(null, distributionId as unknown as number[])}`;
  }

  async loadSenderKey(sender: string, distributionId: Uint8Array): Promise<Uint8Array | null> {
    const r = this.#records.get(this.#key(sender, distributionId));
    return r === undefined ? null : r.slice(); // r is ours: a plain Uint8Array
  }

  async storeSenderKey(sender: string, distributionId: Uint8Array, record: Uint8Array): Promise<void> {
    this.#records.set(this.#key(sender, distributionId), new Uint8Array(record)); // a copy, also of a Buffer
  }

  /** Number of records held (for tests and diagnostics; no contents are exposed). */
  get size(): number {
    return this.#records.size;
  }

  /** Prints without contents (records hold chain keys). */
  toString(): string {
    return "[InMemorySenderKeyStore: redacted]";
  }

  toJSON(): string {
    return this.toString();
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}
