/**
 * Turning browser files into attachments (spec/09-rooms.md RM-70, RM-74): reads a `File`,
 * and for an image measures it and draws a JPEG thumbnail that fits the pointer's budget; and
 * back: bytes to a `blob:` URL for viewing, playing or saving.
 *
 * Owns: the thumbnail size and quality steps. Does not own encryption or transfer
 * (client/attachments, through the session).
 */
import type { OutgoingFile } from "../../../client/app/securecomm-client.js";

/** Longest thumbnail side in CSS pixels (RM-74). */
export const THUMBNAIL_MAX_SIDE = 160;
/** Thumbnail byte budget (client/attachments MAX_THUMBNAIL_BYTES, RM-70). */
export const THUMBNAIL_MAX_BYTES = 12_000;
/** JPEG qualities tried in turn until the thumbnail fits the budget. */
const THUMBNAIL_QUALITIES = [0.8, 0.6, 0.4, 0.25];
/** Largest file the app sends (RM-70). */
export const MAX_FILE_BYTES = 100 * 1024 * 1024;

async function thumbnailOf(file: Blob): Promise<{ width: number; height: number; thumbnail?: Uint8Array } | undefined> {
  if (typeof createImageBitmap !== "function") return undefined;
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    return undefined; // not an image this browser can decode: sent as a plain file
  }
  const { width, height } = bitmap;
  const scale = Math.min(1, THUMBNAIL_MAX_SIDE / Math.max(width, height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(width * scale));
  canvas.height = Math.max(1, Math.round(height * scale));
  canvas.getContext("2d")?.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  for (const q of THUMBNAIL_QUALITIES) {
    const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, "image/jpeg", q));
    if (blob && blob.size <= THUMBNAIL_MAX_BYTES) return { width, height, thumbnail: new Uint8Array(await blob.arrayBuffer()) };
  }
  return { width, height };
}

/** Reads `file` into an attachment to send; images get their size and a thumbnail. */
export async function prepareFile(file: File): Promise<OutgoingFile> {
  if (file.size < 1 || file.size > MAX_FILE_BYTES) throw new RangeError("file-size");
  const data = new Uint8Array(await file.arrayBuffer());
  const out: OutgoingFile = { data, fileName: file.name || "file", contentType: file.type };
  if (file.type.startsWith("image/")) {
    const t = await thumbnailOf(file);
    if (t) Object.assign(out, { width: t.width, height: t.height }, t.thumbnail ? { thumbnail: t.thumbnail, thumbnailContentType: "image/jpeg" } : {});
  }
  return out;
}

/** A voice note recorded in the app. */
export function voiceNote(data: Uint8Array, contentType: string, durationMs: number): OutgoingFile {
  const ext = contentType.includes("ogg") ? "ogg" : contentType.includes("mp4") ? "m4a" : "webm";
  return { data, fileName: `voice-note.${ext}`, contentType, durationMs: Math.round(durationMs), voiceNote: true };
}

/** A `blob:` URL for bytes of a given type (revoke it when done). */
export function blobUrl(bytes: Uint8Array, type: string): string {
  return URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: type || "application/octet-stream" }));
}

/** A human size: "12 KB", "3.4 MB". */
export function formatSize(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1_000_000) return `${Math.round(n / 1000)} KB`;
  return `${(n / 1_000_000).toFixed(1)} MB`;
}
