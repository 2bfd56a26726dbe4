/**
 * A relay as an operator runs it: `node --import tsx relay/main.ts --port P --data-dir D`
 * spawned as a child process, so tests can stop it with SIGTERM or kill it with SIGKILL and
 * start it again on the same port and data directory. Tests only.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const LISTENING = /SecureComm relay listening on (http:\/\/127\.0\.0\.1:\d+)/;

/** A free TCP port on 127.0.0.1 (bound then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** A running relay child process. */
export interface SpawnedRelay {
  url: string;
  child: ChildProcess;
  /** Sends `signal` and waits for the process to exit. */
  stop(signal: NodeJS.Signals): Promise<void>;
}

/** Spawns the relay on `port` with `dataDir` and waits for its "listening" line. */
export async function spawnRelay(port: number, dataDir: string): Promise<SpawnedRelay> {
  const child = spawn(process.execPath, ["--import", "tsx", "relay/main.ts", "--port", String(port), "--data-dir", dataDir], {
    cwd: repo,
    env: { ...process.env, LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => reject(new Error(`relay did not start: ${err.slice(0, 500)}`)), 30_000);
    child.stdout?.on("data", (c: Buffer) => {
      out += c.toString("utf8");
      const m = LISTENING.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.stderr?.on("data", (c: Buffer) => (err += c.toString("utf8")));
    child.once("exit", () => {
      clearTimeout(timer);
      reject(new Error(`relay exited early: ${err.slice(0, 500)}`));
    });
  });
  return {
    url,
    child,
    async stop(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
