/**
 * The PostgreSQL implementation of {@link BlobStore} (spec/10-relay-api.md API-60..API-66), for
 * any number of relay processes sharing one database.
 *
 * Owns: the tables `blobs` and `blob_chunks` and their own schema version
 * (`blob_schema_version`, migrated under its own advisory lock, so blob storage evolves apart
 * from the relay store's migrations), its connection pool, and the row lock that makes
 * append-at-offset atomic across processes (`SELECT … FOR UPDATE` on the blob row). Quota
 * checks serialize on an advisory transaction lock, so concurrent reservations never pass a
 * quota together. Connection failures become {@link StoreUnavailableError}.
 */
import postgres, { type Sql } from "postgres";
import type { AppendChunkResult, BlobRecord, BlobStore } from "./blob-store.js";
import { isUnavailable } from "./postgres-store.js";
import { transaction } from "./postgres-transaction.js";
import { StoreUnavailableError } from "./relay-store.js";

/** Connections per relay process for blobs: chunk writes are few and large. */
export const BLOB_POOL_SIZE = 4;

/** Advisory lock keys: migrations ("SCbmg") and reservations ("SCbrs"). */
const MIGRATION_LOCK_KEY = 0x5343626d67;
const RESERVE_LOCK_KEY = 0x5343627273;

/** Blobs deleted per sweep statement. */
const SWEEP_CHUNK = 50;

const BLOB_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE blobs (
    blob_id bytea PRIMARY KEY,
    room_id bytea NOT NULL,
    size bigint NOT NULL,
    received bigint NOT NULL DEFAULT 0,
    upload_token_hash bytea,
    created_at_ms bigint NOT NULL,
    completed_at_ms bigint
  );
  CREATE INDEX blobs_room ON blobs (room_id);
  CREATE INDEX blobs_completed ON blobs (completed_at_ms);
  CREATE INDEX blobs_created ON blobs (created_at_ms);
  CREATE TABLE blob_chunks (
    blob_id bytea NOT NULL REFERENCES blobs (blob_id) ON DELETE CASCADE,
    "offset" bigint NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (blob_id, "offset")
  );
  `,
];

type Row = Record<string, unknown>;
const bytes = (v: unknown): Uint8Array => {
  if (!(v instanceof Uint8Array)) throw new TypeError("expected a bytea column");
  return new Uint8Array(v);
};
/**
 * A chunk's bytes as the driver returned them (a fresh Buffer per row), viewed rather than
 * copied: a download of a 100 MiB blob would otherwise copy every byte once more for nothing.
 */
const chunkBytes = (v: unknown): Uint8Array => {
  if (!(v instanceof Uint8Array)) throw new TypeError("expected a bytea column");
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
};
const int = (v: unknown): number => {
  if (typeof v === "number") return v;
  if (typeof v === "string" || typeof v === "bigint") return Number(v);
  throw new TypeError("expected an integer column");
};

async function migrate(sql: Sql): Promise<void> {
  await transaction(sql, async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`;
    await tx`CREATE TABLE IF NOT EXISTS blob_schema_version (version integer NOT NULL)`;
    const rows = await tx<{ version: number }[]>`SELECT version FROM blob_schema_version`;
    let version = rows[0]?.version ?? 0;
    if (rows.length === 0) await tx`INSERT INTO blob_schema_version (version) VALUES (0)`;
    if (version > BLOB_MIGRATIONS.length) throw new Error("blob database is newer than this relay");
    while (version < BLOB_MIGRATIONS.length) {
      await tx.unsafe(BLOB_MIGRATIONS[version]!);
      version++;
      await tx`UPDATE blob_schema_version SET version = ${version}`;
    }
  });
}

