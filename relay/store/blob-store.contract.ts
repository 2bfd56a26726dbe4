// The one contract suite every BlobStore backend passes (STYLE.md: one contract suite per
// interface). relay/store/blob-store.test.ts runs it against SQLite and against PostgreSQL.
//
// Owns: the behaviour relay/store/blob-store.ts promises (API-61..API-65), tested through the
// interface only. Backend specifics (files, secure delete) live in the backend's own tests.

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { BlobStore, NewBlob } from "./blob-store.js";

/** One fresh backing (a directory, a database) that stores can be opened on, again and again. */
export interface BlobStoreBacking {
  open(): Promise<BlobStore>;
  /** Removes the backing; every store opened on it is closed first. */
  destroy(): Promise<void>;
}

const fill = (n: number, v: number): Uint8Array => new Uint8Array(n).fill(v);
const ROOM = fill(16, 1);
const OTHER_ROOM = fill(16, 2);
const QUOTA = { maxRoomBytes: 1_000, maxTotalBytes: 1_500 };
const blob = (id: number, size: number, room = ROOM, createdAtMs = 0): NewBlob => ({
  blobId: fill(32, id),
  roomId: room,
  size,
  uploadTokenHash: fill(32, 100 + id),
  createdAtMs,
});

/** Registers the contract tests for one backend. */
export function describeBlobStoreContract(name: string, fresh: () => Promise<BlobStoreBacking>): void {
  describe(`BlobStore contract: ${name}`, () => {
    let backing: BlobStoreBacking;
    let store: BlobStore;
    beforeEach(async () => {
      backing = await fresh();
      store = await backing.open();
    });
    afterEach(async () => {
      await store.close();
      await backing.destroy();
    });

    it("API-62 reserves a blob, appends chunks at the received offset and completes it at its size", async () => {
      expect(await store.createBlob(blob(1, 10), QUOTA)).toEqual({ ok: true });
      const fresh = await store.getBlob(fill(32, 1));
      expect(fresh).toEqual({ blobId: fill(32, 1), roomId: ROOM, size: 10, received: 0, uploadTokenHash: fill(32, 101), createdAtMs: 0, completedAtMs: undefined });
      expect(await store.appendChunk(fill(32, 1), 0, fill(4, 7), 5)).toEqual({ ok: true, received: 4, complete: false });
      // A repeated chunk (the answer was lost) is refused with where the upload stands.
      expect(await store.appendChunk(fill(32, 1), 0, fill(4, 7), 5)).toEqual({ ok: false, reason: "offset_mismatch", received: 4 });
      expect(await store.appendChunk(fill(32, 1), 5, fill(1, 7), 5)).toEqual({ ok: false, reason: "offset_mismatch", received: 4 });
      expect(await store.appendChunk(fill(32, 1), 4, fill(7, 8), 5)).toEqual({ ok: false, reason: "too_large" });
      expect(await store.appendChunk(fill(32, 1), 4, fill(6, 8), 3_600_000)).toEqual({ ok: true, received: 10, complete: true });
      const done = await store.getBlob(fill(32, 1));
      expect(done?.completedAtMs).toBe(3_600_000);
      expect(done?.uploadTokenHash).toEqual(fill(32, 101));
      expect(done?.received).toBe(10);
      // A finished blob takes no more chunks.
      expect(await store.appendChunk(fill(32, 1), 10, fill(1, 1), 5)).toEqual({ ok: false, reason: "not_found" });
      expect(await store.appendChunk(fill(32, 9), 0, fill(1, 1), 5)).toEqual({ ok: false, reason: "not_found" });
      expect(await store.getBlob(fill(32, 9))).toBeUndefined();
    });

    it("API-64 reads chunks in order from any offset, starting with the chunk that holds it", async () => {
      await store.createBlob(blob(1, 9), QUOTA);
      await store.appendChunk(fill(32, 1), 0, fill(3, 1), 0);
      await store.appendChunk(fill(32, 1), 3, fill(3, 2), 0);
      await store.appendChunk(fill(32, 1), 6, fill(3, 3), 0);
      expect(await store.readChunks(fill(32, 1), 0, 10)).toEqual([
        { offset: 0, data: fill(3, 1) },
        { offset: 3, data: fill(3, 2) },
        { offset: 6, data: fill(3, 3) },
      ]);
      expect(await store.readChunks(fill(32, 1), 4, 1)).toEqual([{ offset: 3, data: fill(3, 2) }]);
      expect(await store.readChunks(fill(32, 1), 6, 10)).toEqual([{ offset: 6, data: fill(3, 3) }]);
      expect(await store.readChunks(fill(32, 2), 0, 10)).toEqual([]);
    });

    it("API-61 refuses a reservation past the room's or the relay's blob quota, storing nothing", async () => {
      expect(await store.createBlob(blob(1, 900), QUOTA)).toEqual({ ok: true });
      expect(await store.createBlob(blob(2, 101), QUOTA)).toEqual({ ok: false, reason: "room_full" });
      expect(await store.getBlob(fill(32, 2))).toBeUndefined();
      expect(await store.createBlob(blob(2, 100), QUOTA)).toEqual({ ok: true });
      expect(await store.createBlob(blob(3, 501, OTHER_ROOM), QUOTA)).toEqual({ ok: false, reason: "storage_full" });
      expect(await store.createBlob(blob(3, 500, OTHER_ROOM), QUOTA)).toEqual({ ok: true });
      expect(await store.usage(ROOM)).toEqual({ roomBytes: 1_000, totalBytes: 1_500 });
      expect(await store.usage(OTHER_ROOM)).toEqual({ roomBytes: 500, totalBytes: 1_500 });
    });

    it("API-62 stores exactly one of several concurrent appends at one offset", async () => {
      await store.createBlob(blob(1, 40), QUOTA);
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => store.appendChunk(fill(32, 1), 0, fill(5, i + 1), 0)));
      const winners = results.filter((r) => r.ok);
      expect(winners).toHaveLength(1);
      const chunks = await store.readChunks(fill(32, 1), 0, 10);
      expect(chunks).toHaveLength(1);
      expect((await store.getBlob(fill(32, 1)))?.received).toBe(5);
    });

    it("API-65 sweeps complete blobs after retention and unfinished ones after the upload window, with their chunks and quota", async () => {
      const H = 3_600_000;
      await store.createBlob(blob(1, 3, ROOM, 0), QUOTA);
      await store.appendChunk(fill(32, 1), 0, fill(3, 1), 1 * H); // complete at 1 h
      await store.createBlob(blob(2, 3, ROOM, 0), QUOTA); // unfinished since 0
      await store.appendChunk(fill(32, 2), 0, fill(1, 2), 0);
      await store.createBlob(blob(3, 3, ROOM, 7 * H), QUOTA); // unfinished since 7 h
      await store.createBlob(blob(4, 3, ROOM, 0), QUOTA);
      await store.appendChunk(fill(32, 4), 0, fill(3, 4), 10 * H); // complete at 10 h
      // At 12 h with retention 10 h and an upload window of 6 h: blobs 1 and 2 go.
      expect(await store.sweep(12 * H, 10 * H, 6 * H)).toBe(2);
      expect(await store.getBlob(fill(32, 1))).toBeUndefined();
      expect(await store.getBlob(fill(32, 2))).toBeUndefined();
      expect(await store.readChunks(fill(32, 1), 0, 10)).toEqual([]);
      expect(await store.readChunks(fill(32, 2), 0, 10)).toEqual([]);
      expect((await store.getBlob(fill(32, 3)))?.size).toBe(3);
      expect((await store.getBlob(fill(32, 4)))?.completedAtMs).toBe(10 * H);
      expect(await store.usage(ROOM)).toEqual({ roomBytes: 6, totalBytes: 6 });
      expect(await store.sweep(12 * H, 10 * H, 6 * H)).toBe(0);
    });

    it("keeps blobs across a reopen (durable when resolved)", async () => {
      await store.createBlob(blob(1, 4), QUOTA);
      await store.appendChunk(fill(32, 1), 0, fill(4, 9), 7);
      await store.close();
      store = await backing.open();
      expect((await store.getBlob(fill(32, 1)))?.completedAtMs).toBe(7);
      expect(await store.readChunks(fill(32, 1), 0, 10)).toEqual([{ offset: 0, data: fill(4, 9) }]);
    });

    it("rejects calls after close", async () => {
      await store.close();
      await expect(store.getBlob(fill(32, 1))).rejects.toThrow();
      store = await backing.open();
    });
  });
}
