/**
 * Account lifecycle against a real relay (spec API-02..API-05, ID-09, ID-10, SS-05, SS-09).
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRelay, type TestRelay } from "../../relay/testing/test-relay.js";
import { MemoryKeyValueStore } from "../store/kv-store.js";
import { type ClientRuntime, openClientRuntime } from "../app/client-runtime.js";
import { parseAddress } from "../keys/address.js";
import { DEFAULT_REFILL_THRESHOLD, PREKEY_TARGET, RETIRED_KEY_RETENTION_MS, SIGNED_PREKEY_ROTATION_MS } from "./account.js";

let relay: TestRelay;
const opened: ClientRuntime[] = [];
const DAY = 24 * 3600 * 1000;

beforeAll(async () => {
  // The ID-09 test drains 81 one-time prekeys of one target at once: above the per-target
  // handout budget (API-29), which prekey-handout.test.ts covers.
  relay = await startTestRelay({ limits: { maxOneTimePreKeyHandoutsPerHour: 1000 } });
});
afterAll(async () => {
  for (const c of opened) await c.close();
  await relay.close();
});

async function open(name: string, now?: () => number, kv = new MemoryKeyValueStore()): Promise<ClientRuntime> {
  const c = await openClientRuntime({ relayUrl: relay.url, store: kv, ...(now ? { now } : {}) });
  opened.push(c);
  await c.ensureIdentity(name);
  return c;
}

describe("account lifecycle", () => {
  it("ID-09 API-07: registers with 100 one-time EC and Kyber prekeys and refills below the threshold", async () => {
    const target = await open("target");
    const counts = async () => (await target.account.authed(() => target.relayClients.keys.getPreKeyCounts({}))).counts!;
    const first = await counts();
    expect(first.oneTimePreKeys).toBe(PREKEY_TARGET);
    expect(first.kyberPreKeys).toBe(PREKEY_TARGET);
    expect(first.hasSignedPreKey && first.hasLastResortKyberPreKey).toBe(true);
    // Others consume 81 bundles (30 per requester and target per minute, API-09).
    const address = parseAddress(target.identity().address);
    for (const name of ["r1", "r2", "r3"]) {
      const r = await open(name);
      for (let i = 0; i < 27; i++) await r.account.authed(() => r.relayClients.keys.fetchPreKeyBundle({ address }));
    }
    const low = await counts();
    expect(low.oneTimePreKeys).toBe(PREKEY_TARGET - 81);
    expect(low.oneTimePreKeys).toBeLessThan(DEFAULT_REFILL_THRESHOLD);
    await target.account.upkeep();
    const refilled = await counts();
    expect(refilled.oneTimePreKeys).toBe(PREKEY_TARGET);
    expect(refilled.kyberPreKeys).toBe(PREKEY_TARGET);
  });

  it("API-29 ID-09: a running client refills when the relay's PreKeysLow says its one-time prekeys ran low (no reconnect needed)", async () => {
    const target = await open("drained");
    const counts = async () => (await target.account.authed(() => target.relayClients.keys.getPreKeyCounts({}))).counts!;
    await target.start();
    await expect.poll(() => target.connection, { timeout: 10_000 }).toBe("online");
    const connects = target.subscriptionStats.healthyStreams;
    const address = parseAddress(target.identity().address);
    for (const name of ["d1", "d2", "d3"]) {
      const r = await open(name);
      for (let i = 0; i < 27; i++) await r.account.authed(() => r.relayClients.keys.fetchPreKeyBundle({ address }));
    }
    // The 81st handout left 19 < 20: the relay sent PreKeysLow and the client topped up.
    await expect.poll(async () => (await counts()).oneTimePreKeys, { timeout: 10_000, interval: 100 }).toBe(PREKEY_TARGET);
    expect((await counts()).kyberPreKeys).toBe(PREKEY_TARGET);
    // On the same stream: the refill came from the notice, not from a reconnect's upkeep.
    expect(target.subscriptionStats.healthyStreams).toBe(connects);
    await target.stop();
  });

  it("ID-10: rotates the signed and last-resort prekeys after 7 days, keeps replaced ones 30 days, then deletes them", async () => {
    const clock = { now: Date.now() };
    const kv = new MemoryKeyValueStore();
    const c = await open("rotator", () => clock.now, kv);
    const signedIds = () => c.account.record.signedPreKeyId;
    const first = signedIds();
    const storedSigned = async () => (await kv.list("signed-prekey/")).length;
    expect(await storedSigned()).toBe(1);
    clock.now += SIGNED_PREKEY_ROTATION_MS - DAY;
    await c.account.upkeep();
    expect(signedIds()).toBe(first);
    clock.now += 2 * DAY;
    await c.account.upkeep();
    expect(signedIds()).not.toBe(first);
    const counts = (await c.account.authed(() => c.relayClients.keys.getPreKeyCounts({}))).counts!;
    expect(counts.signedPreKeyId).toBe(signedIds());
    expect(await storedSigned()).toBe(2); // the replaced key still decrypts old PreKey messages
    clock.now += RETIRED_KEY_RETENTION_MS + DAY;
    await c.account.upkeep();
    // Past 30 days the first replaced key is gone (the rotation that just happened retired another).
    const ids = (await kv.list("signed-prekey/")).map(([k]) => Number(k.slice("signed-prekey/".length)));
    expect(ids).not.toContain(first);
  });

  it("SS-05 SS-09: pins the trust root and refuses a relay presenting another one", async () => {
    const kv = new MemoryKeyValueStore();
    const c = await open("pinner", undefined, kv);
    expect(c.account.trustRoot?.serialize().length).toBe(33);
    const cert = c.account.record.senderCertificate;
    expect(cert?.length).toBeGreaterThan(0);
    expect(c.account.record.senderCertificateExpiresMs).toBeGreaterThan(Date.now());
    const other = await startTestRelay();
    try {
      const moved = await openClientRuntime({ relayUrl: other.url, store: kv });
      opened.push(moved);
      await expect(moved.ensureIdentity("pinner")).rejects.toThrow(/trust root/);
    } finally {
      await other.close();
    }
  });
});
