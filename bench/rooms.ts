/**
 * Room benchmark (a script, not a test): `npm run bench:rooms [-- SIZES]`, e.g. `-- 10 100`.
 *
 * For each room size N on one machine, against a real relay (real SQLite file) and N real
 * clients in this process: (1) the time a new member needs from `joinRoom` until it can read
 * and send (every member's sender key known, nothing pending), and (2) the end-to-end latency
 * from `sendText` returning to the message being decrypted at every other member, p50 and
 * p99, for messages sent at a fixed rate. Prints one JSON line per size. Message contents are
 * synthetic; nothing is logged but timings.
 */

import { startTestRelay } from "../relay/testing/test-relay.js";
import { newClient, type TestClient, waitFor, waitForRoster } from "../client/e2e/harness.test-support.js";

/** Messages per size for the latency figures. */
const MESSAGES = 40;
/** Fixed send rate: one message every 100 ms (10 per second). */
const INTERVAL_MS = 100;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function benchSize(n: number): Promise<Record<string, number>> {
  const relay = await startTestRelay();
  const members: TestClient[] = [];
  try {
    const setupStart = performance.now();
    for (let i = 0; i < n - 1; i++) members.push(await newClient(relay.url, `member-${i}`));
    const { roomId, inviteLink } = await members[0]!.client.createRoom(`bench-${n}`);
    for (const m of members.slice(1)) await m.client.joinRoom(inviteLink);
    await waitForRoster(members, roomId, n - 1, 600_000);
    const setupMs = performance.now() - setupStart;

    // The measured joiner: from joinRoom until everyone (it included) holds every sender key.
    const joiner = await newClient(relay.url, "joiner");
    const t0 = performance.now();
    await joiner.client.joinRoom(inviteLink);
    members.push(joiner);
    await waitForRoster(members, roomId, n, 600_000);
    const joinMs = performance.now() - t0;

    // Latency at a fixed rate: sender timestamps at sendText's return; receivers record arrival.
    const arrivals = new Map<string, number[]>();
    for (const m of members) {
      m.client.on("message", (e) => {
        if (e.own || e.roomId !== roomId) return;
        const list = arrivals.get(e.text) ?? [];
        list.push(performance.now());
        arrivals.set(e.text, list);
      });
    }
    const sentAt = new Map<string, number>();
    for (let i = 0; i < MESSAGES; i++) {
      const from = members[i % members.length]!;
      const text = `bench message ${i}`;
      const start = performance.now();
      await from.client.sendText(roomId, text);
      sentAt.set(text, start);
      const wait = INTERVAL_MS - (performance.now() - start);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    await waitFor(() => [...sentAt.keys()].every((t) => (arrivals.get(t)?.length ?? 0) >= n - 1), "all deliveries", 600_000);
    const perMessage = [...sentAt].map(([t, s]) => Math.max(...arrivals.get(t)!) - s).sort((a, b) => a - b);
    const perDelivery = [...sentAt].flatMap(([t, s]) => arrivals.get(t)!.map((a) => a - s)).sort((a, b) => a - b);
    return {
      members: n,
      setupMs: Math.round(setupMs),
      joinToReadyMs: Math.round(joinMs),
      messages: MESSAGES,
      rateMsgPerSec: 1000 / INTERVAL_MS,
      allMembersP50Ms: Math.round(percentile(perMessage, 50)),
      allMembersP99Ms: Math.round(percentile(perMessage, 99)),
      perDeliveryP50Ms: Math.round(percentile(perDelivery, 50)),
      perDeliveryP99Ms: Math.round(percentile(perDelivery, 99)),
    };
  } finally {
    for (const m of members) await m.client.close().catch(() => undefined);
    await relay.close();
  }
}

const sizes = process.argv.slice(2).map(Number).filter((x) => Number.isInteger(x) && x >= 2);
for (const n of sizes.length > 0 ? sizes : [10, 100]) {
  process.stdout.write(`${JSON.stringify(await benchSize(n))}\n`);
}
