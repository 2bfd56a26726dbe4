// End to end: `listen --count N` hands over N messages and keeps the rest for the next run
// (issue 9, finding 6: bots run `listen --count 1` in a loop). Real `securecomm` processes
// (node bin/securecomm.mjs, separate --home directories) against a real relay on a free port
// (real HTTP, real SQLite file).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRelay, type TestRelay } from "../../relay/testing/test-relay.js";
import { collectCli, spawnCli, type CliResult } from "./cli-process.test-support.js";
import { EXIT_OK } from "./exit-codes.js";

const PASSPHRASE = "listen e2e passphrase, not a real one";
const TEST_TIMEOUT_MS = 400_000;

let relay: TestRelay;
let root: string;

function run(home: string, args: string[]): Promise<CliResult> {
  const child = spawnCli({ relayUrl: relay.url, home, args, passphrase: PASSPHRASE });
  child.stdin.end();
  return collectCli(child);
}

async function ok(home: string, args: string[]): Promise<CliResult> {
  const r = await run(home, args);
  expect(r.code, `${args[0]}: ${r.stderr}`).toBe(EXIT_OK);
  return r;
}

function texts(stdout: string): string[] {
  return stdout
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => (JSON.parse(l) as { text: string }).text);
}

beforeAll(async () => {
  relay = await startTestRelay();
  root = await mkdtemp(join(tmpdir(), "securecomm-listen-e2e-"));
});

afterAll(async () => {
  await relay?.close();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

describe("securecomm listen end to end (issue 9 finding 6)", () => {
  it(
    "listen --count 1 prints the first of three queued messages and the next listen prints the other two; other commands keep what they receive",
    async () => {
      const homeA = join(root, "alice");
      const homeB = join(root, "bob");
      await Promise.all([ok(homeA, ["init", "--name", "Alice"]), ok(homeB, ["init", "--name", "Bob"])]);
      const link = (await ok(homeA, ["room", "create", "Team"])).stdout.trim();

      // Alice is online (listening) while Bob joins, so her client answers the join; his
      // first message ends her listen.
      const listenA = run(homeA, ["listen", "Team", "--count", "1", "--timeout", "80"]);
      await ok(homeB, ["join", link]);
      await ok(homeB, ["send", "Team", "hello"]);
      const first = await listenA;
      expect(first.code, first.stderr).toBe(EXIT_OK);
      expect(texts(first.stdout)).toEqual(["hello"]);

      // Three messages queue up while Alice is offline.
      for (const text of ["one", "two", "three"]) await ok(homeB, ["send", "Team", text]);

      const one = await ok(homeA, ["listen", "Team", "--count", "1", "--timeout", "60"]);
      expect(texts(one.stdout)).toEqual(["one"]);
      // The rest of the backlog was kept, in order, for this run.
      const rest = await ok(homeA, ["listen", "Team", "--count", "2", "--timeout", "60"]);
      expect(texts(rest.stdout)).toEqual(["two", "three"]);
      // ...and handed over exactly once: nothing is left for a third run.
      const none = await run(homeA, ["listen", "Team", "--count", "1", "--timeout", "5"]);
      expect(texts(none.stdout)).toEqual([]);
      expect(none.code).not.toBe(EXIT_OK);

      // A message that arrives while another command runs (a bot answering with `send`) is
      // kept for the next listen too: `send` catches up with the room before sending.
      await ok(homeB, ["send", "Team", "four"]);
      await ok(homeA, ["send", "Team", "ack"]);
      const four = await ok(homeA, ["listen", "Team", "--count", "1", "--timeout", "60"]);
      expect(texts(four.stdout)).toEqual(["four"]);
    },
    TEST_TIMEOUT_MS,
  );
});
