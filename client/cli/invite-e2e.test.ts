// End to end through real `securecomm` processes (node bin/securecomm.mjs, separate --home
// directories) and a real relay: `invite ROOM [--reset]` (spec RM-50, RM-52), a reset link
// refused in words, `retention ROOM [--set]` for every member (RM-54), and read-only commands
// answered by an open chat of the same home (issue 12 item 9).
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRelay, type TestRelay } from "../../relay/testing/test-relay.js";
import { parseInviteLink } from "../room/invite.js";
import { CLI_STEP_TIMEOUT_MS, collectCli, spawnCli, type CliResult } from "./cli-process.test-support.js";
import { EXIT_BAD_PASSPHRASE, EXIT_OK, EXIT_RELAY_REFUSED, EXIT_STORE } from "./exit-codes.js";

const PASSPHRASE = "invite e2e passphrase, not a real one";
const TEST_TIMEOUT_MS = 400_000;

let relay: TestRelay;
let root: string;
const home = (n: string) => join(root, n);

function cli(h: string, args: string[], passphrase = PASSPHRASE): Promise<CliResult> {
  const child = spawnCli({ relayUrl: relay.url, home: h, args, passphrase });
  child.stdin.end();
  return collectCli(child);
}

async function ok(p: Promise<CliResult>): Promise<CliResult> {
  const r = await p;
  expect(r.code, r.stderr).toBe(EXIT_OK);
  return r;
}

beforeAll(async () => {
  relay = await startTestRelay();
  root = await mkdtemp(join(tmpdir(), "sc-inv-"));
});

afterAll(async () => {
  await relay?.close();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

describe("securecomm invite, retention and read-only commands beside chat (CLI processes)", () => {
  it(
    "RM-50 RM-52 RM-54: invite prints the room's link for any member; --reset replaces it; the old link is refused in words; retention is set for everyone; an open chat answers read-only commands",
    async () => {
      await Promise.all(["a", "b", "c"].map((n, i) => ok(cli(home(n), ["init", "--name", ["Alice", "Bob", "Carol"][i]!]))));
      const first = (await ok(cli(home("a"), ["room", "create", "Garden"]))).stdout.trim();
      // Bob joins while Alice is offline: the join stands, the room becomes usable once she answers.
      const joined = await cli(home("b"), ["join", first, "--timeout", "1"]);
      expect([EXIT_OK, 11]).toContain(joined.code);

      // Alice's chat stays open for the rest of the test: it answers Bob's join and the others.
      const chat = spawnCli({ relayUrl: relay.url, home: home("a"), args: ["chat", "Garden"], passphrase: PASSPHRASE });
      let seen = "";
      chat.stdout.on("data", (d: Buffer) => (seen += d.toString("utf8")));
      const chatDone = collectCli(chat);
      const waitChat = async (pattern: RegExp) => {
        const deadline = Date.now() + CLI_STEP_TIMEOUT_MS;
        while (!pattern.test(seen)) {
          if (Date.now() > deadline) throw new Error(`chat never showed ${pattern}; got ${seen}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      await waitChat(/Chatting in "Garden"/);
      await ok(cli(home("b"), ["send", "Garden", "hello from Bob"]));
      await waitChat(/Bob: hello from Bob/);

      // Item 9: read-only commands of Alice's home work beside her open chat (they ask it)…
      const rooms = await ok(cli(home("a"), ["rooms"]));
      expect(rooms.stdout).toContain("Garden");
      const members = await ok(cli(home("a"), ["members", "Garden"]));
      expect(members.stdout).toMatch(/Bob/);
      const digits = await ok(cli(home("a"), ["safety-number", "Garden", "Bob", "--json"]));
      expect(JSON.parse(digits.stdout).digits).toMatch(/^\d{60}$/);
      const aliceLink = (await ok(cli(home("a"), ["invite", "Garden"]))).stdout.trim();
      expect(parseInviteLink(aliceLink).inviteSecret).toEqual(parseInviteLink(first).inviteSecret);
      // …only with the passphrase (the chat checks a proof of it)…
      expect((await cli(home("a"), ["rooms"], "not the passphrase")).code).toBe(EXIT_BAD_PASSPHRASE);
      // …and the socket is the owner's alone.
      expect((await stat(join(home("a"), "chat.sock"))).mode & 0o777).toBe(0o600);
      // Anything that changes state still refuses, saying what to do.
      const busy = await cli(home("a"), ["invite", "Garden", "--reset"]);
      expect(busy.code).toBe(EXIT_STORE);
      expect(busy.stderr).toContain("quit it (/quit)");

      // Bob (a member) prints the same room's link; it names him as the inviter.
      const bobsLink = (await ok(cli(home("b"), ["invite", "Garden"]))).stdout.trim();
      expect(parseInviteLink(bobsLink).inviterName).toBe("Bob");
      expect(parseInviteLink(bobsLink).inviteSecret).toEqual(parseInviteLink(first).inviteSecret);
      expect((await cli(home("b"), ["invite", "Garden", "--reset"])).stderr).toContain("Only the room's admin");

      // Bob sets disappearing messages for everyone; Alice's chat says so, her home agrees.
      const set = await ok(cli(home("b"), ["retention", "Garden", "--set", "day"]));
      expect(set.stderr).toContain("set to day for every member");
      await waitChat(/Bob set disappearing messages to 1 day/);
      expect((await ok(cli(home("a"), ["retention", "Garden"]))).stdout.trim()).toBe("day");

      // Alice quits chat, resets the link; the socket is gone with the chat.
      chat.stdin.end("/quit\n");
      expect((await chatDone).code).toBe(EXIT_OK);
      await expect(stat(join(home("a"), "chat.sock"))).rejects.toThrow();
      const fresh = (await ok(cli(home("a"), ["invite", "Garden", "--reset"]))).stdout.trim();
      expect(fresh).not.toBe(first);
      // Carol with the old link is told plainly; nothing was joined.
      const refused = await cli(home("c"), ["join", first]);
      expect(refused.code).toBe(EXIT_RELAY_REFUSED);
      expect(refused.stderr).toContain("This invite link was reset by the room's admin.");
      // Bob's client picks up the new link from the room (any member can share it).
      const bobsNew = (await ok(cli(home("b"), ["invite", "Garden"]))).stdout.trim();
      expect(parseInviteLink(bobsNew).inviteSecret).toEqual(parseInviteLink(fresh).inviteSecret);
      const carolJoins = await cli(home("c"), ["join", bobsNew, "--timeout", "1"]);
      expect([EXIT_OK, 11], carolJoins.stderr).toContain(carolJoins.code);
      expect(carolJoins.stdout.trim()).toMatch(/^[0-9a-f]{32}$/);
    },
    TEST_TIMEOUT_MS,
  );
});
