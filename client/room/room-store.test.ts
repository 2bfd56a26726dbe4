import { describe, expect, it } from "vitest";
import { randomBytes } from "../crypto/bytes.js";
import { MemoryKeyValueStore } from "../store/kv-store.js";
import { StateStore } from "../store/state-store.js";
import { bytesToHex } from "../crypto/bytes.js";
import { MAX_TRACKED_MESSAGES, serializeTracked, type TrackedMessage } from "./message-annotations.js";
import { loadRoom, loadTracked, newRoom, pruneRetiredSecrets, retireSecret, ROOM_KEYS, saveRoom, saveTracked } from "./room-store.js";

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
