/**
 * Regression tests for findings 1–5 of issue 9, end to end over a real relay: each played the
 * attacker (or the unlucky timing) that the finding describes and failed on the engine before
 * the fix (spec/09-rooms.md RM-23..RM-28).
 */

import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRelay, type TestRelay } from "../../relay/testing/test-relay.js";
import { ContentSchema, ProfileSchema, RosterMemberSchema, RosterSchema } from "../../gen/securecomm/wire/v1/content_pb.js";
import { InviteSchema, RoomEnvelopeBodySchema } from "../../gen/securecomm/wire/v1/room_pb.js";
import { hexToBytes, randomBytes } from "../crypto/bytes.js";
import { createJoinAnnouncement } from "../room/join.js";
import { accessKey, sealRoomEnvelope } from "../room/room-keys.js";
import type { RoomEngine, RoomEngineDeps } from "../room/room-engine.js";
import { roomLog } from "./attacker.test-support.js";
import { HostileRelay } from "./hostile-fetch.test-support.js";
import { newClient, type TestClient, textsIn, waitFor, waitForRoster } from "./harness.test-support.js";

let relay: TestRelay;
const clients: TestClient[] = [];

beforeAll(async () => {
  relay = await startTestRelay();
});

afterAll(async () => {
  // In parallel: a client whose only room is departed takes seconds to stop its stream.
  await Promise.all(clients.map((c) => c.client.close()));
  await relay.close();
}, 60_000);

/** What only a test may reach: the engine's dependencies (identity, state, pairwise channel). */
function deps(c: TestClient): RoomEngineDeps {
  return (c.client.engine as unknown as { d: RoomEngineDeps }).d;
}

function engine(c: TestClient): RoomEngine {
  return c.client.engine;
}

async function open(...names: string[]): Promise<TestClient[]> {
  const out = await Promise.all(names.map((n) => newClient(relay.url, n)));
  clients.push(...out);
  return out;
}

async function hostileClient(name: string, hostile: HostileRelay): Promise<TestClient> {
  const c = await newClient(relay.url, name, { fetch: hostile.fetch() });
  clients.push(c);
  return c;
}

const memberKeys = (c: TestClient, roomId: string) => engine(c).room(roomId).members.map((m) => m.identityKey.join(","));

