/**
 * Names, labels, limits and KDF parameters of the encrypted file store.
 *
 * Owns: every constant of the on-disk format (file names, magic, version, AEAD labels) and the
 * bounds a header must respect. Does not own: the logic that reads or writes files.
 */

/** Name of the header file: KDF parameters, salt and the passphrase check (JSON). */
export const HEADER_FILE = "store.json";
/** Name of the snapshot file: every entry as of batch `covered`. */
export const SNAPSHOT_FILE = "snapshot.bin";
/**
 * Name of the key table: the record key of every live entry (spec/11 SC-15).
 * It is the commit point of a write, and the only file that must be erased for a deleted or
 * replaced value to become unreadable; each new version overwrites the previous one in place.
 */
export const KEYS_FILE = "keys.bin";
/** Name of the lock file a process holds while the store is open. */
export const LOCK_FILE = "lock";
/** Prefix and suffix of batch files: `batch-<16 decimal digits>.bin`, one per atomic write. */
export const BATCH_PREFIX = "batch-";
export const BATCH_SUFFIX = ".bin";
/** Digits in a batch file's sequence number, zero-padded so names sort in sequence order. */
export const BATCH_DIGITS = 16;
/** Suffix of temporary files; a leftover one is an interrupted write and is deleted on open. */
export const TEMP_SUFFIX = ".tmp";

/** Value of the header's `format` field. */
export const HEADER_FORMAT = "securecomm-file-store";
/** Version of the on-disk format; a reader refuses any other. */
export const FORMAT_VERSION = 1;

/** Magic at the start of every encrypted file ("SCFS"). */
export const FILE_MAGIC = new Uint8Array([0x53, 0x43, 0x46, 0x53]);
/** Kind byte after the magic: which purpose a file serves (bound into its associated data). */
export const KIND_SNAPSHOT = 1;
export const KIND_BATCH = 2;
/** The key table (KEYS_FILE). */
export const KIND_KEYS = 3;
/** Snapshot and batch files whose values are records sealed under their own record keys. */
export const KIND_RECORD_SNAPSHOT = 4;
export const KIND_RECORD_BATCH = 5;
/**
 * Kinds 1 and 2 are the first layout, where values were sealed only under the store key, so a
 * value stayed readable with the passphrase until compaction. A store found in that layout is
 * rewritten in the record layout (and the old files wiped) as soon as it is opened.
 */
export const LEGACY_KINDS: ReadonlySet<number> = new Set([KIND_SNAPSHOT, KIND_BATCH]);

/** Associated-data label of a sealed record; the entry's key and record id follow it. */
export const RECORD_LABEL = "SecureComm file store v1 record ";
/** Record id length: random, names one sealed value, so a table entry matches one record only. */
export const RECORD_ID_LENGTH = 16;
/** Record key length (AES-256). */
export const RECORD_KEY_LENGTH = 32;

/** HKDF info for the store key derived from the scrypt output (domain separation). */
export const STORE_KEY_INFO = "SecureComm file store v1 store key";
/** Associated-data label of the header's passphrase check. */
export const CHECK_LABEL = "SecureComm file store v1 header check";
/** Plaintext of the passphrase check: a fixed sentence, so a good tag proves the key. */
export const CHECK_PLAINTEXT = "SecureComm file store v1 passphrase ok";
/** Associated-data label prefix of data files; the file's name follows it. */
export const FILE_LABEL = "SecureComm file store v1 file ";

/** Scrypt cost parameters stored in the header. */
export interface ScryptParams {
  /** log2 of scrypt's N (CPU and memory cost). */
  readonly logN: number;
  /** Block size. */
  readonly r: number;
  /** Parallelisation. */
  readonly p: number;
}

/**
 * Default scrypt cost for new stores: N = 2^16, r = 8, p = 1 uses 64 MiB and takes about half a
 * second with noble's scrypt on this project's reference machine (a memory-hard cost an offline
 * guesser pays per passphrase; higher would make every CLI command slow).
 */
export const DEFAULT_SCRYPT: ScryptParams = { logN: 16, r: 8, p: 1 };

/**
 * Bounds a header's parameters must respect. A header is not authenticated before the key is
 * derived, so a tampered one must not make us allocate gigabytes (2^20 · 8 · 128 B = 1 GiB) or
 * accept a trivially weak cost below N = 2^10.
 */
export const MIN_LOG_N = 10;
export const MAX_LOG_N = 20;
export const MAX_R = 16;
export const MAX_P = 4;
/** Largest scrypt memory a header may ask for (scrypt uses 128 · N · r bytes). */
export const MAX_SCRYPT_MEMORY = 1024 * 1024 * 1024;

/** Salt length in bytes (128 bits: unique per store with overwhelming probability). */
export const SALT_LENGTH = 16;
/** Largest header file we read; a real one is a few hundred bytes. */
export const MAX_HEADER_BYTES = 4096;

/**
 * Compaction: batch files are folded into a new snapshot once they add up to more bytes than
 * the snapshot (so total writing stays linear in what is written), but never below this floor
 * (so small stores do not rewrite their snapshot on every write).
 */
export const COMPACT_MIN_BYTES = 64 * 1024;
/** Compaction also happens at this many batch files, bounding open time and directory size. */
export const MAX_BATCH_FILES = 256;
