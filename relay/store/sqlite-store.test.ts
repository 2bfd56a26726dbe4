import Database from "better-sqlite3";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SCHEMA_VERSION } from "./migrations.js";
import { loadClientCrypto } from "../trust/client-crypto.js";
import { loadOrCreateTrust } from "../trust/trust-root.js";
import { DATABASE_FILE, openSqliteStore } from "./sqlite-store.js";
import { TRUST_FILE } from "./trust-file.js";

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

// The behaviour every backend shares is in relay/store/relay-store.contract.ts.
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

describe("a data directory from the previous release", () => {
  it("opens with today's code: same records, same trust root, sequence numbers continue", async () => {
    const old = mkdtempSync(join(tmpdir(), "securecomm-release-1-"));
    try {
      cpSync(join(import.meta.dirname, "fixtures", "release-1"), old, { recursive: true });
      const trustBefore = readFileSync(join(old, TRUST_FILE));
      const s = openSqliteStore({ dataDir: old });
      try {
        expect(await s.getAccount(bytes(16, 1))).toMatchObject({ registrationId: 42 });
        expect(await s.getDeliveryTokenHash(bytes(16, 1))).toEqual(bytes(32, 3));
        expect((await s.readMailbox(bytes(16, 1), 0, 10)).map((r) => [...r.envelope])).toEqual([[1, 2, 3]]);
        expect((await s.readRoomEvents(bytes(16, 4), 0, 10)).map((e) => e.envelope[0])).toEqual([10, 11, 12]);
        expect(await s.appendRoomEvent(bytes(16, 4), bytes(1, 13), 1, 100)).toMatchObject({ ok: true, seq: 4 });
        expect(await s.loadTrustMaterial()).toEqual(new Uint8Array(trustBefore));
        const trust = await loadOrCreateTrust(s, await loadClientCrypto());
        expect(Buffer.from(trust.trustRoot.publicKey).toString("base64")).toBe(JSON.parse(trustBefore.toString("utf8")).trustRootPublic);
      } finally {
        await s.close();
      }
      expect(readFileSync(join(old, TRUST_FILE))).toEqual(trustBefore);
    } finally {
      rmSync(old, { recursive: true, force: true });
    }
  });
});
