/**
 * A hostile relay (spec 01 threat model; RM-06, RM-09, RM-15, ID-08, SK-07): it flips bits,
 * drops, reorders, replays and duplicates room events, forges an event, and substitutes a
 * prekey bundle with another identity. The victim rejects and reports every forgery and keeps
 * working with everything genuine.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRelay, type TestRelay } from "../../relay/testing/test-relay.js";
import { parseAddress } from "../keys/address.js";
import { HostileRelay } from "./hostile-fetch.test-support.js";
import { scanRelayData } from "./relay-scan.test-support.js";
import { newClient, type TestClient, textsIn, waitFor, waitForRoster } from "./harness.test-support.js";

let relay: TestRelay;
/** Appended to every text so the scan looks for long, distinctive plaintexts. */
const PLAINTEXT_SUFFIX = " :: plaintext that must never reach the relay";
const clients: TestClient[] = [];

beforeAll(async () => {
  relay = await startTestRelay();
});

afterAll(async () => {
  for (const c of clients) await c.client.close();
  await relay.close();
});

describe("hostile relay end to end", () => {
  it("ID-08 RM-06 RM-09 RM-15 RM-22: forged, flipped, replayed, dropped, reordered and substituted traffic is rejected and reported; genuine traffic still flows", async () => {
    const hostile = new HostileRelay();
    const alice = await newClient(relay.url, "Alice Hostile-Relay Test");
    const bob = await newClient(relay.url, "Bob Hostile-Relay Test");
    const carol = await newClient(relay.url, "Carol Hostile-Relay Test", { fetch: hostile.fetch() });
    const mallory = await newClient(relay.url, "Mallory Hostile-Relay Test", { start: false });
    clients.push(alice, bob, carol, mallory);
    const { roomId, inviteLink } = await alice.client.createRoom("under attack");
    const plain = (c: TestClient) => textsIn(c, roomId).map((t) => t.replace(PLAINTEXT_SUFFIX, ""));
    await carol.client.joinRoom(inviteLink);
    await bob.client.joinRoom(inviteLink);
    await waitForRoster([alice, bob, carol], roomId, 3);
    expect(hostile.capturedJoins.length).toBeGreaterThan(0); // bob's join, seen by carol

    // 1. Bundle substitution: when carol fetches dave's bundle, the relay hands her mallory's.
    const malloryBundle = await bob.client.account.authed(() =>
      bob.client.relayClients.keys.fetchPreKeyBundle({ address: parseAddress(mallory.address) }),
    );
    if (malloryBundle.result.case !== "bundle") throw new Error("mallory has no bundle");
    hostile.substituteBundles = [malloryBundle.result.value];
    hostile.tamperMailbox = true; // dave's answer to carol arrives replayed and with a forged twin
    const dave = await newClient(relay.url, "Dave Hostile-Relay Test");
    clients.push(dave);
    await dave.client.joinRoom(inviteLink);
    await waitForRoster([alice, bob, carol, dave], roomId, 4);
    expect(hostile.substituted).toBe(1);
    hostile.tamperMailbox = false;
    expect(hostile.forgedMailbox).toBeGreaterThan(0);
    // Forged pairwise envelopes are rejected and reported; the replayed genuine ones are not.
    const rejectedNow = () => carol.failures.filter((f) => f.reason.startsWith("pairwise message rejected"));
    await waitFor(() => rejectedNow().length > 0, "carol rejects the forged mailbox envelope");
    const rejected = rejectedNow();
    expect(rejected.length).toBeLessThanOrEqual(hostile.forgedMailbox);
    expect(carol.failures.some((f) => f.reason.includes("duplicate"))).toBe(false);
    expect(carol.failures.some((f) => f.reason.includes("untrusted_identity"))).toBe(true);
    // carol never trusted mallory's key for dave's address, and dave got carol's key later.
    expect(carol.client.members(roomId).find((m) => m.address === dave.address)?.verification).toBe("unverified");

    // 2. Room stream tampering on carol's connection.
    hostile.armRoom({ 2: "flip", 3: "drop", 4: "hold-until-next", 6: "replace-with-captured-join", 7: "duplicate", 8: "forge" });
    const sent: Array<{ text: string; seq: number }> = [];
    for (let i = 1; i <= 8; i++) {
      const from = i % 2 === 0 ? bob : alice;
      const text = `m${i}`;
      sent.push({ text, ...(await from.client.sendText(roomId, text + PLAINTEXT_SUFFIX)) });
    }
    for (const c of [alice, bob, dave]) {
      await waitFor(() => plain(c).filter((t) => /^m\d$/.test(t)).length >= (c === dave ? 8 : 4), `${c.name} gets m1..m8`);
    }
    // Genuine events carol can get: m1, m3 (dropped → refetched), m4 and m5 (reordered), m7 (duplicated).
    await waitFor(() => ["m1", "m3", "m4", "m5", "m7"].every((t) => plain(carol).includes(t)), "carol gets the genuine ones");
    await waitFor(() => carol.failures.filter((f) => f.roomId === roomId).length >= 3, "carol reports the forgeries");
    hostile.disarm();
    expect(hostile.applied).toEqual(["flip", "drop", "hold-until-next", "replace-with-captured-join", "duplicate", "forge"]);
    const carolTexts = plain(carol).filter((t) => /^m\d$/.test(t));
    expect(carolTexts).toEqual(["m1", "m3", "m4", "m5", "m7"]); // in relay order, each once
    const reasons = carol.failures.filter((f) => f.roomId === roomId).map((f) => f.reason);
    expect(reasons.filter((r) => r.startsWith("invalid room envelope")).length).toBe(2); // flipped + forged
    expect(reasons).toContain("replayed join");

    // 3. Everyone keeps chatting, carol included, both directions.
    await carol.client.sendText(roomId, "carol-still-here" + PLAINTEXT_SUFFIX);
    await alice.client.sendText(roomId, "alice-after-attack" + PLAINTEXT_SUFFIX);
    for (const c of [alice, bob, dave]) await waitFor(() => plain(c).includes("carol-still-here"), `${c.name} hears carol`);
    await waitFor(() => plain(carol).includes("alice-after-attack"), "carol hears alice");
    for (const c of [alice, bob, dave]) expect(c.failures).toEqual([]);
    // The roster was not changed by the replayed join.
    expect(carol.client.members(roomId)).toHaveLength(4);

    // API-26 RM-18: the relay's files hold no plaintext, display name or room secret.
    const needles: Array<string | Uint8Array> = [
      ...sent.map((s) => s.text + PLAINTEXT_SUFFIX),
      "carol-still-here" + PLAINTEXT_SUFFIX,
      "alice-after-attack" + PLAINTEXT_SUFFIX,
      ...[alice, bob, carol, dave, mallory].map((c) => c.name),
      "under attack",
      ...[alice, bob, carol, dave].map((c) => c.client.engine.room(roomId).roomSecret),
    ];
    for (const c of [alice, bob, carol, dave]) for (const p of c.client.engine.room(roomId).previousSecrets) needles.push(p.roomSecret);
    const scan = await scanRelayData(relay.dataDir, needles);
    expect(scan.files).toContain("relay.sqlite3");
    expect(scan.bytes).toBeGreaterThan(0);
    expect(scan.hits).toEqual([]);
    // Control: the scan does see what the relay legitimately stores (the room id).
    const control = await scanRelayData(relay.dataDir, [alice.client.engine.room(roomId).roomId]);
    expect(control.hits.length).toBeGreaterThan(0);
  });
});
