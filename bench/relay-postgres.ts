// Benchmark (a script, not a test), issue 10: room fan-out on PostgreSQL with one and with
// three relay processes, next to one relay process on SQLite and the bare Connect fan-out
// server (bench/relay-baseline.ts), all measured in the same run on loopback over HTTP/2:
//   - aggregate deliveries per second: posts as fast as 16 in-flight calls allow into one room
//     with N subscribers (300-byte envelopes); with three processes, posts and subscribers are
//     spread evenly over them, so most deliveries cross processes through LISTEN/NOTIFY;
//   - p50/p99 latency from post to delivery at a sustained 200 posts/s into 100 subscribers.
// Every server is its own process; PostgreSQL is a throwaway cluster with fsync on (durable
// commits, as SQLite's synchronous=FULL). Every loop is bounded; a phase that misses its
// deadline is reported as unfinished.
//
//   npm run bench:relay-postgres -- [--size quick|full] [--posts N] [--subscribers N]
//                                   [--latency-seconds S] [--runs N]

import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { setMaxListeners } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createIdentityKeyPair } from "../client/keys/identity.js";
import { AccountService } from "../gen/securecomm/relay/v1/account_pb.js";
import { MessageService } from "../gen/securecomm/relay/v1/messages_pb.js";
import { RoomService } from "../gen/securecomm/relay/v1/rooms_pb.js";
import { startPostgresCluster, type PostgresCluster } from "../relay/testing/postgres-cluster.js";
import { bySize, median, numericOption, sizeOption } from "./bench-args.js";
import { RELAY_GOALS } from "./goals.js";
import { type Figure, finishReport } from "./report.js";
import { formatNumber } from "./stats.js";

const repo = fileURLToPath(new URL("..", import.meta.url));

/** Envelope size of the fan-out benchmarks (a padded text message). */
const ENVELOPE_BYTES = 300;
/** Posts in flight at once in the throughput phase. */
const POST_CONCURRENCY = 16;
/** Streams per HTTP/2 connection. */
const STREAMS_PER_CONNECTION = 100;
/** Posting rate of the latency phase (issue 10's 200 posts/s). */
const LATENCY_POSTS_PER_SECOND = 200;
/** Subscribers in the latency phase (issue 10's 100). */
const LATENCY_SUBSCRIBERS = 100;
/** Longest any phase may take before it is reported as unfinished. */
const PHASE_DEADLINE_MS = 120_000;

const sha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash("sha256").update(b).digest());
const random = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A deployment under test: one or more processes serving one room. */
interface Target {
  readonly urls: readonly string[];
  readonly children: readonly ChildProcess[];
  readonly headers: Record<string, string>;
  readonly roomId: Uint8Array;
  readonly accessKey: Uint8Array;
}

async function spawnServer(args: string[], env: Record<string, string>, pattern: RegExp): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", ...args], { cwd: repo, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on("data", (c: Buffer) => {
      out += c.toString("utf8");
      const m = pattern.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    child.once("exit", () => reject(new Error("server exited before listening")));
  });
  return { child, url };
}

