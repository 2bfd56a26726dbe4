// Relay processes as an operator runs them on PostgreSQL: `node --import tsx relay/main.ts
// --port 0 --database URL` spawned as children, so tests and benchmarks can SIGKILL one while
// the others keep serving. Test and benchmark support; never imported by product code.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const LISTENING = /SecureComm relay listening on (http:\/\/127\.0\.0\.1:\d+)/;

/** A running relay child process. */
export interface SpawnedRelay {
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything it wrote to stderr so far (log lines carry no identifiers). */
  stderr(): string;
  /** Sends `signal` and waits for the process to exit. */
  stop(signal: NodeJS.Signals): Promise<void>;
}

/**
 * Spawns a relay on a free port with `--database url` (or SQLite in a fresh temporary data
 * directory when `url` is undefined) and waits for its "listening" line. `env` adds variables
 * (limits such as RELAY_MAX_BUNDLE_FETCHES_PER_MINUTE).
 */
export async function spawnRelay(url: string | undefined, env: Record<string, string> = {}): Promise<SpawnedRelay> {
  const dataDir = mkdtempSync(join(tmpdir(), "securecomm-spawned-"));
  const args = ["--import", "tsx", "relay/main.ts", "--port", "0", "--data-dir", dataDir, ...(url ? ["--database", url] : [])];
  const child = spawn(process.execPath, args, {
    cwd: repo,
    env: { ...process.env, LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  child.stderr?.on("data", (c: Buffer) => (err += c.toString("utf8")));
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      rmSync(dataDir, { recursive: true, force: true });
      resolve();
    }),
  );
  const baseUrl = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`relay did not start: ${err.slice(0, 500)}`)), 60_000);
    child.stdout?.on("data", (c: Buffer) => {
      out += c.toString("utf8");
      const m = LISTENING.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once("exit", () => {
      clearTimeout(timer);
      reject(new Error(`relay exited early: ${err.slice(0, 500)}`));
    });
  });
  return {
    url: baseUrl,
    child,
    stderr: () => err,
    async stop(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
