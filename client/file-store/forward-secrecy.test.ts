// Forward secrecy at rest (issue 9, finding 8): once a value is deleted or replaced, no byte in
// the store directory yields it, even to an attacker who knows the passphrase. The attacker here
// derives the store key from the header, opens every file under every file name and kind it
// could be, parses every operation list it gets, and tries every 48-byte value it found as a
// record key on every sealed record it found; then it searches everything it decrypted.
import { link, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { aes256GcmDecrypt, AES_GCM_NONCE_LENGTH } from "../crypto/cipher.js";
import { concatBytes, randomBytes, utf8 } from "../crypto/bytes.js";
import { openFile, parseOps, sealFile, serializeOps } from "./codec.js";
import {
  BATCH_PREFIX,
  HEADER_FILE,
  KEYS_FILE,
  KIND_BATCH,
  KIND_KEYS,
  KIND_RECORD_BATCH,
  KIND_RECORD_SNAPSHOT,
  KIND_SNAPSHOT,
  RECORD_ID_LENGTH,
  RECORD_KEY_LENGTH,
  RECORD_LABEL,
  SNAPSHOT_FILE,
  type ScryptParams,
} from "./constants.js";
import { createHeader, deriveStoreKey, parseHeader, serializeHeader } from "./header.js";
import { batchFileName, createFileStore, openFileStore } from "./file-store.js";

const FAST: ScryptParams = { logN: 10, r: 8, p: 1 };
const PASS = "forward secrecy passphrase";
const KINDS = [KIND_SNAPSHOT, KIND_BATCH, KIND_KEYS, KIND_RECORD_SNAPSHOT, KIND_RECORD_BATCH];
const roots: string[] = [];

async function freshRoot(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "securecomm-fs-fs-"));
  roots.push(d);
  return d;
}

afterEach(async () => {
  while (roots.length > 0) await rm(roots.pop() as string, { recursive: true, force: true });
});

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength).indexOf(Buffer.from(needle)) !== -1;
}

/**
 * Everything an attacker with the passphrase can decrypt from `dir` (plus `extra` files, e.g.
 * hard links to inodes the store replaced): file plaintexts and every record it can open.
 */
async function decryptAll(dir: string, extra: readonly string[] = []): Promise<Uint8Array[]> {
  const header = parseHeader(await readFile(join(dir, HEADER_FILE), "utf8"));
  const key = await deriveStoreKey(PASS, header.scrypt, header.salt);
  const names = await readdir(dir);
  const maxSeq = 300;
  const candidateNames = [...new Set([...names, SNAPSHOT_FILE, KEYS_FILE, ...Array.from({ length: maxSeq }, (_, i) => batchFileName(i))])];
  const paths = [...names.map((n) => join(dir, n)), ...extra];

  const plaintexts: Uint8Array[] = [];
  for (const path of paths) {
    const bytes = new Uint8Array(await readFile(path));
    plaintexts.push(bytes); // raw bytes too: nothing may be in the clear
    for (const kind of KINDS) {
      for (const name of candidateNames) {
        try {
          plaintexts.push(openFile(key, name, kind, bytes).plaintext);
        } catch {
          // not this name or kind
        }
      }
    }
  }
  const ops = plaintexts.flatMap((p) => {
    try {
      return parseOps(p);
    } catch {
      return [];
    }
  });
  const recordKeys = ops.flatMap((op) => (op.value?.length === RECORD_ID_LENGTH + RECORD_KEY_LENGTH ? [op.value.subarray(RECORD_ID_LENGTH)] : []));
  const opened: Uint8Array[] = [];
  for (const op of ops) {
    const sealed = op.value;
    if (sealed === undefined || sealed.length < RECORD_ID_LENGTH + AES_GCM_NONCE_LENGTH + 16) continue;
    const recordId = sealed.subarray(0, RECORD_ID_LENGTH);
    const nonce = sealed.subarray(RECORD_ID_LENGTH, RECORD_ID_LENGTH + AES_GCM_NONCE_LENGTH);
    const ad = concatBytes(utf8(RECORD_LABEL + op.key), Uint8Array.of(0), recordId);
    for (const k of recordKeys) {
      try {
        opened.push(aes256GcmDecrypt(k, nonce, sealed.subarray(RECORD_ID_LENGTH + AES_GCM_NONCE_LENGTH), ad));
      } catch {
        // not its key
      }
    }
  }
  return [...plaintexts, ...ops.flatMap((op) => (op.value === undefined ? [] : [op.value])), ...opened];
}