describe("issue 9 findings (spec/09-rooms.md RM-23..RM-28)", () => {
  it("RM-23 RM-24 finding 1a: a removed member's fresh join for the old epoch, appended by the relay after the rotation, is refused", async () => {
    const hostile = new HostileRelay();
    const [alice, mallory] = await open("alice-1a", "mallory-1a");
    const bob = await hostileClient("bob-1a", hostile);
    const { roomId, inviteLink } = await alice!.client.createRoom("finding 1a");
    await bob.client.joinRoom(inviteLink);
    await mallory!.client.joinRoom(inviteLink);
    await waitForRoster([alice!, bob, mallory!], roomId, 3);
    // What mallory keeps when she is removed: the epoch-0 secret and her identity.
    const secret0 = engine(mallory!).room(roomId).roomSecret.slice();
    const malloryDeps = deps(mallory!);
    await alice!.client.removeMember(roomId, mallory!.address);
    await waitFor(() => [alice!, bob].every((c) => engine(c).room(roomId).epoch === 1), "rotation to epoch 1");
    await waitForRoster([alice!, bob], roomId, 2);
    const before = bob.failures.length;

    // Mallory signs a fresh join for epoch 0; the relay appends it (bob's stream shows it in place
    // of alice's next post).
    const ann = createJoinAnnouncement({
      identity: malloryDeps.identity,
      roomId: hexToBytes(roomId),
      epoch: 0,
      deliveryToken: malloryDeps.account.record.deliveryToken,
      displayName: "mallory-1a",
      nowMs: Date.now(),
    });
    hostile.injected.push(sealRoomEnvelope(hexToBytes(roomId), secret0, 0, create(RoomEnvelopeBodySchema, { body: { case: "join", value: ann } })));
    await alice!.client.sendText(roomId, "carrier");
    await waitFor(() => bob.failures.length > before, "bob reports the refused join");
    expect(bob.failures.slice(before).map((f) => f.reason)).toEqual(["refused (closed-epoch)"]);
    expect(bob.client.members(roomId)).toHaveLength(2);
    expect(memberKeys(bob, roomId)).not.toContain(malloryDeps.identity.publicKey.serialize().join(","));
    await engine(bob).outboxIdle();
    expect(engine(bob).outboxSize()).toBe(0); // no Welcome (no sender key, no secret) for mallory
  });

  it("RM-23 RM-24 finding 1b: the relay re-appends the removed member's original join to a member who joined after it; it is refused", async () => {
    const hostile = new HostileRelay();
    const [alice, mallory] = await open("alice-1b", "mallory-1b");
    const { roomId, inviteLink } = await alice!.client.createRoom("finding 1b");
    await mallory!.client.joinRoom(inviteLink);
    await waitForRoster([alice!, mallory!], roomId, 2);
    const carol = await hostileClient("carol-1b", hostile);
    await carol.client.joinRoom(inviteLink);
    await waitForRoster([alice!, mallory!, carol], roomId, 3);
    // The relay keeps mallory's original join (it stores every envelope).
    const r = engine(alice!).room(roomId);
    const malloryJoinSeq = engine(mallory!).room(roomId).joinedSeq;
    const original = (await roomLog(alice!.client.relayClients, r.roomId, r.roomSecret, r.epoch)).find((e) => e.seq === malloryJoinSeq)!;
    expect(original).toBeDefined();

    await alice!.client.removeMember(roomId, mallory!.address);
    await waitFor(() => [alice!, carol].every((c) => engine(c).room(roomId).epoch === 1), "rotation to epoch 1");
    await waitForRoster([alice!, carol], roomId, 2);
    const before = carol.failures.length;
    hostile.injected.push(original.envelope);
    await alice!.client.sendText(roomId, "carrier");
    await waitFor(() => carol.failures.length > before, "carol reports the refused join");
    expect(carol.failures.slice(before).map((f) => f.reason)).toEqual(["refused (closed-epoch)"]);
    expect(carol.client.members(roomId)).toHaveLength(2);
    await engine(carol).outboxIdle();
    expect(engine(carol).outboxSize()).toBe(0);
  });

  it("RM-25 finding 2: an ordinary member's second Welcome naming itself admin does not change a joiner's roster, and is reported", async () => {
    const [alice, bob, carol] = await open("alice-2", "bob-2", "carol-2");
    const { roomId, inviteLink } = await alice!.client.createRoom("finding 2");
    await bob!.client.joinRoom(inviteLink);
    await waitForRoster([alice!, bob!], roomId, 2);
    await carol!.client.joinRoom(inviteLink);
    await waitForRoster([alice!, bob!, carol!], roomId, 3);
    const c = engine(carol!).room(roomId);
    expect(c.lastSeq).toBe(c.joinedSeq); // carol has processed nothing after her join

    // Bob sends carol a Welcome whose roster makes him admin and leaves alice out.
    const bobKey = deps(bob!).identity.publicKey.serialize();
    const carolKey = deps(carol!).identity.publicKey.serialize();
    const forged = create(ContentSchema, {
      roomId: c.roomId,
      messageId: randomBytes(16),
      sentAtMs: BigInt(Date.now()),
      body: {
        case: "welcome",
        value: {
          distributionMessage: new Uint8Array(0),
          profile: create(ProfileSchema, { displayName: "bob-2" }),
          deliveryToken: deps(bob!).account.record.deliveryToken,
          roster: create(RosterSchema, {
            members: [bobKey, carolKey].map((k) => create(RosterMemberSchema, { identityKey: k, profile: create(ProfileSchema, { displayName: "x" }), joinedSeq: c.joinedSeq, deliveryToken: new Uint8Array(32) })),
            asOfSeq: c.joinedSeq,
            adminIdentityKey: bobKey,
            epoch: c.epoch,
          }),
        },
      },
    });
    const bd = deps(bob!);
    await bd.state.transaction(() => bd.pairwise.send(carolKey, deps(carol!).account.record.deliveryToken, forged));
    await waitFor(() => carol!.failures.some((f) => f.reason === "roster disagreement"), "carol reports the disagreeing roster");
    const after = engine(carol!).room(roomId);
    expect(after.adminIdentityKey).toEqual(deps(alice!).identity.publicKey.serialize());
    expect(carol!.client.members(roomId)).toHaveLength(3);
  });

  it("RM-28 finding 3: an admin left alone rotates after the departure; the departed member's key and a one-epoch link stop working (RM-50 links follow)", async () => {
    const [alice, bob] = await open("alice-3", "bob-3");
    const { roomId, inviteLink } = await alice!.client.createRoom("finding 3");
    await bob!.client.joinRoom(inviteLink);
    await waitForRoster([alice!, bob!], roomId, 2);
    const r = engine(bob!).room(roomId);
    const oldKey = accessKey(r.roomId, r.roomSecret, r.epoch);
    await bob!.client.leaveRoom(roomId);
    await waitFor(() => engine(alice!).room(roomId).epoch === 1, "alice rotates alone");
    await engine(alice!).outboxIdle();
    const denied = await bob!.client.relayClients.rooms
      .postToRoom({ roomId: r.roomId, accessKey: oldKey, envelope: new Uint8Array(64) })
      .then(() => undefined, (e: unknown) => e);
    expect(denied).toBeInstanceOf(ConnectError);
    expect((denied as ConnectError).code).toBe(Code.PermissionDenied);
    // A link of the old kind (one epoch's secret, RM-03) stops working at the rotation…
    const legacy = `${inviteLink.slice(0, inviteLink.indexOf("#join="))}#join=${Buffer.from(
      toBinary(InviteSchema, create(InviteSchema, { roomId: r.roomId, roomSecret: r.roomSecret, epoch: r.epoch, inviterIdentityKey: deps(alice!).identity.publicKey.serialize(), roomName: "finding 3" })),
    ).toString("base64url")}`;
    const [late, later] = await open("late-3", "later-3");
    await expect(late!.client.joinRoom(legacy)).rejects.toThrow(/expired/);
    // …while the room's invite link (RM-50) leads to the new epoch.
    await later!.client.joinRoom(inviteLink);
    await waitForRoster([alice!, later!], roomId, 2);
    expect(engine(later!).room(roomId).epoch).toBe(1);
  });

  it("RM-26 finding 4: a member offline while someone joins and posts decrypts the newcomer's first messages once its sender key arrives", async () => {
    const [alice, bob, carol, dave] = await open("alice-4", "bob-4", "carol-4", "dave-4");
    const { roomId, inviteLink } = await alice!.client.createRoom("finding 4");
    await bob!.client.joinRoom(inviteLink);
    await carol!.client.joinRoom(inviteLink);
    await waitForRoster([alice!, bob!, carol!], roomId, 3);
    await carol!.client.stop(); // carol goes offline
    await dave!.client.joinRoom(inviteLink);
    // carol's key cannot reach dave while she is offline: wait for the others only.
    await waitFor(() => [alice!, bob!, dave!].every((c) => c.client.members(roomId).length === 4), "roster of 4");
    await waitFor(() => engine(dave!).room(roomId).members.filter((m) => m.distributionId.length > 0).length === 3, "dave has alice's and bob's keys");
    await dave!.client.sendText(roomId, "d1");
    await dave!.client.sendText(roomId, "d2");
    await waitFor(() => ["d1", "d2"].every((t) => textsIn(alice!, roomId).includes(t)), "alice gets d1, d2");
    await carol!.client.start(); // carol comes back: reads dave's join, welcomes him, gets his key
    await waitFor(() => textsIn(carol!, roomId).length >= 2 || carol!.failures.length > 0, "carol gets dave's messages or reports them lost");
    expect(textsIn(carol!, roomId)).toEqual(["d1", "d2"]);
    expect(carol!.failures).toEqual([]);
  });

  it("RM-27 finding 5: a burst of posts from one client reaches the relay, and every member, in the order sent", async () => {
    // The network delivers alice's first post late: her later posts must wait for it.
    let delayNext = false;
    const slowFirst: typeof fetch = async (input, init) => {
      const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      if (delayNext && url.endsWith("/PostToRoom")) {
        delayNext = false;
        await new Promise((r) => setTimeout(r, 300));
      }
      return globalThis.fetch(input, init);
    };
    const alice = await newClient(relay.url, "alice-5", { fetch: slowFirst });
    const [bob] = await open("bob-5");
    clients.push(alice);
    const { roomId, inviteLink } = await alice.client.createRoom("finding 5");
    await bob!.client.joinRoom(inviteLink);
    await waitForRoster([alice, bob!], roomId, 2);
    delayNext = true;
    const texts = Array.from({ length: 6 }, (_, i) => `burst-${i}`);
    const sent = await Promise.all(texts.map((t) => alice.client.sendText(roomId, t)));
    expect(sent.map((s) => s.seq)).toEqual([...sent.map((s) => s.seq)].sort((a, b) => a - b));
    await waitFor(() => textsIn(bob!, roomId).length >= texts.length, "bob gets the burst");
    expect(textsIn(bob!, roomId)).toEqual(texts);
  });
});
