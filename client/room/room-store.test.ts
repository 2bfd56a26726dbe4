import { describe, expect, it } from "vitest";
import { randomBytes } from "../crypto/bytes.js";
import { MemoryKeyValueStore } from "../store/kv-store.js";
import { StateStore } from "../store/state-store.js";
import { loadRoom, newRoom, pruneRetiredSecrets, retireSecret, saveRoom } from "./room-store.js";

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
