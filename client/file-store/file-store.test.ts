// Tests of the encrypted file store: round trip against a model, atomicity across simulated
// crashes, wrong passphrase, file modes, tampering, the lock, and that no key or value appears
// in the raw bytes on disk.
import { fork } from "node:child_process";
import { copyFile, mkdtemp, readdir, readFile, rename, rm, stat, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { inspect } from "node:util";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { BATCH_PREFIX, DEFAULT_SCRYPT, HEADER_FILE, LOCK_FILE, SNAPSHOT_FILE, TEMP_SUFFIX, type ScryptParams } from "./constants.js";
import { isFileStoreError, type FileStoreErrorCode } from "./errors.js";
import { batchFileName, createFileStore, fileStoreExists, openFileStore, removeFileStore } from "./file-store.js";

/** Cheapest allowed cost, so the suite stays fast; one test uses the default. */
const FAST: ScryptParams = { logN: 10, r: 8, p: 1 };
const PASS = "correct horse battery staple";
const enc = new TextEncoder();
const dirs: string[] = [];

async function freshDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "securecomm-fs-"));
  dirs.push(d);
  return join(d, "home");
}

afterEach(async () => {
  while (dirs.length > 0) await rm(dirs.pop() as string, { recursive: true, force: true });
});

async function expectCode(p: Promise<unknown>, code: FileStoreErrorCode): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(isFileStoreError(e, code), `expected FileStoreError ${code}, got ${String(e)}`).toBe(true);
}

async function contents(dir: string): Promise<Map<string, string>> {
  const store = await openFileStore(dir, PASS);
  try {
    const out = new Map<string, string>();
    for (const [k, v] of await store.list("")) out.set(k, Buffer.from(v).toString("hex"));
    return out;
  } finally {
    await store.close();
  }
}

describe("file store round trip", () => {
  it("gets, lists by prefix in key order, deletes, and survives reopening", async () => {
    const dir = await freshDir();
    const store = await createFileStore(dir, PASS, { scrypt: FAST });
    await store.write([
      { key: "room/b", value: enc.encode("two") },
      { key: "room/a", value: enc.encode("one") },
      { key: "identity", value: new Uint8Array([1, 2, 3]) },
    ]);
    await store.write([{ key: "room/b", value: undefined }, { key: "room/c", value: new Uint8Array(0) }]);
    expect(await store.list("room/")).toEqual([
      ["room/a", enc.encode("one")],
      ["room/c", new Uint8Array(0)],
    ]);
    const got = await store.get("identity");
    got?.fill(9);
    expect(await store.get("identity")).toEqual(new Uint8Array([1, 2, 3]));
    expect(await store.get("room/b")).toBeUndefined();
    await store.close();
    await expectCode(store.get("identity"), "closed");

    const again = await openFileStore(dir, PASS);
    expect(await again.list("")).toEqual([
      ["identity", new Uint8Array([1, 2, 3])],
      ["room/a", enc.encode("one")],
      ["room/c", new Uint8Array(0)],
    ]);
    await again.close();
  });

  it("matches a model map across random batches, compaction and reopening", async () => {
    const key = fc.constantFrom("a", "b", "c", "room/1", "room/2", "sess/x", "é/ü");
    const value = fc.option(fc.uint8Array({ maxLength: 24_000 }), { nil: undefined, freq: 4 });
    const batches = fc.array(fc.array(fc.record({ key, value }), { maxLength: 6 }), { maxLength: 12 });
    await fc.assert(
      fc.asyncProperty(batches, fc.integer({ min: 0, max: 12 }), async (bs, reopenAt) => {
        const dir = await freshDir();
        const model = new Map<string, Uint8Array>();
        let store = await createFileStore(dir, PASS, { scrypt: FAST });
        try {
          for (let i = 0; i < bs.length; i++) {
            const batch = bs[i] ?? [];
            await store.write(batch);
            for (const w of batch) {
              if (w.value === undefined) model.delete(w.key);
              else model.set(w.key, w.value);
            }
            if (i === reopenAt) {
              await store.close();
              store = await openFileStore(dir, PASS);
            }
          }
          const expected = [...model.entries()].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
          expect(await store.list("")).toEqual(expected);
          await store.close();
          store = await openFileStore(dir, PASS);
          expect(await store.list("")).toEqual(expected);
        } finally {
          await store.close();
        }
      }),
      { numRuns: 10 },
    );
  });

  it("folds batch files into the snapshot once they outgrow it", async () => {
    const dir = await freshDir();
    const store = await createFileStore(dir, PASS, { scrypt: FAST });
    for (let i = 0; i < 5; i++) await store.write([{ key: `k${i}`, value: new Uint8Array(30_000).fill(i) }]);
    const names = await readdir(dir);
    expect(names.filter((n) => n.startsWith(BATCH_PREFIX)).length).toBeLessThan(5);
    await store.close();
    const state = await contents(dir);
    expect([...state.keys()]).toEqual(["k0", "k1", "k2", "k3", "k4"]);
    expect(state.get("k3")).toBe(Buffer.from(new Uint8Array(30_000).fill(3)).toString("hex"));
  });

  it("rejects a non-bytes value with TypeError and changes nothing", async () => {
    const dir = await freshDir();
    const store = await createFileStore(dir, PASS, { scrypt: FAST });
    await store.write([{ key: "a", value: enc.encode("kept") }]);
    await expect(
      store.write([
        { key: "a", value: undefined },
        { key: "b", value: "text" as unknown as Uint8Array },
      ]),
    ).rejects.toThrow(TypeError);
    expect(await store.get("a")).toEqual(enc.encode("kept"));
    await store.close();
    expect(await contents(dir)).toEqual(new Map([["a", Buffer.from("kept").toString("hex")]]));
  });

  it("derives with the default scrypt cost and refuses to create twice", async () => {
    const dir = await freshDir();
    expect(await fileStoreExists(dir)).toBe(false);
    const store = await createFileStore(dir, PASS);
    await store.write([{ key: "x", value: new Uint8Array([7]) }]);
    await store.close();
    const header = JSON.parse(await readFile(join(dir, HEADER_FILE), "utf8")) as { kdf: ScryptParams };
    expect(header.kdf).toMatchObject(DEFAULT_SCRYPT);
    expect(await fileStoreExists(dir)).toBe(true);
    await expectCode(createFileStore(dir, PASS, { scrypt: FAST }), "already_exists");
    expect((await contents(dir)).get("x")).toBe("07");
  });
});

