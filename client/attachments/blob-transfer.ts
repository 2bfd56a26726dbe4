/**
 * Moving encrypted attachments to and from the relay's BlobService (spec/10-relay-api.md
 * API-60..API-64; spec/09-rooms.md RM-72, RM-76): chunked upload that resumes from the offset
 * the relay reports after a dropped connection, streamed download that resumes from the bytes
 * it has, progress callbacks, and the digest check before decryption.
 *
 * Owns: `uploadAttachment`, `downloadAttachment` and their retry bounds. Does not own the format
 * (attachment-format.ts) or the room message that carries the pointer (room engine).
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import type { BlobService } from "../../gen/securecomm/relay/v1/blobs_pb.js";
import { type AttachmentPointer, AttachmentPointerSchema } from "../../gen/securecomm/wire/v1/content_pb.js";
import { ProtocolError } from "../errors.js";
import { isTransientRelayError } from "../relay/transient.js";
import { type AttachmentSealer, receiveAttachment, startAttachmentEncryption } from "./attachment-format.js";
import { parsePointer } from "./attachment-pointer.js";

/** Chunk size we upload (the relay may ask for less, API-60). */
export const UPLOAD_CHUNK_BYTES = 2 * 1024 * 1024;
/** Consecutive failed attempts (without progress) before a transfer gives up. */
export const MAX_TRANSFER_RETRIES = 5;
/** Blob bytes encrypted per step while a chunk is in flight, between turns given to the network. */
const ENCRYPT_AHEAD_STEP_BYTES = 256 * 1024;
/** First wait between retries; doubles each time. */
const RETRY_BASE_MS = 100;

/** Reports bytes done of bytes total. */
export type Progress = (done: number, total: number) => void;

/** A file to send and what its pointer says about it (RM-74). */
export interface OutgoingFile {
  data: Uint8Array;
  fileName?: string;
  contentType?: string;
  width?: number;
  height?: number;
  durationMs?: number;
  voiceNote?: boolean;
  thumbnail?: Uint8Array;
  thumbnailContentType?: string;
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });

/** Lets pending I/O run (the chunk in flight being written) before the next encryption step. */
const yieldToIo = (): Promise<void> => new Promise((resolve) => (globalThis.setImmediate ? globalThis.setImmediate(resolve) : setTimeout(resolve, 0)));

/**
 * While a chunk is in flight, encrypts the blob up to `to` in small steps, giving the network a
 * turn between them, so encryption overlaps the relay's work instead of preceding it. Stops
 * early once `inFlight` settles (then the loop asks for what it needs directly).
 */
async function encryptAhead(sealer: AttachmentSealer, to: number, inFlight: { settled: boolean }): Promise<void> {
  while (!inFlight.settled && sealer.sealed < Math.min(to, sealer.blobSize)) {
    await yieldToIo();
    if (inFlight.settled) return;
    await sealer.bytes(sealer.sealed, Math.min(to, sealer.sealed + ENCRYPT_AHEAD_STEP_BYTES));
  }
}

/** A dropped connection or a busy relay: worth resuming. */
function retryable(e: unknown): boolean {
  return isTransientRelayError(e) || (e instanceof ConnectError && e.code === Code.FailedPrecondition);
}

/**
 * RM-76: encrypts `file`, uploads the blob for `room` (API-61..API-63) and returns the pointer
 * to send. A failed chunk is resumed from the offset the relay reports (GetBlobUploadStatus).
 * Chunks go one at a time, in order (API-62 takes a chunk only at the offset received so
 * far); while one is in flight the next is encrypted (on Node, where encryption is
 * incremental), so the relay's storing and the client's encrypting overlap.
 */
