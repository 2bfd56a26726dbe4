// BlobService (spec/10-relay-api.md API-60..API-66) on a real relay (real SQLite files) behind
// an in-memory Connect transport with a controllable clock: authorization by room capability
// and upload token, resumable chunked uploads, streamed downloads, quotas, retention, and
// typed errors that change nothing.
import { Code } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sha256 } from "../auth.js";
import { retryAfterMs } from "../errors.js";
import { expectRelayError, openHarness, randomId, randomKey, registerAccount, type Harness, type TestAccount } from "./harness.test-support.js";
import type { RelayOptions } from "./index.js";

let h: Harness;
let a: TestAccount;
const open = async (options: Partial<RelayOptions> = {}) => {
  h = await openHarness(options);
  a = await registerAccount(h);
};
beforeEach(async () => {
  await open();
});
afterEach(async () => {
  await h.close();
});

async function room() {
  const roomId = randomId();
  const accessKey = randomKey();
  await h.rooms.createRoom({ roomId, accessKeyHash: sha256(accessKey) }, { headers: a.headers });
  return { roomId, accessKey };
}
const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);

async function download(blobId: Uint8Array, offset = 0n): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const m of h.blobs.downloadBlob({ blobId, offset })) parts.push(m.data);
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}

async function upload(r: { roomId: Uint8Array; accessKey: Uint8Array }, data: Uint8Array, chunk = 1000) {
  const c = await h.blobs.createBlobUpload({ ...r, size: BigInt(data.length) });
  for (let off = 0; off < data.length; off += chunk) {
    await h.blobs.uploadBlobChunk({ blobId: c.blobId, uploadToken: c.uploadToken, offset: BigInt(off), data: data.subarray(off, off + chunk) });
  }
  return c;
}

