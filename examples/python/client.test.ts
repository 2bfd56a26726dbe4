// Runs the Python example (examples/python/client.py, stubs generated from proto/ by Debian's
// python3-grpc-tools) against a real relay over gRPC on h2c.

import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRelay, type TestRelay } from "../../relay/testing/test-relay.js";

const run = promisify(execFile);
const script = fileURLToPath(new URL("./client.py", import.meta.url));

let relay: TestRelay;
beforeAll(async () => {
  relay = await startTestRelay();
});
afterAll(async () => {
  await relay?.close();
});

describe("examples/python", () => {
  it("proves identity, uploads prekeys, fetches a bundle and reads a Subscribe stream", async () => {
    // Debian's python3 has the grpc packages; a pyenv python3 on PATH may not.
    const { stdout } = await run("/usr/bin/python3", [script, "--relay", `127.0.0.1:${relay.port}`], {
      env: { ...process.env, NODE: process.execPath },
      timeout: 50_000,
    });
    expect(stdout).toContain("bad signature refused: UNAUTHENTICATED");
    expect(stdout).toContain("uploaded prekeys: one-time EC 3 one-time Kyber 3");
    expect(stdout).toContain("fetched a bundle; one-time prekeys left: EC 2 Kyber 2");
    expect(stdout).toContain("subscribe delivered 1 envelope(s), then caught up; acknowledged");
    expect(stdout.trim().split("\n").at(-1)).toBe("python example: ok");
  });
});
