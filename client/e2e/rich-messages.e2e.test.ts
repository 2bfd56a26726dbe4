/**
 * Replies, reactions, edits and deletes end to end (spec/09-rooms.md RM-60..RM-66): real
 * clients against a real relay. The attacker is a member of the room whose client posts validly
 * encrypted edits and deletes of someone else's message (it skips its own client's author
 * check); every honest member must refuse and report them.
 */

import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Content, DeleteSchema, EditSchema } from "../../gen/securecomm/wire/v1/content_pb.js";
import { startTestRelay, type TestRelay } from "../../relay/testing/test-relay.js";
import type { ClientEvents } from "../app/securecomm-client.js";
import { ROOM_KEYS } from "../room/room-store.js";
import type { RoomEngineDeps } from "../room/room-engine.js";
import { bytesToHex, hexToBytes } from "../crypto/bytes.js";
import { newClient, type TestClient, waitFor, waitForRoster } from "./harness.test-support.js";

let relay: TestRelay;
const clients: TestClient[] = [];

beforeAll(async () => {
  relay = await startTestRelay();
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.client.close()));
  await relay.close();
}, 60_000);

type Update = ClientEvents["message-updated"];
const updates = new Map<TestClient, Update[]>();

async function member(name: string): Promise<TestClient> {
  const c = await newClient(relay.url, name);
  clients.push(c);
  const list: Update[] = [];
  updates.set(c, list);
  c.client.on("message-updated", (u) => list.push(u));
  return c;
}

/** The last view a client has of message `id`. */
function lastUpdate(c: TestClient, id: string): Update | undefined {
  return updates.get(c)!.filter((u) => u.messageId === id).at(-1);
}

/** Posts an edit or delete of `target` as `c`, skipping c's own author check: a member who lies. */
function forge(c: TestClient, roomId: string, target: string, kind: "edit" | "delete", text = "forged"): Promise<unknown> {
  const engine = c.client.engine as unknown as { annotate(roomId: string, target: string, body: Content["body"]): Promise<unknown> };
  const targetMessageId = hexToBytes(target);
  const body: Content["body"] = kind === "edit" ? { case: "edit", value: create(EditSchema, { targetMessageId, body: text }) } : { case: "delete", value: create(DeleteSchema, { targetMessageId }) };
  return engine.annotate(roomId, target, body);
}

