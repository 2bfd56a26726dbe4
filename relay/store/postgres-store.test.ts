// PostgreSQL specifics of the relay store: several stores on one database stand for several
// relay processes (each store is its own connection pool). The shared behaviour is in the
// contract suite (relay/store/relay-store.contract.ts).
import { createServer } from "node:net";
import postgres from "postgres";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadClientCrypto } from "../trust/client-crypto.js";
import { loadOrCreateTrust } from "../trust/trust-root.js";
import { createTestDatabase } from "../testing/postgres-database.js";
import { POSTGRES_SCHEMA_VERSION } from "./postgres-migrations.js";
import { openPostgresStore, parseHint, type PostgresStore } from "./postgres-store.js";
import { StoreUnavailableError } from "./relay-store.js";

const bytes = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);
const ec = (i: number): Uint8Array => {
  const k = bytes(33, i);
  k[0] = 5;
  return k;
};
const sig = bytes(64, 7);
const address = bytes(16, 1);

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let stores: PostgresStore[];
beforeEach(async () => {
  db = await createTestDatabase();
  // Three "processes", opened at once: concurrent migrations serialize on the advisory lock.
  stores = await Promise.all([0, 1, 2].map(() => openPostgresStore({ url: db.url })));
});
afterEach(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await db.drop();
});

