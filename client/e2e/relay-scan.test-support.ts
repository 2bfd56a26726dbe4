/**
 * Scans the relay's data directory byte for byte (relay.sqlite3, its -wal and -shm files and
 * anything else there) for values that must never reach the relay (spec API-26, RM-18):
 * plaintexts, display names, room secrets. Tests only.
 */

import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { base64url } from "../relay/base64url.js";
import { bytesToHex } from "../crypto/bytes.js";

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  return Buffer.from(hay.buffer, hay.byteOffset, hay.byteLength).indexOf(Buffer.from(needle));
}

/** Every (file, needle) pair where a needle occurs in a file of `dataDir`; files scanned too. */
export async function scanRelayData(
  dataDir: string,
  needles: ReadonlyArray<string | Uint8Array>,
): Promise<{ files: string[]; bytes: number; hits: string[] }> {
  const files = await readdir(dataDir);
  const forms: Array<{ label: string; bytes: Uint8Array }> = [];
  for (const n of needles) {
    if (typeof n === "string") {
      forms.push({ label: `text#${forms.length}`, bytes: new TextEncoder().encode(n) });
    } else {
      forms.push({ label: `bytes#${forms.length}`, bytes: n });
      forms.push({ label: `hex#${forms.length}`, bytes: new TextEncoder().encode(bytesToHex(n)) });
      forms.push({ label: `b64#${forms.length}`, bytes: new TextEncoder().encode(base64url(n)) });
    }
  }
  const hits: string[] = [];
  let bytes = 0;
  const scanned: string[] = [];
  for (const f of files) {
    let data: Uint8Array;
    try {
      data = await readFile(join(dataDir, f));
    } catch {
      continue; // a directory or a file that vanished (the -shm after close)
    }
    scanned.push(f);
    bytes += data.length;
    for (const form of forms) if (indexOf(data, form.bytes) >= 0) hits.push(`${f}:${form.label}`);
  }
  return { files: scanned, bytes, hits };
}