describe("file store atomicity", () => {
  it("ignores and deletes temporary files a crash left behind", async () => {
    const dir = await freshDir();
    const store = await createFileStore(dir, PASS, { scrypt: FAST });
    await store.write([{ key: "a", value: enc.encode("1") }]);
    await store.write([{ key: "b", value: enc.encode("2") }]);
    await store.close();
    // A crash during the third write (batch not yet renamed) and during a compaction.
    await writeFile(join(dir, batchFileName(3) + TEMP_SUFFIX), new Uint8Array([0x53, 0x43, 0x46]), { mode: 0o600 });
    await writeFile(join(dir, SNAPSHOT_FILE + TEMP_SUFFIX), new Uint8Array(100).fill(0xaa), { mode: 0o600 });
    expect(await contents(dir)).toEqual(
      new Map([
        ["a", Buffer.from("1").toString("hex")],
        ["b", Buffer.from("2").toString("hex")],
      ]),
    );
    expect((await readdir(dir)).filter((n) => n.endsWith(TEMP_SUFFIX))).toEqual([]);
    // The interrupted sequence number is reused cleanly by the next write.
    const again = await openFileStore(dir, PASS);
    await again.write([{ key: "c", value: enc.encode("3") }]);
    await again.close();
    expect([...(await contents(dir)).keys()]).toEqual(["a", "b", "c"]);
  });

  it("drops batch files a crash left behind after they were folded into the snapshot", async () => {
    const dir = await freshDir();
    const store = await createFileStore(dir, PASS, { scrypt: FAST });
    await store.write([{ key: "a", value: enc.encode("old") }]);
    await copyFile(join(dir, batchFileName(1)), join(dir, "saved"));
    await store.write([{ key: "big", value: new Uint8Array(70_000) }]); // triggers compaction
    await store.write([{ key: "a", value: enc.encode("new") }]);
    await store.close();
    expect((await readdir(dir)).includes(batchFileName(1))).toBe(false);
    await rename(join(dir, "saved"), join(dir, batchFileName(1)));
    const state = await contents(dir);
    expect(state.get("a")).toBe(Buffer.from("new").toString("hex"));
    expect((await readdir(dir)).includes(batchFileName(1))).toBe(false);
  });
});

