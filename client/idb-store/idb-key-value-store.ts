/**
 * The browser's `KeyValueStore`: every piece of client state (identity, prekeys, sessions,
 * sender keys, rooms, account) in one IndexedDB object store (DESIGN.md §6).
 *
 * Owns: opening the database, the one object store's schema, atomic batches (one readwrite
 * transaction each, strict durability), exact prefix listing, closing and deleting the
 * database. Does not own: what keys and values mean (client/app), or message plaintext, which
 * never reaches any store.
 */

import type { KeyValueStore, KeyValueWrite } from "../store/kv-store.js";

/**
 * Schema version of the database. Version 1 has one object store, {@link OBJECT_STORE}, with
 * out-of-line string keys and `Uint8Array` values; bump it only with an upgrade path.
 */
export const IDB_SCHEMA_VERSION = 1;

/** The one object store holding every key of the client's state. */
export const OBJECT_STORE = "kv";

/** The database name the web app uses when none is given. */
export const DEFAULT_DATABASE_NAME = "securecomm";

/** Options of {@link openIndexedDbKeyValueStore}. */
export interface IndexedDbStoreOptions {
  /** Database name; default {@link DEFAULT_DATABASE_NAME}. */
  name?: string;
  /** The IndexedDB factory; default `globalThis.indexedDB` (tests pass fake-indexeddb's). */
  indexedDB?: IDBFactory;
}

function factoryOf(options: IndexedDbStoreOptions): IDBFactory {
  const factory = options.indexedDB ?? globalThis.indexedDB;
  if (factory === undefined) throw new Error("IndexedDB is not available in this browser.");
  return factory;
}

function requestResult<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error("An IndexedDB request failed."));
  });
}

function transactionDone(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new Error("An IndexedDB transaction was aborted."));
    tx.onerror = () => {
      // The abort handler reports the failure; keep the error from reaching the global handler.
    };
  });
}

function toBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (value instanceof ArrayBuffer) return new Uint8Array(value.slice(0));
  // Something other than our own writes is in the database: refuse it rather than guess.
  throw new TypeError("The stored value is not bytes.");
}

/**
 * A `KeyValueStore` over one IndexedDB database (DESIGN.md §6, "IndexedDB for the web").
 * Create it with {@link openIndexedDbKeyValueStore}.
 */
export class IndexedDbKeyValueStore implements KeyValueStore {
  private closed = false;

  /** Wraps an open database whose schema is {@link IDB_SCHEMA_VERSION}. */
  constructor(private readonly db: IDBDatabase) {
    // Another tab deleting or upgrading the database: let it, and fail our later calls clearly.
    db.onversionchange = () => {
      this.closed = true;
      db.close();
    };
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    if (typeof key !== "string") throw new TypeError("key must be a string");
    const tx = this.transaction("readonly");
    const value: unknown = await requestResult(tx.objectStore(OBJECT_STORE).get(key));
    return value === undefined ? undefined : toBytes(value);
  }

  async list(prefix: string): Promise<Array<[string, Uint8Array]>> {
    if (typeof prefix !== "string") throw new TypeError("prefix must be a string");
    const tx = this.transaction("readonly");
    const store = tx.objectStore(OBJECT_STORE);
    const range = prefix === "" ? undefined : IDBKeyRange.lowerBound(prefix);
    const out: Array<[string, Uint8Array]> = [];
    await new Promise<void>((resolve, reject) => {
      const request = store.openCursor(range);
      request.onerror = () => reject(request.error ?? new Error("An IndexedDB request failed."));
      request.onsuccess = () => {
        const cursor = request.result;
        // Keys come in code-unit order (the order of JS `<`), so the first key without the
        // prefix ends the run: exact for any prefix, with no sentinel upper bound.
        if (cursor === null || typeof cursor.key !== "string" || !cursor.key.startsWith(prefix)) {
          resolve();
          return;
        }
        try {
          out.push([cursor.key, toBytes(cursor.value)]);
        } catch (error) {
          reject(error);
          return;
        }
        cursor.continue();
      };
    });
    return out;
  }

  async write(batch: ReadonlyArray<KeyValueWrite>): Promise<void> {
    // Validate everything before opening the transaction, so bad input changes nothing.
    for (const w of batch) {
      if (typeof w.key !== "string") throw new TypeError("key must be a string");
      if (w.value !== undefined && !(w.value instanceof Uint8Array)) {
        throw new TypeError("value must be a Uint8Array");
      }
    }
    if (batch.length === 0) return;
    // Strict durability: a session or sender-key state reported written must survive a crash,
    // or the ratchet would reuse keys after a restart.
    const tx = this.transaction("readwrite");
    const done = transactionDone(tx);
    const store = tx.objectStore(OBJECT_STORE);
    try {
      for (const w of batch) {
        if (w.value === undefined) store.delete(w.key);
        // A copy of exactly the view's bytes (not the whole underlying buffer).
        else store.put(w.value.slice(), w.key);
      }
    } catch (error) {
      tx.abort();
      await done.catch(() => undefined);
      throw error;
    }
    await done;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private transaction(mode: IDBTransactionMode): IDBTransaction {
    if (this.closed) throw new Error("The store is closed.");
    return mode === "readwrite"
      ? this.db.transaction(OBJECT_STORE, mode, { durability: "strict" })
      : this.db.transaction(OBJECT_STORE, mode);
  }
}

/**
 * Opens (creating on first use) the IndexedDB database `options.name` as a `KeyValueStore`
 * (DESIGN.md §6).
 */
export async function openIndexedDbKeyValueStore(
  options: IndexedDbStoreOptions = {},
): Promise<IndexedDbKeyValueStore> {
  const factory = factoryOf(options);
  const request = factory.open(options.name ?? DEFAULT_DATABASE_NAME, IDB_SCHEMA_VERSION);
  request.onupgradeneeded = () => {
    const db = request.result;
    if (!db.objectStoreNames.contains(OBJECT_STORE)) db.createObjectStore(OBJECT_STORE);
  };
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    // "blocked" needs no handler: other connections close on versionchange, then success fires.
    request.onerror = () => reject(request.error ?? new Error("IndexedDB could not be opened."));
  });
  return new IndexedDbKeyValueStore(db);
}

/**
 * Deletes the whole database `options.name` (the web app's "delete everything"); resolves
 * when it is gone. Close every store on it first, or the deletion waits for them.
 */
export async function deleteIndexedDbKeyValueStore(options: IndexedDbStoreOptions = {}): Promise<void> {
  const factory = factoryOf(options);
  const request = factory.deleteDatabase(options.name ?? DEFAULT_DATABASE_NAME);
  await requestResult(request);
}
