// Runs README.md's "Several relays on one PostgreSQL" section as written: its two PostgreSQL
// commands (in a temporary directory, on a free port, as the `postgres` user when we are root)
// and its three relay commands (each on a free port), then checks that the relays share one
// database: a post accepted by one reaches a stream on another, and they share a trust root.
// The ```bash blocks are substituted only in paths, ports and the binary directory.

import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { chownSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, describe, expect, it } from "vitest";
import { sha256 } from "../relay/auth.js";
import { clientsFor, randomId, randomKey, registerAccount } from "../relay/services/harness.test-support.js";
import { postgresBinDir } from "../relay/testing/postgres-cluster.js";
import { freePort } from "../client/e2e/spawned-relay.test-support.js";

const repo = fileURLToPath(new URL("..", import.meta.url));
const SECTION = "## Several relays on one PostgreSQL";
const README_BIN = "/usr/lib/postgresql/15/bin";

/** The ```bash blocks of the section, as lists of command lines. */
function sectionBlocks(markdown: string): string[][] {
  const start = markdown.indexOf(SECTION);
  const end = markdown.indexOf("\n## ", start + SECTION.length);
  const text = markdown.slice(start, end);
  return [...text.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => (m[1] ?? "").split("\n").filter((l) => l.trim() !== ""));
}

const asRoot = process.getuid?.() === 0;
const dir = mkdtempSync(join(tmpdir(), "securecomm-readme-pg-"));
const children: ChildProcess[] = [];
let pgStarted = false;

afterAll(async () => {
  for (const c of children) if (c.pid && c.exitCode === null) process.kill(-c.pid, "SIGKILL");
  if (pgStarted) execFileSync(asRoot ? "runuser" : join(postgresBinDir(), "pg_ctl"), [...(asRoot ? ["-u", "postgres", "--", join(postgresBinDir(), "pg_ctl")] : []), "-D", join(dir, "pg"), "-m", "immediate", "stop"], { stdio: "ignore" });
  rmSync(dir, { recursive: true, force: true });
});

describe("README: several relays on one PostgreSQL", () => {
  it("starts PostgreSQL with its two commands and three relays with one command each, sharing one database", { timeout: 120_000 }, async () => {
    const blocks = sectionBlocks(readFileSync(join(repo, "README.md"), "utf8"));
    expect(blocks.length).toBe(2);
    const [pgLines = [], relayLines = []] = blocks;
    expect(pgLines.length).toBe(2);
    expect(relayLines.length).toBe(3);
    const pgPort = await freePort();
    const sub = (line: string): string =>
      line
        .replaceAll(README_BIN, postgresBinDir())
        .replaceAll("data/pg", join(dir, "pg"))
        .replaceAll("-k /tmp", `-k ${dir}`)
        .replaceAll("5432", String(pgPort));
    if (asRoot) chownSync(dir, Number(execFileSync("id", ["-u", "postgres"]).toString()), Number(execFileSync("id", ["-g", "postgres"]).toString()));
    for (const line of pgLines) {
      const cmd = sub(line);
      if (asRoot) execFileSync("runuser", ["-u", "postgres", "--", "bash", "-c", cmd], { stdio: "ignore", timeout: 60_000 });
      else execFileSync("bash", ["-c", cmd], { stdio: "ignore", timeout: 60_000 });
      pgStarted = true;
    }

    const urls = await Promise.all(
      relayLines.map(
        (line) =>
          new Promise<string>((resolve, reject) => {
            // Port 0 instead of 8081..8083 so parallel test runs cannot collide.
            const cmd = sub(line).replace(/--port 808\d/, "--port 0");
            const child = spawn("bash", ["-c", `exec ${cmd}`], { cwd: repo, detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LOG_LEVEL: "warn", npm_config_update_notifier: "false" } });
            children.push(child);
            let out = "";
            let err = "";
            child.stdout?.on("data", (c: Buffer) => {
              out += c.toString("utf8");
              const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
              if (m?.[1]) resolve(m[1]);
            });
            child.stderr?.on("data", (c: Buffer) => (err += c.toString("utf8")));
            child.once("exit", () => reject(new Error(`relay exited: ${err.slice(0, 400)}`)));
          }),
      ),
    );
    const [c1, c2, c3] = urls.map((baseUrl) => clientsFor(createConnectTransport({ baseUrl, httpVersion: "1.1" })));
    const infos = await Promise.all([c1!, c2!, c3!].map((c) => c.info.getRelayInfo({})));
    expect(new Set(infos.map((i) => Buffer.from(i.trustRootPublicKey).toString("hex"))).size).toBe(1);

    const alice = await registerAccount(c1!);
    const roomId = randomId();
    const accessKey = randomKey();
    await c1!.rooms.createRoom({ roomId, accessKeyHash: sha256(accessKey) }, { headers: alice.headers });
    const abort = new AbortController();
    const seen: number[] = [];
    const stream = (async () => {
      for await (const m of c2!.messages.subscribe({ rooms: [{ roomId, accessKey, afterSeq: 0n }] }, { headers: alice.headers, signal: abort.signal })) {
        if (m.event.case === "caughtUp") await c3!.rooms.postToRoom({ roomId, accessKey, envelope: new Uint8Array([1, 2, 3]) });
        if (m.event.case === "room") for (const e of m.event.value.events) seen.push(Number(e.seq));
        if (seen.includes(1)) return;
      }
    })();
    await stream;
    abort.abort();
    expect(seen).toEqual([1]);
  });
});
