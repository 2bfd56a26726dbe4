/**
 * Room records copied, cached and encoded (room-record-copy.ts, room-store.ts,
 * room-record-codec.ts): a copy equals its
 * original and shares nothing a caller can change; a record loaded from the store is the
 * record stored, whatever an earlier caller did to its own copy, and a transaction that failed
 * leaves the stored record as it was; an encoding decodes to the record encoded, however its
 * members changed since earlier encodings.
 */
import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RoomEpochBoundSchema, RoomEpochSecretSchema, RoomMemberSchema, type RoomRecord, RoomRecordSchema } from "../../gen/securecomm/storage/v1/room_pb.js";
import { bytesToHex } from "../crypto/bytes.js";
import { MemoryKeyValueStore } from "../store/kv-store.js";
import { StateStore } from "../store/state-store.js";
import { addressFromSerializedIdentityKey, addressToString } from "../keys/address.js";
import { ADDRESS_CACHE_LIMIT, addrOf, hexOf } from "./room-ids.js";
import { encodeRoom } from "./room-record-codec.js";
import { copyRecord } from "./room-record-copy.js";
import { allRooms, loadRoom, ROOM_KEYS, roomPosition, saveRoom, saveRoomCursor, saveRoomLast } from "./room-store.js";

const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const member = fc.record({ identityKey: bytes(33, 33), displayName: fc.string({ maxLength: 20 }), joinedSeq: u64, deliveryToken: bytes(0, 32), distributionId: bytes(0, 16) }).map((m) => create(RoomMemberSchema, m));
const record: fc.Arbitrary<RoomRecord> = fc
  .record({
    roomId: bytes(16, 16),
    name: fc.string({ maxLength: 64 }),
    roomSecret: bytes(32, 32),
    epoch: fc.nat({ max: 2 ** 32 - 1 }),
    previousSecrets: fc.array(fc.record({ epoch: fc.nat({ max: 1000 }), roomSecret: bytes(32, 32) }).map((s) => create(RoomEpochSecretSchema, s)), { maxLength: 3 }),
    adminIdentityKey: bytes(0, 33),
    members: fc.array(member, { maxLength: 12 }),
    lastSeq: u64,
    joinedSeq: u64,
    departed: fc.boolean(),
    seenJoinNonces: fc.array(bytes(16, 16), { maxLength: 5 }),
    epochBounds: fc.array(fc.record({ epoch: fc.nat({ max: 1000 }), joinsUntilSeq: u64, closedAtSeq: u64, departedIdentityKeys: fc.array(bytes(33, 33), { maxLength: 3 }) }).map((b) => create(RoomEpochBoundSchema, b)), { maxLength: 3 }),
    removedIdentityKeys: fc.array(bytes(33, 33), { maxLength: 3 }),
    retentionSeconds: fc.nat({ max: 1000 }),
  })
  .map((r) => create(RoomRecordSchema, r));

/** Changes a record in place the ways the room code does (fields replaced, lists grown, members edited). */
function scribble(r: RoomRecord): void {
  r.lastSeq += 1n;
  r.name = `${r.name}!`;
  r.members.push(create(RoomMemberSchema, { identityKey: new Uint8Array(33).fill(7), displayName: "new" }));
  if (r.members[0] !== undefined) {
    r.members[0].displayName = "renamed";
    r.members[0].distributionId = new Uint8Array(16).fill(9);
  }
  r.epochBounds[0]?.departedIdentityKeys.push(new Uint8Array(33));
  r.seenJoinNonces.pop();
}

const params = { numRuns: 100 };
const seeded = (): { seed: number } => {
  const seed = Date.now() ^ (Math.random() * 0x7fffffff);
  console.log(`room-record-copy property seed ${seed}`);
  return { seed };
};

