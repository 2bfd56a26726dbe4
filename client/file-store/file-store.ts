/**
 * `FileKeyValueStore`: the CLI's `KeyValueStore`, one directory encrypted at rest.
 *
 * Owns: the directory layout (mode 0700; files 0600), opening (lock, passphrase check, replay
 * of the snapshot and batch files), atomic batches and compaction. Does not own: the frame
 * and entry encodings (codec.ts), the header and KDF (header.ts), the lock (lock.ts), or what
 * keys and values mean (client/app).
 *
 * Layout: `store.json` (header), `snapshot.bin` (all entries as of batch `covered`),
 * `batch-<seq>.bin` (one per `write`, sequence numbers contiguous after the snapshot's),
 * `keys.bin` (the key table: each live entry's record key, as of the newest batch; the commit
 * point of a write), `lock`. Every data file is AES-256-GCM under the store key with a fresh
 * random nonce and its own name, kind and sequence number as associated data; key names and
 * values never appear in plaintext, not even as file names. Each value is sealed once more
 * under its own record key (records.ts), which only the key table holds; a write replaces the
 * key table and overwrites the previous one in place, so a deleted or replaced value is
 * unreadable even with the passphrase (forward secrecy at rest, spec/11 SC-15, which says what
 * remains on journaling and copy-on-write filesystems). Each file is written as `<name>.tmp`, fsynced,
 * renamed into place and the directory fsynced, so a crash leaves either the old or the new
 * state and at most a temporary file, which the next open deletes. The whole state is held in
 * memory (client state is small: keys, sessions, rooms, and the CLI's undelivered messages).
 *
 * Not detected: an attacker with write access replacing the directory by an older copy of
 * itself, or deleting the newest batch files (rollback); a fully compromised device is out of
 * scope (spec TM-06).
 */

import { chmod, mkdir, open, readdir, readFile, rename, stat, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { KeyValueStore, KeyValueWrite } from "../store/kv-store.js";
import { randomBytes } from "../crypto/bytes.js";
import { hmacSha256 } from "../crypto/kdf.js";
import { openFile, parseOps, sealFile, serializeOps, type EntryOp } from "./codec.js";
import {
  BATCH_DIGITS,
  BATCH_PREFIX,
  BATCH_SUFFIX,
  COMPACT_MIN_BYTES,
  DEFAULT_SCRYPT,
  HEADER_FILE,
  KEYS_FILE,
  KIND_BATCH,
  KIND_KEYS,
  KIND_RECORD_BATCH,
  KIND_RECORD_SNAPSHOT,
  KIND_SNAPSHOT,
  LEGACY_KINDS,
  LOCK_FILE,
  MAX_BATCH_FILES,
  MAX_HEADER_BYTES,
  SNAPSHOT_FILE,
  TEMP_SUFFIX,
  type ScryptParams,
} from "./constants.js";
import { FileStoreError } from "./errors.js";
import { createHeader, parseHeader, serializeHeader, unlockHeader } from "./header.js";
import { acquireLock, type StoreLock } from "./lock.js";
import { openRecord, parseKeyTable, sealRecord, serializeKeyTable, type RecordKey, type SealedEntry } from "./records.js";

/** Options of {@link createFileStore}. */
export interface CreateFileStoreOptions {
  /** Scrypt cost; default {@link DEFAULT_SCRYPT}. Tests pass a cheaper one. */
  scrypt?: ScryptParams;
}

const BATCH_NAME = new RegExp(`^${BATCH_PREFIX}(\\d{${BATCH_DIGITS}})${BATCH_SUFFIX.replace(".", "\\.")}$`);

/** Name of the batch file with sequence number `seq`. */
export function batchFileName(seq: number): string {
  return `${BATCH_PREFIX}${String(seq).padStart(BATCH_DIGITS, "0")}${BATCH_SUFFIX}`;
}

function isMissing(e: unknown): boolean {
  return (e as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}

/** Writes `bytes` to `dir/name` atomically: temporary file, fsync, rename, directory fsync. */
async function writeAtomically(dir: string, name: string, bytes: Uint8Array | string): Promise<void> {
  const final = join(dir, name);
  const temp = `${final}${TEMP_SUFFIX}`;
  try {
    const handle = await open(temp, "w", 0o600);
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, final);
  } catch (e) {
    await unlink(temp).catch(() => undefined);
    throw e;
  }
  await syncDirectory(dir);
}

/** Largest piece written at once when overwriting a file (bounds the random buffer). */
const WIPE_CHUNK_BYTES = 1024 * 1024;

/** Overwrites every byte of the open file with random bytes and fsyncs it. */
async function wipeHandle(handle: FileHandle): Promise<void> {
  const { size } = await handle.stat();
  for (let at = 0; at < size; at += WIPE_CHUNK_BYTES) {
    await handle.write(randomBytes(Math.min(WIPE_CHUNK_BYTES, size - at)), 0, undefined, at);
  }
  await handle.sync();
}

/**
 * Like `writeAtomically`, then overwrites the file it replaced: the old inode is held open
 * across the rename and its bytes are overwritten in place before it is released, so its
 * blocks do not go back to the filesystem still holding the old contents.
 */
async function replaceWiping(dir: string, name: string, bytes: Uint8Array): Promise<void> {
  let old: FileHandle | undefined;
  try {
    old = await open(join(dir, name), "r+");
  } catch (e) {
    if (!isMissing(e)) throw e;
  }
  try {
    await writeAtomically(dir, name, bytes);
    if (old !== undefined) await wipeHandle(old);
  } finally {
    await old?.close();
  }
}

/** Overwrites `dir/name` in place, then deletes it; a missing file is fine. */
async function shred(dir: string, name: string): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await open(join(dir, name), "r+");
  } catch (e) {
    if (isMissing(e)) return;
    throw e;
  }
  try {
    await wipeHandle(handle);
  } finally {
    await handle.close();
  }
  await unlink(join(dir, name));
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** True when `dir` holds a store header (whatever its passphrase). */
export async function fileStoreExists(dir: string): Promise<boolean> {
  try {
    await stat(join(dir, HEADER_FILE));
    return true;
  } catch (e) {
    if (isMissing(e)) return false;
    throw e;
  }
}