describe("file store passphrase and tampering", () => {
  it("refuses a wrong passphrase with a typed error and releases the lock", async () => {
    const dir = await freshDir();
    await (await createFileStore(dir, PASS, { scrypt: FAST })).close();
    await expectCode(openFileStore(dir, "wrong"), "wrong_passphrase");
    await expectCode(openFileStore(dir, ""), "wrong_passphrase");
    await (await openFileStore(dir, PASS)).close();
  });

  it("treats a passphrase in another Unicode normalisation form as the same", async () => {
    const dir = await freshDir();
    await (await createFileStore(dir, "caf\u00e9", { scrypt: FAST })).close();
    await (await openFileStore(dir, "cafe\u0301")).close();
  });

  it("reports not_found for a directory without a store", async () => {
    await expectCode(openFileStore(await freshDir(), PASS), "not_found");
  });

  async function populated(): Promise<string> {
    const dir = await freshDir();
    const store = await createFileStore(dir, PASS, { scrypt: FAST });
    await store.write([{ key: "a", value: enc.encode("alpha") }]);
    await store.write([{ key: "b", value: enc.encode("beta") }]);
    await store.write([{ key: "c", value: enc.encode("gamma") }]);
    await store.close();
    return dir;
  }

  it("detects any bit flip in a data file as corrupt", async () => {
    const dir = await populated();
    for (const name of [SNAPSHOT_FILE, batchFileName(2)]) {
      const path = join(dir, name);
      const original = await readFile(path);
      for (const pos of [0, 4, 8, 12, 20, original.length - 1]) {
        const bad = Buffer.from(original);
        bad[pos] = (bad[pos] as number) ^ 0x01;
        await writeFile(path, bad);
        await expectCode(openFileStore(dir, PASS), "corrupt");
      }
      await writeFile(path, original.subarray(0, original.length - 3));
      await expectCode(openFileStore(dir, PASS), "corrupt");
      await writeFile(path, original);
    }
    expect([...(await contents(dir)).keys()]).toEqual(["a", "b", "c"]);
  });

  it("detects renamed, swapped and missing batch files", async () => {
    const dir = await populated();
    const p1 = join(dir, batchFileName(1));
    const p2 = join(dir, batchFileName(2));
    const b1 = await readFile(p1);
    const b2 = await readFile(p2);
    await writeFile(p1, b2);
    await writeFile(p2, b1);
    await expectCode(openFileStore(dir, PASS), "corrupt");
    await writeFile(p1, b1);
    await unlink(p2);
    await expectCode(openFileStore(dir, PASS), "corrupt");
    await writeFile(p2, b2);
    await unlink(join(dir, SNAPSHOT_FILE));
    await expectCode(openFileStore(dir, PASS), "corrupt");
  });

  it("refuses an altered header: bad fields are corrupt, another salt is a wrong key", async () => {
    const dir = await populated();
    const path = join(dir, HEADER_FILE);
    const original = await readFile(path, "utf8");
    const header = JSON.parse(original) as Record<string, unknown> & { kdf: Record<string, unknown>; salt: string };
    const variants: Array<[string, FileStoreErrorCode]> = [
      ["{not json", "corrupt"],
      [JSON.stringify({ ...header, version: 2 }), "corrupt"],
      [JSON.stringify({ ...header, kdf: { ...header.kdf, logN: 30 } }), "corrupt"],
      [JSON.stringify({ ...header, kdf: { ...header.kdf, logN: 8 } }), "corrupt"],
      [JSON.stringify({ ...header, salt: "AAAA" }), "corrupt"],
      [JSON.stringify({ ...header, kdf: { ...header.kdf, logN: 11 } }), "wrong_passphrase"],
      [JSON.stringify({ ...header, salt: Buffer.alloc(16, 1).toString("base64") }), "wrong_passphrase"],
    ];
    for (const [text, code] of variants) {
      await writeFile(path, text);
      await expectCode(openFileStore(dir, PASS), code);
    }
    await writeFile(path, original);
    expect([...(await contents(dir)).keys()]).toEqual(["a", "b", "c"]);
  });
});

