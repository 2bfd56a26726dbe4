/**
 * API-28 from the client's side: Account creates its account on a relay that charges work for
 * account creation (real relay over HTTP, real SQLite file), solving only when the relay
 * answers WORK_REQUIRED, and re-authenticates without solving again.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRelay, type TestRelay } from "../../relay/testing/test-relay.js";
import { openClientRuntime, type ClientRuntime } from "../app/client-runtime.js";
import { MemoryKeyValueStore } from "../store/kv-store.js";
import { leadingZeroBits, MAX_WORK_BITS, solveWork, workHash } from "./work.js";

const BITS = 12;
let relay: TestRelay;
const opened: ClientRuntime[] = [];
beforeAll(async () => {
  relay = await startTestRelay({ limits: { accountCreationWorkBits: BITS } });
});
afterAll(async () => {
  for (const c of opened) await c.close();
  await relay.close();
});

/** How often ProveIdentity was refused for missing work, from the relay's metrics. */
const workRefusals = (): number =>
  Number(/securecomm_relay_rpcs_total\{code="FailedPrecondition",method="ProveIdentity"\} (\d+)/.exec(relay.relay.renderMetrics())?.[1] ?? 0);

describe("API-28 account creation with proof of work", () => {
  it("solves the puzzle once, when the relay asks, and not for later proofs", async () => {
    const kv = new MemoryKeyValueStore();
    const c = await openClientRuntime({ relayUrl: relay.url, store: kv });
    opened.push(c);
    await c.ensureIdentity("worker");
    expect(workRefusals()).toBe(1);
    const counts = (await c.account.authed(() => c.relayClients.keys.getPreKeyCounts({}))).counts!;
    expect(counts.oneTimePreKeys).toBeGreaterThan(0);
    await c.account.authenticate(); // a token renewal: the account exists, no work asked
    expect(workRefusals()).toBe(1);
  });

  it("finds nonces with the asked number of leading zero bits and refuses absurd difficulties", async () => {
    const challenge = new Uint8Array(32).fill(7);
    const key = new Uint8Array(33).fill(5);
    for (const bits of [1, 8, 13]) expect(leadingZeroBits(workHash(challenge, key, await solveWork(challenge, key, bits)))).toBeGreaterThanOrEqual(bits);
    await expect(solveWork(challenge, key, 0)).rejects.toThrow(RangeError);
    await expect(solveWork(challenge, key, MAX_WORK_BITS + 1)).rejects.toThrow(RangeError);
  });
});
