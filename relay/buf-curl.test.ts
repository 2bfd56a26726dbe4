// buf curl against a real relay, without --schema: everything it learns comes from the
// relay's gRPC reflection, on each of Connect, gRPC and gRPC-Web.

import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestRelay, type TestRelay } from "./testing/test-relay.js";

const run = promisify(execFile);
const buf = fileURLToPath(new URL("../node_modules/.bin/buf", import.meta.url));

/** Protocol flags as an operator would type them (gRPC needs HTTP/2; h2c here). */
const PROTOCOLS: Record<string, string[]> = {
  connect: ["--protocol", "connect"],
  grpc: ["--protocol", "grpc", "--http2-prior-knowledge"],
  grpcweb: ["--protocol", "grpcweb"],
};

const SECURECOMM_SERVICES = [
  "securecomm.relay.v1.AccountService",
  "securecomm.relay.v1.KeyService",
  "securecomm.relay.v1.MessageService",
  "securecomm.relay.v1.RelayInfoService",
  "securecomm.relay.v1.RoomService",
];

let relay: TestRelay;
beforeAll(async () => {
  relay = await startTestRelay();
});
afterAll(async () => {
  await relay?.close();
});

async function curl(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(buf, ["curl", ...args], { timeout: 30_000 });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; code?: number };
    return { stdout: e.stdout ?? "", stderr: e.stderr ?? "", code: typeof e.code === "number" ? e.code : 1 };
  }
}

describe("API-25 buf curl with reflection", () => {
  for (const [name, flags] of Object.entries(PROTOCOLS)) {
    it(`lists the services over ${name}`, async () => {
      const result = await curl([...flags, "--list-services", relay.url]);
      expect(result.code, result.stderr).toBe(0);
      const listed = result.stdout.trim().split("\n");
      expect(listed).toEqual(expect.arrayContaining([...SECURECOMM_SERVICES, "grpc.health.v1.Health"]));
    });

    it(`calls GetRelayInfo without --schema over ${name}`, async () => {
      const result = await curl([...flags, `${relay.url}/securecomm.relay.v1.RelayInfoService/GetRelayInfo`]);
      expect(result.code, result.stderr).toBe(0);
      const info = JSON.parse(result.stdout) as { trustRootPublicKey?: string; protocols?: string[] };
      expect(Buffer.from(info.trustRootPublicKey ?? "", "base64").length).toBe(33);
      expect(info.protocols).toContain("securecomm.relay.v1");
    });
  }

  it("lists the methods of a service and reports a typed error from a real RPC", async () => {
    const methods = await curl(["--list-methods", relay.url]);
    expect(methods.code, methods.stderr).toBe(0);
    expect(methods.stdout).toContain("securecomm.relay.v1.KeyService/FetchPreKeyBundle");
    const denied = await curl([
      "--data",
      '{"address":"AAAAAAAAAAAAAAAAAAAAAA=="}',
      `${relay.url}/securecomm.relay.v1.KeyService/FetchPreKeyBundle`,
    ]);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/unauthenticated/);
  });

  it("checks health over gRPC", async () => {
    const result = await curl([...(PROTOCOLS.grpc ?? []), "--data", '{"service":""}', `${relay.url}/grpc.health.v1.Health/Check`]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ status: "SERVING" });
  });
});
