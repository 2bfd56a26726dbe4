// The one contract suite every RelayStore backend passes (STYLE.md: one contract suite per
// interface). relay/store/relay-store.test.ts runs it against SQLite and against PostgreSQL.
//
// Owns: the behaviour the interface promises (relay/store/relay-store.ts), tested through the
// interface only. Backend specifics (pragmas, schema versions, several processes) live in the
// backend's own test file.

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PreKeyCapacityError, type RelayStore } from "./relay-store.js";

/** One fresh backing (a directory, a database) that stores can be opened on, again and again. */
export interface StoreBacking {
  open(): Promise<RelayStore>;
  /** Removes the backing; every store opened on it is closed first. */
  destroy(): Promise<void>;
}

const bytes = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);
const ec = (i: number): Uint8Array => {
  const k = bytes(33, i);
  k[0] = 5;
  return k;
};
const kyber = (i: number): Uint8Array => {
  const k = bytes(1569, i);
  k[0] = 8;
  return k;
};
const sig = bytes(64, 7);
const address = bytes(16, 1);

/** Registers the contract tests for one backend. */
export function describeRelayStoreContract(name: string, fresh: () => Promise<StoreBacking>): void {
  describe(`RelayStore contract: ${name}`, () => {
    let backing: StoreBacking;
    let store: RelayStore;
    beforeEach(async () => {
      backing = await fresh();
      store = await backing.open();
    });
    afterEach(async () => {
      await store.close();
      await backing.destroy();
    });

    const account = async (addr = address): Promise<void> => {
      await store.upsertAccount({ address: addr, identityKey: ec(addr[0]!), registrationId: 1, createdAtMs: 0 });
    };

    it("creates, updates, reads and deletes accounts with everything held for them", async () => {
      expect(await store.upsertAccount({ address, identityKey: ec(1), registrationId: 7, createdAtMs: 3 })).toEqual({ created: true });
      expect(await store.upsertAccount({ address, identityKey: ec(1), registrationId: 8, createdAtMs: 9 })).toEqual({ created: false });
      expect(await store.getAccount(address)).toEqual({ address, identityKey: ec(1), registrationId: 8, createdAtMs: 3 });
      await store.putToken(bytes(32, 3), address, 100);
      await store.setDeliveryTokenHash(address, bytes(32, 4));
      expect(await store.getDeliveryTokenHash(address)).toEqual(bytes(32, 4));
      expect(await store.findToken(bytes(32, 3), 99)).toEqual({ address, expiresAtMs: 100 });
      expect(await store.findToken(bytes(32, 3), 100)).toBeUndefined();
      await store.enqueueMailbox(address, bytes(3, 1), 1, 10);
      await store.deleteAccount(address);
      expect(await store.getAccount(address)).toBeUndefined();
      expect(await store.findToken(bytes(32, 3), 0)).toBeUndefined();
      expect(await store.getDeliveryTokenHash(address)).toBeUndefined();
      expect(await store.readMailbox(address, 0, 10)).toEqual([]);
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
      const first = bundles.find((b) => b?.oneTimePreKey?.id === 1);
      expect(first?.oneTimePreKey?.publicKey).toEqual(ec(11));
      expect(first?.signedPreKey).toEqual({ id: 1, publicKey: ec(2), signature: sig });
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

    it("an upload beyond the per-kind cap stores nothing; a re-uploaded id replaces the key", async () => {
      await account();
      await expect(store.storePreKeys(address, { signedPreKey: { id: 5, publicKey: ec(2), signature: sig }, oneTimePreKeys: [1, 2, 3].map((id) => ({ id, publicKey: ec(id) })), kyberPreKeys: [] }, 2)).rejects.toBeInstanceOf(PreKeyCapacityError);
      expect(await store.getPreKeyCounts(address)).toEqual({ oneTimePreKeys: 0, kyberPreKeys: 0, signedPreKeyId: undefined, hasLastResortKyberPreKey: false });
      await store.storePreKeys(address, { signedPreKey: { id: 5, publicKey: ec(2), signature: sig }, oneTimePreKeys: [{ id: 1, publicKey: ec(40) }], kyberPreKeys: [{ id: 1, publicKey: kyber(1), signature: sig }, { id: 2, publicKey: kyber(2), signature: sig }] }, 2);
      const counts = await store.storePreKeys(address, { oneTimePreKeys: [{ id: 1, publicKey: ec(41) }], kyberPreKeys: [{ id: 1, publicKey: kyber(3), signature: sig }] }, 2);
      expect(counts).toEqual({ oneTimePreKeys: 1, kyberPreKeys: 2, signedPreKeyId: 5, hasLastResortKyberPreKey: false });
      const bundle = await store.takePreKeyBundle(address);
      expect(bundle?.oneTimePreKey?.publicKey).toEqual(ec(41));
      // The replaced Kyber key went to the back of the handout order.
      expect(bundle?.kyberPreKey.id).toBe(2);
      expect((await store.takePreKeyBundle(address))?.kyberPreKey.publicKey).toEqual(kyber(3));
    });

    it("mailbox appends each get their own outcome; a full mailbox refuses only the excess", async () => {
      await account();
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => store.enqueueMailbox(address, bytes(3, i), 10, 4)));
      expect(results.filter((r) => r.ok).length).toBe(4);
      expect(results.filter((r) => !r.ok && r.reason === "full").length).toBe(2);
      expect(await store.enqueueMailbox(bytes(16, 9), bytes(3, 1), 10, 4)).toEqual({ ok: false, reason: "no_recipient" });
      const rows = await store.readMailbox(address, 0, 100);
      // Which four win a race is the backend's choice; exactly the accepted ones are stored.
      const accepted = results.flatMap((r, i) => (r.ok ? [i] : []));
      expect(rows.map((r) => r.envelope[0]).sort()).toEqual(accepted);
      expect(rows.map((r) => r.id).sort()).toEqual(results.flatMap((r) => (r.ok ? [r.id] : [])).sort());
      const ids = rows.map((r) => r.id);
      expect([...ids].sort((a, b) => a - b)).toEqual(ids);
      expect((await store.readMailbox(address, ids[1]!, 1)).map((r) => r.id)).toEqual([ids[2]]);
      expect(await store.ackMailbox(address, [ids[0]!, ids[1]!, 999_999_999, Number.MAX_SAFE_INTEGER])).toBe(2);
      expect(await store.ackMailbox(bytes(16, 9), [ids[2]!])).toBe(0);
      expect((await store.readMailbox(address, 0, 100)).map((r) => r.id)).toEqual(ids.slice(2));
    });

    it("room appends number from 1 without gaps and the cap drops the oldest", async () => {
      const room = bytes(16, 4);
      expect(await store.createRoom(room, bytes(32, 1), 5)).toBe(true);
      expect(await store.createRoom(room, bytes(32, 2), 5)).toBe(false);
      const seqs = await Promise.all(Array.from({ length: 7 }, (_, i) => store.appendRoomEvent(room, bytes(2, i), 6, 3)));
      expect(seqs.map((s) => (s.ok ? s.seq : 0)).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(await store.appendRoomEvent(bytes(16, 5), bytes(1, 1), 6, 3)).toEqual({ ok: false, reason: "not_found" });
      expect((await store.readRoomEvents(room, 0, 10)).map((e) => e.seq)).toEqual([5, 6, 7]);
      expect(await store.getRoom(room)).toMatchObject({ latestSeq: 7, oldestRetainedSeq: 5, createdAtMs: 5, accessKeyHash: bytes(32, 1), previousAccessKeyHash: undefined });
      expect(await store.setRoomAccessKeyHash(room, bytes(32, 9))).toBe(true);
      expect(await store.setRoomAccessKeyHash(bytes(16, 5), bytes(32, 9))).toBe(false);
      expect(await store.getRoom(room)).toMatchObject({ accessKeyHash: bytes(32, 9), previousAccessKeyHash: bytes(32, 1) });
      expect(await store.getRoom(bytes(16, 5))).toBeUndefined();
    });

    it("API-40: one invite box per room; a put replaces it (old address gone), survives sweeps and reopening; none for an unknown room", async () => {
      const room = bytes(16, 0x41);
      expect(await store.putInviteBox(room, bytes(32, 1), bytes(60, 2), 1000)).toBe(false);
      expect(await store.getInviteBox(room)).toBeUndefined();
      await store.createRoom(room, bytes(32, 9), 1000);
      expect(await store.getInviteBox(room)).toBeUndefined();
      expect(await store.putInviteBox(room, bytes(32, 1), bytes(60, 2), 1000)).toBe(true);
      expect(await store.getInviteBox(room)).toEqual({ addressHash: bytes(32, 1), box: bytes(60, 2) });
      // Idempotent, then replaced: the room's earlier address no longer finds anything.
      expect(await store.putInviteBox(room, bytes(32, 1), bytes(60, 2), 1000)).toBe(true);
      expect(await store.putInviteBox(room, bytes(32, 3), bytes(70, 4), 2000)).toBe(true);
      expect(await store.getInviteBox(room)).toEqual({ addressHash: bytes(32, 3), box: bytes(70, 4) });
      // Another room's box is separate.
      const other = bytes(16, 0x42);
      await store.createRoom(other, bytes(32, 9), 1000);
      expect(await store.getInviteBox(other)).toBeUndefined();
      await store.sweep(10_000_000_000, 1, 1);
      await store.close();
      store = await backing.open();
      expect(await store.getInviteBox(room)).toEqual({ addressHash: bytes(32, 3), box: bytes(70, 4) });
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
      // The room row survives, so its sequence numbers continue.
      expect(await store.appendRoomEvent(room, bytes(1, 1), 3000, 10)).toMatchObject({ ok: true, seq: 2 });
    });

    it("sweeps more rows than one chunk", async () => {
      await account();
      for (let i = 0; i < 5; i++) await Promise.all(Array.from({ length: 1000 }, () => store.enqueueMailbox(address, bytes(1, 1), 1, 100_000)));
      await store.enqueueMailbox(address, bytes(1, 2), 10_000, 100_000);
      const result = await store.sweep(10_000, 5_000, 5_000);
      expect(result.mailboxEnvelopes).toBe(5000);
      expect((await store.readMailbox(address, 0, 10)).length).toBe(1);
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

    it("rate buckets allow a burst of perMinute, then tell how long to wait, and refill with time", async () => {
      for (let i = 0; i < 3; i++) expect(await store.takeRateToken("posts", "k1", 3, 1_000)).toEqual({ allowed: true });
      const denied = await store.takeRateToken("posts", "k1", 3, 1_000);
      expect(denied.allowed).toBe(false);
      // 3 per minute: one token every 20 s.
      expect(denied.allowed ? 0 : denied.retryAfterMs).toBe(20_000);
      // Other keys and other buckets are independent.
      expect(await store.takeRateToken("posts", "k2", 3, 1_000)).toEqual({ allowed: true });
      expect(await store.takeRateToken("sends", "k1", 3, 1_000)).toEqual({ allowed: true });
      expect(await store.takeRateToken("posts", "k1", 3, 11_000)).toMatchObject({ allowed: false, retryAfterMs: 10_000 });
      expect(await store.takeRateToken("posts", "k1", 3, 21_000)).toEqual({ allowed: true });
      expect((await store.takeRateToken("posts", "k1", 3, 21_000)).allowed).toBe(false);
    });

    it("API-29: a bucket with an hour window refills over the hour, and a sweep in between does not reset it", async () => {
      const hour = 3_600_000;
      const t0 = 10_000_000;
      expect(await store.takeRateToken("handouts", "t", 2, t0, hour)).toEqual({ allowed: true });
      expect(await store.takeRateToken("handouts", "t", 2, t0, hour)).toEqual({ allowed: true });
      const denied = await store.takeRateToken("handouts", "t", 2, t0, hour);
      expect(denied.allowed ? 0 : denied.retryAfterMs).toBeGreaterThan(hour / 2 - 1_000);
      await store.sweep(t0 + 120_000, 30 * 86_400_000, 7 * 86_400_000); // two minutes idle: not full yet
      expect((await store.takeRateToken("handouts", "t", 2, t0 + 120_000, hour)).allowed).toBe(false);
      expect(await store.takeRateToken("handouts", "t", 2, t0 + hour / 2 + 1_000, hour)).toEqual({ allowed: true });
    });

    it("the first trust material claimed stays; reopening finds it", async () => {
      expect(await store.loadTrustMaterial()).toBeUndefined();
      const first = new Uint8Array(Buffer.from('{"version":1,"a":1}'));
      expect(await store.claimTrustMaterial(first)).toEqual(first);
      expect(await store.claimTrustMaterial(new Uint8Array(Buffer.from('{"version":1,"a":2}')))).toEqual(first);
      await store.close();
      store = await backing.open();
      expect(await store.loadTrustMaterial()).toEqual(first);
    });

    it("API-31: byte quotas per mailbox, per room and overall refuse appends and store nothing; counters follow acks, sweeps and deletions", async () => {
      await account();
      const other = bytes(16, 2);
      await account(other);
      const q = { maxBytes: 10, maxTotalBytes: 30 };
      expect(await store.enqueueMailbox(address, bytes(6, 1), 1, 100, q)).toMatchObject({ ok: true });
      expect(await store.enqueueMailbox(address, bytes(5, 2), 1, 100, q)).toEqual({ ok: false, reason: "full" });
      expect(await store.enqueueMailbox(address, bytes(4, 3), 1, 100, q)).toMatchObject({ ok: true });
      expect(await store.storedBytes()).toBe(10);
      const [first] = await store.readMailbox(address, 0, 10);
      expect(await store.ackMailbox(address, [first!.id])).toBe(1);
      expect(await store.storedBytes()).toBe(4);
      expect(await store.enqueueMailbox(address, bytes(5, 4), 1, 100, q)).toMatchObject({ ok: true });
      // A room: its own quota, then the overall one (9 bytes in mailboxes now).
      const room = bytes(16, 9);
      await store.createRoom(room, bytes(32, 1), 0);
      expect(await store.appendRoomEvent(room, bytes(11, 1), 5, 100, q)).toEqual({ ok: false, reason: "room_full" });
      expect(await store.appendRoomEvent(room, bytes(10, 1), 5, 100, q)).toMatchObject({ ok: true, seq: 1 });
      expect(await store.enqueueMailbox(other, bytes(10, 5), 1, 100, q)).toMatchObject({ ok: true });
      expect(await store.storedBytes()).toBe(29);
      const third = bytes(16, 3);
      await account(third);
      expect(await store.enqueueMailbox(third, bytes(2, 6), 1, 100, q)).toEqual({ ok: false, reason: "storage_full" });
      const room2 = bytes(16, 8);
      await store.createRoom(room2, bytes(32, 1), 0);
      expect(await store.appendRoomEvent(room2, bytes(2, 1), 5, 100, q)).toEqual({ ok: false, reason: "storage_full" });
      // Refused appends used no sequence number.
      expect((await store.appendRoomEvent(room2, bytes(1, 1), 5, 100, q)) as unknown).toMatchObject({ ok: true, seq: 1 });
      expect(await store.appendRoomEvent(bytes(16, 7), bytes(1, 1), 5, 100, q)).toEqual({ ok: false, reason: "not_found" });
      expect(await store.storedBytes()).toBe(30);
      await store.deleteAccount(other); // its 10 mailbox bytes go with it
      expect(await store.storedBytes()).toBe(20);
      const swept = await store.sweep(1_000_000, 1, 1); // everything is older than 1 ms
      expect(swept.mailboxEnvelopes + swept.roomEvents).toBe(4);
      expect(await store.storedBytes()).toBe(0);
      expect(await store.appendRoomEvent(room, bytes(10, 1), 5, 100, q)).toMatchObject({ ok: true, seq: 2 });
    });

    it("API-28: at most maxStored challenges are kept; the ones expiring first are dropped", async () => {
      for (let i = 1; i <= 5; i++) await store.putChallenge(bytes(32, i), ec(1), 1_000 + i, 3);
      const alive = [];
      for (let i = 1; i <= 5; i++) alive.push(await store.consumeChallenge(bytes(32, i), ec(1), 0));
      expect(alive).toEqual([false, false, true, true, true]);
      // Consumed ones no longer count.
      for (let i = 6; i <= 8; i++) await store.putChallenge(bytes(32, i), ec(1), 2_000 + i, 3);
      const again = [];
      for (let i = 6; i <= 8; i++) again.push(await store.consumeChallenge(bytes(32, i), ec(1), 0));
      expect(again).toEqual([true, true, true]);
    });

    it("close() finishes pending appends first; later calls reject; reopening finds them", async () => {
      await account();
      const pending = store.enqueueMailbox(address, bytes(1, 1), 1, 10);
      await store.close();
      expect(await pending).toMatchObject({ ok: true });
      await expect(store.readMailbox(address, 0, 10)).rejects.toThrow(/closed/);
      store = await backing.open();
      expect((await store.readMailbox(address, 0, 10)).length).toBe(1);
    });
  });
}
