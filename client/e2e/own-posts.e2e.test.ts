/**
 * Room contract details end to end (spec/09-rooms.md §9.6): a member's own posts under an
 * earlier sender key (RM-32) are recognised as its own, neither decrypted nor reported nor left
 * waiting for a key; and the Content of what a client posts carries room_id, a 16-byte
 * message_id and sent_at_ms (RM-31), as the receiving member decodes them.
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

describe("own posts across sender-key rotations", () => {
  it("RM-32 a post under the old distribution id, logged after a departure the poster had not processed, is its own; RM-31 posted Contents carry message_id and sent_at_ms", async () => {
    const [alice, bob, carol] = await Promise.all(["alice", "bob", "carol"].map((n) => newClient(relay.url, n)));
    clients.push(alice!, bob!, carol!);
    const { roomId, inviteLink } = await alice!.client.createRoom("own posts");
    for (const c of [bob!, carol!]) await c.client.joinRoom(inviteLink);
    await waitForRoster([alice!, bob!, carol!], roomId, 3);
    const distributionIdBefore = alice!.client.engine.room(roomId).distributionId.slice();

    // Alice is offline while Carol leaves; her next post lands after the departure in the log
    // but is encrypted with the sender key she had before it.
    await alice!.client.stop();
    await carol!.client.leaveRoom(roomId);
    const text = "posted before alice saw carol leave";
    await alice!.client.sendText(roomId, text);
    await waitFor(() => textsIn(bob!, roomId).includes(text), "bob reads alice's post");

    // Back online she processes the departure (new sender key, RM-12) and then her own post.
    await alice!.client.start();
    await waitForRoster([alice!, bob!], roomId, 2);
    expect(alice!.client.engine.room(roomId).distributionId).not.toEqual(distributionIdBefore);
    expect(alice!.failures.filter((f) => f.roomId === undefined || f.roomId === roomId)).toEqual([]);
    expect(alice!.messages.filter((m) => m.roomId === roomId && !m.own)).toEqual([]);
    expect(alice!.client.settled()).toBe(true);

    // RM-31: each Content a client posted carries all three header fields, as the receiver
    // decoded them (the message event's id and time come from the Content, its room from the
    // Content's room_id, checked against the room).
    await waitFor(() => bob!.client.engine.room(roomId).epoch === 1, "bob has the rotated room secret (RM-13)");
    await bob!.client.sendText(roomId, "from bob");
    await waitFor(() => textsIn(alice!, roomId).includes("from bob"), "alice reads bob's post");
    const received = [...alice!.messages, ...bob!.messages].filter((m) => m.roomId === roomId && !m.own);
    expect(received.map((m) => m.text).sort()).toEqual(["from bob", text]);
    for (const m of received) {
      expect(m.messageId).toMatch(/^[0-9a-f]{32}$/);
      expect(m.sentAtMs).toBeGreaterThan(1_600_000_000_000);
    }
  });
});
