// Idle-connection floods against a real relay (spec/10-relay-api.md API-27, issue 11 item 1):
// the relay process spawned for real with a low file-descriptor limit (`ulimit -n` in the
// shell that execs it), hundreds of raw h2c sockets that send the preface and SETTINGS and then
// nothing, and a legitimate client that must still be served. Plus the HTTP/2 idle and
// SETTINGS timeouts in process, with short limits. Loads are bounded (≤ 400 sockets).

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { RelayInfoService } from "../gen/securecomm/relay/v1/relay_info_pb.js";
import { FD_RESERVE, createConnectionGuard, effectiveMaxConnections } from "./connection-guard.js";
import { startTestRelay, type TestRelay } from "./testing/test-relay.js";

const repo = fileURLToPath(new URL("..", import.meta.url));
const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
/** An empty SETTINGS frame (RFC 9113 §6.5): length 0, type 4, flags 0, stream 0. */
const SETTINGS = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
/** A SETTINGS frame with the ACK flag. */
const SETTINGS_ACK = Buffer.from([0, 0, 0, 4, 1, 0, 0, 0, 0]);

/** An attacker's socket: h2c preface (+ SETTINGS and an ack of the server's, when `complete`), then silence. */
interface IdleSocket {
  readonly socket: net.Socket;
  readonly closed: Promise<void>;
  isOpen(): boolean;
}

function idleH2c(port: number, localAddress: string, complete = true): Promise<IdleSocket> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1", localAddress });
    let open = true;
    const closed = new Promise<void>((r) => socket.once("close", () => ((open = false), r())));
    socket.on("error", () => {});
    socket.once("connect", () => {
      socket.write(complete ? Buffer.concat([PREFACE, SETTINGS]) : PREFACE);
      resolve({ socket, closed, isOpen: () => open && !socket.destroyed });
    });
    let acked = false;
    socket.on("data", () => {
      if (complete && !acked) {
        acked = true;
        socket.write(SETTINGS_ACK);
      }
    });
    // A refused connection closes before 'connect' can matter; count it as closed.
    socket.once("close", () => resolve({ socket, closed, isOpen: () => false }));
  });
}

/** Opens `count` idle h2c sockets from `localAddress`, a few at a time (bounded). */
async function flood(port: number, localAddress: string, count: number): Promise<IdleSocket[]> {
  const out: IdleSocket[] = [];
  for (let i = 0; i < count; i += 20) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(20, count - i) }, () => idleH2c(port, localAddress)))));
  }
  // Let the relay see the preface and decide (admit, evict, refuse).
  await new Promise((r) => setTimeout(r, 300));
  return out;
}

const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The legitimate client: GetRelayInfo over gRPC (h2c) and Connect (HTTP/1.1), each with a deadline. */
async function legitimateCalls(url: string): Promise<string[]> {
  const results: string[] = [];
  for (const transport of [
    createGrpcTransport({ baseUrl: url }),
    createConnectTransport({ baseUrl: url, httpVersion: "1.1" }),
  ]) {
    const info = await createClient(RelayInfoService, transport).getRelayInfo({}, { timeoutMs: 5_000 });
    results.push(info.protocols.join(","));
  }
  return results;
}

const sockets: IdleSocket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.socket.destroy();
});

describe("API-27 connection guard (unit)", () => {
  it("at a cap evicts the longest-idle connection (of that address at the per-address cap), never one with a request in flight", () => {
    const guard = createConnectionGuard({ maxConnections: 3, maxConnectionsPerAddress: 2 });
    const destroyed: string[] = [];
    const admit = (addr: string, name: string, t: number) => guard.admit(addr, () => destroyed.push(name), t);
    const must = (a: ReturnType<typeof admit>) => {
      if (!a.admitted) throw new Error("expected admission");
      return a.connection;
    };
    const a1 = must(admit("a", "a1", 1));
    must(admit("a", "a2", 2));
    guard.begin(a1, 3); // a1 busy
    const a3 = must(admit("a", "a3", 4)); // a at its cap: its idle a2 goes
    expect(destroyed).toEqual(["a2"]);
    guard.begin(a3, 5);
    expect(admit("a", "a4", 6)).toEqual({ admitted: false, reason: "per_address" }); // both of a's busy
    must(admit("b", "b1", 7));
    const c1 = must(admit("c", "c1", 8)); // total cap: the only idle one, b1, goes
    expect(destroyed).toEqual(["a2", "b1"]);
    guard.begin(c1, 9);
    expect(admit("d", "d1", 10)).toEqual({ admitted: false, reason: "total" }); // everyone busy
    guard.release(a1);
    guard.release(a1); // idempotent
    expect(guard.size).toBe(2);
    expect(admit("d", "d1", 11)).toMatchObject({ admitted: true, evicted: false });
  });

  it("forgets an address with its last connection (memory only, bounded by open connections)", () => {
    const guard = createConnectionGuard({ maxConnections: 10, maxConnectionsPerAddress: 10 });
    const conns = ["x", "y", "y"].map((a) => guard.admit(a, () => {}, 0));
    expect(guard.addresses).toBe(2);
    for (const c of conns) if (c.admitted) guard.release(c.connection);
    expect(guard.addresses).toBe(0);
  });

  it("lowers the total cap to what the descriptor limit leaves", () => {
    expect(effectiveMaxConnections(900, 1024)).toBe(900);
    expect(effectiveMaxConnections(900, 256)).toBe(256 - FD_RESERVE);
    expect(effectiveMaxConnections(900, undefined)).toBe(900);
    expect(effectiveMaxConnections(900, 10)).toBe(1);
  });
});