async function recoverable(dir: string, marker: Uint8Array, extra: readonly string[] = []): Promise<boolean> {
  return (await decryptAll(dir, extra)).some((p) => contains(p, marker));
}

/** A value standing for key material: 32 random bytes (the marker) inside some framing. */
function keyMaterial(): { marker: Uint8Array; value: Uint8Array } {
  const marker = randomBytes(32);
  return { marker, value: concatBytes(utf8("session record "), marker, randomBytes(40)) };
}

describe("file store forward secrecy at rest (SC-15, issue 9 finding 8)", () => {
  it("a replaced session, a deleted sender key and a used one-time prekey are unrecoverable with the passphrase", async () => {
    const dir = join(await freshRoot(), "home");
    const store = await createFileStore(dir, PASS, { scrypt: FAST });
    const session1 = keyMaterial();
    const senderKey = keyMaterial();
    const prekey = keyMaterial();
    const session2 = keyMaterial();
    await store.write([{ key: "prekey/1", value: prekey.value }]);
    await store.write([{ key: "session/peer.1", value: session1.value }]);
    await store.write([{ key: "sender-key/room/peer", value: senderKey.value }]);
    // The attacker's tools work: everything live is found.
    for (const m of [session1, senderKey, prekey]) expect(await recoverable(dir, m.marker)).toBe(true);

    await store.write([{ key: "session/peer.1", value: session2.value }, { key: "prekey/1", value: undefined }]);
    await store.write([{ key: "sender-key/room/peer", value: undefined }]);
    for (const m of [session1, senderKey, prekey]) expect(await recoverable(dir, m.marker)).toBe(false);
    expect(await recoverable(dir, session2.marker)).toBe(true);
    await store.close();

    // Still true after reopening (which replays the batch files that hold the old records).
    const again = await openFileStore(dir, PASS);
    expect(await again.get("session/peer.1")).toEqual(session2.value);
    expect(await again.get("prekey/1")).toBeUndefined();
    await again.close();
    for (const m of [session1, senderKey, prekey]) expect(await recoverable(dir, m.marker)).toBe(false);
  });

  it("holds for random writes, replacements, deletions, compactions and reopenings (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant("put" as const), key: fc.constantFrom("a", "b", "c", "d"), big: fc.boolean() }),
            fc.record({ op: fc.constant("delete" as const), key: fc.constantFrom("a", "b", "c", "d") }),
            fc.record({ op: fc.constant("reopen" as const) }),
          ),
          { minLength: 1, maxLength: 10 },
        ),
        async (steps) => {
          const dir = join(await freshRoot(), "home");
          let store = await createFileStore(dir, PASS, { scrypt: FAST });
          const live = new Map<string, Uint8Array>();
          const gone: Uint8Array[] = [];
          for (const step of steps) {
            if (step.op === "reopen") {
              await store.close();
              store = await openFileStore(dir, PASS);
              continue;
            }
            const previous = live.get(step.key);
            if (previous !== undefined) gone.push(previous);
            live.delete(step.key);
            if (step.op === "put") {
              const m = keyMaterial();
              // Big values push the batches past the snapshot and force compactions.
              const value = step.big ? concatBytes(m.value, new Uint8Array(40_000)) : m.value;
              await store.write([{ key: step.key, value }]);
              live.set(step.key, m.marker);
            } else {
              await store.write([{ key: step.key, value: undefined }]);
            }
          }
          await store.close();
          const all = await decryptAll(dir);
          const found = (marker: Uint8Array) => all.some((p) => contains(p, marker));
          for (const marker of gone) expect(found(marker)).toBe(false);
          for (const marker of live.values()) expect(found(marker)).toBe(true);
        },
      ),
      { numRuns: 12 },
    );
  });

  it("the replaced key table's inode is overwritten in place, not just unlinked", async () => {
    const root = await freshRoot();
    const dir = join(root, "home");
    const store = await createFileStore(dir, PASS, { scrypt: FAST });
    const old = keyMaterial();
    await store.write([{ key: "session/peer.1", value: old.value }]);
    // A second name for the current key table's inode: what the blocks hold after a replace.
    await link(join(dir, KEYS_FILE), join(root, "old-keys"));
    await link(join(dir, batchFileName(1)), join(root, "old-batch"));
    expect(await recoverable(dir, old.marker, [join(root, "old-keys")])).toBe(true);
    await store.write([{ key: "session/peer.1", value: keyMaterial().value }]);
    await store.close();
    // The old batch file is still on disk (not yet compacted), the old key table was wiped.
    expect(await recoverable(dir, old.marker, [join(root, "old-keys"), join(root, "old-batch")])).toBe(false);
  });

  it("a write that crashed before its key table is not committed, and its batch is wiped", async () => {
    const root = await freshRoot();
    const dir = join(root, "home");
    const store = await createFileStore(dir, PASS, { scrypt: FAST });
    await store.write([{ key: "a", value: utf8("1") }]);
    const keysBefore = await readFile(join(dir, KEYS_FILE));
    await store.write([{ key: "b", value: utf8("2") }]);
    await store.close();
    // As if the crash came between the batch file's rename and the key table's.
    await writeFile(join(dir, KEYS_FILE), keysBefore);
    const again = await openFileStore(dir, PASS);
    expect((await again.list("")).map(([k]) => k)).toEqual(["a"]);
    expect((await readdir(dir)).filter((n) => n.startsWith(BATCH_PREFIX))).toEqual([batchFileName(1)]);
    await again.write([{ key: "c", value: utf8("3") }]);
    await again.close();
    const last = await openFileStore(dir, PASS);
    expect((await last.list("")).map(([k]) => k)).toEqual(["a", "c"]);
    await last.close();
  });

  it("a store in the first layout (values under the store key only) is rewritten and its old values wiped on open", async () => {
    const dir = join(await freshRoot(), "home");
    const { header, key } = await createHeader(PASS, FAST);
    const old = keyMaterial();
    const current = keyMaterial();
    const { mkdir } = await import("node:fs/promises");
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(join(dir, SNAPSHOT_FILE), sealFile(key, SNAPSHOT_FILE, KIND_SNAPSHOT, 0, new Uint8Array(0)), { mode: 0o600 });
    await writeFile(join(dir, batchFileName(1)), sealFile(key, batchFileName(1), KIND_BATCH, 1, serializeOps([{ key: "s", value: old.value }])), { mode: 0o600 });
    await writeFile(join(dir, batchFileName(2)), sealFile(key, batchFileName(2), KIND_BATCH, 2, serializeOps([{ key: "s", value: current.value }, { key: "t", value: utf8("x") }])), { mode: 0o600 });
    await writeFile(join(dir, HEADER_FILE), serializeHeader(header), { mode: 0o600 });
    expect(await recoverable(dir, old.marker)).toBe(true);

    const store = await openFileStore(dir, PASS);
    expect(await store.get("s")).toEqual(current.value);
    await store.close();
    expect(await recoverable(dir, old.marker)).toBe(false);
    expect(await recoverable(dir, current.marker)).toBe(true);
    const again = await openFileStore(dir, PASS);
    expect((await again.list("")).map(([k]) => k)).toEqual(["s", "t"]);
    await again.close();
  });
});
