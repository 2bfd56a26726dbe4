/**
 * The store's lock file: one process at a time per store directory.
 *
 * Owns: creating `lock` exclusively (O_CREAT|O_EXCL) with the holder's process id, breaking a
 * lock whose holder is no longer alive (a crashed CLI), and releasing it. Does not own: what
 * the lock protects (file-store.ts). A process id can be reused after a crash, in which case
 * the stale lock is reported as held until the user removes it; this errs on the safe side.
 */

import { open, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { LOCK_FILE } from "./constants.js";
import { FileStoreError } from "./errors.js";

/** A held lock; `release()` removes the file (idempotent). */
export interface StoreLock {
  release(): Promise<void>;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function tryCreate(path: string): Promise<boolean> {
  try {
    const handle = await open(path, "wx", 0o600);
    try {
      await handle.writeFile(`${process.pid}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  }
}

/**
 * Takes the lock of store directory `dir`, or throws `FileStoreError("locked")` when a live
 * process holds it. A lock file naming a dead process (or unreadable) is removed once and the
 * lock taken again.
 */
export async function acquireLock(dir: string): Promise<StoreLock> {
  const path = join(dir, LOCK_FILE);
  if (!(await tryCreate(path))) {
    let holder = Number.NaN;
    try {
      holder = Number.parseInt((await readFile(path, "utf8")).trim(), 10);
    } catch {
      // Vanished or unreadable: treat as stale below.
    }
    if (Number.isSafeInteger(holder) && holder > 0 && isAlive(holder)) throw new FileStoreError("locked");
    await unlink(path).catch(() => undefined);
    if (!(await tryCreate(path))) throw new FileStoreError("locked");
  }
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      await unlink(path).catch(() => undefined);
    },
  };
}
