// Unit tests of `main` in-process: help for every command, usage errors with exit code 2 on
// stderr only, and the no-identity path, with captured streams (no relay, no processes).
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { COMMANDS, type CommandName } from "./args.js";
import type { CliContext } from "./context.js";
import { EXIT_BAD_PASSPHRASE, EXIT_NO_IDENTITY, EXIT_OK, EXIT_USAGE } from "./exit-codes.js";
import { main } from "./main.js";

function capture(env: Record<string, string> = {}): { ctx: CliContext; out: () => string; err: () => string } {
  let out = "";
  let err = "";
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stdout.on("data", (d: Buffer) => (out += d.toString("utf8")));
  stderr.on("data", (d: Buffer) => (err += d.toString("utf8")));
  const ctx: CliContext = { stdin: new PassThrough(), stdout, stderr, env, userHome: "/nonexistent-home" };
  return { ctx, out: () => out, err: () => err };
}

describe("main", () => {
  it("prints help for every command on stdout and exits 0", async () => {
    for (const command of Object.keys(COMMANDS) as CommandName[]) {
      if (command === "help") continue; // "help --help" is the overview, checked below
      const c = capture();
      expect(await main([...command.split(" "), "--help"], c.ctx)).toBe(EXIT_OK);
      expect(c.out()).toContain(`Usage: securecomm ${command}`);
      expect(c.err()).toBe("");
    }
    const c = capture();
    expect(await main(["--help"], c.ctx)).toBe(EXIT_OK);
    for (const command of Object.keys(COMMANDS)) expect(c.out()).toContain(`  ${command} `);
  });

  it("reports usage errors on stderr with exit code 2 and nothing on stdout", async () => {
    const c = capture();
    expect(await main(["send", "Team"], c.ctx)).toBe(EXIT_USAGE);
    expect(c.out()).toBe("");
    expect(c.err()).toBe("securecomm: Missing argument TEXT...\nUsage: securecomm send ROOM TEXT... [--file PATH]\n");
  });

  it("says there is no identity (exit 3) for an empty home, and refuses a missing passphrase (exit 4) without a terminal", async () => {
    const dir = await mkdtemp(join(tmpdir(), "securecomm-main-"));
    try {
      const none = capture({ SECURECOMM_PASSPHRASE: "x" });
      expect(await main(["rooms", "--home", join(dir, "empty")], none.ctx)).toBe(EXIT_NO_IDENTITY);
      expect(none.err()).toContain("securecomm init --name NAME");
      const noPass = capture();
      expect(await main(["init", "--name", "A", "--home", join(dir, "new")], noPass.ctx)).toBe(EXIT_BAD_PASSPHRASE);
      expect(noPass.err()).toContain("SECURECOMM_PASSPHRASE");
      // A new identity's passphrase has a minimum length; nothing is created without one.
      const short = capture({ SECURECOMM_PASSPHRASE: "x" });
      expect(await main(["init", "--name", "A", "--home", join(dir, "short")], short.ctx)).toBe(EXIT_BAD_PASSPHRASE);
      expect(short.err()).toBe("securecomm: The passphrase must have at least 8 characters. (SECURECOMM_PASSPHRASE)\n");
      await expect(stat(join(dir, "short", "store.json"))).rejects.toThrow();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
