/**
 * The encrypted attachment format (spec/09-rooms.md RM-70..RM-73): padding to size buckets,
 * AES-256-CBC + HMAC-SHA256 under a fresh 64-byte key, and the SHA-256 digest of the blob,
 * checked before anything is decrypted.
 *
 * Owns: `bucketSize`, `encryptAttachment`, `decryptAttachment` and their limits. In browsers
 * it uses WebCrypto because a file is up to 100 MiB: the synchronous pure-JS ciphers of
 * client/crypto would block the UI for seconds. On Node it uses `node:crypto`'s streaming
 * cipher, HMAC and hash (client/crypto/node-crypto.ts; taken only once cipher.ts and kdf.ts
 * self-checked Node's AES-CBC, HMAC-SHA256 and SHA-256 against noble): encryption makes one
 * pass over the file in cache-sized steps, feeding each ciphertext step to the MAC and the
 * digest while it is hot, and opening hashes and decrypts views of the blob without copying
 * it (about 3× faster than WebCrypto's three whole-buffer calls and their copies; figures in
 * bench/attachments.ts). Both paths give the same bytes and the same errors
 * (attachment-format.test.ts runs both). Does not own uploading or downloading
 * (blob-transfer.ts) or pointer validation (attachment-pointer.ts).
 */
import { concatBytes, constantTimeEqual, randomBytes } from "../crypto/bytes.js";
import { cipherUsesNode } from "../crypto/cipher.js";
import { kdfUsesNode } from "../crypto/kdf.js";
import { type NodeCrypto, nodeCrypto } from "../crypto/node-crypto.js";
import { ProtocolError } from "../errors.js";

/** Largest file, RM-70 (100 MiB, Signal's cap). */
export const MAX_ATTACHMENT_BYTES = 100 * 1024 * 1024;
/** Smallest padded size, RM-71 (Signal's rule): tiny files all look alike. */
export const MIN_BUCKET_BYTES = 541;
/** Growth of the size buckets, RM-71: at most 5% padding. */
export const BUCKET_GROWTH = 1.05;
/** File key: AES-256 key ‖ HMAC-SHA256 key, RM-71. */
export const ATTACHMENT_KEY_BYTES = 64;
/** CBC IV length at the start of a blob. */
export const ATTACHMENT_IV_BYTES = 16;
/** HMAC-SHA256 tag at the end of a blob, in full. */
export const ATTACHMENT_MAC_BYTES = 32;
/** SHA-256 digest length. */
export const ATTACHMENT_DIGEST_BYTES = 32;
const AES_BLOCK = 16;
/** Bytes per step of the Node path: small enough that a step's ciphertext is still in cache when MAC and digest read it. */
const NODE_STEP_BYTES = 256 * 1024;

/** `node:crypto` when this module may use it: Node, with AES-CBC, HMAC and SHA-256 self-checked. */
function attachmentNodeCrypto(): NodeCrypto | undefined {
  return cipherUsesNode() && kdfUsesNode() ? nodeCrypto() : undefined;
}

/**
 * RM-71: the padded size of an `n`-byte file, `max(541, ⌊1.05^⌈log_1.05 n⌉⌋)`, never below `n`
 * (doubles may round ⌈log⌉ one step low).
 */
export function bucketSize(n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError("size must be a positive integer");
  const bucket = Math.max(MIN_BUCKET_BYTES, Math.floor(BUCKET_GROWTH ** Math.ceil(Math.log(n) / Math.log(BUCKET_GROWTH))));
  return Math.max(bucket, n);
}

/** RM-71: the blob size for a padded plaintext of `padded` bytes: IV, CBC with PKCS#7, MAC. */
export function blobSizeFor(padded: number): number {
  return ATTACHMENT_IV_BYTES + AES_BLOCK * (Math.floor(padded / AES_BLOCK) + 1) + ATTACHMENT_MAC_BYTES;
}

