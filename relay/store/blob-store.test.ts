// Runs the BlobStore contract (relay/store/blob-store.contract.ts) against both backends, and
// the SQLite backend's secure deletion (SC-19, API-65): a swept blob's bytes are gone from the
// files.
import { readdirSync, readFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createTestDatabase } from "../testing/postgres-database.js";
import { describeBlobStoreContract } from "./blob-store.contract.js";
import { openPostgresBlobStore } from "./postgres-blob-store.js";
import { openSqliteBlobStore } from "./sqlite-blob-store.js";

describeBlobStoreContract("SQLite", async () => {
  const dir = mkdtempSync(join(tmpdir(), "securecomm-blobs-"));
  return {
    open: async () => openSqliteBlobStore({ dataDir: dir }),
    destroy: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

describeBlobStoreContract("PostgreSQL", async () => {
  const db = await createTestDatabase();
  return {
    open: () => openPostgresBlobStore({ url: db.url }),
    destroy: () => db.drop(),
  };
});

describe("SQLite blob store files", () => {
  it("API-65 SC-19 a swept blob leaves none of its bytes in the database files", async () => {
    const dir = mkdtempSync(join(tmpdir(), "securecomm-blobs-"));
    try {
      const store = openSqliteBlobStore({ dataDir: dir });
      // A recognisable pattern, unlikely to occur by chance in SQLite's pages.
      const marker = new Uint8Array(4096);
      for (let i = 0; i < marker.length; i++) marker[i] = (i * 131 + 17) & 0xff;
      const id = new Uint8Array(32).fill(5);
      await store.createBlob({ blobId: id, roomId: new Uint8Array(16), size: marker.length, uploadTokenHash: new Uint8Array(32), createdAtMs: 0 }, { maxRoomBytes: 1e9, maxTotalBytes: 1e9 });
      await store.appendChunk(id, 0, marker, 0);
      const needle = Buffer.from(marker.subarray(1000, 1064));
      const found = (): boolean => readdirSync(dir).some((f) => readFileSync(join(dir, f)).includes(needle));
      expect(found()).toBe(true);
      expect(await store.sweep(10_000, 1, 1)).toBe(1);
      await store.close(); // checkpoints and truncates the WAL
      expect(found()).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
