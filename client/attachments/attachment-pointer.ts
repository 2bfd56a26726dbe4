/**
 * Attachment pointers as received (spec/09-rooms.md RM-70, RM-73, RM-75): the checks a pointer
 * passes before it is shown, the plain-data view the app and history keep, and safe local file
 * names for a sender-chosen name.
 *
 * Owns: the pointer limits and `AttachmentView`. Does not own the blob format
 * (attachment-format.ts) or transfer (blob-transfer.ts).
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { type AttachmentPointer, AttachmentPointerSchema } from "../../gen/securecomm/wire/v1/content_pb.js";
import { utf8 } from "../crypto/bytes.js";
import { ProtocolError } from "../errors.js";
import { base64url, fromBase64url } from "../relay/base64url.js";
import { ATTACHMENT_DIGEST_BYTES, ATTACHMENT_KEY_BYTES, blobSizeFor, MAX_ATTACHMENT_BYTES, MAX_BLOB_BYTES } from "./attachment-format.js";

/** RM-70: pointers per message; with the other limits the envelope stays under 64 KiB. */
export const MAX_ATTACHMENTS_PER_MESSAGE = 4;
/** RM-70, RM-74: thumbnail bytes; 4 of them, a full text and the pointers fit one envelope. */
export const MAX_THUMBNAIL_BYTES = 12_000;
/** RM-73: file name bytes (a common file-system limit). */
export const MAX_FILE_NAME_BYTES = 255;
/** RM-73: MIME type bytes (RFC 6838 allows 127 per part; we cap the whole). */
export const MAX_CONTENT_TYPE_BYTES = 127;
/** RM-73: the blob id the relay chose (API-61). */
export const BLOB_ID_BYTES = 32;
/** RM-75: longest local file name we write. */
export const MAX_SAFE_NAME_BYTES = 128;
/** RM-74: thumbnail types a client renders. */
export const THUMBNAIL_TYPES: readonly string[] = ["image/jpeg", "image/png", "image/webp"];

/** An attachment as the app shows and the history keeps it: plain data, no file contents. */
export interface AttachmentView {
  fileName: string;
  contentType: string;
  size: number;
  width: number;
  height: number;
  durationMs: number;
  voiceNote: boolean;
  /** Image preview bytes (already decrypted with the message), if any. */
  thumbnail?: Uint8Array;
  thumbnailType?: string;
  /** Proto{AttachmentPointer}: what `downloadAttachment` needs (key, digest, blob id). */
  pointer: Uint8Array;
}

/** RM-73: whether `p` may be shown; a failing pointer is reported and dropped. */
export function isValidPointer(p: AttachmentPointer): boolean {
  if (p.blobId.length !== BLOB_ID_BYTES || p.key.length !== ATTACHMENT_KEY_BYTES || p.digest.length !== ATTACHMENT_DIGEST_BYTES) return false;
  if (p.size < 1n || p.size > BigInt(MAX_ATTACHMENT_BYTES)) return false;
  const blobSize = Number(p.blobSize);
  if (p.blobSize > BigInt(MAX_BLOB_BYTES) || blobSize < blobSizeFor(Number(p.size)) || (blobSize - 48) % 16 !== 0) return false;
  if (utf8(p.fileName).length > MAX_FILE_NAME_BYTES || utf8(p.contentType).length > MAX_CONTENT_TYPE_BYTES) return false;
  if (p.thumbnail.length > MAX_THUMBNAIL_BYTES) return false;
  if (p.thumbnail.length > 0 && !THUMBNAIL_TYPES.includes(p.thumbnailContentType)) return false;
  return true;
}

/** The view of a valid pointer. */
export function viewOf(p: AttachmentPointer): AttachmentView {
  return {
    fileName: p.fileName,
    contentType: p.contentType,
    size: Number(p.size),
    width: p.width,
    height: p.height,
    durationMs: p.durationMs,
    voiceNote: p.voiceNote,
    ...(p.thumbnail.length > 0 ? { thumbnail: p.thumbnail, thumbnailType: p.thumbnailContentType } : {}),
    pointer: toBinary(AttachmentPointerSchema, p),
  };
}

/** Parses and checks a kept pointer (from a view or history); `attachment_invalid_pointer` otherwise. */
export function parsePointer(bytes: Uint8Array): AttachmentPointer {
  let p: AttachmentPointer;
  try {
    p = fromBinary(AttachmentPointerSchema, bytes);
  } catch {
    throw new ProtocolError("attachment_invalid_pointer");
  }
  if (!isValidPointer(p)) throw new ProtocolError("attachment_invalid_pointer");
  return p;
}

/**
 * RM-75: a local file name for a sender-chosen `name`: last path component only, unsafe
 * characters replaced, no leading dot, at most 128 bytes, `attachment` when nothing is left.
 * The result never contains a path separator and is never `.` or `..`.
 */
export function safeFileName(name: string): string {
  const last = name.split(/[/\\]/).pop() ?? "";
  let out = "";
  for (const ch of last.normalize("NFC")) {
    out += /[\p{L}\p{N} ._\-()]/u.test(ch) ? ch : "_";
  }
  out = out.trim().replace(/^\.+/, (dots) => "_".repeat(dots.length));
  while (utf8(out).length > MAX_SAFE_NAME_BYTES) {
    const dot = out.lastIndexOf(".");
    const ext = dot > 0 && out.length - dot <= 10 ? out.slice(dot) : "";
    out = out.slice(0, Math.max(1, out.length - ext.length - 1)) + ext;
  }
  return out.length === 0 || out === "_" ? "attachment" : out;
}

/** An {@link AttachmentView} as JSON (bytes in base64url): for stores that keep JSON lines. */
export interface AttachmentJson {
  fileName: string;
  contentType: string;
  size: number;
  width: number;
  height: number;
  durationMs: number;
  voiceNote: boolean;
  thumbnail?: string;
  thumbnailType?: string;
  pointer: string;
}

/** The JSON form of a view. */
export function attachmentToJson(v: AttachmentView): AttachmentJson {
  return {
    fileName: v.fileName,
    contentType: v.contentType,
    size: v.size,
    width: v.width,
    height: v.height,
    durationMs: v.durationMs,
    voiceNote: v.voiceNote,
    ...(v.thumbnail !== undefined ? { thumbnail: base64url(v.thumbnail), thumbnailType: v.thumbnailType ?? "" } : {}),
    pointer: base64url(v.pointer),
  };
}

/** A view from its JSON form; undefined unless the kept pointer still passes RM-73. */
export function attachmentFromJson(x: unknown): AttachmentView | undefined {
  if (typeof x !== "object" || x === null) return undefined;
  const j = x as Partial<AttachmentJson>;
  const pointer = typeof j.pointer === "string" ? fromBase64url(j.pointer) : undefined;
  if (pointer === undefined) return undefined;
  let p: AttachmentPointer;
  try {
    p = parsePointer(pointer);
  } catch {
    return undefined;
  }
  // The pointer is the truth; the JSON's copies of its fields are not trusted.
  return viewOf(p);
}
