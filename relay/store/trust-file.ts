/**
 * The SQLite backend's trust material: the file `<dataDir>/trust-root.json` (mode 0600), as
 * every earlier release wrote it (spec/08-sealed-sender.md SS-05).
 *
 * Owns: reading the file and creating it atomically (written to a temporary file, flushed,
 * then linked into place only if absent, so a crash never leaves half a key and a second
 * writer never replaces the first). Does not own the format (relay/trust/trust-root.ts).
 */
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";

/** File name of the persisted trust material inside the data directory. */
export const TRUST_FILE = "trust-root.json";

/** The stored trust material, or undefined when the file does not exist. */
export function readTrustFile(dataDir: string): Uint8Array | undefined {
  try {
    return new Uint8Array(readFileSync(join(dataDir, TRUST_FILE)));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** Creates the file with `candidate` unless it exists; returns the file's content afterwards. */
export function claimTrustFile(dataDir: string, candidate: Uint8Array): Uint8Array {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, TRUST_FILE);
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, candidate);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  } finally {
    unlinkSync(tmp);
  }
  const dirFd = openSync(dataDir, "r");
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
  const stored = readTrustFile(dataDir);
  if (!stored) throw new Error("trust file vanished");
  return stored;
}
