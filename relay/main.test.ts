// The relay process as an operator runs it: `node --import tsx relay/main.ts` spawned for real,
// on port 0 with a temporary data directory, stopped by SIGTERM.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as Serving } from "../gen/grpc/health/v1/health_pb.js";
import { RelayInfoService } from "../gen/securecomm/relay/v1/relay_info_pb.js";

const repo = fileURLToPath(new URL("..", import.meta.url));
const LISTENING = /^SecureComm relay listening on (http:\/\/127\.0\.0\.1:(\d+))$/m;

interface Spawned {
  readonly child: ChildProcess;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout(): string;
  stderr(): string;
}

function spawnRelay(args: string[], env: Record<string, string> = {}): Spawned {
  const child = spawn(process.execPath, ["--import", "tsx", "relay/main.ts", ...args], {
    cwd: repo,
    env: { ...process.env, LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout?.on("data", (c: Buffer) => (out += c.toString("utf8")));
  child.stderr?.on("data", (c: Buffer) => (err += c.toString("utf8")));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, exit, stdout: () => out, stderr: () => err };
}

async function listening(relay: Spawned): Promise<string> {
  for (;;) {
    const match = LISTENING.exec(relay.stdout());
    if (match?.[1]) return match[1];
    const exited = await Promise.race([relay.exit, new Promise((r) => setTimeout(() => r(undefined), 50))]);
    if (exited) throw new Error(`relay exited before listening: ${relay.stderr()}`);
  }
}

let dataDir: string;
const started: Spawned[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "securecomm-main-"));
});

afterAll(async () => {
  for (const s of started) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill("SIGKILL");
  await rm(dataDir, { recursive: true, force: true });
});

describe("relay/main.ts", () => {
  it("starts on a free port, prints one line, stops cleanly on SIGTERM, and keeps its trust root", async () => {
    const roots: string[] = [];
    for (let run = 0; run < 2; run++) {
      const relay = spawnRelay(["--port", "0", "--data-dir", dataDir]);
      started.push(relay);
      const url = await listening(relay);
      expect(relay.stdout().trim().split("\n")).toHaveLength(1);
      const info = await createClient(RelayInfoService, createConnectTransport({ baseUrl: url, httpVersion: "1.1" })).getRelayInfo({});
      expect(info.trustRootPublicKey.length).toBe(33);
      roots.push(Buffer.from(info.trustRootPublicKey).toString("hex"));
      const health = createClient(Health, createGrpcTransport({ baseUrl: url }));
      expect((await health.check({ service: "" })).status).toBe(Serving.SERVING);

      relay.child.kill("SIGTERM");
      const { code, signal } = await relay.exit;
      expect({ code, signal }).toEqual({ code: 0, signal: null });
    }
    expect(roots[0]).toBe(roots[1]);
  });

  it("also stops cleanly on SIGINT, taking settings from the environment", async () => {
    const relay = spawnRelay([], { PORT: "0", DATA_DIR: dataDir, HOST: "127.0.0.1" });
    started.push(relay);
    await listening(relay);
    relay.child.kill("SIGINT");
    expect((await relay.exit).code).toBe(0);
  });

  it("API-30: --metrics-port serves /metrics on its own loopback listener and says where; the public port does not", async () => {
    const relay = spawnRelay(["--port", "0", "--data-dir", dataDir, "--metrics-port", "0"]);
    started.push(relay);
    const url = await listening(relay);
    let metricsUrl: string | undefined;
    for (let i = 0; i < 100 && !metricsUrl; i++) {
      metricsUrl = /^SecureComm relay metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)$/m.exec(relay.stdout())?.[1];
      if (!metricsUrl) await new Promise((r) => setTimeout(r, 20));
    }
    expect(metricsUrl).toBeDefined();
    const scraped = await fetch(metricsUrl!);
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toContain("# TYPE securecomm_relay_rpcs_total counter");
    expect((await fetch(`${url}/metrics`)).status).toBe(404);
    relay.child.kill("SIGTERM");
    expect((await relay.exit).code).toBe(0);
  });

  it("exits 2 with a clear message on unknown flags and bad values", async () => {
    const cases = [["--bogus"], ["--port", "http"], ["--tls-cert", "x.pem"]];
    const relays = cases.map((args) => spawnRelay(args));
    started.push(...relays);
    for (const [i, relay] of relays.entries()) {
      const name = cases[i]?.join(" ");
      expect((await relay.exit).code, name).toBe(2);
      expect(relay.stderr(), name).toMatch(/securecomm relay: .+\nRun with --help/);
      expect(relay.stdout(), name).toBe("");
    }
  });

  it("runs as `npm start -- --port N --data-dir DIR`, and npm's SIGTERM reaches the relay", async () => {
    // SECURECOMM_SKIP_WEB_BUILD skips the web build scripts/start.ts would run first.
    const child = spawn("npm", ["start", "--", "--port", "0", "--data-dir", dataDir], {
      cwd: repo,
      env: { ...process.env, LOG_LEVEL: "warn", SECURECOMM_SKIP_WEB_BUILD: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (err += c.toString("utf8")));
    const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const relay: Spawned = { child, exit: exit.then((code) => ({ code, signal: null })), stdout: () => out, stderr: () => err };
    started.push(relay);
    const url = await listening(relay);
    const info = await createClient(RelayInfoService, createConnectTransport({ baseUrl: url, httpVersion: "1.1" })).getRelayInfo({});
    expect(info.trustRootPublicKey.length).toBe(33);
    child.kill("SIGTERM");
    expect(await exit).toBe(0);
    // The relay itself is gone too (npm's script execs node, so the signal reached it).
    await expect(
      createClient(RelayInfoService, createConnectTransport({ baseUrl: url, httpVersion: "1.1" })).getRelayInfo({}),
    ).rejects.toBeInstanceOf(ConnectError);
  });

  it("prints help and exits 0", async () => {
    const relay = spawnRelay(["--help"]);
    started.push(relay);
    expect((await relay.exit).code).toBe(0);
    expect(relay.stdout()).toContain("--data-dir");
  });

  it("exits 1 without a stack trace when the port is taken", async () => {
    const first = spawnRelay(["--port", "0", "--data-dir", dataDir]);
    started.push(first);
    const url = await listening(first);
    const port = new URL(url).port;
    const other = await mkdtemp(join(tmpdir(), "securecomm-main-"));
    try {
      const second = spawnRelay(["--port", port, "--data-dir", other]);
      started.push(second);
      expect((await second.exit).code).toBe(1);
      expect(second.stderr()).not.toMatch(/\n\s+at /);
      // The sentence names the port and the flag that picks another one.
      expect(second.stderr()).toContain(`port ${port} on 127.0.0.1 is already in use`);
      expect(second.stderr()).toContain("--port");
    } finally {
      first.child.kill("SIGTERM");
      expect((await first.exit).code).toBe(0);
      await rm(other, { recursive: true, force: true });
    }
  });
});
