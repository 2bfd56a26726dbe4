/**
 * Transactions over a `KeyValueStore`: the client's whole state, read through a memory mirror
 * and changed only by atomic batches.
 *
 * Owns: `StateStore` (open loads every entry once; `transaction(fn)` runs `fn` against an
 * overlay and commits all its writes as one `KeyValueStore.write` batch, or none if `fn`
 * throws; transactions run one at a time). This is what makes "persist `last_seq` atomically
 * with the effects of the event" (spec RM-15) and "ack only after the state is stored"
 * (API-14) true for any backend. Does not own: what keys mean (protocol-store.ts, room and
 * account records).
 */

import type { KeyValueStore, KeyValueWrite } from "./kv-store.js";

/** Reads and writes inside one transaction. Writes are visible to later reads in the same one. */
export interface Txn {
  get(key: string): Uint8Array | undefined;
  /** Entries whose key starts with `prefix`, sorted by key, overlay applied. */
  list(prefix: string): Array<[string, Uint8Array]>;
  put(key: string, value: Uint8Array): void;
  delete(key: string): void;
}

/** The client's state: a mirror of the key-value store plus serialized atomic transactions. */
export class StateStore {
  readonly #kv: KeyValueStore;
  readonly #mirror = new Map<string, Uint8Array>();
  #queue: Promise<unknown> = Promise.resolve();
  #active: Txn | undefined;

  private constructor(kv: KeyValueStore) {
    this.#kv = kv;
  }

  /** Loads every entry of `kv` into memory. */
  static async open(kv: KeyValueStore): Promise<StateStore> {
    const s = new StateStore(kv);
    for (const [k, v] of await kv.list("")) s.#mirror.set(k, v);
    return s;
  }

  /** The committed value of `key` (outside transactions). */
  get(key: string): Uint8Array | undefined {
    return this.#active !== undefined ? this.#active.get(key) : this.#mirror.get(key);
  }

  /** Committed entries under `prefix`, sorted. */
  list(prefix: string): Array<[string, Uint8Array]> {
    if (this.#active !== undefined) return this.#active.list(prefix);
    return sortedEntries(this.#mirror, prefix);
  }

  /** The transaction currently running, if any (protocol stores write through it). */
  get active(): Txn | undefined {
    return this.#active;
  }

  /**
   * Runs `fn` with a fresh overlay after every earlier transaction finished, then writes all
   * its changes as one batch. If `fn` or the write throws, nothing changes.
   */
  transaction<T>(fn: (txn: Txn) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      const writes = new Map<string, Uint8Array | undefined>();
      const mirror = this.#mirror;
      const txn: Txn = {
        get: (key) => (writes.has(key) ? writes.get(key) : mirror.get(key)),
        list: (prefix) => {
          const merged = new Map<string, Uint8Array>();
          for (const [k, v] of mirror) if (k.startsWith(prefix)) merged.set(k, v);
          for (const [k, v] of writes) {
            if (!k.startsWith(prefix)) continue;
            if (v === undefined) merged.delete(k);
            else merged.set(k, v);
          }
          return sortedEntries(merged, prefix);
        },
        put: (key, value) => void writes.set(key, value.slice()),
        delete: (key) => void writes.set(key, undefined),
      };
      this.#active = txn;
      try {
        const result = await fn(txn);
        if (writes.size > 0) {
          const batch: KeyValueWrite[] = [...writes].map(([key, value]) => ({ key, value }));
          await this.#kv.write(batch);
          for (const [k, v] of writes) {
            if (v === undefined) mirror.delete(k);
            else mirror.set(k, v);
          }
        }
        return result;
      } finally {
        this.#active = undefined;
      }
    };
    const p = this.#queue.then(run, run);
    this.#queue = p.catch(() => undefined);
    return p;
  }

  /** Closes the backend. */
  async close(): Promise<void> {
    await this.#queue;
    await this.#kv.close?.();
  }
}

function sortedEntries(map: Map<string, Uint8Array>, prefix: string): Array<[string, Uint8Array]> {
  const out: Array<[string, Uint8Array]> = [];
  for (const [k, v] of map) if (k.startsWith(prefix)) out.push([k, v]);
  out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return out;
}