export async function uploadAttachment(
  blobs: Client<typeof BlobService>,
  room: { roomId: Uint8Array; accessKey: Uint8Array },
  file: OutgoingFile,
  options: { onProgress?: Progress; signal?: AbortSignal; chunkBytes?: number } = {},
): Promise<AttachmentPointer> {
  const sealer = startAttachmentEncryption(file.data);
  const total = sealer.blobSize;
  const signal = options.signal;
  const created = await blobs.createBlobUpload({ roomId: room.roomId, accessKey: room.accessKey, size: BigInt(total) }, { signal });
  const chunk = Math.max(1, Math.min(created.maxChunkBytes || UPLOAD_CHUNK_BYTES, options.chunkBytes ?? UPLOAD_CHUNK_BYTES));
  const ids = { blobId: created.blobId, uploadToken: created.uploadToken };
  let offset = 0;
  let failures = 0;
  let complete = false;
  options.onProgress?.(0, total);
  while (!complete) {
    try {
      const data = await sealer.bytes(offset, offset + chunk);
      const inFlight = { settled: false };
      const sent = blobs.uploadBlobChunk({ ...ids, offset: BigInt(offset), data }, { signal }).finally(() => {
        inFlight.settled = true;
      });
      const ahead = encryptAhead(sealer, offset + data.length + chunk, inFlight);
      let r: Awaited<typeof sent>;
      try {
        r = await sent;
      } finally {
        await ahead;
      }
      offset = Number(r.received);
      complete = r.complete;
      failures = 0;
      options.onProgress?.(offset, total);
    } catch (e) {
      if (signal?.aborted || !retryable(e) || ++failures > MAX_TRANSFER_RETRIES) throw e;
      await sleep(RETRY_BASE_MS * 2 ** (failures - 1), signal);
      try {
        // API-63: where the relay stands (a lost answer may have stored the chunk, or finished).
        const st = await blobs.getBlobUploadStatus(ids, { signal });
        offset = Number(st.received);
        complete = st.complete;
      } catch (e2) {
        if (signal?.aborted || !retryable(e2)) throw e2;
      }
    }
  }
  const enc = await sealer.finish();
  return create(AttachmentPointerSchema, {
    blobId: created.blobId,
    key: enc.key,
    digest: enc.digest,
    size: BigInt(enc.size),
    blobSize: BigInt(enc.blob.length),
    fileName: file.fileName ?? "",
    contentType: file.contentType ?? "",
    width: file.width ?? 0,
    height: file.height ?? 0,
    durationMs: file.durationMs ?? 0,
    voiceNote: file.voiceNote ?? false,
    thumbnail: file.thumbnail ?? new Uint8Array(0),
    thumbnailContentType: file.thumbnail ? (file.thumbnailContentType ?? "image/jpeg") : "",
  });
}

/**
 * RM-72: downloads the blob a pointer names (`pointer`: Proto{AttachmentPointer} as kept in a
 * message view), resuming after a dropped stream from the bytes received, and returns the file
 * only if length, digest, MAC and padding all check. Never more than `blob_size` bytes are kept:
 * a relay that sends more is refused (`attachment_truncated`) at once. An unknown or expired
 * blob is `attachment_unavailable`.
 */
export async function downloadAttachment(
  blobs: Client<typeof BlobService>,
  pointer: Uint8Array | AttachmentPointer,
  options: { onProgress?: Progress; signal?: AbortSignal } = {},
): Promise<Uint8Array> {
  // A kept view and a fresh pointer take the same checks (RM-73).
  const p = parsePointer(pointer instanceof Uint8Array ? pointer : toBinary(AttachmentPointerSchema, pointer));
  const total = Number(p.blobSize);
  const blob = receiveAttachment({ key: p.key, digest: p.digest, size: Number(p.size), blobSize: total });
  let received = 0;
  let failures = 0;
  options.onProgress?.(0, total);
  while (received < total) {
    try {
      for await (const piece of blobs.downloadBlob({ blobId: p.blobId, offset: BigInt(received) }, { signal: options.signal })) {
        // The relay says where the piece starts; anything but contiguous bytes within size is refused.
        if (piece.size !== p.blobSize || piece.offset !== BigInt(received) || received + piece.data.length > total) {
          throw new ProtocolError("attachment_truncated");
        }
        blob.append(piece.data);
        received += piece.data.length;
        failures = 0;
        options.onProgress?.(received, total);
      }
      if (received < total) throw new ProtocolError("attachment_truncated");
    } catch (e) {
      if (e instanceof ConnectError && e.code === Code.NotFound) throw new ProtocolError("attachment_unavailable");
      if (options.signal?.aborted || !isTransientRelayError(e) || ++failures > MAX_TRANSFER_RETRIES) throw e;
      await sleep(RETRY_BASE_MS * 2 ** (failures - 1), options.signal);
    }
  }
  return blob.open();
}
