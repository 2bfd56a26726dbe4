// The chat's typing indicator through real processes on real terminals (issue 12, item 7): two
// `securecomm chat` processes, each on a pseudo-terminal made by util-linux `script`, through a
// real relay. A slash command being typed is not "typing"; message text is; and an indicator
// whose sender vanished without saying "stopped" clears by itself (TYPING_SHOWN_MS).
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRelay, type TestRelay } from "../../relay/testing/test-relay.js";
import { CLI_BIN, cliEnv, collectCli, type CliResult, until } from "./cli-process.test-support.js";
import { TYPING_SHOWN_MS } from "./typing.js";

const PASSPHRASE = "typing e2e passphrase, not a real one";

let relay: TestRelay;
let root: string;
const running: ChildProcessWithoutNullStreams[] = [];

function env(): NodeJS.ProcessEnv {
  return cliEnv(PASSPHRASE, { TERM: "xterm" });
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs one CLI command to completion (no terminal). */
function cli(home: string, args: string[]): Promise<CliResult> {
  const child = spawn(process.execPath, [CLI_BIN, "--relay", relay.url, "--home", home, ...args], { env: env(), stdio: "pipe" });
  child.stdin.end();
  return collectCli(child);
}

/** `securecomm chat ROOM` on a pseudo-terminal; `out.text` collects what the terminal shows. */
function chatOnTerminal(home: string, room: string): { child: ChildProcessWithoutNullStreams; out: { text: string } } {
  const command = [process.execPath, CLI_BIN, "--relay", relay.url, "--home", home, "chat", room].map(quote).join(" ");
  const child = spawn("script", ["-qfec", command, "/dev/null"], { env: env(), stdio: "pipe", detached: true });
  running.push(child);
  const out = { text: "" };
  child.stdout.on("data", (d: Buffer) => (out.text += d.toString("utf8")));
  return { child, out };
}

beforeAll(async () => {
  relay = await startTestRelay();
  root = await mkdtemp(join(tmpdir(), "securecomm-typing-e2e-"));
});

afterAll(async () => {
  for (const c of running) {
    try {
      process.kill(-c.pid!, "SIGKILL");
    } catch {
      // already gone
    }
  }
  await relay?.close();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

describe("chat typing indicator on real terminals", () => {
  it(
    "shows message text being typed, not a /command, and clears when the typist vanishes",
    async () => {
      const homeA = join(root, "alice");
      const homeB = join(root, "bob");
      await Promise.all([cli(homeA, ["init", "--name", "Alice"]), cli(homeB, ["init", "--name", "Bob"])]);
      const link = (await cli(homeA, ["room", "create", "Team"])).stdout.trim();
      const alice = chatOnTerminal(homeA, "Team");
      await until("Alice's chat", () => alice.out.text.includes('Chatting in "Team"'));
      const joined = await cli(homeB, ["join", link]);
      expect(joined.code, joined.stderr).toBe(0);
      const bob = chatOnTerminal(homeB, "Team");
      await until("Bob's chat", () => bob.out.text.includes('Chatting in "Team" with 1 other'));

      // A slash command being typed says nothing to the others.
      bob.child.stdin.write("/mem");
      await new Promise((r) => setTimeout(r, 5_000));
      expect(alice.out.text).not.toContain("Bob typing");

      // Message text does.
      bob.child.stdin.write("\u0015hel"); // Ctrl-U clears the line, then a message starts
      await until("Bob typing on Alice's prompt", () => alice.out.text.includes("[Bob typing] > "), 30_000);
      const shownAt = alice.out.text.length;

      // Bob's terminal disappears mid-word: no "stopped typing" is ever sent, yet Alice's
      // prompt loses the indicator by itself (a plain prompt is drawn again).
      process.kill(-bob.child.pid!, "SIGKILL");
      const started = Date.now();
      await until("the indicator to expire", () => /[^ \]]> /.test(alice.out.text.slice(shownAt)), 30_000);
      expect(Date.now() - started).toBeGreaterThanOrEqual(TYPING_SHOWN_MS - 3_000);

      alice.child.stdin.write("/quit\r");
      await new Promise((resolve) => alice.child.on("close", resolve));
    },
    240_000,
  );
});
