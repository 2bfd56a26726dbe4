/**
 * The relay's blob storage interface (spec/10-relay-api.md API-60..API-66): encrypted
 * attachments held in chunks, with reservations against byte quotas, atomic append-at-offset,
 * chunked reads and retention. Two implementations, SQLite (relay/store/sqlite-blob-store.ts,
 * its own file beside the relay database) and PostgreSQL (relay/store/postgres-blob-store.ts,
 * tables in the relay's database), both held to one contract suite
 * (relay/store/blob-store.contract.ts). An object store can implement it later.
 *
 * Owns: the record types and the atomicity each method promises. Does not own validation of
 * client input, token comparison or id generation (relay/services/blob-service.ts).
 *
 * Every method that resolves has made its write durable, with one exception (API-62): a chunk
 * that does not complete its blob may be lost to a power failure (never to a process crash);
 * it is lost together with the offset it advanced, so the upload status stays consistent and
 * the client re-sends it. The chunk that completes a blob is durable with every earlier one.
 */

/** A blob as stored. */
export interface BlobRecord {
  blobId: Uint8Array;
  roomId: Uint8Array;
  /** The reserved (exact) size in bytes. */
  size: number;
  /** Bytes received so far (the next chunk's offset). */
  received: number;
  /** SHA-256 of the upload token (kept after completion, so a status call can say so, API-63). */
  uploadTokenHash: Uint8Array;
  /** When the upload was reserved (coarse, API-26). */
  createdAtMs: number;
  /** When the last byte arrived (coarse); undefined while unfinished. */
  completedAtMs: number | undefined;
}

/** What {@link BlobStore.createBlob} stores. */
export interface NewBlob {
  blobId: Uint8Array;
  roomId: Uint8Array;
  size: number;
  uploadTokenHash: Uint8Array;
  createdAtMs: number;
}

/** Byte quotas a reservation checks (API-61): the room's blobs and all blobs. */
export interface BlobQuota {
  maxRoomBytes: number;
  maxTotalBytes: number;
}

/** The outcome of a reservation. */
export type CreateBlobResult = { ok: true } | { ok: false; reason: "room_full" | "storage_full" };

/** The outcome of an append. */
export type AppendChunkResult =
  | { ok: true; received: number; complete: boolean }
  /** No unfinished blob with that id. */
  | { ok: false; reason: "not_found" }
  /** `offset` is not the bytes received; `received` says where the upload stands. */
  | { ok: false; reason: "offset_mismatch"; received: number }
  /** The chunk would pass the reserved size. */
  | { ok: false; reason: "too_large" };

/** A stored piece of a blob. */
export interface BlobChunk {
  offset: number;
  data: Uint8Array;
}

/** The blob storage the BlobService works on (API-60..API-66). */
export interface BlobStore {
  /**
   * Reserves a blob: stores it unfinished unless the room's blobs plus `size` would pass
   * `quota.maxRoomBytes` or all blobs plus `size` would pass `quota.maxTotalBytes` (reserved
   * sizes count, finished or not). Ids are unique (chosen at random by the caller).
   */
  createBlob(blob: NewBlob, quota: BlobQuota): Promise<CreateBlobResult>;
  /** The blob, finished or not, if stored. */
  getBlob(blobId: Uint8Array): Promise<BlobRecord | undefined>;
  /**
   * Appends `data` at `offset` to an unfinished blob, atomically with the check that `offset`
   * equals the bytes received (two appends at one offset store one chunk). When the blob reaches
   * its size it becomes complete at `nowMs` and takes no more chunks.
   */
  appendChunk(blobId: Uint8Array, offset: number, data: Uint8Array, nowMs: number): Promise<AppendChunkResult>;
  /**
   * The stored chunks of a blob that hold bytes at or after `fromOffset`, in order, starting
   * with the one containing `fromOffset`, at most `maxChunks` of them. Callers page with the
   * offset after the last chunk returned.
   */
  readChunks(blobId: Uint8Array, fromOffset: number, maxChunks: number): Promise<BlobChunk[]>;
  /** Blob bytes reserved by the room's blobs and by all blobs. */
  usage(roomId: Uint8Array): Promise<{ roomBytes: number; totalBytes: number }>;
  /**
   * Deletes blobs completed before `nowMs - retentionMs` and unfinished blobs created before
   * `nowMs - uploadWindowMs`, with all their chunks (overwritten, SC-19). Returns how many.
   */
  sweep(nowMs: number, retentionMs: number, uploadWindowMs: number): Promise<number>;
  /** Finishes pending writes and closes. Further calls reject. */
  close(): Promise<void>;
}
