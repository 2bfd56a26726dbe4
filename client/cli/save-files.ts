/**
 * Saving received files for `listen --save-dir DIR` (spec/09-rooms.md RM-75), and reading files
 * for `send --file PATH`.
 *
 * Owns: the local name of a received file (the sender's name made safe, `safeFileName`), the
 * exclusive create that never overwrites, the check that the path stays inside DIR, and the
 * content type guessed from a file name. Does not own downloading or checking the file
 * (client/attachments).
 */
import { constants } from "node:fs";
import { open, realpath, stat } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";
import { safeFileName } from "../attachments/attachment-pointer.js";
import { MAX_ATTACHMENT_BYTES } from "../attachments/attachment-format.js";

/** Tries of `name (n).ext` before giving up on a free name. */
const MAX_NAME_TRIES = 1_000;

/** Content types the CLI recognises by extension; anything else is sent without one. */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".txt": "text/plain",
  ".pdf": "application/pdf",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".mp3": "audio/mpeg",
  ".ogg": "audio/ogg",
  ".webm": "audio/webm",
  ".mp4": "video/mp4",
  ".zip": "application/zip",
  ".json": "application/json",
};

/** The content type of `path` by its extension, or "" when unknown. */
export function contentTypeOf(path: string): string {
  return CONTENT_TYPES[extname(path).toLowerCase()] ?? "";
}

/** Reads a file to send; RangeError when it is empty or over the 100 MiB limit (RM-70). */
export async function readFileToSend(path: string): Promise<{ data: Uint8Array; fileName: string; contentType: string }> {
  const s = await stat(path);
  if (!s.isFile()) throw new RangeError("not a regular file");
  if (s.size < 1 || s.size > MAX_ATTACHMENT_BYTES) throw new RangeError("a file must be 1 byte to 100 MiB");
  const f = await open(path, "r");
  try {
    const data = new Uint8Array(s.size);
    let off = 0;
    while (off < data.length) {
      const { bytesRead } = await f.read(data, off, data.length - off, off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    if (off !== data.length) throw new RangeError("the file changed while it was read");
    return { data, fileName: basename(path), contentType: contentTypeOf(path) };
  } finally {
    await f.close();
  }
}

/**
 * RM-75: writes `data` into `dir` under a safe form of the sender's `name`, never overwriting
 * (` (n)` is added before the extension), and returns the path written. The file is created
 * exclusively (O_EXCL, mode 0600) and its directory is checked to be `dir` itself.
 */
export async function saveReceivedFile(dir: string, name: string, data: Uint8Array): Promise<string> {
  const root = await realpath(dir);
  const safe = safeFileName(name);
  const ext = extname(safe);
  const stem = ext.length > 0 && ext.length < safe.length ? safe.slice(0, -ext.length) : safe;
  for (let n = 0; n < MAX_NAME_TRIES; n++) {
    const candidate = join(root, n === 0 ? safe : `${stem} (${n})${ext}`);
    if (dirname(candidate) !== root) throw new RangeError("unsafe file name");
    let f;
    try {
      f = await open(candidate, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    } catch (e) {
      if ((e as { code?: string }).code === "EEXIST") continue;
      throw e;
    }
    try {
      await f.writeFile(data);
    } finally {
      await f.close();
    }
    return candidate;
  }
  throw new RangeError("no free file name");
}
