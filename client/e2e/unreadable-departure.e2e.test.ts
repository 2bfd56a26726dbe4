/**
 * A departure whose sender key never reached the admin (the relay withheld it), end to end over
 * a real relay (spec/09-rooms.md RM-35, RM-28, RM-13): with a leave posted as a sender-key
 * message, the admin could not read it, kept the leaver and never rotated, so the departed
 * member kept relay access. A departure is now a signed statement every member reads.
 */

import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRelay, type TestRelay } from "../../relay/testing/test-relay.js";
import { accessKey } from "../room/room-keys.js";
import { newClient, type TestClient, waitFor } from "./harness.test-support.js";

let relay: TestRelay;
const clients: TestClient[] = [];

beforeAll(async () => {
  relay = await startTestRelay();
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.client.close()));
  await relay.close();
}, 60_000);

/** A fetch for which the relay accepts no sealed-sender envelope: every pairwise send fails. */
function withholdingPairwise(stats: { withheld: number }): typeof fetch {
  return async (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    if (url.endsWith("/securecomm.relay.v1.MessageService/SendSealed")) {
      stats.withheld++;
      return new Response(null, { status: 503 });
    }
    return globalThis.fetch(input, init);
  };
}

describe("departures every member reads (RM-35)", () => {
  it("RM-35 RM-28: a member whose sender key never reached the admin leaves; the admin drops it and rotates; its old key stops working", async () => {
    const stats = { withheld: 0 };
    const alice = await newClient(relay.url, "alice-rm35");
    const bob = await newClient(relay.url, "bob-rm35", { fetch: withholdingPairwise(stats) });
    clients.push(alice, bob);
    const { roomId, inviteLink } = await alice.client.createRoom("rm35");
    await bob.client.joinRoom(inviteLink);
    // Bob has alice's Welcome (his roster), alice has bob's join, but bob's answer with his
    // sender key (RM-08) never reaches her.
    await waitFor(() => bob.client.members(roomId).length === 2 && alice.client.members(roomId).length === 2, "both see two members");
    await waitFor(() => stats.withheld > 0, "bob's sender key is withheld");
    const bobsRoom = bob.client.engine.room(roomId);
    expect(alice.client.engine.room(roomId).members.find((m) => m.displayName === "bob-rm35")?.distributionId.length ?? 0).toBe(0);
    const oldKey = accessKey(bobsRoom.roomId, bobsRoom.roomSecret, bobsRoom.epoch);

    await bob.client.leaveRoom(roomId);
    await waitFor(() => alice.client.engine.room(roomId).epoch === 1 && alice.client.members(roomId).length === 1, "alice drops bob and rotates");
    await alice.client.engine.outboxIdle();
    const denied = await bob.client.relayClients.rooms
      .getRoomHistory({ roomId: bobsRoom.roomId, accessKey: oldKey, afterSeq: 0n, limit: 1 })
      .then(() => undefined, (e: unknown) => e);
    expect(denied).toBeInstanceOf(ConnectError);
    expect((denied as ConnectError).code).toBe(Code.PermissionDenied);
    expect(alice.failures).toEqual([]);
  });
});
