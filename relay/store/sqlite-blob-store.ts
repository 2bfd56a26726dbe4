/**
 * The SQLite implementation of {@link BlobStore} (spec/10-relay-api.md API-60..API-66).
 *
 * Owns: the file `<dataDir>/blobs.sqlite3`, kept apart from the relay database so that large
 * chunk writes never hold the relay database's write lock or bloat its WAL; its schema
 * (`PRAGMA user_version`), `synchronous = FULL` for reservations and for the chunk that
 * completes a blob, NORMAL for the chunks before it (durable across a process crash, not a
 * power loss; API-62),
 * `secure_delete` with a truncating checkpoint soon after each deletion (SC-19: a deleted blob
 * leaves no bytes in the files), and the transactions that make append-at-offset atomic.
 */
import { chmodSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { AppendChunkResult, BlobChunk, BlobRecord, BlobStore, CreateBlobResult } from "./blob-store.js";
import { SECURE_DELETE_CHECKPOINT_MS } from "./sqlite-store.js";

/** File name of the blob database inside the data directory. */
export const BLOB_DATABASE_FILE = "blobs.sqlite3";

/** How long a writer waits for a lock held by another connection before failing. */
const BUSY_TIMEOUT_MS = 5_000;

/** WAL pages between automatic checkpoints: 32 MiB at SQLite's 4 KiB pages. */
const WAL_AUTOCHECKPOINT_PAGES = 8192;

/** Blobs deleted per sweep step, each its own short transaction. */
const SWEEP_CHUNK = 50;

/** The schema; index i brings it to version i + 1. Never edit a released one; append. */
const BLOB_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE blobs (
    blob_id BLOB PRIMARY KEY,
    room_id BLOB NOT NULL,
    size INTEGER NOT NULL,
    received INTEGER NOT NULL DEFAULT 0,
    upload_token_hash BLOB,
    created_at_ms INTEGER NOT NULL,
    completed_at_ms INTEGER
  ) WITHOUT ROWID;
  CREATE INDEX blobs_room ON blobs(room_id);
  CREATE INDEX blobs_completed ON blobs(completed_at_ms);
  CREATE INDEX blobs_created ON blobs(created_at_ms);

  CREATE TABLE blob_chunks (
    row INTEGER PRIMARY KEY,
    blob_id BLOB NOT NULL REFERENCES blobs(blob_id) ON DELETE CASCADE,
    offset INTEGER NOT NULL,
    data BLOB NOT NULL,
    UNIQUE (blob_id, offset)
  );

  CREATE TABLE blob_usage (one INTEGER PRIMARY KEY CHECK (one = 1), total_bytes INTEGER NOT NULL);
  INSERT INTO blob_usage (one, total_bytes) VALUES (1, 0);
  CREATE TRIGGER blobs_usage_insert AFTER INSERT ON blobs BEGIN
    UPDATE blob_usage SET total_bytes = total_bytes + NEW.size;
  END;
  CREATE TRIGGER blobs_usage_delete AFTER DELETE ON blobs BEGIN
    UPDATE blob_usage SET total_bytes = total_bytes - OLD.size;
  END;
  `,
];

type Row = Record<string, unknown>;
const bytes = (v: unknown): Uint8Array => {
  if (!(v instanceof Uint8Array)) throw new TypeError("expected a BLOB column");
  return new Uint8Array(v);
};
/**
 * A chunk's bytes as the driver returned them (a fresh Buffer per row), viewed rather than
 * copied: a download of a 100 MiB blob would otherwise copy every byte once more for nothing.
 */
const chunkBytes = (v: unknown): Uint8Array => {
  if (!(v instanceof Uint8Array)) throw new TypeError("expected a BLOB column");
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
};
const int = (v: unknown): number => {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  throw new TypeError("expected an INTEGER column");
};

/** Opens (creating and migrating if needed) the blob database in `dataDir`. */
export function openSqliteBlobStore(options: { dataDir: string }): BlobStore & { readonly path: string } {
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const path = join(options.dataDir, BLOB_DATABASE_FILE);
  const db = new Database(path);
  chmodSync(path, 0o600);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.pragma("secure_delete = ON");
  db.pragma("foreign_keys = ON");
  // Checkpoints sync the database file: with 2 MiB chunks the default (4 MiB of WAL) would
  // checkpoint every other chunk. The WAL is truncated after deletions anyway (SC-19).
  db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  const version = db.pragma("user_version", { simple: true }) as number;
  if (version > BLOB_MIGRATIONS.length) {
    db.close();
    throw new Error("blob database is newer than this relay");
  }
  db.transaction(() => {
    for (let v = version; v < BLOB_MIGRATIONS.length; v++) {
      db.exec(BLOB_MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    }
  }).immediate();

  const s = {
    insert: db.prepare("INSERT INTO blobs (blob_id, room_id, size, upload_token_hash, created_at_ms) VALUES (?, ?, ?, ?, ?)"),
    get: db.prepare("SELECT blob_id, room_id, size, received, upload_token_hash, created_at_ms, completed_at_ms FROM blobs WHERE blob_id = ?"),
    roomBytes: db.prepare("SELECT coalesce(sum(size), 0) AS n FROM blobs WHERE room_id = ?"),
    totalBytes: db.prepare("SELECT total_bytes AS n FROM blob_usage"),
    putChunk: db.prepare("INSERT INTO blob_chunks (blob_id, offset, data) VALUES (?, ?, ?)"),
    advance: db.prepare("UPDATE blobs SET received = ? WHERE blob_id = ?"),
    complete: db.prepare("UPDATE blobs SET received = ?, completed_at_ms = ? WHERE blob_id = ?"),
    read: db.prepare(
      "SELECT offset, data FROM blob_chunks WHERE blob_id = @id AND offset >= (SELECT coalesce(max(offset), 0) FROM blob_chunks WHERE blob_id = @id AND offset <= @from) ORDER BY offset LIMIT @n",
    ),
    expired: db.prepare(
      `SELECT blob_id FROM blobs WHERE (completed_at_ms IS NOT NULL AND completed_at_ms < ?) OR (completed_at_ms IS NULL AND created_at_ms < ?) LIMIT ${SWEEP_CHUNK}`,
    ),
    delete: db.prepare("DELETE FROM blobs WHERE blob_id = ?"),
  };

  let closed = false;
  let checkpointTimer: NodeJS.Timeout | undefined;
  const checkpointNow = (): void => {
    checkpointTimer = undefined;
    if (closed) return;
    const [result] = db.pragma("wal_checkpoint(TRUNCATE)") as { busy: number }[];
    if (result && result.busy !== 0) deleted();
  };
  const deleted = (): void => {
    if (checkpointTimer || closed) return;
    checkpointTimer = setTimeout(checkpointNow, SECURE_DELETE_CHECKPOINT_MS);
    checkpointTimer.unref();
  };
  const now = <T>(fn: () => T): Promise<T> => {
    try {
      if (closed) throw new Error("blob store is closed");
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err);
    }
  };

  const createTx = db.transaction((b: Parameters<BlobStore["createBlob"]>[0], q: Parameters<BlobStore["createBlob"]>[1]): CreateBlobResult => {
    if (int((s.roomBytes.get(b.roomId) as Row).n) + b.size > q.maxRoomBytes) return { ok: false, reason: "room_full" };
    if (int((s.totalBytes.get() as Row).n) + b.size > q.maxTotalBytes) return { ok: false, reason: "storage_full" };
    s.insert.run(b.blobId, b.roomId, b.size, b.uploadTokenHash, b.createdAtMs);
    return { ok: true };
  });

  const appendTx = db.transaction((blobId: Uint8Array, offset: number, data: Uint8Array, nowMs: number): AppendChunkResult => {
    const row = s.get.get(blobId) as Row | undefined;
    if (!row || row.completed_at_ms != null) return { ok: false, reason: "not_found" };
    const received = int(row.received);
    const size = int(row.size);
    if (offset !== received) return { ok: false, reason: "offset_mismatch", received };
    if (received + data.length > size) return { ok: false, reason: "too_large" };
    s.putChunk.run(blobId, offset, data);
    const next = received + data.length;
    if (next === size) s.complete.run(next, nowMs, blobId);
    else s.advance.run(next, blobId);
    return { ok: true, received: next, complete: next === size };
  });

  const record = (row: Row): BlobRecord => ({
    blobId: bytes(row.blob_id),
    roomId: bytes(row.room_id),
    size: int(row.size),
    received: int(row.received),
    uploadTokenHash: bytes(row.upload_token_hash),
    createdAtMs: int(row.created_at_ms),
    completedAtMs: row.completed_at_ms == null ? undefined : int(row.completed_at_ms),
  });

  return {
    path,
    createBlob: (blob, quota) => now(() => createTx.immediate(blob, quota)),
    getBlob: (blobId) =>
      now(() => {
        const row = s.get.get(blobId) as Row | undefined;
        return row ? record(row) : undefined;
      }),
    appendChunk: (blobId, offset, data, nowMs) =>
      now(() => {
        // API-62: the chunk that completes a blob commits with a full sync (which also covers
        // every earlier frame of the WAL); intermediate chunks commit without waiting for the
        // disk. A crash loses at most whole trailing chunks, with their offset, so the client's
        // status call (API-63) resumes before them; a complete blob is never lost.
        const row = s.get.get(blobId) as Row | undefined;
        const completes = row !== undefined && int(row.received) + data.length === int(row.size);
        db.pragma(`synchronous = ${completes ? "FULL" : "NORMAL"}`);
        try {
          return appendTx.immediate(blobId, offset, data, nowMs);
        } finally {
          db.pragma("synchronous = FULL");
        }
      }),
    readChunks: (blobId, fromOffset, maxChunks) =>
      now(() => (s.read.all({ id: blobId, from: fromOffset, n: maxChunks }) as Row[]).map((r): BlobChunk => ({ offset: int(r.offset), data: chunkBytes(r.data) }))),
    usage: (roomId) => now(() => ({ roomBytes: int((s.roomBytes.get(roomId) as Row).n), totalBytes: int((s.totalBytes.get() as Row).n) })),
    sweep: async (nowMs, retentionMs, uploadWindowMs) => {
      let n = 0;
      for (;;) {
        if (closed) return n;
        const ids = (s.expired.all(nowMs - retentionMs, nowMs - uploadWindowMs) as Row[]).map((r) => bytes(r.blob_id));
        if (ids.length === 0) break;
        db.transaction(() => {
          for (const id of ids) n += s.delete.run(id).changes;
        }).immediate();
        deleted();
        // Yield between steps: a large sweep never blocks the event loop for long.
        await new Promise((r) => setImmediate(r));
      }
      return n;
    },
    close: async () => {
      if (closed) return;
      if (checkpointTimer) clearTimeout(checkpointTimer);
      closed = true;
      db.pragma("wal_checkpoint(TRUNCATE)");
      db.close();
    },
  };
}
