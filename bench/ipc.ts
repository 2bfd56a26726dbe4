/**
 * Request/reply over a child process's IPC channel, for the benchmark's helper processes
 * (server hosts, subscriber and room-member workers).
 *
 * Owns: `forkHelper` (starts a TypeScript helper with an IPC channel, stdout piped so a
 * listening line can be read) and `IpcPeer.call` (each request carries an id; the reply with
 * the same id resolves it; a helper that exits fails every pending call).
 */

import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("..", import.meta.url));

/** A helper process and its pending requests. */
export class IpcPeer {
  readonly child: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor(child: ChildProcess) {
    this.child = child;
    child.on("message", (m: { id?: number }) => {
      const p = m.id === undefined ? undefined : this.pending.get(m.id);
      if (p && m.id !== undefined) {
        this.pending.delete(m.id);
        p.resolve(m);
      }
    });
    child.once("exit", () => {
      for (const p of this.pending.values()) p.reject(new Error("helper process exited"));
      this.pending.clear();
    });
  }

  /** Sends `request` with a fresh id; resolves with the reply carrying that id. */
  call<R>(request: Record<string, unknown>): Promise<R & { id: number }> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ ...request, id });
    });
  }

  /** Ends the helper (SIGKILL after a grace period) and waits for it to exit. */
  async stop(graceMs = 3_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.child.once("exit", () => r()));
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * Forks `script` (a path relative to the repository) under tsx with an IPC channel; stdout is
 * piped (see `waitForLine`), stderr inherited. `nodeFlags` go before the script, e.g.
 * "--expose-gc".
 */
export function forkHelper(script: string, args: string[] = [], options: { nodeFlags?: string[]; env?: Record<string, string> } = {}): IpcPeer {
  const child = fork(script, args, {
    cwd: repo,
    execArgv: [...(options.nodeFlags ?? []), "--import", "tsx"],
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "inherit", "ipc"],
  });
  return new IpcPeer(child);
}

/** Resolves with the first capture group of `pattern` once the child's stdout matches it. */
export function waitForLine(child: ChildProcess, pattern: RegExp, limitMs = 60_000): Promise<string> {
  let out = "";
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("helper did not start in time")), limitMs);
    child.stdout?.on("data", (c: Buffer) => {
      out += c.toString("utf8");
      const m = pattern.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once("exit", () => {
      clearTimeout(timer);
      reject(new Error("helper exited before it was ready"));
    });
  });
}