/**
 * Creates a new store in `dir` (created with mode 0700 if missing, tightened to 0700 if it
 * exists) protected by `passphrase`, and opens it. Throws `FileStoreError("already_exists")`
 * when `dir` already holds one.
 */
export async function createFileStore(dir: string, passphrase: string, options: CreateFileStoreOptions = {}): Promise<FileKeyValueStore> {
  if (typeof passphrase !== "string" || passphrase.length === 0) throw new TypeError("passphrase must be a non-empty string");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const lock = await acquireLock(dir);
  try {
    if (await fileStoreExists(dir)) throw new FileStoreError("already_exists");
    await removeTemporaries(dir);
    const { header, key } = await createHeader(passphrase, options.scrypt ?? DEFAULT_SCRYPT);
    // Snapshot first, header last: a store without a header does not exist, so a crash in
    // between leaves nothing half-created that could be opened.
    await writeAtomically(dir, KEYS_FILE, sealFile(key, KEYS_FILE, KIND_KEYS, 0, new Uint8Array(0)));
    await writeAtomically(dir, SNAPSHOT_FILE, sealFile(key, SNAPSHOT_FILE, KIND_RECORD_SNAPSHOT, 0, new Uint8Array(0)));
    await writeAtomically(dir, HEADER_FILE, serializeHeader(header));
    return new FileKeyValueStore(dir, key, lock, new Map(), 0, 0, [], 0);
  } catch (e) {
    await lock.release();
    throw e;
  }
}

async function removeTemporaries(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (name.endsWith(TEMP_SUFFIX)) await shred(dir, name).catch(() => undefined);
  }
}

/**
 * Opens the store in `dir` with `passphrase`. Throws `FileStoreError` with `not_found`,
 * `locked` (another live process has it open), `wrong_passphrase` or `corrupt` (a file was
 * altered, truncated, renamed or is missing from the sequence).
 */