describe("room record copies", () => {
  it("a copy equals its original and changing it changes nothing in the original", () => {
    fc.assert(
      fc.property(record, (r) => {
        const before = toBinary(RoomRecordSchema, r);
        const copy = copyRecord(r);
        expect(equals(RoomRecordSchema, copy, r)).toBe(true);
        scribble(copy);
        expect(toBinary(RoomRecordSchema, r)).toEqual(before);
      }),
      { ...params, ...seeded() },
    );
  });

  it("loadRoom gives what was saved, however earlier callers changed their copies, and a failed transaction changes nothing", async () => {
    await fc.assert(
      fc.asyncProperty(record, record, async (r, other) => {
        const state = await StateStore.open(new MemoryKeyValueStore());
        other.roomId = r.roomId;
        await state.transaction(async (t) => saveRoom(t, r));
        const saved = toBinary(RoomRecordSchema, r);
        const stored = (): Uint8Array => state.get(ROOM_KEYS.room + bytesToHex(r.roomId))!;
        expect(equals(RoomRecordSchema, fromBinary(RoomRecordSchema, stored()), fromBinary(RoomRecordSchema, saved))).toBe(true);
        // What is loaded is what decoding the stored bytes gives, before and after callers
        // changed what they loaded (also the caller that saved: r itself).
        scribble(r);
        for (let i = 0; i < 3; i++) {
          const loaded = loadRoom(state, other.roomId)!;
          expect(equals(RoomRecordSchema, loaded, fromBinary(RoomRecordSchema, stored()))).toBe(true);
          scribble(loaded);
        }
        expect(equals(RoomRecordSchema, allRooms(state)[0]!, fromBinary(RoomRecordSchema, saved))).toBe(true);
        // A transaction that saved another record and then failed: the stored record stays.
        await expect(
          state.transaction(async (t) => {
            saveRoom(t, other);
            expect(equals(RoomRecordSchema, loadRoom(t, other.roomId)!, other)).toBe(true);
            throw new Error("fails after saving");
          }),
        ).rejects.toThrow("fails after saving");
        expect(equals(RoomRecordSchema, loadRoom(state, other.roomId)!, fromBinary(RoomRecordSchema, saved))).toBe(true);
        // A transaction that commits: the new record is what loads.
        await state.transaction(async (t) => saveRoom(t, other));
        expect(equals(RoomRecordSchema, loadRoom(state, other.roomId)!, fromBinary(RoomRecordSchema, toBinary(RoomRecordSchema, other)))).toBe(true);
      }),
      { numRuns: 50, ...seeded() },
    );
  });

  it("saveRoomLast keeps the saved record itself as the decoded form; roomPosition reads the committed cursor, never a failed transaction's", async () => {
    await fc.assert(
      fc.asyncProperty(record, record, async (r, other) => {
        const state = await StateStore.open(new MemoryKeyValueStore());
        other.roomId = r.roomId;
        other.lastSeq = (r.lastSeq + 1n) % (1n << 64n);
        other.departed = !r.departed;
        await state.transaction(async (t) => saveRoomLast(t, r));
        const saved = fromBinary(RoomRecordSchema, toBinary(RoomRecordSchema, r));
        const position = (x: RoomRecord) => ({ lastSeq: x.lastSeq, departed: x.departed, joining: x.adminIdentityKey.length === 0 });
        expect(roomPosition(state, r.roomId)).toEqual(position(saved));
        // Loaded copies are the saved record, whatever their callers do to them.
        for (let i = 0; i < 3; i++) {
          const loaded = loadRoom(state, r.roomId)!;
          expect(equals(RoomRecordSchema, loaded, saved)).toBe(true);
          scribble(loaded);
        }
        expect(roomPosition(state, r.roomId)).toEqual(position(saved));
        // A transaction that advanced the cursor and then failed: the committed cursor stays
        // (a rolled-back position would let an event be skipped, or a replay in).
        await expect(
          state.transaction(async (t) => {
            saveRoomLast(t, other);
            expect(roomPosition(t, other.roomId)).toEqual(position(other));
            throw new Error("fails after saving");
          }),
        ).rejects.toThrow("fails after saving");
        expect(roomPosition(state, r.roomId)).toEqual(position(saved));
        expect(equals(RoomRecordSchema, loadRoom(state, r.roomId)!, saved)).toBe(true);
        await state.transaction(async (t) => saveRoomLast(t, other));
        expect(roomPosition(state, r.roomId)).toEqual(position(other));
        expect(roomPosition(state, new Uint8Array(16).fill(0xee))).toBeUndefined();
      }),
      { numRuns: 50, ...seeded() },
    );
  });

  it("RM-15: a cursor saved without the record is the last_seq every reader sees; a failed transaction's cursor is never seen; saving the record supersedes it", async () => {
    await fc.assert(
      fc.asyncProperty(record, fc.array(fc.constantFrom("cursor", "record", "failed-cursor", "failed-record"), { minLength: 1, maxLength: 12 }), async (r, ops) => {
        const state = await StateStore.open(new MemoryKeyValueStore());
        r.lastSeq = 5n;
        r.adminIdentityKey = new Uint8Array(33).fill(2);
        await state.transaction(async (t) => saveRoom(t, r));
        let committed = 5n;
        for (const op of ops) {
          const next = committed + 1n;
          const run = state.transaction(async (t) => {
            if (op.endsWith("cursor")) saveRoomCursor(t, r.roomId, next);
            else {
              const loaded = loadRoom(t, r.roomId)!;
              loaded.lastSeq = next;
              loaded.name = `at ${next}`;
              saveRoomLast(t, loaded);
            }
            // Inside the transaction its own write is what it reads.
            expect(roomPosition(t, r.roomId)!.lastSeq).toBe(next);
            expect(loadRoom(t, r.roomId)!.lastSeq).toBe(next);
            if (op.startsWith("failed")) throw new Error("rolled back");
          });
          if (op.startsWith("failed")) await expect(run).rejects.toThrow("rolled back");
          else {
            await run;
            committed = next;
          }
          // Every reader sees the committed cursor: a rolled-back one would let the next event
          // be skipped as a duplicate; an older one would let a replayed event in (API-14).
          expect(roomPosition(state, r.roomId)!.lastSeq).toBe(committed);
          expect(loadRoom(state, r.roomId)!.lastSeq).toBe(committed);
          expect(allRooms(state)[0]!.lastSeq).toBe(committed);
          // What the record holds besides last_seq is what was last saved with it.
          expect(equals(RoomRecordSchema, { ...loadRoom(state, r.roomId)!, lastSeq: 0n }, { ...fromBinary(RoomRecordSchema, state.get(ROOM_KEYS.room + bytesToHex(r.roomId))!), lastSeq: 0n })).toBe(true);
          // A cursor is kept only while it is newer than the record's own last_seq.
          const cursor = state.get(ROOM_KEYS.cursor + bytesToHex(r.roomId));
          if (cursor !== undefined) expect(BigInt(new TextDecoder().decode(cursor)) > fromBinary(RoomRecordSchema, state.get(ROOM_KEYS.room + bytesToHex(r.roomId))!).lastSeq).toBe(true);
        }
      }),
      { numRuns: 50, ...seeded() },
    );
  });

  it("hexOf writes the same text as bytesToHex", () => {
    fc.assert(
      fc.property(bytes(0, 64), (b) => {
        expect(hexOf(b)).toBe(bytesToHex(b));
      }),
      { ...params, ...seeded() },
    );
  });
});

