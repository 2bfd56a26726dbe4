/**
 * Rooms end to end (spec RM-01..RM-15): three to five real clients, a real relay on a free
 * port with a real SQLite file.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRelay, type TestRelay } from "../../relay/testing/test-relay.js";
import { newClient, type TestClient, textsIn, waitFor, waitForRoster } from "./harness.test-support.js";

let relay: TestRelay;
const clients: TestClient[] = [];

beforeAll(async () => {
  relay = await startTestRelay();
});

afterAll(async () => {
  for (const c of clients) await c.client.close();
  await relay.close();
});

describe("rooms end to end", () => {
  it("RM-08 RM-15 RM-21 RM-22: four members receive every message exactly once in relay order; a late joiner sees nothing from before its join", async () => {
    const alice = await newClient(relay.url, "alice");
    const bob = await newClient(relay.url, "bob");
    const carol = await newClient(relay.url, "carol");
    clients.push(alice, bob, carol);
    const { roomId, inviteLink } = await alice.client.createRoom("lounge", "https://chat.example");
    expect(inviteLink.startsWith("https://chat.example/#join=")).toBe(true);
    await bob.client.joinRoom(inviteLink);
    await carol.client.joinRoom(inviteLink);
    const trio = [alice, bob, carol];
    await waitForRoster(trio, roomId, 3);

    const sent: Array<{ from: TestClient; text: string; seq: number }> = [];
    for (let i = 0; i < 6; i++) {
      const from = trio[i % 3]!;
      const text = `before-late-${i}-${from.name}`;
      const { seq } = await from.client.sendText(roomId, text);
      sent.push({ from, text, seq });
    }
    for (const c of trio) {
      const expected = sent.filter((s) => s.from !== c).sort((a, b) => a.seq - b.seq).map((s) => s.text);
      await waitFor(() => textsIn(c, roomId).length >= expected.length, `${c.name} receives`);
      expect(textsIn(c, roomId)).toEqual(expected);
    }

    const dave = await newClient(relay.url, "dave");
    clients.push(dave);
    await dave.client.joinRoom(alice.client.inviteLink(roomId));
    const four = [...trio, dave];
    await waitForRoster(four, roomId, 4);
    const after: Array<{ from: TestClient; text: string; seq: number }> = [];
    for (let i = 0; i < 8; i++) {
      const from = four[i % 4]!;
      const text = `after-late-${i}-${from.name}`;
      const { seq } = await from.client.sendText(roomId, text);
      after.push({ from, text, seq });
    }
    for (const c of four) {
      const all = [...(c === dave ? [] : sent), ...after];
      const expected = all.filter((s) => s.from !== c).sort((a, b) => a.seq - b.seq).map((s) => s.text);
      await waitFor(() => textsIn(c, roomId).length >= expected.length, `${c.name} receives after join`);
      expect(textsIn(c, roomId)).toEqual(expected);
      // exactly once: no message id twice
      const ids = c.messages.filter((m) => m.roomId === roomId).map((m) => m.messageId);
      expect(new Set(ids).size).toBe(ids.length);
    }
    expect(textsIn(dave, roomId).some((t) => t.startsWith("before-late"))).toBe(false);
    for (const c of four) expect(c.failures).toEqual([]);
    // Everyone agrees on the roster and the admin.
    const views = four.map((c) => c.client.members(roomId).map((m) => `${m.address}:${m.isAdmin}`).sort().join(","));
    expect(new Set(views).size).toBe(1);
    expect(bob.client.members(roomId).find((m) => m.address === alice.address)?.displayName).toBe("alice");
  });
});
