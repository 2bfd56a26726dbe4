// Replies, reactions, edits and deletes through real CLI processes (spec/09-rooms.md
// RM-61..RM-64): Alice's `chat` (piped stdin) answers, reacts to, edits and deletes messages by
// their number; Bob, offline meanwhile, catches up with `listen`, which prints each as a JSON
// line with its kind. A real relay on a free loopback port; real home directories.
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRelay, type TestRelay } from "../../relay/testing/test-relay.js";
import { collectCli, spawnCli as spawnProcess, type CliResult, until } from "./cli-process.test-support.js";

const PASSPHRASE = "rich messages e2e passphrase, not a real one";

let relay: TestRelay;
let root: string;
const running: ChildProcessWithoutNullStreams[] = [];

function spawnCli(home: string, args: string[]): ChildProcessWithoutNullStreams {
  const child = spawnProcess({ relayUrl: relay.url, home, args, passphrase: PASSPHRASE });
  running.push(child);
  return child;
}

/** Runs one command to completion. */
function cli(home: string, args: string[]): Promise<CliResult> {
  const child = spawnCli(home, args);
  child.stdin.end();
  return collectCli(child);
}

beforeAll(async () => {
  relay = await startTestRelay();
  root = await mkdtemp(join(tmpdir(), "securecomm-rich-e2e-"));
});

afterAll(async () => {
  for (const c of running) if (c.exitCode === null) c.kill("SIGKILL");
  await relay?.close();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

describe("replies, reactions, edits and deletes in the CLI", () => {
  it(
    "RM-61..RM-64: chat replies, reacts, edits and deletes by number; an offline member's listen prints each with its kind",
    async () => {
      const homeA = join(root, "alice");
      const homeB = join(root, "bob");
      await Promise.all([cli(homeA, ["init", "--name", "Alice"]), cli(homeB, ["init", "--name", "Bob"])]);
      const link = (await cli(homeA, ["room", "create", "Team"])).stdout.trim();
      const chat = spawnCli(homeA, ["chat", "Team"]);
      const out = { text: "" };
      chat.stdout.on("data", (d: Buffer) => (out.text += d.toString("utf8")));
      await until("Alice's chat", () => out.text.includes('Chatting in "Team"'));
      const joined = await cli(homeB, ["join", link]);
      expect(joined.code, joined.stderr).toBe(0);
      const sent = await cli(homeB, ["send", "Team", "hello from bob"]);
      expect(sent.code, sent.stderr).toBe(0);
      await until("Bob's message numbered in Alice's chat", () => /#1 \[\d\d:\d\d\] Bob: hello from bob\n/.test(out.text));

      chat.stdin.write("/reply 1 hi bob\n");
      await until("the reply sent", () => out.text.includes("* #2 sent."));
      chat.stdin.write("/react 1 👍\n");
      await until("the reaction", () => out.text.includes("* You reacted 👍 to #1: 👍 1 (Alice)"));
      chat.stdin.write("first draft\n");
      await until("the draft sent", () => out.text.includes("* #3 sent."));
      chat.stdin.write("/edit 3 final text\n");
      await until("the edit", () => out.text.includes("* You edited #3: final text (edited)"));
      chat.stdin.write("/delete 2\n");
      await until("the delete", () => out.text.includes("* You deleted #2: This message was deleted."));
      // Bob's message is not Alice's to change; a number nobody was shown is refused.
      chat.stdin.write("/edit 1 hijacked\n/delete 9\n");
      await until("the refusals", () => out.text.includes("* You can only edit your own messages.") && out.text.includes("* No such message number"));
      chat.stdin.write("/quit\n");
      await new Promise((resolve) => chat.on("close", resolve));

      // Bob was offline for all of it: listen reads it from the room log, in order.
      const heard = await cli(homeB, ["listen", "Team", "--count", "5", "--timeout", "60"]);
      expect(heard.code, heard.stderr).toBe(0);
      const lines = heard.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.map((l) => l.kind)).toEqual(["message", "reaction", "message", "edit", "delete"]);
      const [reply, reaction, draft, edit, del] = lines as [Record<string, unknown>, Record<string, unknown>, Record<string, unknown>, Record<string, unknown>, Record<string, unknown>];
      expect(reply).toMatchObject({ text: "hi bob", senderName: "Alice" });
      expect(reply.replyTo).toMatch(/^[0-9a-f]{32}$/);
      expect(reaction).toMatchObject({ id: reply.replyTo, emoji: "👍", reactions: [{ emoji: "👍", count: 1, names: ["Alice"] }] });
      expect(draft).toMatchObject({ text: "first draft" });
      expect(edit).toMatchObject({ id: draft.id, text: "final text", edited: true, deleted: false });
      expect(del).toMatchObject({ id: reply.id, deleted: true });
      expect(del.text).toBeUndefined();
    },
    240_000,
  );
});