describe("BlobService (API-60..API-66)", () => {
  it("API-61 API-62 API-64: a blob uploaded in chunks downloads whole and from any offset", async () => {
    const r = await room();
    const data = bytes(2500);
    const c = await h.blobs.createBlobUpload({ ...r, size: 2500n });
    expect(c.blobId).toHaveLength(32);
    expect(c.uploadToken).toHaveLength(32);
    expect(c.maxChunkBytes).toBe(h.relay.limits.maxBlobChunkBytes);
    // Not downloadable until complete.
    await expectRelayError(download(c.blobId), Code.NotFound, "BLOB_NOT_FOUND");
    const r1 = await h.blobs.uploadBlobChunk({ blobId: c.blobId, uploadToken: c.uploadToken, offset: 0n, data: data.subarray(0, 1000) });
    expect(r1).toMatchObject({ received: 1000n, complete: false });
    await h.blobs.uploadBlobChunk({ blobId: c.blobId, uploadToken: c.uploadToken, offset: 1000n, data: data.subarray(1000, 2000) });
    const r3 = await h.blobs.uploadBlobChunk({ blobId: c.blobId, uploadToken: c.uploadToken, offset: 2000n, data: data.subarray(2000) });
    expect(r3).toMatchObject({ received: 2500n, complete: true });
    expect(await download(c.blobId)).toEqual(data);
    expect(await download(c.blobId, 1234n)).toEqual(data.subarray(1234));
    expect(await download(c.blobId, 2500n)).toEqual(new Uint8Array(0));
    await expectRelayError(download(c.blobId, 2501n), Code.InvalidArgument, "BAD_BLOB_OFFSET");
    // Two uploads never share an id.
    const other = await h.blobs.createBlobUpload({ ...r, size: 1n });
    expect(other.blobId).not.toEqual(c.blobId);
  });

  it("API-63: after a lost answer the client asks where the upload stands and resumes; a finished upload says so", async () => {
    const r = await room();
    const data = bytes(3000);
    const c = await h.blobs.createBlobUpload({ ...r, size: 3000n });
    const ids = { blobId: c.blobId, uploadToken: c.uploadToken };
    await h.blobs.uploadBlobChunk({ ...ids, offset: 0n, data: data.subarray(0, 1000) });
    // The chunk at 1000 was stored but its answer "lost": a repeat is refused, nothing stored twice.
    await h.blobs.uploadBlobChunk({ ...ids, offset: 1000n, data: data.subarray(1000, 2000) });
    await expectRelayError(h.blobs.uploadBlobChunk({ ...ids, offset: 1000n, data: data.subarray(1000, 2000) }), Code.FailedPrecondition, "BLOB_OFFSET_MISMATCH");
    await expectRelayError(h.blobs.uploadBlobChunk({ ...ids, offset: 2500n, data: data.subarray(2500) }), Code.FailedPrecondition, "BLOB_OFFSET_MISMATCH");
    expect(await h.blobs.getBlobUploadStatus(ids)).toMatchObject({ received: 2000n, size: 3000n, complete: false });
    await h.blobs.uploadBlobChunk({ ...ids, offset: 2000n, data: data.subarray(2000) });
    expect(await h.blobs.getBlobUploadStatus(ids)).toMatchObject({ received: 3000n, complete: true });
    expect(await download(c.blobId)).toEqual(data);
    // A finished upload takes no more chunks.
    await expectRelayError(h.blobs.uploadBlobChunk({ ...ids, offset: 3000n, data: bytes(1) }), Code.PermissionDenied, "UPLOAD_DENIED");
  });

  it("API-61: an upload needs the room's access key; bad sizes and ids are invalid_argument; nothing is reserved", async () => {
    const r = await room();
    await expectRelayError(h.blobs.createBlobUpload({ roomId: r.roomId, accessKey: randomKey(), size: 10n }), Code.PermissionDenied, "ROOM_ACCESS_DENIED");
    await expectRelayError(h.blobs.createBlobUpload({ roomId: randomId(), accessKey: r.accessKey, size: 10n }), Code.NotFound, "ROOM_NOT_FOUND");
    await expectRelayError(h.blobs.createBlobUpload({ roomId: r.roomId.slice(1), accessKey: r.accessKey, size: 10n }), Code.InvalidArgument, "BAD_ROOM_ID");
    await expectRelayError(h.blobs.createBlobUpload({ roomId: r.roomId, accessKey: r.accessKey.slice(1), size: 10n }), Code.InvalidArgument, "BAD_ACCESS_KEY");
    await expectRelayError(h.blobs.createBlobUpload({ ...r, size: 0n }), Code.InvalidArgument, "BAD_BLOB_SIZE");
    await expectRelayError(h.blobs.createBlobUpload({ ...r, size: BigInt(h.relay.limits.maxBlobBytes + 1) }), Code.InvalidArgument, "BAD_BLOB_SIZE");
    // The rotated-away key no longer uploads.
    const newKey = randomKey();
    await h.rooms.rotateRoomAccessKey({ ...r, newAccessKeyHash: sha256(newKey) });
    await expectRelayError(h.blobs.createBlobUpload({ ...r, size: 10n }), Code.PermissionDenied, "ROOM_ACCESS_DENIED");
    await h.blobs.createBlobUpload({ roomId: r.roomId, accessKey: newKey, size: 10n });
  });

  it("API-62: a wrong token, an unknown id and a malformed chunk are refused alike and store nothing", async () => {
    const r = await room();
    const c = await h.blobs.createBlobUpload({ ...r, size: 100n });
    const ids = { blobId: c.blobId, uploadToken: c.uploadToken };
    await expectRelayError(h.blobs.uploadBlobChunk({ blobId: c.blobId, uploadToken: randomKey(), offset: 0n, data: bytes(10) }), Code.PermissionDenied, "UPLOAD_DENIED");
    await expectRelayError(h.blobs.uploadBlobChunk({ blobId: randomKey(), uploadToken: c.uploadToken, offset: 0n, data: bytes(10) }), Code.PermissionDenied, "UPLOAD_DENIED");
    await expectRelayError(h.blobs.getBlobUploadStatus({ blobId: c.blobId, uploadToken: randomKey() }), Code.PermissionDenied, "UPLOAD_DENIED");
    await expectRelayError(h.blobs.uploadBlobChunk({ ...ids, blobId: c.blobId.slice(1), offset: 0n, data: bytes(10) }), Code.InvalidArgument, "BAD_BLOB_ID");
    await expectRelayError(h.blobs.uploadBlobChunk({ ...ids, uploadToken: c.uploadToken.slice(1), offset: 0n, data: bytes(10) }), Code.InvalidArgument, "BAD_UPLOAD_TOKEN");
    await expectRelayError(h.blobs.uploadBlobChunk({ ...ids, offset: 0n, data: new Uint8Array(0) }), Code.InvalidArgument, "BAD_CHUNK");
    await expectRelayError(h.blobs.uploadBlobChunk({ ...ids, offset: 0n, data: bytes(101) }), Code.InvalidArgument, "BAD_CHUNK");
    await expectRelayError(download(randomKey()), Code.NotFound, "BLOB_NOT_FOUND");
    await expectRelayError(download(randomId()), Code.InvalidArgument, "BAD_BLOB_ID");
    expect(await h.blobs.getBlobUploadStatus(ids)).toMatchObject({ received: 0n, complete: false });
  });

  it("API-61: reservations count against the room's and the relay's blob quotas; the rate is limited per room", async () => {
    await h.close();
    await open({ limits: { maxRoomBlobBytes: 1000, maxStoredBlobBytes: 1500, maxBlobUploadsPerMinute: 5 } });
    const r1 = await room();
    const r2 = await room();
    await h.blobs.createBlobUpload({ ...r1, size: 900n });
    const full = await expectRelayError(h.blobs.createBlobUpload({ ...r1, size: 101n }), Code.ResourceExhausted, "ROOM_BLOBS_FULL");
    expect(retryAfterMs(full)).toBeGreaterThan(0);
    await h.blobs.createBlobUpload({ ...r1, size: 100n });
    await expectRelayError(h.blobs.createBlobUpload({ ...r2, size: 501n }), Code.ResourceExhausted, "STORAGE_FULL");
    await h.blobs.createBlobUpload({ ...r2, size: 500n });
    for (let i = 0; i < 3; i++) await expectRelayError(h.blobs.createBlobUpload({ ...r1, size: 1n }), Code.ResourceExhausted, i < 2 ? "ROOM_BLOBS_FULL" : "RATE_LIMITED");
  });

  it("API-65: unfinished uploads expire after the window and complete blobs after retention; the sweep frees their quota", async () => {
    const r = await room();
    const done = await upload(r, bytes(50));
    const pending = await h.blobs.createBlobUpload({ ...r, size: 50n });
    const HOUR = 3_600_000;
    h.clock.now += h.relay.limits.blobUploadWindowMs + HOUR;
    await expectRelayError(h.blobs.uploadBlobChunk({ blobId: pending.blobId, uploadToken: pending.uploadToken, offset: 0n, data: bytes(5) }), Code.PermissionDenied, "UPLOAD_DENIED");
    expect(await download(done.blobId)).toEqual(bytes(50));
    expect((await h.relay.sweep()).blobs).toBe(1);
    h.clock.now += h.relay.limits.blobRetentionMs;
    // Expired: gone at once, even before the sweep reaches it.
    await expectRelayError(download(done.blobId), Code.NotFound, "BLOB_NOT_FOUND");
    expect((await h.relay.sweep()).blobs).toBe(1);
    await expectRelayError(download(done.blobId), Code.NotFound, "BLOB_NOT_FOUND");
  });

  it("API-66: the relay never logs blob ids, tokens or contents", async () => {
    const r = await room();
    const c = await upload(r, bytes(100));
    await download(c.blobId);
    await expectRelayError(h.blobs.uploadBlobChunk({ blobId: c.blobId, uploadToken: randomKey(), offset: 0n, data: bytes(1) }), Code.PermissionDenied, "UPLOAD_DENIED");
    const log = h.logLines.join("\n");
    for (const secret of [c.blobId, c.uploadToken, r.roomId, r.accessKey]) {
      expect(log).not.toContain(Buffer.from(secret).toString("hex"));
      expect(log).not.toContain(Buffer.from(secret).toString("base64").slice(0, 20));
    }
  });
});

