/**
 * Invites end to end (spec/09-rooms.md RM-50..RM-53, spec/10-relay-api.md API-40): links that
 * survive rotations, reset links, removed members locked out although they know a link, and
 * members who lie in the invite box. Real clients, real relay over HTTP, real SQLite.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRelay, type TestRelay } from "../../relay/testing/test-relay.js";
import { randomBytes } from "../crypto/bytes.js";
import { inviteBoxAddressHash, sealInviteBox } from "../room/invite-box.js";
import { parseInviteLink } from "../room/invite.js";
import { accessKey } from "../room/room-keys.js";
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

async function open(...names: string[]): Promise<TestClient[]> {
  const out = await Promise.all(names.map((n) => newClient(relay.url, n)));
  clients.push(...out);
  return out;
}

const epochOf = (c: TestClient, roomId: string) => c.client.engine.room(roomId).epoch;

/** Every member sends one line; every other member receives it. */
async function chat(members: TestClient[], roomId: string, tag: string): Promise<void> {
  for (const m of members) await m.client.sendText(roomId, `${tag}-${m.name}`);
  for (const m of members) {
    const want = members.filter((o) => o !== m).map((o) => `${tag}-${o.name}`);
    await waitFor(() => want.every((t) => textsIn(m, roomId).includes(t)), `${m.name} reads ${tag}`);
  }
}

/** The log's latest seq, read with a member's current key. */
async function latestSeq(c: TestClient, roomId: string): Promise<bigint> {
  const r = c.client.engine.room(roomId);
  return (await c.client.relayClients.rooms.getRoomHistory({ roomId: r.roomId, accessKey: accessKey(r.roomId, r.roomSecret, r.epoch), afterSeq: 0n, limit: 1 })).latestSeq;
}

