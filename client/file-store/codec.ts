/**
 * Plaintext encodings inside the store's encrypted files, and the encrypted-file frame.
 *
 * Owns: the entry-operation list (a batch file and a snapshot both hold one) and the frame
 * `magic ‖ kind ‖ BE64(seq) ‖ nonce ‖ AES-256-GCM(ciphertext ‖ tag)` whose associated data
 * binds the file's name and frame header. Does not own: files, fsync, locking.
 */

import { aes256GcmDecrypt, aes256GcmEncrypt, AES_GCM_NONCE_LENGTH, AES_GCM_TAG_LENGTH } from "../crypto/cipher.js";
import { be64, concatBytes, randomBytes, utf8 } from "../crypto/bytes.js";
import { FILE_LABEL, FILE_MAGIC } from "./constants.js";
import { FileStoreError } from "./errors.js";

/** One operation of a batch: `value` undefined deletes `key`. */
export interface EntryOp {
  readonly key: string;
  readonly value: Uint8Array | undefined;
}

const OP_PUT = 1;
const OP_DELETE = 2;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Serialises operations as `op ‖ BE32(len) ‖ key ‖ [BE32(len) ‖ value]` repeated. */
export function serializeOps(ops: ReadonlyArray<EntryOp>): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const op of ops) {
    const key = encoder.encode(op.key);
    const head = new Uint8Array(5);
    const view = new DataView(head.buffer);
    head[0] = op.value === undefined ? OP_DELETE : OP_PUT;
    view.setUint32(1, key.length, false);
    parts.push(head, key);
    if (op.value !== undefined) {
      const len = new Uint8Array(4);
      new DataView(len.buffer).setUint32(0, op.value.length, false);
      parts.push(len, op.value);
    }
  }
  return concatBytes(...parts);
}

/** Parses what `serializeOps` wrote; anything else is `FileStoreError("corrupt")`. */
export function parseOps(bytes: Uint8Array): EntryOp[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ops: EntryOp[] = [];
  let off = 0;
  const take = (n: number): Uint8Array => {
    if (n > bytes.length - off) throw new FileStoreError("corrupt");
    const out = bytes.slice(off, off + n);
    off += n;
    return out;
  };
  const u32 = (): number => {
    if (off + 4 > bytes.length) throw new FileStoreError("corrupt");
    const n = view.getUint32(off, false);
    off += 4;
    return n;
  };
  while (off < bytes.length) {
    const op = bytes[off++];
    if (op !== OP_PUT && op !== OP_DELETE) throw new FileStoreError("corrupt");
    let key: string;
    try {
      key = decoder.decode(take(u32()));
    } catch (e) {
      throw e instanceof FileStoreError ? e : new FileStoreError("corrupt");
    }
    ops.push({ key, value: op === OP_PUT ? take(u32()) : undefined });
  }
  return ops;
}

/** Length of the frame header: magic, kind byte, 8-byte sequence number. */
const FRAME_HEADER_LENGTH = FILE_MAGIC.length + 1 + 8;

function frameHeader(kind: number, seq: number): Uint8Array {
  return concatBytes(FILE_MAGIC, new Uint8Array([kind]), be64(seq));
}

function associatedData(fileName: string, header: Uint8Array): Uint8Array {
  return concatBytes(utf8(FILE_LABEL + fileName), header);
}

/**
 * Encrypts `plaintext` as the contents of file `fileName` of `kind` at sequence `seq`, with a
 * fresh random nonce. The name, kind and sequence are authenticated, so a file renamed or
 * swapped for another fails to open.
 */
export function sealFile(key: Uint8Array, fileName: string, kind: number, seq: number, plaintext: Uint8Array): Uint8Array {
  const header = frameHeader(kind, seq);
  const nonce = randomBytes(AES_GCM_NONCE_LENGTH);
  const ciphertext = aes256GcmEncrypt(key, nonce, plaintext, associatedData(fileName, header));
  return concatBytes(header, nonce, ciphertext);
}

/**
 * Decrypts file `fileName`, which must be of `kind`; returns its sequence number and
 * plaintext. A wrong magic, kind, or tag is `FileStoreError("corrupt")`.
 */
export function openFile(key: Uint8Array, fileName: string, kind: number, bytes: Uint8Array): { seq: number; plaintext: Uint8Array } {
  if (bytes.length < FRAME_HEADER_LENGTH + AES_GCM_NONCE_LENGTH + AES_GCM_TAG_LENGTH) {
    throw new FileStoreError("corrupt");
  }
  for (let i = 0; i < FILE_MAGIC.length; i++) {
    if (bytes[i] !== FILE_MAGIC[i]) throw new FileStoreError("corrupt");
  }
  if (bytes[FILE_MAGIC.length] !== kind) throw new FileStoreError("corrupt");
  const header = bytes.subarray(0, FRAME_HEADER_LENGTH);
  const seqBig = new DataView(bytes.buffer, bytes.byteOffset + FILE_MAGIC.length + 1, 8).getBigUint64(0, false);
  if (seqBig > BigInt(Number.MAX_SAFE_INTEGER)) throw new FileStoreError("corrupt");
  const nonce = bytes.subarray(FRAME_HEADER_LENGTH, FRAME_HEADER_LENGTH + AES_GCM_NONCE_LENGTH);
  const ciphertext = bytes.subarray(FRAME_HEADER_LENGTH + AES_GCM_NONCE_LENGTH);
  try {
    return { seq: Number(seqBig), plaintext: aes256GcmDecrypt(key, nonce, ciphertext, associatedData(fileName, header)) };
  } catch {
    throw new FileStoreError("corrupt");
  }
}
