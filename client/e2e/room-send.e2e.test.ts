/**
 * The send API a user-message outbox builds on (spec/09-rooms.md RM-29): caller-chosen message
 * ids, idempotent retries, receive-side de-duplication, and transient vs permanent failures.
 */

import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRelay, type TestRelay } from "../../relay/testing/test-relay.js";
import { bytesToHex } from "../crypto/bytes.js";
import { ROOM_KEYS } from "../room/room-store.js";
import type { RoomEngineDeps } from "../room/room-engine.js";
import { newClient, type TestClient, textsIn, waitFor, waitForRoster } from "./harness.test-support.js";

let relay: TestRelay;
const clients: TestClient[] = [];

beforeAll(async () => {
  relay = await startTestRelay();
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.client.close()));
  await relay.close();
}, 60_000);

describe("room send API", () => {
  it("RM-29: a retried message id is posted once, a re-post after a lost answer is shown once, and failures say whether to retry", async () => {
    const [alice, bob] = await Promise.all(["alice-send", "bob-send"].map((n) => newClient(relay.url, n)));
    clients.push(alice!, bob!);
    const { roomId, inviteLink } = await alice!.client.createRoom("send api");
    await bob!.client.joinRoom(inviteLink);
    await waitForRoster([alice!, bob!], roomId, 2);
    const id = "00112233445566778899aabbccddeeff";
    const first = await alice!.client.sendText(roomId, "exactly once", { messageId: id });
    expect(first.messageId).toBe(id);
    // A retry of a stored message posts nothing.
    const again = await alice!.client.sendText(roomId, "exactly once", { messageId: id });
    expect(again.seq).toBe(first.seq);
    expect(alice!.client.engine.postedSeq(roomId, id)).toBe(first.seq);

    // The answer was lost: alice does not know the seq, so her retry posts again.
    const d = (alice!.client.engine as unknown as { d: RoomEngineDeps }).d;
    await d.state.transaction(async (t) => t.delete(`${ROOM_KEYS.sent}${roomId}/${id}`));
    const retry = await alice!.client.sendText(roomId, "exactly once", { messageId: id });
    expect(retry.seq).toBeGreaterThan(first.seq);
    await alice!.client.sendText(roomId, "marker");
    await waitFor(() => textsIn(bob!, roomId).includes("marker"), "bob gets the marker");
    expect(textsIn(bob!, roomId)).toEqual(["exactly once", "marker"]);
    expect(bob!.messages.filter((m) => m.messageId === id)).toHaveLength(1);

    // Failures: a rotated-away key is worth retrying in a live room; nothing is once departed.
    const denied = new ConnectError("denied", Code.PermissionDenied);
    expect(alice!.client.engine.sendFailure(roomId, new ConnectError("down", Code.Unavailable))).toBe("transient");
    expect(alice!.client.engine.sendFailure(roomId, denied)).toBe("transient");
    expect(alice!.client.engine.sendFailure(roomId, new ConnectError("bad", Code.InvalidArgument))).toBe("permanent");
    await bob!.client.leaveRoom(roomId);
    expect(bob!.client.engine.sendFailure(roomId, denied)).toBe("permanent");
    await expect(bob!.client.sendText(roomId, "after leaving", { messageId: bytesToHex(new Uint8Array(16).fill(7)) })).rejects.toThrow(TypeError);
    await expect(alice!.client.sendText(roomId, "bad id", { messageId: "xyz" })).rejects.toThrow(TypeError);
  });

  it("RM-33: a joiner whose PostToRoom answer is lost finds its join in the log and joins with the right joined_seq", async () => {
    let loseNext = false;
    const lossy: typeof fetch = async (input, init) => {
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      const res = await globalThis.fetch(input, init);
      if (loseNext && url.endsWith("/PostToRoom")) {
        loseNext = false;
        await res.arrayBuffer();
        throw new TypeError("fetch failed"); // the relay stored it; the answer never arrived
      }
      return res;
    };
    const alice = await newClient(relay.url, "alice-lost");
    const bob = await newClient(relay.url, "bob-lost", { fetch: lossy });
    clients.push(alice, bob);
    const { roomId, inviteLink } = await alice.client.createRoom("lost answer");
    await alice.client.sendText(roomId, "before bob");
    loseNext = true;
    await bob.client.joinRoom(inviteLink);
    expect(loseNext).toBe(false); // the answer really was lost
    expect(bob.client.engine.room(roomId).joinedSeq).toBe(2n);
    await waitForRoster([alice, bob], roomId, 2);
    await alice.client.sendText(roomId, "after bob");
    await waitFor(() => textsIn(bob, roomId).includes("after bob"), "bob reads alice");
    expect(textsIn(bob, roomId)).toEqual(["after bob"]);
  });
});
