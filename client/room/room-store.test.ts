import { describe, expect, it } from "vitest";
import { randomBytes } from "../crypto/bytes.js";
import { MemoryKeyValueStore } from "../store/kv-store.js";
import { StateStore } from "../store/state-store.js";
import { bytesToHex } from "../crypto/bytes.js";
import { MAX_TRACKED_MESSAGES, serializeTracked, type TrackedMessage } from "./message-annotations.js";
import { loadRoom, loadTracked, MAX_SEEN_MESSAGE_IDS, newRoom, noteMessageId, pruneRetiredSecrets, retireSecret, ROOM_KEYS, saveRoom, saveTracked } from "./room-store.js";

const DAY = 24 * 3600 * 1000;

describe("room secrets retention (RM-14)", () => {
  it("keeps a retired secret during the retention period and deletes it after", async () => {
    const state = await StateStore.open(new MemoryKeyValueStore());
    const roomId = randomBytes(16);
    const first = randomBytes(32);
    await state.transaction(async (t) => {
      const room = newRoom({ roomId, roomSecret: first, epoch: 0 });
      retireSecret(t, room, 1_000);
      room.roomSecret = randomBytes(32);
      room.epoch = 1;
      saveRoom(t, room);
    });
    const prune = (now: number) =>
      state.transaction(async (t) => {
        const room = loadRoom(t, roomId)!;
        if (pruneRetiredSecrets(t, room, now, 7 * DAY)) saveRoom(t, room);
      });
    await prune(1_000 + 7 * DAY);
    expect(loadRoom(state, roomId)!.previousSecrets.map((p) => p.epoch)).toEqual([0]);
    expect(loadRoom(state, roomId)!.previousSecrets[0]!.roomSecret).toEqual(first);
    await prune(1_000 + 7 * DAY + 1);
    expect(loadRoom(state, roomId)!.previousSecrets).toEqual([]);
    expect(state.list("room-retired/")).toEqual([]);
  });
});

describe("tracked messages (RM-66)", () => {
  it(`keeps at most ${MAX_TRACKED_MESSAGES} per room, forgetting records of unseen targets before real messages`, async () => {
    const state = await StateStore.open(new MemoryKeyValueStore());
    const roomId = randomBytes(16);
    const id = (n: number) => n.toString(16).padStart(32, "0");
    await state.transaction(async (t) => {
      // Half real messages (author known, older), half reactions sprayed at made-up ids (newer).
      for (let n = 0; n < MAX_TRACKED_MESSAGES; n++) {
        const real = n < MAX_TRACKED_MESSAGES / 2;
        const record: TrackedMessage = real
          ? { author: "alice", seq: n, edits: {}, deletes: {}, reactions: {}, lastSeq: n }
          : { edits: {}, deletes: {}, reactions: { mallory: { seq: n, emoji: "👍", name: "M" } }, lastSeq: n };
        t.put(`${ROOM_KEYS.tracked}${bytesToHex(roomId)}/${id(n)}`, serializeTracked(record));
      }
    });
    await state.transaction(async (t) => saveTracked(t, roomId, id(MAX_TRACKED_MESSAGES), { author: "alice", seq: 1, edits: {}, deletes: {}, reactions: {}, lastSeq: MAX_TRACKED_MESSAGES }));
    const left = state.list(`${ROOM_KEYS.tracked}${bytesToHex(roomId)}/`);
    expect(left.length).toBe(MAX_TRACKED_MESSAGES + 1 - MAX_TRACKED_MESSAGES / 10);
    // Every real message is still known; only sprayed records went.
    for (let n = 0; n < MAX_TRACKED_MESSAGES / 2; n++) expect(loadTracked(state, roomId, id(n))?.author).toBe("alice");
    expect(loadTracked(state, roomId, id(MAX_TRACKED_MESSAGES))?.author).toBe("alice");
  });
});

describe("kept counts of seen message ids and tracked messages (RM-29, RM-66)", () => {
  it("the count kept beside them is the number kept, from a store without counts, across the bound and after a forgetting", async () => {
    const state = await StateStore.open(new MemoryKeyValueStore());
    const roomId = randomBytes(16);
    const sender = randomBytes(33);
    const seenPrefix = `${ROOM_KEYS.seenMessage}${bytesToHex(roomId)}/`;
    const seenCount = () => Number(new TextDecoder().decode(state.get(`${ROOM_KEYS.counts}${bytesToHex(roomId)}/seen`)));
    // A store from before counts were kept: ids stored, no count.
    await state.transaction(async (t) => {
      for (let n = 0; n < MAX_SEEN_MESSAGE_IDS - 2; n++) t.put(`${seenPrefix}${n.toString(16).padStart(32, "0")}${bytesToHex(sender)}`, new TextEncoder().encode(String(n)));
    });
    let seq = BigInt(MAX_SEEN_MESSAGE_IDS);
    const note = (id: Uint8Array) => state.transaction(async (t) => noteMessageId(t, roomId, sender, id, seq++));
    expect(await note(randomBytes(16))).toBe(true);
    expect(seenCount()).toBe(MAX_SEEN_MESSAGE_IDS - 1);
    const again = randomBytes(16);
    expect(await note(again)).toBe(true);
    expect(await note(again)).toBe(false); // a duplicate adds nothing
    expect(seenCount()).toBe(MAX_SEEN_MESSAGE_IDS);
    // Past the bound: the oldest tenth is forgotten, and the count follows.
    expect(await note(randomBytes(16))).toBe(true);
    expect(state.list(seenPrefix).length).toBe(MAX_SEEN_MESSAGE_IDS + 1 - MAX_SEEN_MESSAGE_IDS / 10);
    expect(seenCount()).toBe(state.list(seenPrefix).length);
    for (let i = 0; i < 5; i++) await note(randomBytes(16));
    expect(seenCount()).toBe(state.list(seenPrefix).length);
    // A failed transaction changes neither the ids nor the count.
    const before = seenCount();
    await expect(
      state.transaction(async (t) => {
        noteMessageId(t, roomId, sender, randomBytes(16), seq++);
        throw new Error("fails");
      }),
    ).rejects.toThrow("fails");
    expect(seenCount()).toBe(before);
    expect(state.list(seenPrefix).length).toBe(before);

    // Tracked messages: the count follows new records only, and the forgetting.
    const trackedPrefix = `${ROOM_KEYS.tracked}${bytesToHex(roomId)}/`;
    const trackedCount = () => Number(new TextDecoder().decode(state.get(`${ROOM_KEYS.counts}${bytesToHex(roomId)}/tracked`)));
    const rec = (n: number): TrackedMessage => ({ author: "alice", seq: n, edits: {}, deletes: {}, reactions: {}, lastSeq: n });
    await state.transaction(async (t) => {
      for (let n = 0; n < 3; n++) saveTracked(t, roomId, n.toString(16).padStart(32, "0"), rec(n));
      saveTracked(t, roomId, (0).toString(16).padStart(32, "0"), rec(7)); // an update, not a new record
    });
    expect(trackedCount()).toBe(3);
    expect(state.list(trackedPrefix).length).toBe(3);
  });
});