describe("replies, reactions, edits and deletes (RM-60..RM-66)", () => {
  it("RM-61 RM-62 RM-63 RM-64: reply, react, edit and delete reach every member, and the delete removes the text from stored state", async () => {
    const [alice, bob] = await Promise.all([member("alice-rich"), member("bob-rich")]);
    const { roomId, inviteLink } = await alice.client.createRoom("rich");
    await bob.client.joinRoom(inviteLink);
    await waitForRoster([alice, bob], roomId, 2);

    const original = await alice.client.sendText(roomId, "helo wrld");
    await waitFor(() => bob.messages.some((m) => m.messageId === original.messageId), "bob gets the message");
    const reply = await bob.client.sendText(roomId, "hi alice", { replyTo: original.messageId });
    await waitFor(() => alice.messages.some((m) => m.messageId === reply.messageId), "alice gets the reply");
    expect(alice.messages.find((m) => m.messageId === reply.messageId)!.replyTo).toBe(original.messageId);

    await bob.client.react(roomId, original.messageId, "👍");
    await alice.client.react(roomId, original.messageId, "👍");
    await bob.client.react(roomId, original.messageId, "❤️"); // replaces bob's 👍
    await waitFor(() => lastUpdate(alice, original.messageId)?.reactions.length === 2, "alice sees two reactions");
    const view = lastUpdate(alice, original.messageId)!;
    expect(view.reactions).toEqual([
      { emoji: "👍", members: [{ address: alice.address, name: "alice-rich" }] },
      { emoji: "❤️", members: [{ address: bob.address, name: "bob-rich" }] },
    ]);
    await waitFor(() => lastUpdate(bob, original.messageId)?.reactions.length === 2, "bob sees both reactions");
    await bob.client.react(roomId, original.messageId, undefined);
    await waitFor(() => lastUpdate(alice, original.messageId)?.reactions.length === 1, "bob's reaction taken back");

    await alice.client.editMessage(roomId, original.messageId, "hello world");
    await waitFor(() => lastUpdate(bob, original.messageId)?.text === "hello world", "bob sees the edit");
    expect(lastUpdate(bob, original.messageId)).toMatchObject({ kind: "edit", edited: true, deleted: false, sender: alice.address });
    // Only the author edits or deletes: the client refuses before posting.
    await expect(bob.client.editMessage(roomId, original.messageId, "mine now")).rejects.toThrow(TypeError);
    await expect(bob.client.deleteMessage(roomId, original.messageId)).rejects.toThrow(TypeError);

    await alice.client.deleteMessage(roomId, original.messageId);
    await waitFor(() => lastUpdate(bob, original.messageId)?.deleted === true, "bob sees the tombstone");
    expect(lastUpdate(bob, original.messageId)).toMatchObject({ kind: "delete", edited: false, reactions: [] });
    expect(lastUpdate(bob, original.messageId)!.text).toBeUndefined();
    await expect(alice.client.editMessage(roomId, original.messageId, "again")).rejects.toThrow(TypeError);
    // RM-64: neither text is left in either member's stored room state.
    for (const c of [alice, bob]) {
      const stored = await c.kv.list(ROOM_KEYS.tracked);
      expect(stored.length).toBeGreaterThan(0);
      const all = stored.map(([, v]) => new TextDecoder().decode(v)).join("\n");
      expect(all).not.toContain("hello world");
      expect(all).not.toContain("❤️");
    }
  });

  it("RM-63 RM-64: a member who forges a validly encrypted edit or delete of another's message is refused and reported at every honest member", async () => {
    const [alice, bob, carol, mallory] = await Promise.all(["alice-forge", "bob-forge", "carol-forge", "mallory-forge"].map(member));
    const { roomId, inviteLink } = await alice!.client.createRoom("forgery");
    for (const c of [bob!, carol!, mallory!]) await c.client.joinRoom(inviteLink);
    await waitForRoster([alice!, bob!, carol!, mallory!], roomId, 4);
    const target = await alice!.client.sendText(roomId, "alice said this");
    await waitFor(() => [bob!, carol!, mallory!].every((c) => c.messages.some((m) => m.messageId === target.messageId)), "everyone has alice's message");

    await forge(mallory!, roomId, target.messageId, "edit", "alice said something else");
    await forge(mallory!, roomId, target.messageId, "delete");
    // A marker after the forgeries: once it arrives, the forgeries were processed.
    const marker = await mallory!.client.sendText(roomId, "marker");
    for (const honest of [alice!, bob!, carol!]) {
      await waitFor(() => honest.messages.some((m) => m.messageId === marker.messageId) || honest.client.engine.postedSeq(roomId, marker.messageId) !== undefined, `${honest.name} gets the marker`);
      expect(updates.get(honest)!.filter((u) => u.messageId === target.messageId)).toEqual([]);
      const reasons = honest.failures.filter((f) => f.roomId === roomId && f.sender === mallory!.address).map((f) => f.reason);
      expect(reasons).toEqual(["forged edit (not the author)", "forged delete (not the author)"]);
    }
    // Alice can still edit her message: the forgeries changed nothing.
    await alice!.client.editMessage(roomId, target.messageId, "alice's own edit");
    await waitFor(() => lastUpdate(carol!, target.messageId)?.text === "alice's own edit", "carol sees alice's real edit");
  });

  it("RM-65: a member who was offline catches up edits, deletes and reactions from the log, and a forgery among them is reported", async () => {
    const [alice, bob, mallory] = await Promise.all(["alice-off", "bob-off", "mallory-off"].map(member));
    const { roomId, inviteLink } = await alice!.client.createRoom("offline");
    for (const c of [bob!, mallory!]) await c.client.joinRoom(inviteLink);
    await waitForRoster([alice!, bob!, mallory!], roomId, 3);
    const edited = await alice!.client.sendText(roomId, "typo heer");
    const deleted = await alice!.client.sendText(roomId, "oops, wrong room");
    await waitFor(() => bob!.messages.some((m) => m.messageId === deleted.messageId), "bob has both messages");

    await bob!.client.stop();
    await alice!.client.editMessage(roomId, edited.messageId, "typo here");
    await alice!.client.deleteMessage(roomId, deleted.messageId);
    await mallory!.client.react(roomId, edited.messageId, "🎉");
    await forge(mallory!, roomId, edited.messageId, "edit", "mallory's words");
    await bob!.client.start();
    await waitFor(() => lastUpdate(bob!, deleted.messageId)?.deleted === true && lastUpdate(bob!, edited.messageId)?.reactions.length === 1, "bob catches up");
    await waitFor(() => bob!.failures.some((f) => f.reason === "forged edit (not the author)"), "bob reports the forgery");
    expect(lastUpdate(bob!, edited.messageId)).toMatchObject({ text: "typo here", edited: true, reactions: [{ emoji: "🎉", members: [{ address: mallory!.address, name: "mallory-off" }] }] });
  });

  it("RM-60 RM-29: the author may edit a message whose PostToRoom answer was lost", async () => {
    let loseNext = false;
    const lossy: typeof fetch = async (input, init) => {
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      const res = await globalThis.fetch(input, init);
      if (loseNext && url.endsWith("/PostToRoom")) {
        loseNext = false;
        await res.arrayBuffer();
        throw new TypeError("fetch failed"); // stored by the relay; the answer never arrived
      }
      return res;
    };
    const alice = await newClient(relay.url, "alice-lost", { fetch: lossy });
    clients.push(alice);
    updates.set(alice, []);
    const bob = await member("bob-lost");
    const { roomId, inviteLink } = await alice.client.createRoom("lost answer");
    await bob.client.joinRoom(inviteLink);
    await waitForRoster([alice, bob], roomId, 2);
    const id = "0123456789abcdef0123456789abcdef";
    loseNext = true;
    await expect(alice.client.sendText(roomId, "answer lost", { messageId: id })).rejects.toThrow();
    await waitFor(() => bob.messages.some((m) => m.messageId === id), "bob has the message");
    await alice.client.editMessage(roomId, id, "edited anyway");
    await waitFor(() => lastUpdate(bob, id)?.text === "edited anyway", "bob sees the edit");
  });

  it("RM-65: a reaction and a forged edit that reach a member before their target (held for its sender key) apply, or are reported, when the target arrives", async () => {
    const [alice, bob, mallory] = await Promise.all(["alice-order", "bob-order", "mallory-order"].map(member));
    const { roomId, inviteLink } = await alice!.client.createRoom("order");
    for (const c of [bob!, mallory!]) await c.client.joinRoom(inviteLink);
    await waitForRoster([alice!, bob!, mallory!], roomId, 3);
    // Bob loses track of alice's sender key (as if it had not arrived yet): her posts are held
    // (RM-16) while mallory's later posts are processed first.
    const d = (bob!.client.engine as unknown as { d: RoomEngineDeps }).d;
    const aliceKey = bytesToHex(aliceIdentity(alice!));
    const aliceDists = d.state.list(ROOM_KEYS.dist).filter(([, owner]) => bytesToHex(owner) === aliceKey);
    expect(aliceDists.length).toBeGreaterThan(0);
    await d.state.transaction(async (t) => {
      for (const [k] of aliceDists) t.delete(k);
    });
    const target = await alice!.client.sendText(roomId, "held at bob");
    await waitFor(() => mallory!.messages.some((m) => m.messageId === target.messageId), "mallory has the target");
    await mallory!.client.react(roomId, target.messageId, "👀");
    await forge(mallory!, roomId, target.messageId, "edit", "mallory rewrote it");
    const marker = await mallory!.client.sendText(roomId, "marker");
    await waitFor(() => bob!.messages.some((m) => m.messageId === marker.messageId), "bob processed mallory's posts");
    expect(bob!.messages.some((m) => m.messageId === target.messageId)).toBe(false);
    expect(lastUpdate(bob!, target.messageId)).toBeUndefined(); // waiting: nothing to show yet
    expect(bob!.failures.filter((f) => f.roomId === roomId)).toEqual([]);
    // Alice's key comes back: bob processes the held target with what waited for it.
    await d.state.transaction(async (t) => {
      for (const [k, v] of aliceDists) t.put(k, v);
    });
    await (bob!.client.engine as unknown as { retryPending(id: Uint8Array): Promise<void> }).retryPending(hexToBytes(roomId));
    await waitFor(() => bob!.messages.some((m) => m.messageId === target.messageId), "bob gets the held target");
    expect(bob!.messages.find((m) => m.messageId === target.messageId)).toMatchObject({
      text: "held at bob",
      reactions: [{ emoji: "👀", members: [{ address: mallory!.address, name: "mallory-order" }] }],
    });
    expect(bob!.messages.find((m) => m.messageId === target.messageId)!.edited).toBeUndefined();
    expect(bob!.failures.filter((f) => f.roomId === roomId).map((f) => [f.sender, f.reason])).toEqual([[mallory!.address, "forged edit (not the author)"]]);
  });
});

/** The serialized identity key of a test client. */
function aliceIdentity(c: TestClient): Uint8Array {
  return (c.client.engine as unknown as { self: Uint8Array }).self;
}