describe("invites (RM-50..RM-53)", () => {
  it("RM-50 RM-51: a link shared before two leaves (the admin's among them) still joins after both rotations", async () => {
    const [alice, bob, carol, dave, eve] = await open("alice-i1", "bob-i1", "carol-i1", "dave-i1", "eve-i1");
    const { roomId, inviteLink } = await alice!.client.createRoom("survives");
    await bob!.client.joinRoom(inviteLink);
    await waitForRoster([alice!, bob!], roomId, 2);
    // Any member can share the room's link; bob's names bob as the inviter.
    const bobsLink = bob!.client.inviteLink(roomId);
    expect(parseInviteLink(bobsLink).inviterName).toBe("bob-i1");
    await carol!.client.joinRoom(bobsLink);
    await waitForRoster([alice!, bob!, carol!], roomId, 3);

    // carol leaves: alice rotates to epoch 1 and re-wraps the box in the same step.
    await carol!.client.leaveRoom(roomId);
    await waitFor(() => [alice!, bob!].every((c) => epochOf(c, roomId) === 1), "rotation to epoch 1");
    await dave!.client.joinRoom(bobsLink);
    await waitForRoster([alice!, bob!, dave!], roomId, 3);
    expect(epochOf(dave!, roomId)).toBe(1);
    await chat([alice!, bob!, dave!], roomId, "after-carol");

    // The admin leaves: bob (earliest joiner) succeeds, rotates to epoch 2 and re-wraps.
    await alice!.client.leaveRoom(roomId);
    await waitFor(() => [bob!, dave!].every((c) => epochOf(c, roomId) === 2), "rotation to epoch 2 by the successor");
    await eve!.client.joinRoom(bobsLink);
    await waitForRoster([bob!, dave!, eve!], roomId, 3);
    expect(epochOf(eve!, roomId)).toBe(2);
    await chat([bob!, dave!, eve!], roomId, "after-alice");
    // The leaver rejoins visibly through the link it kept (RM-52 allows it; members see the join).
    await carol!.client.joinRoom(bobsLink);
    await waitForRoster([bob!, dave!, eve!, carol!], roomId, 4);
    expect(bob!.client.members(roomId).some((m) => m.address === carol!.address)).toBe(true);
    for (const c of [bob!, dave!, eve!]) expect(c.failures).toEqual([]);
  });

  it("RM-52: a removal resets the link; members pick up the new one; the removed member is refused with the old link and with a current one", async () => {
    const [alice, bob, mallory, frank] = await open("alice-i2", "bob-i2", "mallory-i2", "frank-i2");
    const { roomId, inviteLink } = await alice!.client.createRoom("removal");
    await bob!.client.joinRoom(inviteLink);
    await mallory!.client.joinRoom(inviteLink);
    await waitForRoster([alice!, bob!, mallory!], roomId, 3);
    const before = bob!.client.inviteLink(roomId);

    await alice!.client.removeMember(roomId, mallory!.address);
    await waitFor(() => [alice!, bob!].every((c) => epochOf(c, roomId) === 1), "rotation to epoch 1");
    // bob learns the new link from alice's InviteReset (a room message under the new epoch).
    await waitFor(() => bob!.client.inviteLink(roomId) !== before, "bob holds the new link");
    const bobsNewLink = bob!.client.inviteLink(roomId);
    expect(parseInviteLink(bobsNewLink).inviteSecret).toEqual(alice!.client.engine.room(roomId).inviteSecret);

    // The old link (which mallory knows) is dead, with the sentence a person understands.
    await expect(mallory!.client.joinRoom(inviteLink)).rejects.toMatchObject({ code: "invite_reset", message: expect.stringMatching(/reset by the room's admin/) });
    // A member shares the current link with mallory (or the relay helps her to it): her join is
    // validly signed, under the current epoch, and stored by the relay; every member refuses it.
    const failuresBefore = [alice!, bob!].map((c) => c.failures.length);
    const seqBefore = await latestSeq(alice!, roomId);
    await mallory!.client.joinRoom(bobsNewLink);
    expect(await latestSeq(alice!, roomId)).toBe(seqBefore + 1n);
    for (const [i, c] of [alice!, bob!].entries()) {
      await waitFor(() => c.failures.slice(failuresBefore[i]).some((f) => f.reason === "refused join (removed member)"), `${c.name} refuses mallory`);
      expect(c.client.members(roomId)).toHaveLength(2);
      await c.client.engine.outboxIdle();
      expect(c.client.engine.outboxSize()).toBe(0); // no Welcome, no sender key for mallory
    }
    // mallory never gets a roster (nobody welcomed her): she cannot post in the room.
    expect(mallory!.client.engine.room(roomId).adminIdentityKey.length).toBe(0);
    await expect(mallory!.client.engine.sendText(roomId, "let me in")).rejects.toThrow(/still being joined/);
    // Someone else joins with bob's current link and chats with both.
    await frank!.client.joinRoom(bobsNewLink);
    await waitForRoster([alice!, bob!, frank!], roomId, 3);
    await chat([alice!, bob!, frank!], roomId, "after-mallory");
    expect(textsIn(mallory!, roomId).filter((t) => t.startsWith("after-mallory"))).toEqual([]);
  });

  it("RM-52: the admin's reset link kills the old one with a clear error; the new one joins", async () => {
    const [alice, bob, carol, dan] = await open("alice-i3", "bob-i3", "carol-i3", "dan-i3");
    const { roomId, inviteLink } = await alice!.client.createRoom("reset");
    await bob!.client.joinRoom(inviteLink);
    await waitForRoster([alice!, bob!], roomId, 2);
    await expect(bob!.client.resetInviteLink(roomId)).rejects.toThrow(/Only the room admin/);
    const fresh = await alice!.client.resetInviteLink(roomId);
    expect(fresh).not.toBe(inviteLink);
    await expect(carol!.client.joinRoom(inviteLink)).rejects.toMatchObject({ code: "invite_reset" });
    expect(carol!.client.rooms()).toEqual([]);
    await waitFor(() => parseInviteLink(bob!.client.inviteLink(roomId)).inviteSecret!.join() === parseInviteLink(fresh).inviteSecret!.join(), "bob holds the reset link");
    await carol!.client.joinRoom(fresh);
    await dan!.client.joinRoom(bob!.client.inviteLink(roomId));
    await waitForRoster([alice!, bob!, carol!, dan!], roomId, 4);
  });

  it("RM-51: a member who writes garbage, a stale secret or a made-up one into the box cannot make a joiner join a wrong epoch silently", async () => {
    const [alice, bob, carol, joiner] = await open("alice-i4", "bob-i4", "carol-i4", "joiner-i4");
    const { roomId, inviteLink } = await alice!.client.createRoom("liar");
    await bob!.client.joinRoom(inviteLink);
    await carol!.client.joinRoom(inviteLink);
    await waitForRoster([alice!, bob!, carol!], roomId, 3);
    const secret0 = bob!.client.engine.room(roomId).roomSecret.slice();
    await carol!.client.leaveRoom(roomId);
    await waitFor(() => [alice!, bob!].every((c) => epochOf(c, roomId) === 1), "rotation to epoch 1");
    const r = bob!.client.engine.room(roomId);
    const inviteSecret = r.inviteSecret;
    // bob, a member, holds the current access key, so the relay lets him write the box.
    const put = (box: Uint8Array) =>
      bob!.client.relayClients.rooms.putInviteBox({ roomId: r.roomId, accessKey: accessKey(r.roomId, r.roomSecret, r.epoch), boxAddressHash: inviteBoxAddressHash(r.roomId, inviteSecret), box });
    const lies: Array<[string, Uint8Array]> = [
      ["garbage", randomBytes(80)],
      ["epoch 0's secret (what a departed member knows)", sealInviteBox(r.roomId, inviteSecret, { roomSecret: secret0, epoch: 0 })],
      ["a made-up secret labelled as the current epoch", sealInviteBox(r.roomId, inviteSecret, { roomSecret: randomBytes(32), epoch: 1 })],
    ];
    for (const [what, box] of lies) {
      await put(box);
      const seq = await latestSeq(alice!, roomId);
      await expect(joiner!.client.joinRoom(inviteLink), what).rejects.toMatchObject({ code: "invite_unusable" });
      // Nothing was posted: no join of a wrong epoch is waiting in the log.
      expect(await latestSeq(alice!, roomId), what).toBe(seq);
      expect(joiner!.client.rooms(), what).toEqual([]);
    }
    // The admin resets the link: a fresh box, and the next join works at the current epoch.
    const fresh = await alice!.client.resetInviteLink(roomId);
    await joiner!.client.joinRoom(fresh);
    await waitForRoster([alice!, bob!, joiner!], roomId, 3);
    expect(epochOf(joiner!, roomId)).toBe(1);
  });
});