/** The largest blob RM-73 accepts: that of the largest file's bucket. */
export const MAX_BLOB_BYTES = blobSizeFor(bucketSize(MAX_ATTACHMENT_BYTES));

/** An encrypted file ready to upload, with what its pointer carries. */
export interface EncryptedAttachment {
  /** The blob to upload: iv ‖ ciphertext ‖ mac. */
  blob: Uint8Array;
  /** The 64-byte file key. */
  key: Uint8Array;
  /** SHA-256 of `blob`. */
  digest: Uint8Array;
  /** The real size. */
  size: number;
}

/** What a receiver needs to open a blob: from a validated pointer. */
export interface AttachmentSecrets {
  key: Uint8Array;
  digest: Uint8Array;
  size: number;
  blobSize: number;
}

const subtle = (): SubtleCrypto => globalThis.crypto.subtle;
// WebCrypto wants ArrayBuffer-backed views; copies only when a view is shared.
const buf = (b: Uint8Array): Uint8Array<ArrayBuffer> => (b.buffer instanceof ArrayBuffer && b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? (b as Uint8Array<ArrayBuffer>) : new Uint8Array(b));

async function hmacKey(macKey: Uint8Array, use: "sign" | "verify"): Promise<CryptoKey> {
  return subtle().importKey("raw", buf(macKey), { name: "HMAC", hash: "SHA-256" }, false, [use]);
}

/** SHA-256 of `data` (WebCrypto). */
export async function sha256Async(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle().digest("SHA-256", buf(data)));
}

/**
 * RM-71, RM-72: encrypts `plaintext` (1..MAX_ATTACHMENT_BYTES bytes) under a fresh key: pads it
 * with zeros to its bucket, encrypts with AES-256-CBC, appends HMAC-SHA256 over iv ‖ ciphertext,
 * and digests the blob.
 */
export async function encryptAttachment(plaintext: Uint8Array, key: Uint8Array = randomBytes(ATTACHMENT_KEY_BYTES), iv: Uint8Array = randomBytes(ATTACHMENT_IV_BYTES)): Promise<EncryptedAttachment> {
  return startAttachmentEncryption(plaintext, key, iv).finish();
}

/**
 * An encryption in progress (RM-71, RM-72): the blob is final from the front as far as it has
 * been encrypted, so an upload can send its first chunks while later ones are still being
 * encrypted (blob-transfer.ts). On Node it encrypts only what is asked for; on WebCrypto the
 * first request encrypts the whole file.
 */
export interface AttachmentSealer {
  /** The blob's size, known before anything is encrypted (RM-71). */
  readonly blobSize: number;
  /** Blob bytes final so far. */
  readonly sealed: number;
  /** Blob bytes `[from, to)` (capped at the size), encrypting as far as needed; a view, not a copy. */
  bytes(from: number, to: number): Promise<Uint8Array>;
  /** Encrypts the rest and returns the attachment (digest and all). */
  finish(): Promise<EncryptedAttachment>;
}

/** Starts {@link encryptAttachment} of `plaintext` (same checks, same bytes) without running it all. */
export function startAttachmentEncryption(plaintext: Uint8Array, key: Uint8Array = randomBytes(ATTACHMENT_KEY_BYTES), iv: Uint8Array = randomBytes(ATTACHMENT_IV_BYTES)): AttachmentSealer {
  if (plaintext.length < 1 || plaintext.length > MAX_ATTACHMENT_BYTES) throw new RangeError("attachment must be 1..104857600 bytes");
  if (key.length !== ATTACHMENT_KEY_BYTES || iv.length !== ATTACHMENT_IV_BYTES) throw new RangeError("bad key or iv length");
  const node = attachmentNodeCrypto();
  if (node !== undefined) return nodeSealer(node, plaintext, key, iv);
  const blobSize = blobSizeFor(bucketSize(plaintext.length));
  let done: Promise<EncryptedAttachment> | undefined;
  let sealed = 0;
  const finish = (): Promise<EncryptedAttachment> =>
    (done ??= encryptWeb(plaintext, key, iv).then((e) => {
      sealed = e.blob.length;
      return e;
    }));
  return {
    blobSize,
    get sealed() {
      return sealed;
    },
    bytes: async (from, to) => (await finish()).blob.subarray(from, Math.min(to, blobSize)),
    finish,
  };
}

