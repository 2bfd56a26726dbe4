// Runs README.md's relay examples against a real relay, so the README cannot drift.
//
// Every ```sh block in the README calls the relay at http://localhost:8080; this test starts
// a relay on a free port, substitutes its address, and runs the blocks in order with bash
// (-e -o pipefail) from the repository root. Shell variables assigned in one block
// (`NAME=…` at the start of a line) are carried to the next. HTML comments right after a
// block state what must hold:
//   <!-- readme-test: expect "text" -->   the block's output contains text (JSON escapes apply)
//   <!-- readme-test: exit N -->          the block exits with N (default 0)
// Other fenced blocks (```bash, for installing and starting things) are documentation only.

import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRelay, type TestRelay } from "../relay/testing/test-relay.js";

const repo = fileURLToPath(new URL("..", import.meta.url));
const README_URL = "http://localhost:8080";
/**
 * `npx buf` costs a second or more per call just to start npm; the README's blocks make about
 * 25 calls, so the test runs the same binary (node_modules/.bin/buf, which npx resolves to)
 * directly.
 */
const BUF = join(repo, "node_modules", ".bin", "buf");

/** One runnable README block with its expectations. */
export interface ReadmeBlock {
  /** 1-based line of the opening fence, for messages. */
  readonly line: number;
  readonly script: string;
  readonly expects: readonly string[];
  readonly exit: number;
  /** Variables the block assigns at the start of a line. */
  readonly assigns: readonly string[];
}

/** Extracts the ```sh blocks and their readme-test annotations from Markdown. */
export function parseReadmeBlocks(markdown: string): ReadmeBlock[] {
  const lines = markdown.split("\n");
  const blocks: ReadmeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]?.trim() !== "```sh") continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i]?.trim() !== "```"; i++) body.push(lines[i] ?? "");
    const expects: string[] = [];
    let exit = 0;
    for (let j = i + 1; j < lines.length; j++) {
      const m = /^<!-- readme-test: (expect "(.*)"|exit (\d+)) -->$/.exec(lines[j]?.trim() ?? "");
      if (!m) break;
      if (m[2] !== undefined) expects.push(JSON.parse(`"${m[2]}"`) as string);
      if (m[3] !== undefined) exit = Number(m[3]);
    }
    const script = body.join("\n");
    const assigns = [...new Set([...script.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1] ?? ""))];
    blocks.push({ line: start + 1, script, expects, exit, assigns });
  }
  return blocks;
}

function runBash(script: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn("bash", ["-e", "-o", "pipefail", "-c", script], {
      cwd: repo,
      env: { ...process.env, npm_config_update_notifier: "false" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (output += c.toString("utf8")));
    child.on("close", (code) => resolve({ code, output }));
  });
}

const blocks = parseReadmeBlocks(await readFile(join(repo, "README.md"), "utf8"));

let relay: TestRelay;
let stateDir: string;

beforeAll(async () => {
  relay = await startTestRelay();
  stateDir = await mkdtemp(join(tmpdir(), "securecomm-readme-"));
  await writeFile(join(stateDir, "state.sh"), "");
});

afterAll(async () => {
  await relay?.close();
  await rm(stateDir, { recursive: true, force: true });
});

describe("README.md", () => {
  it("has relay examples for every service, each with an expectation", () => {
    expect(blocks.length).toBeGreaterThan(5);
    const all = blocks.map((b) => b.script).join("\n");
    for (const service of [
      "securecomm.relay.v1.AccountService",
      "securecomm.relay.v1.KeyService",
      "securecomm.relay.v1.MessageService",
      "securecomm.relay.v1.RoomService",
      "securecomm.relay.v1.BlobService",
      "securecomm.relay.v1.RelayInfoService",
      "grpc.health.v1.Health",
    ]) {
      expect(all, service).toContain(service + "/");
    }
    for (const block of blocks) {
      expect(block.script, `block at line ${block.line}`).toContain(README_URL);
      expect(block.expects.length, `block at line ${block.line}`).toBeGreaterThan(0);
    }
  });

  // About 30 process starts (buf, and tsx for the identity helper): allow for a loaded machine.
  it("runs every ```sh block against a real relay", { timeout: 150_000 }, async () => {
    const state = join(stateDir, "state.sh");
    for (const block of blocks) {
      const script = [
        `source ${JSON.stringify(state)}`,
        block.script.replaceAll(README_URL, relay.url).replaceAll("npx buf ", `${BUF} `),
        block.assigns.length > 0 ? `declare -p ${block.assigns.join(" ")} > ${JSON.stringify(state)}.next` : "",
      ].join("\n");
      const { code, output } = await runBash(script);
      const where = `README.md block at line ${block.line}:\n${output}`;
      expect(code, where).toBe(block.exit);
      for (const text of block.expects) expect(output, where).toContain(text);
      if (block.assigns.length > 0) {
        const previous = await readFile(state, "utf8");
        const next = await readFile(`${state}.next`, "utf8");
        await writeFile(state, previous + next);
      }
    }
  });
});