describe("PostgreSQL relay store shared by several processes", () => {
  it("hands each of 10 one-time prekeys to exactly one of 100 concurrent takes spread over three processes", async () => {
    const [a] = stores;
    await a!.upsertAccount({ address, identityKey: ec(1), registrationId: 1, createdAtMs: 0 });
    await a!.storePreKeys(address, {
      signedPreKey: { id: 1, publicKey: ec(2), signature: sig },
      oneTimePreKeys: Array.from({ length: 10 }, (_, i) => ({ id: i + 1, publicKey: ec(10 + i) })),
      kyberPreKeys: [],
      lastResortKyberPreKey: { id: 99, publicKey: bytes(1569, 8), signature: sig },
    }, 100);
    const bundles = await Promise.all(Array.from({ length: 100 }, (_, i) => stores[i % 3]!.takePreKeyBundle(address)));
    const ids = bundles.flatMap((b) => (b?.oneTimePreKey ? [b.oneTimePreKey.id] : []));
    expect(ids.sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(bundles.every((b) => b?.kyberPreKeyIsLastResort === true)).toBe(true);
  });

  it("numbers concurrent room appends from three processes gaplessly, each seq once", async () => {
    const room = bytes(16, 4);
    await stores[0]!.createRoom(room, bytes(32, 1), 0);
    const results = await Promise.all(Array.from({ length: 90 }, (_, i) => stores[i % 3]!.appendRoomEvent(room, bytes(1, i), 1, 1000)));
    const seqs = results.map((r) => (r.ok ? r.seq : -1)).sort((x, y) => x - y);
    expect(seqs).toEqual(Array.from({ length: 90 }, (_, i) => i + 1));
    const events = await stores[1]!.readRoomEvents(room, 0, 1000);
    expect(events.map((e) => e.seq)).toEqual(seqs);
    // Each seq carries the envelope of the append that was told that seq.
    for (const [i, r] of results.entries()) if (r.ok) expect(events[r.seq - 1]!.envelope[0]).toBe(i);
  });

  it("keeps one mailbox's ids increasing in commit order across processes, and its cap exact", async () => {
    await stores[0]!.upsertAccount({ address, identityKey: ec(1), registrationId: 1, createdAtMs: 0 });
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => stores[i % 3]!.enqueueMailbox(address, bytes(1, i), 1, 50)));
    expect(results.filter((r) => r.ok).length).toBe(50);
    expect(results.filter((r) => !r.ok).length).toBe(10);
  });

  it("shares rate buckets between processes, keeps only hashes of their keys and drops idle ones within a minute", async () => {
    const key = "0102030405060708090a0b0c0d0e0f10:a1a2a3a4a5a6a7a8a9aaabacadaeafb0";
    const outcomes = await Promise.all(Array.from({ length: 9 }, (_, i) => stores[i % 3]!.takeRateToken("bundle_fetches", key, 6, 1_000)));
    expect(outcomes.filter((o) => o.allowed).length).toBe(6);
    const rows = await stores[0]!.sql<{ key: string }[]>`SELECT key FROM rate_buckets`;
    expect(rows.length).toBe(1);
    expect(rows[0]!.key).not.toContain("0102030405");
    expect(rows[0]!.key).not.toContain("a1a2a3");
    await stores[1]!.takeRateToken("other", "k", 6, 70_000);
    // The prune runs beside the call: wait for it (bounded).
    const count = async () => (await stores[0]!.sql<{ key: string }[]>`SELECT key FROM rate_buckets`).length;
    for (let i = 0; i < 100 && (await count()) !== 1; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await count()).toBe(1);
  });

  it("gives every process the same trust root when they all start at once", async () => {
    const crypto = await loadClientCrypto();
    const trusts = await Promise.all(stores.map((s) => loadOrCreateTrust(s, crypto)));
    const roots = new Set(trusts.map((t) => Buffer.from(t.trustRoot.publicKey).toString("hex")));
    expect(roots.size).toBe(1);
    expect(new Set(trusts.map((t) => Buffer.from(t.serverCertificate).toString("hex"))).size).toBe(1);
  });

  it("sweeps in one process at a time: a sweep while another holds the lock removes nothing", async () => {
    const [a, b] = stores;
    await a!.upsertAccount({ address, identityKey: ec(1), registrationId: 1, createdAtMs: 0 });
    await a!.enqueueMailbox(address, bytes(1, 1), 1, 10);
    const holder = postgres(db.url, { max: 1 });
    try {
      const conn = await holder.reserve();
      await conn`SELECT pg_advisory_lock(${0x5343737770})`;
      expect(await b!.sweep(10_000, 1, 1)).toEqual({ mailboxEnvelopes: 0, roomEvents: 0, challenges: 0, tokens: 0 });
      expect((await a!.readMailbox(address, 0, 10)).length).toBe(1);
      await conn`SELECT pg_advisory_unlock(${0x5343737770})`;
      conn.release();
      expect((await b!.sweep(10_000, 1, 1)).mailboxEnvelopes).toBe(1);
    } finally {
      await holder.end({ timeout: 1 });
    }
  });

  it("commits synchronously even when the server's default is off", async () => {
    await stores[0]!.sql.unsafe(`ALTER DATABASE ${new URL(db.url).pathname.slice(1)} SET synchronous_commit = off`);
    const fresh = await openPostgresStore({ url: db.url });
    try {
      const [row] = await fresh.sql<{ synchronous_commit: string }[]>`SHOW synchronous_commit`;
      expect(row?.synchronous_commit).toBe("on");
    } finally {
      await fresh.close();
    }
  });

  it("records its schema version and refuses a database newer than the code", async () => {
    const [row] = await stores[0]!.sql<{ version: number }[]>`SELECT version FROM schema_version`;
    expect(row?.version).toBe(POSTGRES_SCHEMA_VERSION);
    await stores[0]!.sql`UPDATE schema_version SET version = ${POSTGRES_SCHEMA_VERSION + 1}`;
    await expect(openPostgresStore({ url: db.url })).rejects.toThrow(/newer/);
  });
});