/** The WebCrypto path of {@link encryptAttachment}: whole-buffer calls. */
async function encryptWeb(plaintext: Uint8Array, key: Uint8Array, iv: Uint8Array): Promise<EncryptedAttachment> {
  const padded = new Uint8Array(bucketSize(plaintext.length));
  padded.set(plaintext);
  const aes = await subtle().importKey("raw", buf(key.slice(0, 32)), { name: "AES-CBC" }, false, ["encrypt"]);
  const ct = new Uint8Array(await subtle().encrypt({ name: "AES-CBC", iv: buf(iv) }, aes, padded));
  const blob = new Uint8Array(ATTACHMENT_IV_BYTES + ct.length + ATTACHMENT_MAC_BYTES);
  blob.set(iv, 0);
  blob.set(ct, ATTACHMENT_IV_BYTES);
  const mac = new Uint8Array(await subtle().sign("HMAC", await hmacKey(key.slice(32), "sign"), blob.slice(0, ATTACHMENT_IV_BYTES + ct.length)));
  blob.set(mac, ATTACHMENT_IV_BYTES + ct.length);
  return { blob, key, digest: await sha256Async(blob), size: plaintext.length };
}

/**
 * RM-72: opens a downloaded blob. Checks, before decrypting anything: the length
 * (`attachment_truncated`), the digest (`attachment_digest_mismatch`) and the MAC (`bad_mac`);
 * then decrypts (`invalid_ciphertext`) and checks the zero padding after the real size
 * (`attachment_bad_padding`). Returns only the file's bytes; nothing of a failing blob.
 */
export async function decryptAttachment(blob: Uint8Array, s: AttachmentSecrets): Promise<Uint8Array> {
  if (blob.length !== s.blobSize) throw new ProtocolError("attachment_truncated");
  if (s.key.length !== ATTACHMENT_KEY_BYTES || s.digest.length !== ATTACHMENT_DIGEST_BYTES) throw new ProtocolError("attachment_invalid_pointer");
  const node = attachmentNodeCrypto();
  if (node !== undefined) return decryptNode(node, blob, s);
  const digest = await sha256Async(blob);
  if (!constantTimeEqual(digest, s.digest)) throw new ProtocolError("attachment_digest_mismatch");
  const macAt = blob.length - ATTACHMENT_MAC_BYTES;
  if (macAt < ATTACHMENT_IV_BYTES + AES_BLOCK || (macAt - ATTACHMENT_IV_BYTES) % AES_BLOCK !== 0) throw new ProtocolError("invalid_ciphertext");
  const expected = new Uint8Array(await subtle().sign("HMAC", await hmacKey(s.key.slice(32), "sign"), blob.slice(0, macAt)));
  if (!constantTimeEqual(expected, blob.subarray(macAt))) throw new ProtocolError("bad_mac");
  const aes = await subtle().importKey("raw", buf(s.key.slice(0, 32)), { name: "AES-CBC" }, false, ["decrypt"]);
  let padded: Uint8Array;
  try {
    padded = new Uint8Array(await subtle().decrypt({ name: "AES-CBC", iv: buf(blob.slice(0, ATTACHMENT_IV_BYTES)) }, aes, blob.slice(ATTACHMENT_IV_BYTES, macAt)));
  } catch {
    throw new ProtocolError("invalid_ciphertext");
  }
  if (padded.length < s.size) throw new ProtocolError("attachment_bad_padding");
  let rest = 0;
  for (let i = s.size; i < padded.length; i++) rest |= padded[i]!;
  if (rest !== 0) throw new ProtocolError("attachment_bad_padding");
  return padded.slice(0, s.size);
}

