/**
 * The post outbox end to end against a real relay (issue 16; DESIGN.md §6): messages sent
 * while the relay cannot be reached survive a restart of the client, are stored encrypted,
 * go out by themselves in the order sent; a post whose answer was lost is recognised in the
 * room's log instead of being posted again; a repeated post of one message is shown once;
 * and a message fails only for a reason a retry cannot fix, with that reason.
 */

import { afterAll, describe, expect, it } from "vitest";
import { startTestRelay } from "../../relay/testing/test-relay.js";
import { bytesToHex, randomBytes, utf8 } from "../crypto/bytes.js";
import { MemoryKeyValueStore } from "../store/kv-store.js";
import { type OutboxItem, PostFailedError } from "../app/securecomm-client.js";
import { HostileRelay } from "./hostile-fetch.test-support.js";
import { FlakyNetwork } from "./flaky-network.test-support.js";
import { newClient, type TestClient, textsIn, waitFor, waitForRoster } from "./harness.test-support.js";

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

function recordOutbox(c: TestClient): OutboxItem[] {
  const seen: OutboxItem[] = [];
  c.client.on("outbox", (i) => seen.push(i));
  return seen;
}

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

describe("post outbox end to end", () => {
  it("DL-01 DL-02 DL-04 RM-07: sends made while the relay is unreachable survive a client restart, are encrypted at rest, and go out by themselves in order, once", async () => {
    const relay = await startTestRelay();
    cleanups.push(() => relay.close());
    const net = new FlakyNetwork();
    const alice = await newClient(relay.url, "alice", { fetch: net.fetch() });
    const bob = await newClient(relay.url, "bob");
    cleanups.push(() => bob.client.close());
    const { roomId, inviteLink } = await alice.client.createRoom("outbox");
    await bob.client.joinRoom(inviteLink);
    await waitForRoster([alice, bob], roomId, 2);

    const events = recordOutbox(alice);
    net.cut();
    const texts = ["queued while down 1", "queued while down 2", "queued while down 3"];
    for (const t of texts) await alice.client.queueText(roomId, t);
    // The first waits for the relay; the others wait behind it (one room's posts go in order).
    await waitFor(() => alice.client.outbox(roomId)[0]?.reason === "relay-unreachable", "the first waits for the relay");
    expect(alice.client.outbox(roomId).map((i) => i.status)).toEqual(["queued", "queued", "queued"]);
    expect(alice.client.outbox(roomId).map((i) => i.text)).toEqual(texts);
    expect(events.filter((e) => e.status === "sent")).toEqual([]);
    // The client stops (a closed tab, a killed process): what its store holds is all it keeps.
    await alice.client.stop();
    const raw = await alice.kv.list("");
    await alice.client.close();

    // At rest: no outbox text anywhere in the store (keys or values).
    for (const t of texts) {
      const needle = utf8(t);
      expect(raw.filter(([k, v]) => k.includes(t) || contains(v, needle))).toEqual([]);
    }

    // The client restarts with the same store; the network is back.
    net.restore();
    const kv = new MemoryKeyValueStore();
    await kv.write(raw.map(([key, value]) => ({ key, value })));
    const again = await newClient(relay.url, "alice", { kv, fetch: net.fetch() });
    cleanups.push(() => again.client.close());
    expect(again.client.outbox(roomId).map((i) => i.text)).toEqual(texts);
    await waitFor(() => again.client.outbox().length === 0, "the outbox empties by itself");
    await waitFor(() => textsIn(bob, roomId).length >= 3, "bob receives them");
    expect(textsIn(bob, roomId)).toEqual(texts);
    const own = again.messages.filter((m) => m.own).map((m) => m.text);
    expect(own).toEqual(texts);
    expect(bob.failures).toEqual([]);
  });

  it("DL-03 RM-29: a post whose answer was lost is recognised in the log (posted once); a repeated post of one message id is shown once", async () => {
    const relay = await startTestRelay();
    cleanups.push(() => relay.close());
    const net = new FlakyNetwork();
    const hostile = new HostileRelay();
    const alice = await newClient(relay.url, "alice", { fetch: net.fetch(hostile.fetch()) });
    const bob = await newClient(relay.url, "bob");
    const carol = await newClient(relay.url, "carol");
    cleanups.push(async () => {
      for (const c of [alice, bob, carol]) await c.client.close();
    });
    const { roomId, inviteLink } = await alice.client.createRoom("lost answers");
    await bob.client.joinRoom(inviteLink);
    await carol.client.joinRoom(inviteLink);
    await waitForRoster([alice, bob, carol], roomId, 3);
    const events = recordOutbox(alice);

    net.losePostAnswers = 2;
    // The first post also never shows on alice's own stream: only re-reading the log (before
    // posting again) can tell her the relay has it.
    hostile.armRoom({ 1: "drop" });
    const before = net.postsDelivered;
    const first = await alice.client.sendText(roomId, "answer lost");
    const second = await alice.client.sendText(roomId, "answer lost too");
    expect(net.answersLost).toBe(2);
    expect(hostile.applied).toEqual(["drop"]);
    hostile.disarm();
    // Each reached the relay once: the lost answers were resolved by reading the log.
    expect(net.postsDelivered - before).toBe(2);
    expect(second.seq).toBeGreaterThan(first.seq);
    const statuses = events.filter((e) => e.messageId === first.messageId).map((e) => `${e.status}${e.reason ? `:${e.reason}` : ""}`);
    expect(statuses).toEqual(["queued", "sending", "queued:relay-unreachable", "sent"]);

    // A retry that did post twice (nothing told alice the first was stored: its answer was
    // lost and her stream skipped it): same message id, two envelopes at two sequence numbers;
    // every member shows it once (RM-29).
    const id = bytesToHex(randomBytes(16));
    net.losePostAnswers = 1;
    hostile.armRoom({ 1: "drop" });
    await expect(alice.client.engine.sendText(roomId, "posted twice", { messageId: id })).rejects.toThrow();
    expect(alice.client.engine.postedSeq(roomId, id)).toBeUndefined();
    const repost = await alice.client.engine.sendText(roomId, "posted twice", { messageId: id });
    expect(repost.messageId).toBe(id);
    hostile.disarm();
    await alice.client.sendText(roomId, "after the duplicate");
    for (const m of [bob, carol]) {
      await waitFor(() => textsIn(m, roomId).includes("after the duplicate"), `${m.name} is caught up`);
      expect(textsIn(m, roomId)).toEqual(["answer lost", "answer lost too", "posted twice", "after the duplicate"]);
      expect(m.failures).toEqual([]);
    }
  });

  it("DL-02 RM-11: a message fails only for a reason a retry cannot fix, and says which (removed from the room)", async () => {
    const relay = await startTestRelay();
    cleanups.push(() => relay.close());
    const alice = await newClient(relay.url, "alice");
    const bob = await newClient(relay.url, "bob");
    cleanups.push(async () => {
      for (const c of [alice, bob]) await c.client.close();
    });
    const { roomId, inviteLink } = await alice.client.createRoom("removal");
    await bob.client.joinRoom(inviteLink);
    await waitForRoster([alice, bob], roomId, 2);
    await alice.client.removeMember(roomId, bob.address);
    await waitFor(() => bob.closed.some((c) => c.roomId === roomId && c.reason === "removed"), "bob is removed");
    const events = recordOutbox(bob);
    const failure = await bob.client.sendText(roomId, "too late").catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(PostFailedError);
    expect((failure as PostFailedError).reason).toBe("not-a-member");
    expect(bob.client.outbox(roomId)).toMatchObject([{ text: "too late", status: "failed", reason: "not-a-member" }]);
    expect(events.at(-1)).toMatchObject({ status: "failed", reason: "not-a-member" });
    await bob.client.discardMessage(bob.client.outbox(roomId)[0]!.messageId);
    expect(bob.client.outbox()).toEqual([]);
  });
});
