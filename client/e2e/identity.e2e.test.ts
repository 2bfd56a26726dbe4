/**
 * Safety numbers, verification, identity changes and typing end to end (spec ID-07, ID-11,
 * ID-12, RM-17, RM-20).
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRelay, type TestRelay } from "../../relay/testing/test-relay.js";
import { parseAddress } from "../keys/address.js";
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

describe("identity end to end", () => {
  it("ID-07 ID-11 RM-17: both sides compute the same safety number; verification is recorded; typing is ephemeral", async () => {
    const alice = await newClient(relay.url, "alice");
    const bob = await newClient(relay.url, "bob");
    clients.push(alice, bob);
    const { roomId, inviteLink } = await alice.client.createRoom("pair");
    await bob.client.joinRoom(inviteLink);
    await waitForRoster([alice, bob], roomId, 2);
    const a = await alice.client.safetyNumber(roomId, bob.address);
    const b = await bob.client.safetyNumber(roomId, alice.address);
    expect(a.digits).toMatch(/^\d{60}$/);
    expect(a.digits).toBe(b.digits);
    expect(a.scannable).not.toEqual(b.scannable); // each side's own point of view
    expect(alice.client.members(roomId).find((m) => m.address === bob.address)?.verification).toBe("unverified");
    await alice.client.markVerified(bob.address);
    expect(alice.client.members(roomId).find((m) => m.address === bob.address)?.verification).toBe("verified");

    await alice.client.setTyping(roomId, true);
    await waitFor(() => bob.typing.some((t) => t.roomId === roomId && t.sender === alice.address && t.typing), "bob sees alice typing");
    expect(alice.typing).toEqual([]); // own typing is not echoed back as someone else's
  });

  it("ID-12 RM-20 RM-16: a new identity with a member's name is shown as changed and gets nothing until accepted", async () => {
    const alice = await newClient(relay.url, "alice");
    const bob = await newClient(relay.url, "bob");
    const carol = await newClient(relay.url, "carol");
    clients.push(alice, bob, carol);
    const { roomId, inviteLink } = await alice.client.createRoom("reinstall");
    await bob.client.joinRoom(inviteLink);
    await carol.client.joinRoom(inviteLink);
    await waitForRoster([alice, bob, carol], roomId, 3);

    // "bob" reinstalls: a new identity, the same display name; bob (still a member on his
    // other device) invites the new one, so his Welcome is the one that sets its roster (RM-25).
    const bob2 = await newClient(relay.url, "bob");
    clients.push(bob2);
    await bob2.client.joinRoom(bob.client.inviteLink(roomId));
    for (const c of [alice, carol]) {
      await waitFor(() => c.identityChanges.some((e) => e.member === bob2.address), `${c.name} warns`);
      expect(c.client.members(roomId).find((m) => m.address === bob2.address)?.verification).toBe("changed");
    }
    // bob's own Welcome gives bob2 the roster; alice and carol hold theirs (RM-20).
    await waitFor(() => bob2.client.members(roomId).length === 4, "bob2 has a roster from bob");
    await alice.client.sendText(roomId, "held-back-from-new-key");
    await bob.client.sendText(roomId, "bob-to-all");
    await waitFor(() => textsIn(bob2, roomId).includes("bob-to-all"), "bob2 reads bob");
    expect(textsIn(bob2, roomId)).not.toContain("held-back-from-new-key");
    expect(alice.client.engine.outboxSize()).toBeGreaterThan(0);

    await alice.client.acceptIdentityChange(bob2.address);
    expect(alice.client.members(roomId).find((m) => m.address === bob2.address)?.verification).toBe("unverified");
    await waitFor(() => textsIn(bob2, roomId).includes("held-back-from-new-key"), "bob2 reads alice after acceptance");

  });

  it("RM-18 API-04: a new display name reaches members inside encrypted content; deleteEverything removes the relay account and all local data", async () => {
    const alice = await newClient(relay.url, "alice");
    const bob = await newClient(relay.url, "bob");
    clients.push(alice, bob);
    const { roomId, inviteLink } = await alice.client.createRoom("names");
    await bob.client.joinRoom(inviteLink);
    await waitForRoster([alice, bob], roomId, 2);
    await alice.client.setDisplayName("Alice Renamed");
    expect(alice.client.identity().displayName).toBe("Alice Renamed");
    await waitFor(() => bob.client.members(roomId).find((m) => m.address === alice.address)?.displayName === "Alice Renamed", "bob sees the new name");
    await alice.client.sendText(roomId, "signed, the renamed");
    await waitFor(() => bob.messages.some((m) => m.text === "signed, the renamed" && m.senderName === "Alice Renamed"), "message carries the new name");

    const address = parseAddress(bob.address);
    await bob.client.deleteEverything();
    expect(bob.client.hasIdentity).toBe(false);
    expect(bob.client.rooms()).toEqual([]);
    expect(await bob.kv.list("")).toEqual([]);
    const res = await alice.client.account.authed(() => alice.client.relayClients.keys.fetchPreKeyBundle({ address }));
    expect(res.result.case).toBe("notRegistered");
  });
});
