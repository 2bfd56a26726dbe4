// End to end (issue 13): `send ROOM --file PATH` and `listen --save-dir DIR` through real
// `securecomm` processes (node bin/securecomm.mjs, separate --home directories) against a real
// relay on a free port (real HTTP, real SQLite files). The received file's SHA-256 equals the
// sent one's; a hostile sender's file name cannot leave DIR or overwrite a file in it
// (spec/09-rooms.md RM-70, RM-72, RM-75).
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRelay, type TestRelay } from "../../relay/testing/test-relay.js";
import { collectCli, spawnCli, type CliResult } from "./cli-process.test-support.js";
import { EXIT_OK } from "./exit-codes.js";

const PASSPHRASE = "files e2e passphrase, not a real one";
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

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const lines = (stdout: string) => stdout.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as Record<string, unknown>);

beforeAll(async () => {
  relay = await startTestRelay();
  root = await mkdtemp(join(tmpdir(), "securecomm-files-e2e-"));
});

afterAll(async () => {
  await relay?.close();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

describe("securecomm send --file / listen --save-dir end to end (issue 13)", () => {
  it(
    "RM-72 RM-75 a sent file arrives with the same SHA-256, announced as a JSON line; a hostile name stays inside the save directory and overwrites nothing",
    async () => {
      const homeA = join(root, "alice");
      const homeB = join(root, "bob");
      await Promise.all([ok(homeA, ["init", "--name", "Alice"]), ok(homeB, ["init", "--name", "Bob"])]);
      const link = (await ok(homeA, ["room", "create", "Files"])).stdout.trim();
      const listenA = run(homeA, ["listen", "Files", "--count", "1", "--timeout", "80"]);
      await ok(homeB, ["join", link]);
      await ok(homeB, ["send", "Files", "hi"]);
      expect((await listenA).code).toBe(EXIT_OK);

      // Bob sends a 700 kB file (two upload chunks) and a file whose name tries to escape.
      const data = new Uint8Array(700_000).map((_, i) => (i * 131 + (i >> 9)) & 0xff);
      const outbox = join(root, "outbox");
      await mkdir(join(outbox, "sub"), { recursive: true });
      await writeFile(join(outbox, "photo.png"), data);
      // A file named like a path on the sender's side: only its last component may be used.
      const evil = join(outbox, "sub", "..bashrc");
      await writeFile(evil, "echo owned\n");
      await ok(homeB, ["send", "Files", "two files", "--file", join(outbox, "photo.png"), "--file", evil]);
      await ok(homeB, ["send", "Files", "--file", join(outbox, "photo.png")]);

      const saveDir = join(root, "saved");
      await mkdir(saveDir);
      await writeFile(join(saveDir, "photo.png"), "existing, must survive");
      const got = await ok(homeA, ["listen", "Files", "--count", "2", "--timeout", "80", "--save-dir", saveDir]);
      const [first, second] = lines(got.stdout);
      expect(first?.text).toBe("two files");
      const atts = first?.attachments as Array<Record<string, unknown>>;
      expect(atts.map((a) => [a.name, a.type, a.size])).toEqual([
        ["photo.png", "image/png", 700_000],
        ["..bashrc", "", 11],
      ]);
      // Saved beside the existing photo.png, not over it; the dotted name made harmless.
      expect(atts[0]?.saved).toBe(join(saveDir, "photo (1).png"));
      expect(atts[1]?.saved).toBe(join(saveDir, "__bashrc"));
      for (const a of atts) expect(dirname(String(a.saved))).toBe(saveDir);
      expect(sha256(await readFile(join(saveDir, "photo (1).png")))).toBe(sha256(data));
      expect(await readFile(join(saveDir, "photo.png"), "utf8")).toBe("existing, must survive");
      // The message without text.
      expect(second?.text).toBe("");
      expect((second?.attachments as Array<Record<string, unknown>>)[0]?.saved).toBe(join(saveDir, "photo (2).png"));
      expect(sha256(await readFile(join(saveDir, "photo (2).png")))).toBe(sha256(data));
      expect((await readdir(saveDir)).sort()).toEqual(["__bashrc", "photo (1).png", "photo (2).png", "photo.png"]);
      // Nothing secret on stdout: no pointer, key or thumbnail fields.
      expect(got.stdout).not.toMatch(/pointer|"key"|thumbnail/);
    },
    TEST_TIMEOUT_MS,
  );
});