/**
 * The Node path of {@link startAttachmentEncryption} (same bytes): encrypts in steps of
 * NODE_STEP_BYTES, only as far as asked; each ciphertext step goes into the blob, the MAC and
 * the digest at once; the zero padding is never materialised beyond one step.
 */
function nodeSealer(c: NodeCrypto, plaintext: Uint8Array, key: Uint8Array, iv: Uint8Array): AttachmentSealer {
  const padded = bucketSize(plaintext.length);
  const blob = new Uint8Array(blobSizeFor(padded));
  const cipher = c.createCipheriv("aes-256-cbc", key.subarray(0, 32), iv);
  const mac = c.createHmac("sha256", key.subarray(32));
  const hash = c.createHash("sha256");
  blob.set(iv, 0);
  mac.update(iv);
  hash.update(iv);
  let at = ATTACHMENT_IV_BYTES; // ciphertext bytes written end here
  let fed = 0; // padded plaintext bytes given to the cipher
  let result: EncryptedAttachment | undefined;
  const zeros = new Uint8Array(Math.min(NODE_STEP_BYTES, padded - plaintext.length));
  const put = (ct: Uint8Array): void => {
    blob.set(ct, at);
    mac.update(ct);
    hash.update(ct);
    at += ct.length;
  };
  /** One step: a piece of the file, of its zero padding, or the last block and the MAC. */
  const step = (): void => {
    if (fed < plaintext.length) {
      const piece = plaintext.subarray(fed, fed + NODE_STEP_BYTES);
      put(cipher.update(piece));
      fed += piece.length;
    } else if (fed < padded) {
      const piece = zeros.subarray(0, Math.min(padded - fed, zeros.length));
      put(cipher.update(piece));
      fed += piece.length;
    } else {
      put(cipher.final());
      const tag = mac.digest();
      if (at + tag.length !== blob.length) throw new Error("attachment blob size mismatch");
      blob.set(tag, at);
      hash.update(tag);
      at = blob.length;
      result = { blob, key, digest: new Uint8Array(hash.digest()), size: plaintext.length };
    }
  };
  const sealTo = (to: number): void => {
    while (result === undefined && at < Math.min(to, blob.length)) step();
  };
  return {
    blobSize: blob.length,
    get sealed() {
      return at;
    },
    bytes: (from, to) => {
      try {
        sealTo(to);
        return Promise.resolve(blob.subarray(from, Math.min(to, blob.length)));
      } catch (e) {
        return Promise.reject(e);
      }
    },
    finish: () => {
      try {
        sealTo(blob.length);
        return Promise.resolve(result!);
      } catch (e) {
        return Promise.reject(e);
      }
    },
  };
}

/**
 * The Node path of {@link decryptAttachment}, after its length checks: the same checks in the
 * same order (digest, then MAC in constant time, both before any decryption; then CBC with
 * PKCS#7, then the zero padding), reading the blob in place and writing the file's bytes
 * straight into the result.
 */
