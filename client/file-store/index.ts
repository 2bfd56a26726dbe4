/**
 * The encrypted file store (public surface): a `KeyValueStore` in one directory, encrypted at
 * rest under a passphrase (scrypt), for the CLI. Node only.
 */
export { createFileStore, openFileStore, fileStoreExists, removeFileStore, FileKeyValueStore, proveStoreAccess, type CreateFileStoreOptions } from "./file-store.js";
export { FileStoreError, isFileStoreError, type FileStoreErrorCode } from "./errors.js";
export { DEFAULT_SCRYPT, type ScryptParams } from "./constants.js";
