import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SCHEMA_VERSION } from "./migrations.js";
import { PreKeyCapacityError } from "./relay-store.js";
import { DATABASE_FILE, openSqliteStore } from "./sqlite-store.js";

let dir: string;
let store: ReturnType<typeof openSqliteStore>;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "securecomm-store-"));
  store = openSqliteStore({ dataDir: dir });
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);
const address = bytes(16, 1);
const ec = (i: number) => { const k = bytes(33, i); k[0] = 5; return k; };
const kyber = (i: number) => { const k = bytes(1569, i); k[0] = 8; return k; };
const sig = bytes(64, 7);

async function account(addr = address) {
  await store.upsertAccount({ address: addr, identityKey: ec(addr[0]!), registrationId: 1, createdAtMs: 0 });
}

describe("SQLite relay store", () => {
  it("opens in WAL mode with synchronous FULL, foreign keys and the current schema version; reopening migrates nothing", async () => {
    expect(store.db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(store.db.pragma("synchronous", { simple: true })).toBe(2);
    expect(store.db.pragma("foreign_keys", { simple: true })).toBe(1);
    expect(store.db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    await account();
    await store.close();
    store = openSqliteStore({ dataDir: dir });
    expect(await store.getAccount(address)).toMatchObject({ registrationId: 1 });
  });

  it("refuses a database newer than the code", async () => {
    await store.close();
    const db = new Database(join(dir, DATABASE_FILE));
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => openSqliteStore({ dataDir: dir })).toThrow(/newer/);
    store = openSqliteStore({ dataDir: mkdtempSync(join(tmpdir(), "securecomm-store-")) });
  });

  it("takes each one-time key at most once, then falls back to the last-resort Kyber key", async () => {
    await account();
    await store.storePreKeys(address, {
      signedPreKey: { id: 1, publicKey: ec(2), signature: sig },
      oneTimePreKeys: [1, 2, 3].map((id) => ({ id, publicKey: ec(10 + id) })),
      kyberPreKeys: [1, 2].map((id) => ({ id, publicKey: kyber(20 + id), signature: sig })),
      lastResortKyberPreKey: { id: 99, publicKey: kyber(99), signature: sig },
    }, 100);
    const bundles = await Promise.all(Array.from({ length: 5 }, () => store.takePreKeyBundle(address)));
    expect(bundles.map((b) => b?.oneTimePreKey?.id ?? null).sort()).toEqual([1, 2, 3, null, null]);
    expect(bundles.map((b) => (b?.kyberPreKeyIsLastResort ? 99 : b?.kyberPreKey.id)).sort()).toEqual([1, 2, 99, 99, 99]);
    expect(await store.getPreKeyCounts(address)).toEqual({ oneTimePreKeys: 0, kyberPreKeys: 0, signedPreKeyId: 1, hasLastResortKyberPreKey: true });
  });

  it("a bundle needs an account, a signed prekey and some Kyber key", async () => {
    expect(await store.takePreKeyBundle(address)).toBeUndefined();
    await account();
    await store.storePreKeys(address, { signedPreKey: { id: 1, publicKey: ec(2), signature: sig }, oneTimePreKeys: [{ id: 1, publicKey: ec(3) }], kyberPreKeys: [] }, 100);
    expect(await store.takePreKeyBundle(address)).toBeUndefined();
    // The failed take consumed nothing.
    expect((await store.getPreKeyCounts(address)).oneTimePreKeys).toBe(1);
  });

  it("an upload beyond the per-kind cap stores nothing", async () => {
    await account();
    await expect(store.storePreKeys(address, { signedPreKey: { id: 5, publicKey: ec(2), signature: sig }, oneTimePreKeys: [1, 2, 3].map((id) => ({ id, publicKey: ec(id) })), kyberPreKeys: [] }, 2)).rejects.toBeInstanceOf(PreKeyCapacityError);
    expect(await store.getPreKeyCounts(address)).toEqual({ oneTimePreKeys: 0, kyberPreKeys: 0, signedPreKeyId: undefined, hasLastResortKyberPreKey: false });
  });

  it("group-committed appends each get their own outcome; a full mailbox refuses only the excess", async () => {
    await account();
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => store.enqueueMailbox(address, bytes(3, i), 10, 4)));
    expect(results.filter((r) => r.ok).length).toBe(4);
    expect(results.filter((r) => !r.ok && r.reason === "full").length).toBe(2);
    expect(await store.enqueueMailbox(bytes(16, 9), bytes(3, 1), 10, 4)).toEqual({ ok: false, reason: "no_recipient" });
    const rows = await store.readMailbox(address, 0, 100);
    expect(rows.map((r) => r.envelope[0])).toEqual([0, 1, 2, 3]);
  });

  it("room appends number from 1 and the cap drops the oldest", async () => {
    const room = bytes(16, 4);
    expect(await store.createRoom(room, bytes(32, 1), 5)).toBe(true);
    expect(await store.createRoom(room, bytes(32, 2), 5)).toBe(false);
    const seqs = await Promise.all(Array.from({ length: 7 }, (_, i) => store.appendRoomEvent(room, bytes(2, i), 6, 3)));
    expect(seqs.map((s) => (s.ok ? s.seq : 0))).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(await store.appendRoomEvent(bytes(16, 5), bytes(1, 1), 6, 3)).toEqual({ ok: false, reason: "not_found" });
    expect((await store.readRoomEvents(room, 0, 10)).map((e) => e.seq)).toEqual([5, 6, 7]);
    expect(await store.getRoom(room)).toMatchObject({ latestSeq: 7, oldestRetainedSeq: 5, createdAtMs: 5 });
  });

  it("sweeps by retention with the given clock, and expired challenges and tokens", async () => {
    await account();
    await store.enqueueMailbox(address, bytes(1, 1), 1000, 10);
    await store.enqueueMailbox(address, bytes(1, 2), 2000, 10);
    const room = bytes(16, 4);
    await store.createRoom(room, bytes(32, 1), 0);
    await store.appendRoomEvent(room, bytes(1, 1), 1000, 10);
    await store.putChallenge(bytes(32, 1), ec(1), 1500);
    await store.putToken(bytes(32, 2), address, 1500);
    const result = await store.sweep(2500, 1000, 1000);
    expect(result).toEqual({ mailboxEnvelopes: 1, roomEvents: 1, challenges: 1, tokens: 1 });
    expect((await store.readMailbox(address, 0, 10)).map((r) => r.storedAtMs)).toEqual([2000]);
    expect(await store.getRoom(room)).toMatchObject({ latestSeq: 1, oldestRetainedSeq: 2 });
  });

  it("challenges are single use, bound to their key and expire", async () => {
    await store.putChallenge(bytes(32, 1), ec(1), 100);
    expect(await store.consumeChallenge(bytes(32, 1), ec(2), 0)).toBe(false);
    await store.putChallenge(bytes(32, 1), ec(1), 100);
    expect(await store.consumeChallenge(bytes(32, 1), ec(1), 100)).toBe(false);
    await store.putChallenge(bytes(32, 1), ec(1), 100);
    expect(await store.consumeChallenge(bytes(32, 1), ec(1), 99)).toBe(true);
    expect(await store.consumeChallenge(bytes(32, 1), ec(1), 99)).toBe(false);
  });

  it("close() commits pending appends first; later calls reject", async () => {
    await account();
    const pending = store.enqueueMailbox(address, bytes(1, 1), 1, 10);
    await store.close();
    expect(await pending).toMatchObject({ ok: true });
    await expect(store.readMailbox(address, 0, 10)).rejects.toThrow(/closed/);
    const db = new Database(join(dir, DATABASE_FILE), { readonly: true });
    expect((db.prepare("SELECT count(*) AS n FROM mailbox").get() as { n: number }).n).toBe(1);
    db.close();
    store = openSqliteStore({ dataDir: dir });
  });
});

describe("chunked sweeps", () => {
  it("sweeps more rows than one chunk", async () => {
    await account();
    for (let i = 0; i < 5; i++) await Promise.all(Array.from({ length: 1000 }, () => store.enqueueMailbox(address, bytes(1, 1), 1, 100_000)));
    await store.enqueueMailbox(address, bytes(1, 2), 10_000, 100_000);
    const result = await store.sweep(10_000, 5_000, 5_000);
    expect(result.mailboxEnvelopes).toBe(5000);
    expect((await store.readMailbox(address, 0, 10)).length).toBe(1);
  });
});