/** Opens a pool on `url` and brings the blob tables up to date. */
export async function openPostgresBlobStore(options: { url: string }): Promise<BlobStore> {
  const sql = postgres(options.url, {
    max: BLOB_POOL_SIZE,
    onnotice: () => {},
    connect_timeout: 10,
    connection: { application_name: "securecomm-relay-blobs", synchronous_commit: "on" },
  });
  let closed = false;
  const run = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (closed) throw new Error("blob store is closed");
    try {
      return await fn();
    } catch (err) {
      if (isUnavailable(err)) throw new StoreUnavailableError();
      throw err;
    }
  };
  try {
    await migrate(sql);
  } catch (err) {
    await sql.end({ timeout: 1 });
    if (isUnavailable(err)) throw new StoreUnavailableError();
    throw err;
  }

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
    createBlob: (b, q) =>
      run(() =>
        transaction(sql, async (tx) => {
          await tx`SELECT pg_advisory_xact_lock(${RESERVE_LOCK_KEY})`;
          const [u] = await tx<Row[]>`
            SELECT (SELECT coalesce(sum(size), 0) FROM blobs WHERE room_id = ${b.roomId}) AS room,
                   (SELECT coalesce(sum(size), 0) FROM blobs) AS total`;
          if (int(u?.room) + b.size > q.maxRoomBytes) return { ok: false, reason: "room_full" } as const;
          if (int(u?.total) + b.size > q.maxTotalBytes) return { ok: false, reason: "storage_full" } as const;
          await tx`INSERT INTO blobs (blob_id, room_id, size, upload_token_hash, created_at_ms)
                   VALUES (${b.blobId}, ${b.roomId}, ${b.size}, ${b.uploadTokenHash}, ${b.createdAtMs})`;
          return { ok: true } as const;
        }),
      ),
    getBlob: (blobId) =>
      run(async () => {
        const [row] = await sql<Row[]>`SELECT * FROM blobs WHERE blob_id = ${blobId}`;
        return row ? record(row) : undefined;
      }),
    appendChunk: (blobId, offset, data, nowMs) =>
      run(() =>
        transaction(sql, async (tx): Promise<AppendChunkResult> => {
          const [row] = await tx<Row[]>`SELECT size, received, completed_at_ms FROM blobs WHERE blob_id = ${blobId} FOR UPDATE`;
          if (!row || row.completed_at_ms != null) return { ok: false, reason: "not_found" };
          const received = int(row.received);
          const size = int(row.size);
          // API-62: only the completing chunk waits for the WAL flush; an earlier one lost to a
          // server crash is lost with its offset and re-sent after a status call.
          if (received + data.length !== size) await tx`SET LOCAL synchronous_commit = off`;
          if (offset !== received) return { ok: false, reason: "offset_mismatch", received };
          if (received + data.length > size) return { ok: false, reason: "too_large" };
          await tx`INSERT INTO blob_chunks (blob_id, "offset", data) VALUES (${blobId}, ${offset}, ${data})`;
          const next = received + data.length;
          if (next === size) {
            await tx`UPDATE blobs SET received = ${next}, completed_at_ms = ${nowMs} WHERE blob_id = ${blobId}`;
          } else {
            await tx`UPDATE blobs SET received = ${next} WHERE blob_id = ${blobId}`;
          }
          return { ok: true, received: next, complete: next === size };
        }),
      ),
    readChunks: (blobId, fromOffset, maxChunks) =>
      run(async () => {
        const rows = await sql<Row[]>`
          SELECT "offset", data FROM blob_chunks
          WHERE blob_id = ${blobId}
            AND "offset" >= (SELECT coalesce(max("offset"), 0) FROM blob_chunks WHERE blob_id = ${blobId} AND "offset" <= ${fromOffset})
          ORDER BY "offset" LIMIT ${maxChunks}`;
        return rows.map((r) => ({ offset: int(r.offset), data: chunkBytes(r.data) }));
      }),
    usage: (roomId) =>
      run(async () => {
        const [u] = await sql<Row[]>`
          SELECT (SELECT coalesce(sum(size), 0) FROM blobs WHERE room_id = ${roomId}) AS room,
                 (SELECT coalesce(sum(size), 0) FROM blobs) AS total`;
        return { roomBytes: int(u?.room), totalBytes: int(u?.total) };
      }),
    sweep: (nowMs, retentionMs, uploadWindowMs) =>
      run(async () => {
        let n = 0;
        for (;;) {
          const rows = await sql<Row[]>`
            DELETE FROM blobs WHERE blob_id IN (
              SELECT blob_id FROM blobs
              WHERE (completed_at_ms IS NOT NULL AND completed_at_ms < ${nowMs - retentionMs})
                 OR (completed_at_ms IS NULL AND created_at_ms < ${nowMs - uploadWindowMs})
              LIMIT ${SWEEP_CHUNK})
            RETURNING 1 AS x`;
          n += rows.length;
          if (rows.length < SWEEP_CHUNK || closed) return n;
        }
      }),
    close: async () => {
      if (closed) return;
      closed = true;
      await sql.end({ timeout: 5 });
    },
  };
}