describe("file store on disk", () => {
  it("creates the directory 0700 and every file 0600 even under a permissive umask", async () => {
    const dir = await freshDir();
    const previous = process.umask(0);
    try {
      const store = await createFileStore(dir, PASS, { scrypt: FAST });
      await store.write([{ key: "a", value: new Uint8Array(70_000) }]);
      await store.write([{ key: "b", value: new Uint8Array(10) }]);
      expect((await stat(dir)).mode & 0o777).toBe(0o700);
      const names = await readdir(dir);
      expect(names).toContain(LOCK_FILE);
      expect(names).toContain(SNAPSHOT_FILE);
      expect(names.some((n) => n.startsWith(BATCH_PREFIX))).toBe(true);
      for (const name of names) expect([name, (await stat(join(dir, name))).mode & 0o777]).toEqual([name, 0o600]);
      await store.close();
    } finally {
      process.umask(previous);
    }
  });

  it("never writes keys, values or the passphrase in plaintext", async () => {
    const dir = await freshDir();
    const markers = ["room-name-MARKER-7f3a", "secret-value-MARKER-91c2", "display-MARKER-name"];
    const store = await createFileStore(dir, PASS, { scrypt: FAST });
    await store.write([{ key: `rooms/${markers[0]}`, value: enc.encode(markers[1]) }]);
    await store.write([{ key: "profile", value: enc.encode(markers[2]) }]);
    await store.write([{ key: "pad", value: new Uint8Array(70_000) }]); // compacts: snapshot holds all
    await store.write([{ key: `again/${markers[0]}`, value: enc.encode(markers[1]) }]);
    await store.close();
    const needles = [...markers, PASS, "rooms/", "profile"].flatMap((m) => [Buffer.from(m, "utf8"), Buffer.from(m, "utf16le")]);
    const names = await readdir(dir);
    expect(names.length).toBeGreaterThan(2);
    for (const name of names) {
      const raw = await readFile(join(dir, name));
      for (const needle of needles) expect(raw.includes(needle), `${name} contains a plaintext marker`).toBe(false);
      for (const m of markers) expect(name.includes(m)).toBe(false);
    }
  });

  it("prints as a redacted tag", async () => {
    const store = await createFileStore(await freshDir(), PASS, { scrypt: FAST });
    expect(inspect(store)).toBe("[FileKeyValueStore]");
    expect(JSON.stringify({ store })).toBe('{"store":"[FileKeyValueStore]"}');
    await store.close();
  });
});

describe("file store lock", () => {
  it("refuses a second opener while the first holds the store, then lets it in", async () => {
    const dir = await freshDir();
    const first = await createFileStore(dir, PASS, { scrypt: FAST });
    await expectCode(openFileStore(dir, PASS), "locked");
    await first.close();
    const second = await openFileStore(dir, PASS);
    await second.close();
  });

  it("refuses an opener in another process holding the lock, and breaks a dead holder's lock", async () => {
    const dir = await freshDir();
    await (await createFileStore(dir, PASS, { scrypt: FAST })).close();
    // A live process's id in the lock file: refused.
    const child = fork(fileURLToPath(new URL("./lock-holder.test-support.mjs", import.meta.url)), [], { stdio: ["ignore", "ignore", "ignore", "ipc"] });
    try {
      await new Promise<void>((resolve) => child.once("message", () => resolve()));
      await writeFile(join(dir, LOCK_FILE), `${child.pid}\n`, { mode: 0o600 });
      await expectCode(openFileStore(dir, PASS), "locked");
    } finally {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill();
      await exited;
    }
    // The same id once that process is gone: stale, so the lock is taken over.
    const store = await openFileStore(dir, PASS);
    expect((await readFile(join(dir, LOCK_FILE), "utf8")).trim()).toBe(String(process.pid));
    await store.close();
    expect((await readdir(dir)).includes(LOCK_FILE)).toBe(false);
  });
});

describe("file store removal", () => {
  it("removes only the store's own files, after which the directory has no store", async () => {
    const dir = await freshDir();
    const store = await createFileStore(dir, PASS, { scrypt: FAST });
    await store.write([{ key: "a", value: new Uint8Array([1]) }]);
    await store.close();
    await writeFile(join(dir, "notes.txt"), "mine");
    await removeFileStore(dir);
    expect(await readdir(dir)).toEqual(["notes.txt"]);
    expect(await fileStoreExists(dir)).toBe(false);
    await (await createFileStore(dir, PASS, { scrypt: FAST })).close();
  });
});