export async function openFileStore(dir: string, passphrase: string): Promise<FileKeyValueStore> {
  if (typeof passphrase !== "string") throw new TypeError("passphrase must be a string");
  if (!(await fileStoreExists(dir))) throw new FileStoreError("not_found");
  const lock = await acquireLock(dir);
  try {
    const headerBytes = await readFile(join(dir, HEADER_FILE));
    if (headerBytes.length > MAX_HEADER_BYTES) throw new FileStoreError("corrupt");
    const header = parseHeader(headerBytes.toString("utf8"));
    const key = await unlockHeader(header, passphrase);
    await removeTemporaries(dir);

    let snapshotBytes: Uint8Array;
    try {
      snapshotBytes = await readFile(join(dir, SNAPSHOT_FILE));
    } catch (e) {
      throw isMissing(e) ? new FileStoreError("corrupt") : e;
    }
    const legacy = LEGACY_KINDS.has(snapshotBytes[4] ?? -1);
    const snapshot = openFile(key, SNAPSHOT_FILE, legacy ? KIND_SNAPSHOT : KIND_RECORD_SNAPSHOT, snapshotBytes);
    // The key table says which batch is the newest committed one (record layout only).
    let table: Map<string, RecordKey> | undefined;
    let committed = Number.MAX_SAFE_INTEGER;
    if (!legacy) {
      let keysBytes: Uint8Array;
      try {
        keysBytes = await readFile(join(dir, KEYS_FILE));
      } catch (e) {
        throw isMissing(e) ? new FileStoreError("corrupt") : e;
      }
      const keys = openFile(key, KEYS_FILE, KIND_KEYS, keysBytes);
      if (keys.seq < snapshot.seq) throw new FileStoreError("corrupt");
      table = parseKeyTable(keys.plaintext);
      committed = keys.seq;
    }

    // Entry key → what the data files hold for it (a sealed record, or the value in the legacy layout).
    const held = new Map<string, Uint8Array>();
    for (const op of parseOps(snapshot.plaintext)) {
      if (op.value === undefined) throw new FileStoreError("corrupt");
      held.set(op.key, op.value);
    }

    const seqs: number[] = [];
    for (const name of await readdir(dir)) {
      const m = BATCH_NAME.exec(name);
      if (m?.[1] !== undefined) seqs.push(Number(m[1]));
    }
    seqs.sort((a, b) => a - b);
    let last = snapshot.seq;
    let batchBytes = 0;
    const live: number[] = [];
    for (const seq of seqs) {
      const name = batchFileName(seq);
      if (seq <= snapshot.seq || seq === committed + 1) {
        // Folded into the snapshot (a crash after compaction left it behind), or written by a
        // write that crashed before its key table: never committed, its records have no keys.
        await shred(dir, name).catch(() => undefined);
        continue;
      }
      if (seq !== last + 1 || seq > committed) throw new FileStoreError("corrupt");
      const bytes = await readFile(join(dir, name));
      const batch = openFile(key, name, legacy ? KIND_BATCH : KIND_RECORD_BATCH, bytes);
      if (batch.seq !== seq) throw new FileStoreError("corrupt");
      applyOps(held, parseOps(batch.plaintext));
      last = seq;
      batchBytes += bytes.length;
      live.push(seq);
    }

    if (legacy) {
      // First layout: seal every value under a record key now and wipe the old files.
      const entries = new Map<string, SealedEntry>();
      for (const [name, value] of held) entries.set(name, sealRecord(name, value));
      const store = new FileKeyValueStore(dir, key, lock, entries, last, snapshotBytes.length, live, batchBytes);
      await store.upgradeFromLegacy();
      return store;
    }
    if (last !== committed || held.size !== table?.size) throw new FileStoreError("corrupt");
    const entries = new Map<string, SealedEntry>();
    for (const [name, sealed] of held) {
      const r = table.get(name);
      if (r === undefined) throw new FileStoreError("corrupt");
      entries.set(name, openRecord(name, r, sealed));
    }
    return new FileKeyValueStore(dir, key, lock, entries, last, snapshotBytes.length, live, batchBytes);
  } catch (e) {
    await lock.release();
    throw e;
  }
}

function applyOps(entries: Map<string, Uint8Array>, ops: ReadonlyArray<EntryOp>): void {
  for (const op of ops) {
    if (op.value === undefined) entries.delete(op.key);
    else entries.set(op.key, op.value);
  }
}

/**
 * A `KeyValueStore` in one encrypted directory (see the module header). Obtain one from
 * {@link createFileStore} or {@link openFileStore}; `close()` releases the lock.
 */
