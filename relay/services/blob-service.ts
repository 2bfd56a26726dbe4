/**
 * BlobService: encrypted attachments, uploaded in unary chunks and downloaded as a stream
 * (blobs.proto, spec/10-relay-api.md API-60..API-66).
 *
 * Owns: the upload rules (room-capability authorization, quotas, ids and upload tokens drawn
 * from the CSPRNG, token hashes compared in constant time, one answer for every refused upload)
 * and the download stream. Does not own storage or its atomicity (BlobStore).
 */
import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  BlobService,
  CreateBlobUploadResponseSchema,
  DownloadBlobResponseSchema,
  GetBlobUploadStatusResponseSchema,
  UploadBlobChunkResponseSchema,
  type DownloadBlobResponse,
} from "../../gen/securecomm/relay/v1/blobs_pb.js";
import { constantTimeEqual, sha256 } from "../auth.js";
import { relayError } from "../errors.js";
import { keyOf } from "../hub/subscription.js";
import { coarseTime } from "../limits.js";
import type { BlobRecord } from "../store/blob-store.js";
import { serverStream, unary, type RelayContext } from "./context.js";
import { authorizeRoom } from "./room-access.js";
import { requireLength } from "./validate.js";

/** Blob id length: 256 bits from the CSPRNG, unguessable (API-61). */
export const BLOB_ID_BYTES = 32;
/** Upload token length (API-61); the relay stores only its SHA-256. */
export const UPLOAD_TOKEN_BYTES = 32;
/** Chunks read from storage per step of a download: bounds the memory one stream holds. */
const DOWNLOAD_CHUNKS_PER_READ = 4;

/** The BlobService implementation (spec/10-relay-api.md API-60..API-66). */
export function createBlobService(rc: RelayContext): ServiceImpl<typeof BlobService> {
  /**
   * API-62, API-63: the upload named by id and token, unexpired (and unfinished unless
   * `finished` is allowed); UPLOAD_DENIED for anything else, one answer for every case.
   */
  const upload = async (blobId: Uint8Array, token: Uint8Array, finished = false): Promise<BlobRecord> => {
    requireLength(blobId, BLOB_ID_BYTES, "BAD_BLOB_ID");
    requireLength(token, UPLOAD_TOKEN_BYTES, "BAD_UPLOAD_TOKEN");
    const blob = await rc.blobs.getBlob(blobId);
    const hash = sha256(token);
    const now = rc.now();
    const ok =
      blob !== undefined &&
      (blob.completedAtMs === undefined ? blob.createdAtMs + rc.limits.blobUploadWindowMs > now : finished && blob.completedAtMs + rc.limits.blobRetentionMs > now) &&
      constantTimeEqual(hash, blob.uploadTokenHash);
    if (!ok) throw relayError("UPLOAD_DENIED");
    return blob;
  };

  return {
    createBlobUpload: unary(rc, async (req) => {
      const { room } = await authorizeRoom(rc.store, req.roomId, req.accessKey);
      if (req.size === 0n || req.size > BigInt(rc.limits.maxBlobBytes)) throw relayError("BAD_BLOB_SIZE");
      const decision = await rc.rateLimiters.blobUploads.take(keyOf(room.roomId), rc.now());
      if (!decision.allowed) throw relayError("RATE_LIMITED", decision.retryAfterMs);
      const blobId = new Uint8Array(randomBytes(BLOB_ID_BYTES));
      const token = new Uint8Array(randomBytes(UPLOAD_TOKEN_BYTES));
      const now = rc.now();
      // SC-18: stored times are coarse; the expiry answered is computed from the stored time.
      const createdAtMs = coarseTime(now, rc.limits.storedTimeGranularityMs);
      const result = await rc.blobs.createBlob(
        { blobId, roomId: room.roomId, size: Number(req.size), uploadTokenHash: sha256(token), createdAtMs },
        { maxRoomBytes: rc.limits.maxRoomBlobBytes, maxTotalBytes: rc.limits.maxStoredBlobBytes },
      );
      if (!result.ok) throw relayError(result.reason === "room_full" ? "ROOM_BLOBS_FULL" : "STORAGE_FULL");
      return create(CreateBlobUploadResponseSchema, {
        blobId,
        uploadToken: token,
        maxChunkBytes: rc.limits.maxBlobChunkBytes,
        uploadExpiresAtMs: BigInt(createdAtMs + rc.limits.blobUploadWindowMs),
      });
    }),

    uploadBlobChunk: unary(rc, async (req) => {
      requireLength(req.blobId, BLOB_ID_BYTES, "BAD_BLOB_ID");
      requireLength(req.uploadToken, UPLOAD_TOKEN_BYTES, "BAD_UPLOAD_TOKEN");
      if (req.data.length === 0 || req.data.length > rc.limits.maxBlobChunkBytes) throw relayError("BAD_CHUNK");
      const blob = await upload(req.blobId, req.uploadToken);
      if (req.offset !== BigInt(blob.received)) throw relayError("BLOB_OFFSET_MISMATCH");
      const completedAtMs = coarseTime(rc.now(), rc.limits.storedTimeGranularityMs);
      const result = await rc.blobs.appendChunk(req.blobId, blob.received, req.data, completedAtMs);
      if (!result.ok) {
        if (result.reason === "offset_mismatch") throw relayError("BLOB_OFFSET_MISMATCH");
        if (result.reason === "too_large") throw relayError("BAD_CHUNK");
        throw relayError("UPLOAD_DENIED");
      }
      return create(UploadBlobChunkResponseSchema, { received: BigInt(result.received), complete: result.complete });
    }),

    getBlobUploadStatus: unary(rc, async (req) => {
      const blob = await upload(req.blobId, req.uploadToken, true);
      return create(GetBlobUploadStatusResponseSchema, { received: BigInt(blob.received), size: BigInt(blob.size), complete: blob.completedAtMs !== undefined });
    }),

    downloadBlob: serverStream(rc, async function* (req, ctx): AsyncGenerator<DownloadBlobResponse> {
      requireLength(req.blobId, BLOB_ID_BYTES, "BAD_BLOB_ID");
      const blob = await rc.blobs.getBlob(req.blobId);
      // An expired blob the sweep has not reached yet is as gone as a swept one (API-65).
      if (blob === undefined || blob.completedAtMs === undefined || blob.completedAtMs + rc.limits.blobRetentionMs <= rc.now()) {
        throw relayError("BLOB_NOT_FOUND");
      }
      if (req.offset > BigInt(blob.size)) throw relayError("BAD_BLOB_OFFSET");
      const size = BigInt(blob.size);
      let offset = Number(req.offset);
      while (offset < blob.size) {
        if (ctx.signal.aborted) return;
        if (rc.lifecycle.closing) throw relayError("SHUTTING_DOWN");
        const chunks = await rc.blobs.readChunks(req.blobId, offset, DOWNLOAD_CHUNKS_PER_READ);
        const before = offset;
        for (const c of chunks) {
          const skip = offset - c.offset;
          if (skip < 0 || skip >= c.data.length) continue;
          const data = c.data.subarray(skip);
          yield create(DownloadBlobResponseSchema, { size, offset: BigInt(offset), data });
          offset += data.length;
        }
        // Swept while streaming (or a store that lost a chunk): end rather than loop.
        if (offset === before) throw relayError("BLOB_NOT_FOUND");
      }
    }),
  };
}