/** Relay processes on SQLite (one, in `dataDir`) or on PostgreSQL (`database`). */
async function startRelays(n: number, where: { dataDir: string } | { database: string }): Promise<Target> {
  const env = {
    // Raised so the benchmark measures delivery, not the abuse limits.
    RELAY_MAX_ROOM_POSTS_PER_MINUTE: "100000000",
    RELAY_MAX_STREAMS_PER_ACCOUNT: "1000000",
    RELAY_MAX_ROOM_LOG_ENVELOPES: "100000000",
  };
  const started = await Promise.all(
    Array.from({ length: n }, async () => {
      const args = ["relay/main.ts", "--port", "0", "--log-level", "warn", ...("database" in where ? ["--database", where.database] : ["--data-dir", where.dataDir])];
      return spawnServer(args, env, /^SecureComm relay listening on (\S+)$/m);
    }),
  );
  const transport = createConnectTransport({ baseUrl: started[0]!.url, httpVersion: "2" });
  const accounts = createClient(AccountService, transport);
  const identity = createIdentityKeyPair();
  const identityKey = identity.publicKey.serialize();
  const { challenge } = await accounts.createChallenge({ identityKey });
  const signed = new Uint8Array([...new TextEncoder().encode("SecureComm relay auth v1"), ...challenge, ...identityKey]);
  const proof = await accounts.proveIdentity({ identityKey, challenge, signature: identity.privateKey.sign(signed), registrationId: identity.registrationId });
  const headers = { authorization: `Bearer ${Buffer.from(proof.token).toString("base64url")}` };
  const roomId = random(16);
  const accessKey = random(32);
  await createClient(RoomService, transport).createRoom({ roomId, accessKeyHash: sha256(accessKey) }, { headers });
  return { urls: started.map((s) => s.url), children: started.map((s) => s.child), headers, roomId, accessKey };
}

async function startBaseline(): Promise<Target> {
  const { child, url } = await spawnServer(["bench/relay-baseline.ts"], {}, /^baseline listening on (\S+)$/m);
  return { urls: [url], children: [child], headers: {}, roomId: random(16), accessKey: random(32) };
}

/** Subscribe streams following the target's room, spread evenly over its processes. */
class Fleet {
  delivered = 0;
  cutOff = 0;
  latencies: number[] | undefined;
  private target = Number.POSITIVE_INFINITY;
  private reached: (() => void) | undefined;
  private readonly abort = new AbortController();

  constructor() {
    setMaxListeners(0, this.abort.signal);
  }

  async open(t: Target, n: number): Promise<void> {
    const transports: Transport[] = [];
    const caughtUp: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      const url = t.urls[i % t.urls.length]!;
      const slot = Math.floor(i / (t.urls.length * STREAMS_PER_CONNECTION)) * t.urls.length + (i % t.urls.length);
      transports[slot] ??= createConnectTransport({ baseUrl: url, httpVersion: "2" });
      const client = createClient(MessageService, transports[slot]);
      caughtUp.push(
        new Promise<void>((resolve) => {
          void (async () => {
            try {
              for await (const res of client.subscribe({ rooms: [{ roomId: t.roomId, accessKey: t.accessKey, afterSeq: 0n }] }, { headers: t.headers, signal: this.abort.signal })) {
                if (res.event.case === "caughtUp") resolve();
                if (res.event.case !== "room") continue;
                const now = performance.now();
                for (const e of res.event.value.events) this.latencies?.push(now - new DataView(e.envelope.buffer, e.envelope.byteOffset, 8).getFloat64(0));
                this.delivered += res.event.value.events.length;
                if (this.delivered >= this.target) this.reached?.();
              }
            } catch {
              if (!this.abort.signal.aborted) this.cutOff++;
            }
            resolve();
          })();
        }),
      );
    }
    await Promise.all(caughtUp);
  }

  expect(count: number): Promise<boolean> {
    this.delivered = 0;
    this.target = count;
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), PHASE_DEADLINE_MS);
      this.reached = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }

  close(): void {
    this.abort.abort();
  }
}

function envelope(): Uint8Array {
  const e = random(ENVELOPE_BYTES);
  new DataView(e.buffer).setFloat64(0, performance.now());
  return e;
}

const posters = (t: Target) => t.urls.map((url) => createClient(RoomService, createConnectTransport({ baseUrl: url, httpVersion: "2" })));

