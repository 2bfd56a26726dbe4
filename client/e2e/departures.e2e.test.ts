/**
 * Leave, remove and admin succession end to end (spec RM-10..RM-14): departed members cannot
 * read anything posted after their departure, remaining members keep chatting.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRelay, type TestRelay } from "../../relay/testing/test-relay.js";
import { createRelayClients } from "../relay/relay-clients.js";
import { readableTexts, roomLog, snapshotStore } from "./attacker.test-support.js";
import { scanRelayData } from "./relay-scan.test-support.js";
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

function epochOf(c: TestClient, roomId: string): number {
  return c.client.engine.room(roomId).epoch;
}

async function chatRound(members: TestClient[], roomId: string, tag: string): Promise<string[]> {
  const texts: string[] = [];
  for (const m of members) {
    const text = `${tag}-${m.name}`;
    await m.client.sendText(roomId, text);
    texts.push(text);
  }
  for (const m of members) {
    await waitFor(() => texts.filter((t) => !t.endsWith(`-${m.name}`)).every((t) => textsIn(m, roomId).includes(t)), `${m.name} gets ${tag}`);
  }
  return texts;
}

describe("departures end to end", () => {
  it("RM-10 RM-11 RM-12 RM-13: leave, remove and admin leave; departed members read nothing later; the rest keep chatting", async () => {
    const [alice, bob, carol, dave, eve] = await Promise.all(
      ["alice", "bob", "carol", "dave", "eve"].map((n) => newClient(relay.url, n)),
    );
    clients.push(alice!, bob!, carol!, dave!, eve!);
    const { roomId, inviteLink } = await alice!.client.createRoom("ops");
    for (const c of [bob!, carol!, dave!, eve!]) await c.client.joinRoom(inviteLink);
    let members = [alice!, bob!, carol!, dave!, eve!];
    await waitForRoster(members, roomId, 5);
    await chatRound(members, roomId, "hello");

    // bob leaves (RM-10); keep his state as it was just before.
    const bobBefore = await snapshotStore(bob!.kv);
    await chatRound(members, roomId, "last-with-bob");
    await bob!.client.leaveRoom(roomId);
    expect(bob!.client.rooms().find((r) => r.roomId === roomId)?.departed).toBe(true);
    members = [alice!, carol!, dave!, eve!];
    await waitFor(() => members.every((m) => epochOf(m, roomId) === 1), "rotation to epoch 1");
    await waitForRoster(members, roomId, 4);
    const afterBob = await chatRound(members, roomId, "after-bob");

    // alice removes carol (RM-11).
    const carolBefore = await snapshotStore(carol!.kv);
    await chatRound(members, roomId, "last-with-carol");
    await alice!.client.removeMember(roomId, carol!.address);
    await waitFor(() => carol!.closed.some((c) => c.roomId === roomId && c.reason === "removed"), "carol sees her removal");
    members = [alice!, dave!, eve!];
    await waitFor(() => members.every((m) => epochOf(m, roomId) === 2), "rotation to epoch 2");
    await waitForRoster(members, roomId, 3);
    const afterCarol = await chatRound(members, roomId, "after-carol");

    // alice (the admin) leaves: dave, the earliest remaining joiner, succeeds and rotates (RM-13).
    await alice!.client.leaveRoom(roomId);
    members = [dave!, eve!];
    await waitFor(() => members.every((m) => epochOf(m, roomId) === 3), "rotation to epoch 3 by the successor");
    await waitForRoster(members, roomId, 2);
    expect(dave!.client.rooms().find((r) => r.roomId === roomId)?.isAdmin).toBe(true);
    expect(eve!.client.members(roomId).find((m) => m.address === dave!.address)?.isAdmin).toBe(true);
    const afterAlice = await chatRound(members, roomId, "after-alice");

    // The whole log, read with a remaining member's current key.
    const room = dave!.client.engine.room(roomId);
    const api = createRelayClients({ baseUrl: relay.url, token: () => undefined });
    const log = await roomLog(api, room.roomId, room.roomSecret, room.epoch);
    const bobReads = await readableTexts(bobBefore, room.roomId, log);
    const carolReads = await readableTexts(carolBefore, room.roomId, log);
    // The snapshots do read what was posted while they were members (the check is real)…
    expect(bobReads).toContain("last-with-bob-alice");
    expect(carolReads).toContain("last-with-carol-dave");
    // …and nothing posted after their departure.
    for (const t of [...afterBob, ...afterCarol, ...afterAlice]) expect(bobReads).not.toContain(t);
    for (const t of [...afterCarol, ...afterAlice]) expect(carolReads).not.toContain(t);
    // Live clients of departed members received nothing after leaving either.
    for (const t of [...afterCarol, ...afterAlice]) expect(textsIn(carol!, roomId)).not.toContain(t);
    for (const t of afterAlice) expect(textsIn(alice!, roomId)).not.toContain(t);
    for (const m of [dave!, eve!]) expect(m.failures).toEqual([]);
    // API-26: the relay's files hold none of the plaintexts or room secrets.
    const secrets = [room.roomSecret, ...room.previousSecrets.map((p) => p.roomSecret)];
    expect(secrets).toHaveLength(4);
    const scan = await scanRelayData(relay.dataDir, [...afterBob, ...afterCarol, ...afterAlice, "last-with-bob-alice", "hello-alice", ...secrets]);
    expect(scan.files).toContain("relay.sqlite3");
    expect(scan.hits).toEqual([]);
    // The link made before the removal no longer works: the removal reset it (RM-52), and the
    // joiner is told so in words.
    const late = await newClient(relay.url, "mallory");
    clients.push(late);
    await expect(late.client.joinRoom(inviteLink)).rejects.toThrow(/reset by the room's admin/);
  });
});
