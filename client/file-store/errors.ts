/**
 * The file store's typed error.
 *
 * Owns: `FileStoreError`, its string-literal codes and one fixed sentence per code. It is not a
 * `ProtocolError` because nothing here is protocol input from a peer: these are failures of the
 * local disk, the lock or the user's passphrase, which the CLI maps to its own exit codes.
 * Messages never contain paths, keys, values or passphrases.
 */

/** Every way opening or using a file store can fail. */
export type FileStoreErrorCode =
  | "not_found"
  | "already_exists"
  | "wrong_passphrase"
  | "corrupt"
  | "locked"
  | "closed";

const MESSAGES: Readonly<Record<FileStoreErrorCode, string>> = {
  not_found: "There is no store in this directory.",
  already_exists: "A store already exists in this directory.",
  wrong_passphrase: "The passphrase is wrong (or the store header was altered).",
  corrupt: "The store's files are damaged or were altered.",
  locked: "The store is in use by another process.",
  closed: "The store is closed.",
};

/** A failure of the encrypted file store, identified by `code` (switch on it, not the text). */
export class FileStoreError extends Error {
  /** Which failure this is. */
  readonly code: FileStoreErrorCode;

  constructor(code: FileStoreErrorCode, options?: { cause?: unknown }) {
    super(MESSAGES[code], options);
    this.name = "FileStoreError";
    this.code = code;
  }
}

/** Narrowing guard: true when `e` is a `FileStoreError` (with `code`, if given). */
export function isFileStoreError(e: unknown, code?: FileStoreErrorCode): e is FileStoreError {
  return e instanceof FileStoreError && (code === undefined || e.code === code);
}