/** Aggregate deliveries per second with `subscribers` streams and `posts` posts. */
async function throughput(t: Target, subscribers: number, posts: number): Promise<string> {
  const fleet = new Fleet();
  await fleet.open(t, subscribers);
  const rooms = posters(t);
  const done = fleet.expect(posts * subscribers);
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: POST_CONCURRENCY }, async (_, w) => {
      while (next < posts) {
        next++;
        await rooms[w % rooms.length]!.postToRoom({ roomId: t.roomId, accessKey: t.accessKey, envelope: envelope() });
      }
    }),
  );
  const finished = await done;
  const seconds = (performance.now() - start) / 1000;
  fleet.close();
  if (!finished) return `unfinished (${fleet.delivered}/${posts * subscribers})`;
  return ((posts * subscribers) / seconds).toFixed(0);
}

/** p50 and p99 post-to-delivery latency at the sustained rate. */
async function latency(t: Target, seconds: number): Promise<[string, string]> {
  const fleet = new Fleet();
  await fleet.open(t, LATENCY_SUBSCRIBERS);
  fleet.latencies = [];
  const rooms = posters(t);
  const posts = LATENCY_POSTS_PER_SECOND * seconds;
  const done = fleet.expect(posts * LATENCY_SUBSCRIBERS);
  const interval = 1000 / LATENCY_POSTS_PER_SECOND;
  const start = performance.now();
  const sent: Promise<unknown>[] = [];
  for (let i = 0; i < posts; i++) {
    const due = start + i * interval - performance.now();
    if (due > 0) await sleep(due);
    sent.push(rooms[i % rooms.length]!.postToRoom({ roomId: t.roomId, accessKey: t.accessKey, envelope: envelope() }));
  }
  await Promise.all(sent);
  const finished = await done;
  fleet.close();
  const sorted = fleet.latencies.sort((a, b) => a - b);
  const pct = (p: number): string => (sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN).toFixed(1);
  if (!finished) return [`unfinished (${sorted.length} samples)`, "—"];
  return [pct(0.5), pct(0.99)];
}

async function measure(start: () => Promise<Target>, subscribers: number, posts: number, latencySeconds: number, runs: number, all: ChildProcess[]): Promise<string[]> {
  const t = await start();
  all.push(...t.children);
  try {
    // The median of several runs: the machine is shared, single runs are noisy.
    const rates: string[] = [];
    for (let i = 0; i < runs; i++) rates.push(await throughput(t, subscribers, posts));
    const numeric = rates.map(Number).filter(Number.isFinite);
    const rate = numeric.length === rates.length ? median(numeric).toFixed(0) : rates.find((r) => !Number.isFinite(Number(r))) ?? "—";
    const [p50, p99] = await latency(t, latencySeconds);
    return [rate, p50, p99];
  } finally {
    for (const c of t.children) c.kill("SIGTERM");
    await Promise.all(t.children.map((c) => (c.exitCode === null ? new Promise((r) => c.once("exit", r)) : undefined)));
  }
}