describe("a connection lost inside a transaction", () => {
  /**
   * Holds the account row from another session, starts `op` (which waits for that row lock
   * inside its transaction), then terminates the store's waiting backend, as a database
   * restart does. The postgres client used to answer such a failure with its own ROLLBACK on
   * the closed connection, which threw from a timer and killed the process.
   */
  async function terminateMidTransaction(op: (s: PostgresStore) => Promise<unknown>): Promise<unknown[]> {
    const [a] = stores;
    await a!.upsertAccount({ address, identityKey: ec(1), registrationId: 1, createdAtMs: 0 });
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown): void => void uncaught.push(err);
    process.on("uncaughtException", onUncaught);
    const admin = postgres(db.url, { max: 2, onnotice: () => {} });
    try {
      const holder = await admin.reserve();
      await holder`BEGIN`;
      await holder`SELECT 1 FROM accounts WHERE address = ${address} FOR UPDATE`;
      const pending = op(a!);
      pending.catch(() => undefined);
      let pid: number | undefined;
      for (let i = 0; i < 200 && pid === undefined; i++) {
        const [row] = await admin<{ pid: number }[]>`SELECT pid FROM pg_stat_activity WHERE application_name = 'securecomm-relay' AND wait_event_type = 'Lock'`;
        pid = row?.pid;
        if (pid === undefined) await new Promise((r) => setTimeout(r, 10));
      }
      expect(pid).toBeDefined();
      await admin`SELECT pg_terminate_backend(${pid!})`;
      await expect(pending).rejects.toBeInstanceOf(StoreUnavailableError);
      await holder`ROLLBACK`;
      holder.release();
      // Timers and immediates of the closed connection get their turn.
      await new Promise((r) => setTimeout(r, 100));
      return uncaught;
    } finally {
      process.off("uncaughtException", onUncaught);
      await admin.end({ timeout: 1 });
    }
  }

  /**
   * Every connection of the pool serves again (a poisoned one would hang or throw otherwise).
   * The client hands the lost session's FATAL error to the first statement of the connection
   * that replaces it: that one call may fail unavailable, nothing else.
   */
  async function expectPoolServing(op: () => Promise<unknown>): Promise<void> {
    const first = await Promise.allSettled(Array.from({ length: 20 }, op));
    const failed = first.flatMap((r) => (r.status === "rejected" ? [r.reason] : []));
    expect(failed.length).toBeLessThanOrEqual(1);
    for (const err of failed) expect(err).toBeInstanceOf(StoreUnavailableError);
    const again = await Promise.allSettled(Array.from({ length: 20 }, op));
    expect(again.filter((r) => r.status === "rejected")).toEqual([]);
  }

  it("fails a mailbox append unavailable and leaves the process and the pool serving", async () => {
    const uncaught = await terminateMidTransaction((s) => s.enqueueMailbox(address, bytes(1, 1), 1, 10));
    expect(uncaught).toEqual([]);
    await expectPoolServing(() => stores[0]!.enqueueMailbox(address, bytes(1, 1), 1, 100));
  });

  it("fails a prekey upload unavailable and leaves the process and the pool serving", async () => {
    const upload = { oneTimePreKeys: [{ id: 1, publicKey: ec(3) }], kyberPreKeys: [] };
    const uncaught = await terminateMidTransaction((s) => s.storePreKeys(address, upload, 100));
    expect(uncaught).toEqual([]);
    await expectPoolServing(() => stores[0]!.storePreKeys(address, upload, 100));
  });
});

describe("an unreachable database", () => {
  it("is StoreUnavailableError, not a generic failure", async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    await expect(openPostgresStore({ url: `postgres://postgres@127.0.0.1:${port}/none` })).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});

describe("hints", () => {
  it("parse only in their exact shape", () => {
    expect(parseHint("r0123456789abcdef:0a0b:7")).toEqual({ kind: "room", origin: "0123456789abcdef", key: "0a0b", seq: 7 });
    expect(parseHint("k0123456789abcdef:0a0b")).toEqual({ kind: "rotated", origin: "0123456789abcdef", key: "0a0b" });
    expect(parseHint("p0123456789abcdef:0a0b:1")).toEqual({ kind: "prekeysLow", origin: "0123456789abcdef", key: "0a0b", handoutLimited: true });
    expect(parseHint("p0123456789abcdef:0a0b:0")).toEqual({ kind: "prekeysLow", origin: "0123456789abcdef", key: "0a0b", handoutLimited: false });
    for (const bad of ["", "p0123456789abcdef:0a0b", "p0123456789abcdef:0a0b:2", "r0123:0a:1", "x0123456789abcdef:0a:1", "m0123456789abcdef:0a", "r0123456789abcdef:0a:1:2", "r0123456789abcdef:ZZ:1"]) expect(parseHint(bad)).toBeUndefined();
  });
});