describe("API-27 HTTP/2 timeouts (in process, short limits)", () => {
  let relay: TestRelay | undefined;
  afterEach(async () => {
    await relay?.close();
    relay = undefined;
  });

  it("closes an h2c connection that sends the preface but no SETTINGS (settings timeout)", async () => {
    relay = await startTestRelay({ limits: { h2SettingsTimeoutMs: 200, h2IdleTimeoutMs: 60_000 } });
    const s = await idleH2c(relay.port, "127.0.0.1", false);
    sockets.push(s);
    const outcome = await Promise.race([s.closed.then(() => "closed"), settle(3_000).then(() => "still open")]);
    expect(outcome).toBe("closed");
  });

  it("closes an idle h2c session (preface, SETTINGS, ack, then silence) after the idle timeout", async () => {
    relay = await startTestRelay({ limits: { h2IdleTimeoutMs: 300 } });
    const s = await idleH2c(relay.port, "127.0.0.1");
    sockets.push(s);
    const outcome = await Promise.race([s.closed.then(() => "closed"), settle(4_000).then(() => "still open")]);
    expect(outcome).toBe("closed");
    expect(relay.relay.renderMetrics()).toContain('securecomm_relay_connection_events_total{event="h2_idle_timeout"} 1');
  });

  it("keeps a session busy with calls open past the idle timeout", async () => {
    relay = await startTestRelay({ limits: { h2IdleTimeoutMs: 400 } });
    const info = createClient(RelayInfoService, createGrpcTransport({ baseUrl: relay.url }));
    // One call every 100 ms for 1.2 s on one session: never idle for 400 ms.
    for (let i = 0; i < 12; i++) {
      await info.getRelayInfo({});
      await settle(100);
    }
    expect(relay.relay.renderMetrics()).not.toContain('event="h2_idle_timeout"');
  });
});

describe("API-27 idle h2c flood against a relay process with 256 file descriptors", () => {
  const FD_LIMIT = 256;
  let child: ChildProcess | undefined;
  let dataDir: string | undefined;
  afterAll(async () => {
    for (const s of sockets.splice(0)) s.socket.destroy();
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child?.once("exit", r));
      child.kill("SIGTERM");
      await Promise.race([exited, settle(10_000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it("serves a legitimate client while one address, then ten, hold more idle h2c sockets than the relay has descriptors", { timeout: 90_000 }, async () => {
    dataDir = await mkdtemp(join(tmpdir(), "securecomm-flood-"));
    // `exec` keeps one process, so SIGTERM reaches the relay; ulimit -n sets soft and hard.
    child = spawn("bash", ["-c", `ulimit -n ${FD_LIMIT} && exec "$0" --import tsx relay/main.ts --port 0 --data-dir "$1"`, process.execPath, dataDir], {
      cwd: repo,
      env: { ...process.env, LOG_LEVEL: "error" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout?.on("data", (c: Buffer) => (out += c.toString("utf8")));
    child.stderr?.on("data", (c: Buffer) => (err += c.toString("utf8")));
    let url: string | undefined;
    for (let i = 0; i < 600 && !url; i++) {
      url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
      if (child.exitCode !== null) throw new Error(`relay exited: ${err}`);
      if (!url) await settle(50);
    }
    if (!url) throw new Error("relay did not start");
    const port = Number(new URL(url).port);
    expect(await legitimateCalls(url)).toEqual(["securecomm.relay.v1", "securecomm.relay.v1"]);

    // One attacking address (127.0.0.2 is loopback too), 300 idle sockets: more than the
    // relay's 256 descriptors. The per-address cap keeps at most 64 of them.
    const one = await flood(port, "127.0.0.2", 300);
    sockets.push(...one);
    expect(await legitimateCalls(url)).toEqual(["securecomm.relay.v1", "securecomm.relay.v1"]);
    expect(one.filter((s) => s.isOpen()).length).toBeLessThanOrEqual(64);

    // Ten attacking addresses, 40 each (400 sockets): past the total cap (256 − 64 = 192).
    // New connections evict the longest-idle ones, so the legitimate client still gets in.
    const many: IdleSocket[] = [];
    for (let a = 3; a <= 12; a++) many.push(...(await flood(port, `127.0.0.${a}`, 40)));
    sockets.push(...many);
    expect(await legitimateCalls(url)).toEqual(["securecomm.relay.v1", "securecomm.relay.v1"]);
    const open = [...one, ...many].filter((s) => s.isOpen()).length;
    expect(open).toBeLessThanOrEqual(FD_LIMIT - FD_RESERVE);
    expect(child.exitCode).toBeNull();
  });
});