export class FileKeyValueStore implements KeyValueStore {
  readonly #dir: string;
  readonly #key: Uint8Array;
  readonly #lock: StoreLock;
  readonly #entries: Map<string, SealedEntry>;
  #seq: number;
  #snapshotBytes: number;
  #batches: number[];
  #batchBytes: number;
  #queue: Promise<void> = Promise.resolve();
  #closed = false;

  /** @internal Use createFileStore / openFileStore. */
  constructor(
    dir: string,
    key: Uint8Array,
    lock: StoreLock,
    entries: Map<string, SealedEntry>,
    seq: number,
    snapshotBytes: number,
    batches: number[],
    batchBytes: number,
  ) {
    this.#dir = dir;
    this.#key = key;
    this.#lock = lock;
    this.#entries = entries;
    this.#seq = seq;
    this.#snapshotBytes = snapshotBytes;
    this.#batches = batches;
    this.#batchBytes = batchBytes;
  }

  /**
   * Proof that a process knows this store's passphrase, over a challenge `nonce` (the CLI's
   * local query socket, client/cli/chat-socket.ts): HMAC-SHA256(store key, label ‖ nonce). The
   * key never leaves; {@link proveStoreAccess} computes the same from the passphrase.
   */
  accessProof(nonce: Uint8Array): Uint8Array {
    this.#assertOpen();
    return storeAccessProof(this.#key, nonce);
  }

  /** The value stored under `key`, if any (a copy). */
  async get(key: string): Promise<Uint8Array | undefined> {
    this.#assertOpen();
    return this.#entries.get(key)?.value.slice();
  }

  /** All entries whose key starts with `prefix`, sorted by key (copies). */
  async list(prefix: string): Promise<Array<[string, Uint8Array]>> {
    this.#assertOpen();
    const out: Array<[string, Uint8Array]> = [];
    for (const [k, v] of this.#entries) if (k.startsWith(prefix)) out.push([k, v.value.slice()]);
    out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return out;
  }

  /**
   * Applies `batch` atomically: one new batch file is durable before the in-memory state
   * changes, so a failure (or crash) leaves the store as it was. Writes are serialised.
   */
  async write(batch: ReadonlyArray<KeyValueWrite>): Promise<void> {
    this.#assertOpen();
    const ops: EntryOp[] = [];
    for (const w of batch) {
      if (typeof w.key !== "string") throw new TypeError("key must be a string");
      if (w.value !== undefined && !(w.value instanceof Uint8Array)) throw new TypeError("value must be a Uint8Array");
      ops.push({ key: w.key, value: w.value?.slice() });
    }
    if (ops.length === 0) return;
    const run = this.#queue.then(() => this.#commit(ops));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * One write: the batch file (each value sealed under a fresh record key), then the key table
   * that commits it and overwrites the previous table, so the record keys of every value this
   * write deleted or replaced are gone from disk when it returns.
   */
  async #commit(ops: EntryOp[]): Promise<void> {
    if (this.#closed) throw new FileStoreError("closed");
    const seq = this.#seq + 1;
    const name = batchFileName(seq);
    const next = new Map(this.#entries);
    const fileOps: EntryOp[] = [];
    for (const op of ops) {
      if (op.value === undefined) {
        next.delete(op.key);
        fileOps.push(op);
      } else {
        const entry = sealRecord(op.key, op.value);
        next.set(op.key, entry);
        fileOps.push({ key: op.key, value: entry.sealed });
      }
    }
    const bytes = sealFile(this.#key, name, KIND_RECORD_BATCH, seq, serializeOps(fileOps));
    await writeAtomically(this.#dir, name, bytes);
    await replaceWiping(this.#dir, KEYS_FILE, sealFile(this.#key, KEYS_FILE, KIND_KEYS, seq, serializeKeyTable(next)));
    for (const [k, old] of this.#entries) if (next.get(k) !== old) old.key.fill(0);
    this.#entries.clear();
    for (const [k, v] of next) this.#entries.set(k, v);
    this.#seq = seq;
    this.#batches.push(seq);
    this.#batchBytes += bytes.length;
    if (this.#batchBytes > Math.max(this.#snapshotBytes, COMPACT_MIN_BYTES) || this.#batches.length >= MAX_BATCH_FILES) {
      // The batch is already durable; a failed compaction only postpones the fold, so it must
      // not report the write as failed. The next write tries again.
      await this.#compact().catch(() => undefined);
    }
  }

  /**
   * Folds every batch file into a new snapshot (the sealed records as they are: their keys do
   * not change), overwriting the old snapshot, then overwrites and deletes the batch files.
   */
  async #compact(): Promise<void> {
    const ops: EntryOp[] = [];
    for (const [key, entry] of this.#entries) ops.push({ key, value: entry.sealed });
    const bytes = sealFile(this.#key, SNAPSHOT_FILE, KIND_RECORD_SNAPSHOT, this.#seq, serializeOps(ops));
    await replaceWiping(this.#dir, SNAPSHOT_FILE, bytes);
    for (const seq of this.#batches) await shred(this.#dir, batchFileName(seq)).catch(() => undefined);
    this.#snapshotBytes = bytes.length;
    this.#batches = [];
    this.#batchBytes = 0;
  }

  /**
   * @internal Rewrites a store opened in the first layout: the key table first (a crash before
   * the snapshot leaves the old layout, which is upgraded again next time), then the snapshot
   * in the record layout; the old snapshot and batch files are overwritten.
   */
  async upgradeFromLegacy(): Promise<void> {
    await replaceWiping(this.#dir, KEYS_FILE, sealFile(this.#key, KEYS_FILE, KIND_KEYS, this.#seq, serializeKeyTable(this.#entries)));
    await this.#compact();
  }

  /** Waits for pending writes, then releases the lock. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#queue;
    this.#closed = true;
    this.#key.fill(0);
    for (const entry of this.#entries.values()) entry.key.fill(0);
    await this.#lock.release();
  }

  #assertOpen(): void {
    if (this.#closed) throw new FileStoreError("closed");
  }

  /** Redacted: the store holds the key. */
  toString(): string {
    return "[FileKeyValueStore]";
  }

  /** Redacted. */
  toJSON(): string {
    return "[FileKeyValueStore]";
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return "[FileKeyValueStore]";
  }
}

/**
 * Deletes the store in `dir` (its own files only; the directory stays, it may hold other
 * things). The store must not be open. Used by `securecomm init` to undo a failed creation.
 */
export async function removeFileStore(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if (isMissing(e)) return;
    throw e;
  }
  // Header first: without it the rest is not a store, whatever happens next.
  await unlink(join(dir, HEADER_FILE)).catch((e: unknown) => {
    if (!isMissing(e)) throw e;
  });
  for (const name of names) {
    const base = name.endsWith(TEMP_SUFFIX) ? name.slice(0, -TEMP_SUFFIX.length) : name;
    if (base === SNAPSHOT_FILE || base === KEYS_FILE || base === HEADER_FILE || base === LOCK_FILE || BATCH_NAME.test(base)) {
      await shred(dir, name).catch(() => undefined);
    }
  }
}

/** Label of {@link FileKeyValueStore.accessProof}: separates it from every other use of the key. */
const ACCESS_PROOF_LABEL = new TextEncoder().encode("SecureComm store access proof v1");

function storeAccessProof(key: Uint8Array, nonce: Uint8Array): Uint8Array {
  const data = new Uint8Array(ACCESS_PROOF_LABEL.length + nonce.length);
  data.set(ACCESS_PROOF_LABEL);
  data.set(nonce, ACCESS_PROOF_LABEL.length);
  return hmacSha256(key, data);
}

/**
 * The proof {@link FileKeyValueStore.accessProof} gives, computed from the passphrase without
 * opening (or locking) the store: for a second process while the first holds the lock. Throws
 * `FileStoreError("not_found")` or `("wrong_passphrase")`.
 */
export async function proveStoreAccess(dir: string, passphrase: string, nonce: Uint8Array): Promise<Uint8Array> {
  if (!(await fileStoreExists(dir))) throw new FileStoreError("not_found");
  const headerBytes = await readFile(join(dir, HEADER_FILE));
  if (headerBytes.length > MAX_HEADER_BYTES) throw new FileStoreError("corrupt");
  const key = await unlockHeader(parseHeader(headerBytes.toString("utf8")), passphrase);
  return storeAccessProof(key, nonce);
}
