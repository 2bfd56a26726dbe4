/**
 * Durability under SIGKILL: a real relay process (`node --import tsx relay/main.ts`) takes a
 * stream of concurrent sealed sends and room posts and is killed with SIGKILL mid-stream.
 * Every send and post it acknowledged must be in the SQLite file afterwards, in the right
 * mailbox, and a restarted relay must deliver them.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createConnectTransport } from "@connectrpc/connect-node";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { sha256 } from "../auth.js";
import { DATABASE_FILE } from "../store/sqlite-store.js";
import { clientsFor, randomId, randomKey, registerAccount } from "./harness.test-support.js";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const LISTENING = /listening on (http:\/\/127\.0\.0\.1:\d+)/;
const children: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function start(dataDir: string): Promise<{ child: ChildProcess; url: string; exited: Promise<unknown> }> {
  const child = spawn(process.execPath, ["--import", "tsx", "relay/main.ts", "--port", "0", "--data-dir", dataDir], {
    cwd: repo,
    env: { ...process.env, LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  const exited = new Promise((resolve) => child.once("exit", resolve));
  let out = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on("data", (c: Buffer) => {
      out += c.toString("utf8");
      const m = LISTENING.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    void exited.then(() => reject(new Error("relay exited before listening")));
  });
  return { child, url, exited };
}

describe("durability under SIGKILL", () => {
  it("nothing acknowledged is lost and nothing lands in the wrong mailbox", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "securecomm-sigkill-"));
    dirs.push(dataDir);
    const relay = await start(dataDir);
    const c = clientsFor(createConnectTransport({ baseUrl: relay.url, httpVersion: "1.1" }));
    const b = await registerAccount(c);
    const other = await registerAccount(c);
    const roomId = randomId();
    const accessKey = randomKey();
    await c.rooms.createRoom({ roomId, accessKeyHash: sha256(accessKey) }, { headers: b.headers });

    const ackedSends: number[] = [];
    const ackedSeqs: number[] = [];
    let next = 0;
    let stop = false;
    const worker = async (): Promise<void> => {
      while (!stop) {
        const n = next++;
        const envelope = new Uint8Array(64).fill(n & 0xff);
        envelope[0] = 0x11;
        new DataView(envelope.buffer).setUint32(1, n);
        try {
          if (n % 3 === 0) {
            const r = await c.rooms.postToRoom({ roomId, accessKey, envelope });
            ackedSeqs.push(Number(r.seq));
          } else {
            await c.messages.sendSealed({ recipientAddress: b.address, deliveryToken: b.deliveryToken, envelope });
            ackedSends.push(n);
          }
        } catch {
          return; // The relay died: this call was never acknowledged.
        }
      }
    };
    const workers = Array.from({ length: 16 }, worker);
    while (ackedSends.length < 150) await new Promise((r) => setTimeout(r, 5));
    relay.child.kill("SIGKILL");
    stop = true;
    await relay.exited;
    await Promise.all(workers);

    const db = new Database(join(dataDir, DATABASE_FILE));
    const rows = db.prepare("SELECT address, envelope FROM mailbox").all() as { address: Buffer; envelope: Buffer }[];
    const stored = new Set<number>();
    for (const row of rows) {
      expect(Buffer.from(row.address).equals(Buffer.from(b.address))).toBe(true);
      stored.add(Buffer.from(row.envelope).readUInt32BE(1));
    }
    for (const n of ackedSends) expect(stored.has(n), `acknowledged send ${n} lost`).toBe(true);
    const seqs = new Set((db.prepare("SELECT seq FROM room_events").all() as { seq: number }[]).map((r) => r.seq));
    for (const s of ackedSeqs) expect(seqs.has(s), `acknowledged post ${s} lost`).toBe(true);
    expect((db.prepare("SELECT count(*) AS n FROM mailbox WHERE address = ?").get(Buffer.from(other.address)) as { n: number }).n).toBe(0);
    db.close();

    const again = await start(dataDir);
    const c2 = clientsFor(createConnectTransport({ baseUrl: again.url, httpVersion: "1.1" }));
    const abort = new AbortController();
    const delivered = new Set<number>();
    for await (const m of c2.messages.subscribe({ rooms: [] }, { headers: b.headers, signal: abort.signal })) {
      if (m.event.case === "mailbox") for (const e of m.event.value.envelopes) delivered.add(Buffer.from(e.envelope).readUInt32BE(1));
      if (m.event.case === "caughtUp") break;
    }
    abort.abort();
    for (const n of ackedSends) expect(delivered.has(n)).toBe(true);
    again.child.kill("SIGTERM");
    await again.exited;
  });
});