describe("room record encoding", () => {
  it("decodes to the record encoded, also after members of copies changed in every field (kept member encodings never go stale)", () => {
    fc.assert(
      fc.property(record, fc.array(fc.tuple(fc.nat({ max: 20 }), fc.nat({ max: 5 }), fc.string({ maxLength: 8 })), { maxLength: 30 }), (r, edits) => {
        let current = r;
        expect(equals(RoomRecordSchema, fromBinary(RoomRecordSchema, encodeRoom(current)), current)).toBe(true);
        for (const [which, field, text] of edits) {
          // As the room code does: a copy (sharing byte strings) changed in place, then saved.
          const next = copyRecord(current);
          const m = next.members[which % Math.max(1, next.members.length)];
          if (m !== undefined) {
            if (field === 0) m.displayName = text;
            else if (field === 1) m.joinedSeq = m.joinedSeq === 0n ? 1n : m.joinedSeq - 1n;
            else if (field === 2) m.deliveryToken = new Uint8Array(32).fill(text.length);
            else if (field === 3) m.distributionId = utf8Bytes(text);
            else if (field === 4) next.members.splice(which % next.members.length, 1);
            else next.members.push(create(RoomMemberSchema, { identityKey: m.identityKey, displayName: text }));
          }
          next.lastSeq = next.lastSeq === 0n ? 1n : next.lastSeq - 1n;
          expect(equals(RoomRecordSchema, fromBinary(RoomRecordSchema, encodeRoom(next)), next)).toBe(true);
          // The record it was copied from still encodes to itself.
          expect(equals(RoomRecordSchema, fromBinary(RoomRecordSchema, encodeRoom(current)), current)).toBe(true);
          current = next;
        }
      }),
      { ...params, ...seeded() },
    );
  });
});

describe("room-record-codec.ts keeps a member's encoding while the fields it compares are unchanged", () => {
  it("it compares every RoomMember field: a field added to the schema must be compared too", () => {
    // memberPart() reuses bytes when identity key, display name, joined seq, delivery token and
    // distribution id are unchanged; a new field it did not compare would be saved stale.
    expect(RoomMemberSchema.fields.map((f) => f.localName)).toEqual(["identityKey", "displayName", "joinedSeq", "deliveryToken", "distributionId"]);
  });
});

function utf8Bytes(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

describe("addrOf remembers addresses (room-ids.ts)", () => {
  it("gives the address computed from the key, before and after its cache is emptied at ADDRESS_CACHE_LIMIT", () => {
    const keys = Array.from({ length: ADDRESS_CACHE_LIMIT + 10 }, (_, i) => {
      const k = new Uint8Array(33);
      k[0] = 5;
      new DataView(k.buffer).setUint32(1, i);
      return k;
    });
    const direct = (k: Uint8Array) => addressToString(addressFromSerializedIdentityKey(k));
    for (const k of keys) expect(addrOf(k)).toBe(direct(k));
    // Asked again (some remembered, some forgotten): still each key's own address.
    for (const k of [keys[0]!, keys.at(-1)!, keys[ADDRESS_CACHE_LIMIT]!]) expect(addrOf(k)).toBe(direct(k));
    // A different key of the same length never gets another key's address.
    const other = keys[1]!.slice();
    other[32] = 1;
    expect(addrOf(other)).toBe(direct(other));
    expect(addrOf(other)).not.toBe(addrOf(keys[1]!));
    expect(() => addrOf(new Uint8Array(32))).toThrow(RangeError);
  });
});