async function main(): Promise<void> {
  // Sizes fit `npm run bench`'s budget (bench/run-all.ts); --size quick is a smoke run.
  const size = sizeOption();
  const posts = numericOption("posts", bySize(size, 100, 300), 20_000);
  const subscribers = numericOption("subscribers", 100, 3_000);
  const latencySeconds = numericOption("latency-seconds", bySize(size, 2, 3), 60);
  const runs = numericOption("runs", bySize(size, 1, 2), 10);
  const dataDir = await mkdtemp(join(tmpdir(), "securecomm-bench-pg-"));
  const children: ChildProcess[] = [];
  let cluster: PostgresCluster | undefined;
  try {
    cluster = await startPostgresCluster({ durable: true });
    const pg = cluster;
    const columns: [string, string[]][] = [];
    columns.push(["bare Connect", await measure(startBaseline, subscribers, posts, latencySeconds, runs, children)]);
    columns.push(["relay, SQLite, 1 process", await measure(() => startRelays(1, { dataDir }), subscribers, posts, latencySeconds, runs, children)]);
    columns.push(["relay, PostgreSQL, 1 process", await measure(async () => startRelays(1, { database: await pg.createDatabase() }), subscribers, posts, latencySeconds, runs, children)]);
    columns.push(["relay, PostgreSQL, 3 processes", await measure(async () => startRelays(3, { database: await pg.createDatabase() }), subscribers, posts, latencySeconds, runs, children)]);

    const one = Number(columns[2]![1][0]);
    const three = Number(columns[3]![1][0]);
    const rows = [
      [`aggregate deliveries/s (${posts} posts × ${subscribers} subscribers, ${POST_CONCURRENCY} in flight, median of ${runs})`, `PostgreSQL × 3 ≥ 2 × PostgreSQL × 1: ${Number.isFinite(one) && Number.isFinite(three) ? `${(three / one).toFixed(2)}×` : "—"}`],
      [`latency p50 ms (${LATENCY_POSTS_PER_SECOND} posts/s × ${LATENCY_SUBSCRIBERS}, ${latencySeconds} s)`, "—"],
      [`latency p99 ms (${LATENCY_POSTS_PER_SECOND} posts/s × ${LATENCY_SUBSCRIBERS}, ${latencySeconds} s)`, "SQLite × 1 < 50 ms"],
    ];
    console.log(`relay on PostgreSQL: ${ENVELOPE_BYTES}-byte envelopes over HTTP/2; posts and subscribers spread evenly over a deployment's processes; PostgreSQL a throwaway local cluster with fsync on`);
    console.log(`| measurement | ${columns.map(([name]) => name).join(" | ")} | goal (issue 10) |`);
    console.log(`| --- |${columns.map(() => " ---: |").join("")} --- |`);
    rows.forEach(([label, goal], i) => console.log(`| ${label} | ${columns.map(([, v]) => v[i]).join(" | ")} | ${goal} |`));
    console.log(`machine: ${(await import("node:os")).cpus().length} cores shared by the benchmark client, every server process and PostgreSQL`);
    const value = (v: string | undefined): number | null => (Number.isFinite(Number(v)) ? Number(v) : null);
    const baseline = columns[0]!;
    const figures: Figure[] = [];
    for (const [name, v] of columns) {
      const ref = name === baseline[0] ? {} : { reference: { label: baseline[0], value: value(baseline[1][0]), unit: "deliveries/s" } };
      figures.push({ name: `aggregate deliveries/s, ${subscribers} subscribers: ${name}`, value: value(v[0]), unit: "deliveries/s", note: `median of ${runs}`, ...ref });
      figures.push({
        name: `latency p99, ${LATENCY_POSTS_PER_SECOND} posts/s × ${LATENCY_SUBSCRIBERS}: ${name}`,
        value: value(v[2]),
        unit: "ms",
        note: `p50 ${value(v[1]) === null ? "—" : formatNumber(value(v[1])!)} ms`,
        ...(name === baseline[0] ? {} : { reference: { label: `${baseline[0]} p99`, value: value(baseline[1][2]), unit: "ms" } }),
      });
    }
    figures.push({
      name: "aggregate deliveries/s, PostgreSQL × 3 ÷ PostgreSQL × 1",
      value: Number.isFinite(one) && Number.isFinite(three) && one > 0 ? three / one : null,
      unit: "×",
      reference: { label: "relay, PostgreSQL, 1 process", value: Number.isFinite(one) ? one : null, unit: "deliveries/s" },
      goal: RELAY_GOALS.postgresScaleOut,
    });
    finishReport({
      benchmark: "relay on PostgreSQL",
      setup: `${ENVELOPE_BYTES}-byte envelopes over HTTP/2, ${posts} posts × ${subscribers} subscribers per throughput run (median of ${runs}), ${latencySeconds} s at ${LATENCY_POSTS_PER_SECOND} posts/s for latency; posts and subscribers spread evenly over a deployment's processes; a throwaway local PostgreSQL cluster with fsync on; every server its own process`,
      figures,
      series: [],
    });
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
    await cluster?.destroy();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : "benchmark failed");
    process.exit(1);
  },
);
