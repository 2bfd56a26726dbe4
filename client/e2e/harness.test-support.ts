/**
 * End-to-end test support: real clients (in-memory key-value stores) against a real relay.
 *
 * Owns: `TestClient` (a client plus everything it has emitted), `waitFor` (polls a condition,
 * bounded by a generous limit so a hang fails instead of stalling; never a timing assertion),
 * and room setup helpers. Tests only.
 */

import { MemoryKeyValueStore } from "../store/kv-store.js";
import { type ClientRuntime, openClientRuntime } from "../app/client-runtime.js";
import type { ClientEvents } from "../app/securecomm-client.js";

/** A client under test and what it received. */
export interface TestClient {
  name: string;
  client: ClientRuntime;
  kv: MemoryKeyValueStore;
  messages: Array<ClientEvents["message"]>;
  failures: Array<ClientEvents["decryption-failed"]>;
  identityChanges: Array<ClientEvents["identity-changed"]>;
  closed: Array<ClientEvents["room-closed"]>;
  typing: Array<ClientEvents["typing"]>;
  address: string;
}

/** Opens a client with a fresh identity named `name` and starts it. */
export async function newClient(
  relayUrl: string,
  name: string,
  options: { fetch?: typeof fetch; kv?: MemoryKeyValueStore; start?: boolean } = {},
): Promise<TestClient> {
  const kv = options.kv ?? new MemoryKeyValueStore();
  const client = await openClientRuntime({ relayUrl, store: kv, random: () => 0.5, ...(options.fetch ? { fetch: options.fetch } : {}) });
  const t: TestClient = { name, client, kv, messages: [], failures: [], identityChanges: [], closed: [], typing: [], address: "" };
  client.on("message", (m) => t.messages.push(m));
  client.on("decryption-failed", (f) => t.failures.push(f));
  client.on("identity-changed", (f) => t.identityChanges.push(f));
  client.on("room-closed", (f) => t.closed.push(f));
  client.on("typing", (f) => t.typing.push(f));
  await client.ensureIdentity(name);
  t.address = client.identity().address;
  if (options.start !== false) await client.start();
  return t;
}

/** Polls `cond` every 20 ms until true; throws after `limitMs` (a hang guard, not a timing test). */
export async function waitFor(cond: () => boolean, what: string, limitMs = 30_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits until every client sees the same `count` members in `roomId` and nothing is pending. */
export async function waitForRoster(clients: TestClient[], roomId: string, count: number, limitMs?: number): Promise<void> {
  await waitFor(
    () =>
      clients.every((c) => {
        const r = c.client.rooms().find((x) => x.roomId === roomId);
        return r !== undefined && !r.departed && r.memberCount === count && c.client.settled();
      }),
    `roster of ${count}`,
    limitMs,
  );
}

/** The texts a client received from others in a room, in arrival order. */
export function textsIn(c: TestClient, roomId: string): string[] {
  return c.messages.filter((m) => m.roomId === roomId && !m.own).map((m) => m.text);
}
