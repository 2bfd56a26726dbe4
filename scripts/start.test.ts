// `npm start -- --help` prints the relay's options without building the web app first
// (issue 12, item 11): spawned through npm for real, watching web/dist.

import { spawn } from "node:child_process";
import { statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const repo = fileURLToPath(new URL("..", import.meta.url));
const dist = fileURLToPath(new URL("../web/dist/index.html", import.meta.url));

function distStamp(): number | undefined {
  try {
    return statSync(dist).mtimeMs;
  } catch {
    return undefined;
  }
}

describe("npm start", () => {
  it("prints help without building the web app", async () => {
    const before = distStamp();
    const child = spawn("npm", ["start", "--", "--help"], { cwd: repo, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (err += c.toString("utf8")));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code, err).toBe(0);
    expect(out).toContain("--data-dir");
    expect(out).not.toMatch(/vite|building/i);
    // Vite's build empties and rewrites web/dist; the help run must leave it as it was.
    expect(distStamp()).toBe(before);
  }, 60_000);
});
