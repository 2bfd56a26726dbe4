// Runs the real `securecomm` CLI as a child process for the CLI end-to-end tests: one place
// for the binary's path, the environment a test gives it and the collection of its output.
// Never imported by product code.

import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The CLI's entry point (bin/securecomm.mjs). */
export const CLI_BIN = fileURLToPath(new URL("../../bin/securecomm.mjs", import.meta.url));

/** Each CLI process loads TypeScript through tsx and derives a scrypt key: seconds on a busy machine. */
export const CLI_STEP_TIMEOUT_MS = 90_000;

/** How a finished CLI process ended and what it printed. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment for a test's CLI: `passphrase`, and no relay or home from the caller's shell. */
export function cliEnv(passphrase: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, SECURECOMM_PASSPHRASE: passphrase, ...extra };
  delete env.SECURECOMM_RELAY;
  delete env.SECURECOMM_HOME;
  return env;
}

/** Spawns `securecomm --relay RELAY --home HOME ...args` (options may come anywhere). */
export function spawnCli(options: { relayUrl: string; home: string; args: readonly string[]; passphrase: string }): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [CLI_BIN, "--relay", options.relayUrl, "--home", options.home, ...options.args], {
    env: cliEnv(options.passphrase),
    stdio: "pipe",
  });
}

/** Collects `child`'s output until it exits; kills it and rejects after `timeoutMs`. */
export function collectCli(child: ChildProcessWithoutNullStreams, timeoutMs = CLI_STEP_TIMEOUT_MS): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`CLI step timed out; stdout: ${stdout}; stderr: ${stderr}`));
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** How often `until` looks at a running CLI's output again. */
const POLL_MS = 100;

/** Waits until `check()` holds (a running CLI printed what a step waits for); throws naming `what` after `timeoutMs`. */
export async function until(what: string, check: () => boolean, timeoutMs = CLI_STEP_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