function decryptNode(c: NodeCrypto, blob: Uint8Array, s: AttachmentSecrets, hashed?: { digest: Uint8Array; mac: Uint8Array }): Uint8Array {
  const digest = hashed?.digest ?? new Uint8Array(c.createHash("sha256").update(blob).digest());
  if (!constantTimeEqual(digest, s.digest)) throw new ProtocolError("attachment_digest_mismatch");
  const macAt = blob.length - ATTACHMENT_MAC_BYTES;
  if (macAt < ATTACHMENT_IV_BYTES + AES_BLOCK || (macAt - ATTACHMENT_IV_BYTES) % AES_BLOCK !== 0) throw new ProtocolError("invalid_ciphertext");
  const expected = hashed?.mac ?? new Uint8Array(c.createHmac("sha256", s.key.subarray(32)).update(blob.subarray(0, macAt)).digest());
  if (!constantTimeEqual(expected, blob.subarray(macAt))) throw new ProtocolError("bad_mac");
  const out = new Uint8Array(s.size);
  let at = 0;
  let rest = 0;
  const take = (pt: Uint8Array): void => {
    const keep = Math.max(0, Math.min(pt.length, s.size - at));
    if (keep > 0) out.set(pt.subarray(0, keep), at);
    for (let i = keep; i < pt.length; i++) rest |= pt[i]!;
    at += pt.length;
  };
  try {
    const decipher = c.createDecipheriv("aes-256-cbc", s.key.subarray(0, 32), blob.subarray(0, ATTACHMENT_IV_BYTES));
    for (let o = ATTACHMENT_IV_BYTES; o < macAt; o += NODE_STEP_BYTES) take(decipher.update(blob.subarray(o, Math.min(macAt, o + NODE_STEP_BYTES))));
    take(decipher.final());
  } catch {
    throw new ProtocolError("invalid_ciphertext");
  }
  if (at < s.size || rest !== 0) throw new ProtocolError("attachment_bad_padding");
  return out;
}

/**
 * A blob being downloaded (RM-72): holds the bytes received so far in its own buffer and, on
 * Node, feeds each piece to the digest and the MAC as it arrives, so opening the complete blob
 * is one decryption pass instead of three. Nothing is decrypted before `open`, and `open` makes
 * exactly the checks of {@link decryptAttachment}, in its order.
 */
export interface AttachmentReceiver {
  /** Bytes received so far. */
  readonly received: number;
  /** Appends the next bytes of the blob; more than its size is `attachment_truncated`. */
  append(piece: Uint8Array): void;
  /** Opens the blob as {@link decryptAttachment} does (`attachment_truncated` if incomplete). */
  open(): Promise<Uint8Array>;
}

/** A receiver for the blob `s` describes (its size from a validated pointer, RM-73). */
export function receiveAttachment(s: AttachmentSecrets): AttachmentReceiver {
  if (!Number.isSafeInteger(s.blobSize) || s.blobSize < 0 || s.blobSize > MAX_BLOB_BYTES) throw new ProtocolError("attachment_invalid_pointer");
  const blob = new Uint8Array(s.blobSize);
  const c = s.key.length === ATTACHMENT_KEY_BYTES ? attachmentNodeCrypto() : undefined;
  const macAt = blob.length - ATTACHMENT_MAC_BYTES;
  const hash = c?.createHash("sha256");
  const mac = c?.createHmac("sha256", s.key.subarray(32));
  let received = 0;
  return {
    get received() {
      return received;
    },
    append(piece) {
      if (received + piece.length > blob.length) throw new ProtocolError("attachment_truncated");
      blob.set(piece, received);
      // Hashes read the receiver's own copy: what is checked is exactly what will be decrypted.
      const mine = blob.subarray(received, received + piece.length);
      hash?.update(mine);
      if (mac !== undefined && received < macAt) mac.update(mine.subarray(0, macAt - received));
      received += piece.length;
    },
    open() {
      if (received !== blob.length) return Promise.reject(new ProtocolError("attachment_truncated"));
      if (c === undefined || hash === undefined || mac === undefined || s.digest.length !== ATTACHMENT_DIGEST_BYTES) return decryptAttachment(blob, s);
      try {
        return Promise.resolve(decryptNode(c, blob, s, { digest: new Uint8Array(hash.digest()), mac: new Uint8Array(mac.digest()) }));
      } catch (e) {
        return Promise.reject(e);
      }
    },
  };
}

/** Concatenates downloaded pieces into one blob (used by blob-transfer.ts). */
export function joinPieces(pieces: readonly Uint8Array[]): Uint8Array {
  return concatBytes(...pieces);
}
