/**
 * Offline members, relay restarts and a relay killed with SIGKILL (spec API-10, API-11,
 * API-14, RM-14, RM-15): nothing acknowledged is lost and clients reconnect by themselves.
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startTestRelay } from "../../relay/testing/test-relay.js";
import { newClient, type TestClient, textsIn, waitFor, waitForRoster } from "./harness.test-support.js";
import { scanRelayData } from "./relay-scan.test-support.js";
import { freePort, type SpawnedRelay, spawnRelay } from "./spawned-relay.test-support.js";

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

function expectedFrom(sent: Array<{ from: TestClient; text: string; seq: number }>, me: TestClient): string[] {
  return sent.filter((s) => s.from !== me).sort((a, b) => a.seq - b.seq).map((s) => s.text);
}

describe("resilience end to end", () => {
  it("RM-14 RM-15 API-14: an offline member catches up from the room log and its mailbox (a join, a leave and a rotation happened meanwhile)", async () => {
    const relay = await startTestRelay();
    cleanups.push(() => relay.close());
    const [alice, bob, carol] = await Promise.all(["alice", "bob", "carol"].map((n) => newClient(relay.url, n)));
    cleanups.push(async () => {
      for (const c of [alice!, bob!, carol!]) await c.client.close();
    });
    const { roomId, inviteLink } = await alice!.client.createRoom("night shift");
    await bob!.client.joinRoom(inviteLink);
    await carol!.client.joinRoom(inviteLink);
    await waitForRoster([alice!, bob!, carol!], roomId, 3);

    await carol!.client.stop();
    const sent: Array<{ from: TestClient; text: string; seq: number }> = [];
    for (const [i, from] of [alice!, bob!, alice!].entries()) {
      const text = `while-away-${i}`;
      sent.push({ from, text, ...(await from.client.sendText(roomId, text)) });
    }
    const dave = await newClient(relay.url, "dave");
    cleanups.push(() => dave.client.close());
    await dave.client.joinRoom(inviteLink);
    // dave's roster comes from alice and bob; carol welcomes him when she is back.
    await waitFor(() => dave.client.members(roomId).length === 4, "dave has the roster");
    await bob!.client.leaveRoom(roomId);
    await waitFor(() => alice!.client.engine.room(roomId).epoch === 1, "alice rotated");
    await waitFor(() => dave.client.engine.room(roomId).epoch === 1, "dave rotated");
    sent.push({ from: alice!, text: "after-rotation", ...(await alice!.client.sendText(roomId, "after-rotation")) });

    await carol!.client.start();
    await waitForRoster([alice!, carol!, dave], roomId, 3);
    const forCarol = expectedFrom(sent, carol!);
    await waitFor(() => textsIn(carol!, roomId).length >= forCarol.length, "carol catches up");
    expect(textsIn(carol!, roomId)).toEqual(forCarol);
    expect(carol!.client.engine.room(roomId).epoch).toBe(1);

    const back = await carol!.client.sendText(roomId, "carol-is-back");
    for (const m of [alice!, dave]) await waitFor(() => textsIn(m, roomId).includes("carol-is-back"), `${m.name} hears carol`);
    expect(back.seq).toBeGreaterThan(0);
    for (const m of [alice!, carol!, dave]) expect(m.failures).toEqual([]);
  });

  it("API-10 API-18: relay restarted (SIGTERM) and killed (SIGKILL) after acknowledging: nothing acknowledged is lost, clients reconnect by themselves", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "securecomm-e2e-relay-"));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const port = await freePort();
    let relay: SpawnedRelay = await spawnRelay(port, dataDir);
    cleanups.push(() => relay.stop("SIGKILL"));
    const [alice, bob, carol] = await Promise.all(["alice", "bob", "carol"].map((n) => newClient(relay.url, n)));
    const trio = [alice!, bob!, carol!];
    cleanups.push(async () => {
      for (const c of trio) await c.client.close();
    });
    const { roomId, inviteLink } = await alice!.client.createRoom("restarts");
    await bob!.client.joinRoom(inviteLink);
    await carol!.client.joinRoom(inviteLink);
    await waitForRoster(trio, roomId, 3);

    const sent: Array<{ from: TestClient; text: string; seq: number }> = [];
    const send = async (from: TestClient, text: string) => sent.push({ from, text, ...(await from.client.sendText(roomId, text)) });
    await send(alice!, "before-restart-a");
    await send(bob!, "before-restart-b");

    // A graceful restart mid-conversation.
    await relay.stop("SIGTERM");
    await waitFor(() => trio.every((c) => c.client.connection !== "online"), "clients notice the relay is gone");
    relay = await spawnRelay(port, dataDir);
    await waitFor(() => trio.every((c) => c.client.connection === "online"), "clients reconnect after restart");
    await send(carol!, "after-restart-c");
    await send(alice!, "after-restart-a");

    // Acknowledged sends, then SIGKILL before anyone necessarily received them.
    for (let i = 0; i < 5; i++) await send(trio[i % 3]!, `acked-before-kill-${i}`);
    await relay.stop("SIGKILL");
    relay = await spawnRelay(port, dataDir);
    await waitFor(() => trio.every((c) => c.client.connection === "online"), "clients reconnect after SIGKILL");
    await send(bob!, "after-kill-b");

    for (const c of trio) {
      const expected = expectedFrom(sent, c);
      await waitFor(() => textsIn(c, roomId).length >= expected.length, `${c.name} has everything`);
      expect(textsIn(c, roomId)).toEqual(expected);
      expect(c.failures).toEqual([]);
    }
    // API-26: after a crash and WAL recovery the files hold no plaintext or room secret.
    const scan = await scanRelayData(dataDir, [...sent.map((s) => s.text), alice!.client.engine.room(roomId).roomSecret]);
    expect(scan.files).toEqual(expect.arrayContaining(["relay.sqlite3"]));
    expect(scan.hits).toEqual([]);
  });

  it("RM-19: a member offline past the retained history is told so, resumes from the oldest retained event and keeps chatting", async () => {
    const relay = await startTestRelay({ limits: { maxRoomLogEnvelopes: 5 } });
    cleanups.push(() => relay.close());
    const alice = await newClient(relay.url, "alice");
    const bob = await newClient(relay.url, "bob");
    cleanups.push(async () => {
      for (const c of [alice, bob]) await c.client.close();
    });
    const { roomId, inviteLink } = await alice.client.createRoom("short memory");
    await bob.client.joinRoom(inviteLink);
    await waitForRoster([alice, bob], roomId, 2);
    await bob.client.stop();
    const seqs: number[] = [];
    for (let i = 0; i < 10; i++) seqs.push((await alice.client.sendText(roomId, `old-${i}`)).seq);
    await relay.relay.sweep();
    await bob.client.start();
    await waitFor(() => bob.closed.some((c) => c.roomId === roomId && c.reason === "history-expired"), "bob is told history expired");
    await waitFor(() => textsIn(bob, roomId).includes("old-9"), "bob reads the retained tail");
    expect(bob.client.rooms().find((r) => r.roomId === roomId)?.rosterStale).toBe(true);
    expect(alice.client.rooms().find((r) => r.roomId === roomId)?.rosterStale).toBe(false);
    // Only the retained tail, in order; what expired is gone, not invented.
    const got = textsIn(bob, roomId);
    expect(got.length).toBeLessThanOrEqual(5);
    expect(got).toEqual(got.map((t) => Number(t.slice(4))).sort((a, b) => a - b).map((n) => `old-${n}`));
    await alice.client.sendText(roomId, "still-here");
    await waitFor(() => textsIn(bob, roomId).includes("still-here"), "bob keeps receiving");
    await bob.client.sendText(roomId, "bob-back");
    await waitFor(() => textsIn(alice, roomId).includes("bob-back"), "alice hears bob");
  });
});
