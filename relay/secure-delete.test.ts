// SC-19 (issue 11 item 3): what is deleted leaves no bytes in the database files. Against a
// real relay over HTTP/2 (h2c) with a real SQLite file: an acknowledged mailbox envelope and a
// deleted account's identity key are first found in the files (the scan works), then, after
// the deletion, in none of relay.sqlite3, -wal and -shm while the relay runs, nor after it
// shuts down.

import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, describe, expect, it } from "vitest";
import { clientsFor, registerAccount } from "./services/harness.test-support.js";
import { DATABASE_FILE, SECURE_DELETE_CHECKPOINT_MS } from "./store/sqlite-store.js";
import { startTestRelay, type TestRelay } from "./testing/test-relay.js";

let dataDir: string | undefined;
let relay: TestRelay | undefined;
afterAll(async () => {
  await relay?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const FILES = [DATABASE_FILE, `${DATABASE_FILE}-wal`, `${DATABASE_FILE}-shm`];

/** The database files (that exist) holding `needle`. */
function filesHolding(dir: string, needle: Uint8Array): string[] {
  return FILES.filter((f) => existsSync(join(dir, f)) && readFileSync(join(dir, f)).includes(Buffer.from(needle)));
}

/** Polls until no file holds `needle` (or the deadline passes); returns the last holders. */
async function waitUntilGone(dir: string, needle: Uint8Array, deadlineMs = 5_000 + SECURE_DELETE_CHECKPOINT_MS): Promise<string[]> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const holders = filesHolding(dir, needle);
    if (holders.length === 0 || Date.now() > until) return holders;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("SC-19 deleted rows are overwritten", () => {
  it("an acknowledged envelope and a deleted account's identity key are gone from every database file, running and after shutdown", async () => {
    dataDir = await mkdtemp(join(tmpdir(), "securecomm-secure-delete-"));
    relay = await startTestRelay({ dataDir });
    const c = clientsFor(createGrpcTransport({ baseUrl: relay.url }));

    // A mailbox envelope, stored and then acknowledged.
    const alice = await registerAccount(c);
    const envelope = crypto.getRandomValues(new Uint8Array(2_000));
    envelope[0] = 0x11;
    await c.messages.sendSealed({ recipientAddress: alice.address, deliveryToken: alice.deliveryToken, envelope });
    const kept = crypto.getRandomValues(new Uint8Array(600)); // not acknowledged: must stay
    await c.messages.sendSealed({ recipientAddress: alice.address, deliveryToken: alice.deliveryToken, envelope: kept });
    expect(filesHolding(dataDir, envelope).length).toBeGreaterThan(0); // the scan finds stored bytes

    // An account that is then deleted.
    const doomed = await registerAccount(c);
    expect(filesHolding(dataDir, doomed.identityKey).length).toBeGreaterThan(0);

    const abort = new AbortController();
    const ids: bigint[] = [];
    for await (const m of c.messages.subscribe({ rooms: [] }, { headers: alice.headers, signal: abort.signal })) {
      if (m.event.case === "mailbox") ids.push(...m.event.value.envelopes.map((e) => e.id));
      if (m.event.case === "caughtUp") break;
    }
    abort.abort();
    expect(ids.length).toBe(2);
    await c.messages.ackMessages({ ids: [ids[0]!] }, { headers: alice.headers });
    await c.account.deleteAccount({}, { headers: doomed.headers });

    expect(await waitUntilGone(dataDir, envelope)).toEqual([]);
    expect(await waitUntilGone(dataDir, doomed.identityKey)).toEqual([]);
    expect(filesHolding(dataDir, kept).length).toBeGreaterThan(0);
    expect(filesHolding(dataDir, alice.identityKey).length).toBeGreaterThan(0);

    await relay.close();
    relay = undefined;
    expect(filesHolding(dataDir, envelope)).toEqual([]);
    expect(filesHolding(dataDir, doomed.identityKey)).toEqual([]);
    expect(filesHolding(dataDir, kept)).toEqual([DATABASE_FILE]);
  });
});