describe("BlobService on PostgreSQL (two relay processes, one database)", () => {
  it("API-62 API-63 API-64: an upload started on one relay resumes on another and downloads from either", async () => {
    const { createTestDatabase } = await import("../testing/postgres-database.js");
    const db = await createTestDatabase();
    const one = await openHarness({ databaseUrl: db.url });
    const two = await openHarness({ databaseUrl: db.url });
    try {
      const acct = await registerAccount(one);
      const roomId = randomId();
      const accessKey = randomKey();
      await one.rooms.createRoom({ roomId, accessKeyHash: sha256(accessKey) }, { headers: acct.headers });
      const data = bytes(5000, 3);
      const c = await one.blobs.createBlobUpload({ roomId, accessKey, size: 5000n });
      const ids = { blobId: c.blobId, uploadToken: c.uploadToken };
      await one.blobs.uploadBlobChunk({ ...ids, offset: 0n, data: data.subarray(0, 2000) });
      // The connection to the first relay dropped: the second one knows where the upload stands.
      expect(await two.blobs.getBlobUploadStatus(ids)).toMatchObject({ received: 2000n, complete: false });
      await expectRelayError(two.blobs.uploadBlobChunk({ ...ids, offset: 0n, data: data.subarray(0, 2000) }), Code.FailedPrecondition, "BLOB_OFFSET_MISMATCH");
      expect(await two.blobs.uploadBlobChunk({ ...ids, offset: 2000n, data: data.subarray(2000) })).toMatchObject({ received: 5000n, complete: true });
      for (const h2 of [one, two]) {
        const parts: Uint8Array[] = [];
        for await (const m of h2.blobs.downloadBlob({ blobId: c.blobId, offset: 0n })) parts.push(m.data);
        expect(Buffer.concat(parts).equals(Buffer.from(data))).toBe(true);
      }
    } finally {
      await one.close();
      await two.close();
      await db.drop();
    }
  });
});
