// Benchmark (a script, not a test), issue 4: room fan-out of the real relay next to a bare
// in-memory Connect fan-out server (bench/relay-baseline.ts), measured in the same run on
// loopback over HTTP/2:
//   - deliveries per second into a room with 1, 10 and 100 subscribers (300-byte envelopes);
//   - p50/p99 latency from post to delivery at 200 posts/s into 100 subscribers;
//   - relay memory (RSS) per idle Subscribe stream, streams shared 100 per HTTP/2 connection.
// Both servers run as their own processes (the relay as `relay/main.ts`, SQLite in a temp
// dir), so memory is theirs alone. Every loop is bounded; a phase that does not finish within
// its deadline is reported as such.
//
//   npm run bench:relay -- [--posts N] [--idle-streams N] [--latency-seconds S]

import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { setMaxListeners } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
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

const repo = fileURLToPath(new URL("..", import.meta.url));

/** Envelope size the issue specifies (a padded text message). */
const ENVELOPE_BYTES = 300;
/** Posts in flight at once in the throughput phases. */
const POST_CONCURRENCY = 16;
/** Streams per HTTP/2 connection: Node clients assume 100 until the server says otherwise. */
const STREAMS_PER_CONNECTION = 100;
/** Posting rate of the latency phase (the 200 posts/s). */
const LATENCY_POSTS_PER_SECOND = 200;
/** Subscribers in the latency phase. */
const LATENCY_SUBSCRIBERS = 100;
/** Longest any phase may take before it is reported as unfinished. */
const PHASE_DEADLINE_MS = 180_000;

interface Options {
  /** Posts per throughput cell (each delivered to every subscriber). */
  posts: number;
  idleStreams: number;
  latencySeconds: number;
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { posts: 1000, idleStreams: 10_000, latencySeconds: 5 };
  for (let i = 0; i < argv.length; i += 2) {
    const value = Number(argv[i + 1]);
    if (!Number.isInteger(value) || value <= 0 || value > 1_000_000) throw new RangeError(`bad value for ${String(argv[i])}`);
    if (argv[i] === "--posts") o.posts = value;
    else if (argv[i] === "--idle-streams") o.idleStreams = value;
    else if (argv[i] === "--latency-seconds") o.latencySeconds = value;
    else throw new RangeError(`unknown option ${String(argv[i])}`);
  }
  return o;
}

const sha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash("sha256").update(b).digest());
const random = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A server under test: where it listens and how to authenticate to it. */
interface Target {
  readonly name: string;
  readonly url: string;
  readonly child: ChildProcess;
  readonly headers: Record<string, string>;
  readonly roomId: Uint8Array;
  readonly accessKey: Uint8Array;
}

async function spawnServer(args: string[], env: Record<string, string>, pattern: RegExp): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", ...args], {
    cwd: repo,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
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

async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? Number.NaN);
}

const transportsFor = (url: string, n: number): Transport[] =>
  Array.from({ length: n }, () => createConnectTransport({ baseUrl: url, httpVersion: "2" }));

/** A set of Subscribe streams following the target's room. */
class Fleet {
  delivered = 0;
  cutOff = 0;
  latencies: number[] | undefined;
  private target = Number.POSITIVE_INFINITY;
  private reached: (() => void) | undefined;
  private readonly abort = new AbortController();

  constructor() {
    // One signal ends every stream of the fleet: thousands of listeners are intended.
    setMaxListeners(0, this.abort.signal);
  }

  /** Opens `n` streams (following the room unless `idle`); resolves when all are caught up. */
  async open(t: Target, n: number, idle = false): Promise<void> {
    const transports = transportsFor(t.url, Math.ceil(n / STREAMS_PER_CONNECTION));
    const caughtUp: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      const client = createClient(MessageService, transports[Math.floor(i / STREAMS_PER_CONNECTION)] as Transport);
      const rooms = idle ? [] : [{ roomId: t.roomId, accessKey: t.accessKey, afterSeq: 0n }];
      caughtUp.push(
        new Promise<void>((resolve) => {
          void (async () => {
            try {
              for await (const res of client.subscribe({ rooms }, { headers: t.headers, signal: this.abort.signal })) {
                if (res.event.case === "caughtUp") resolve();
                if (res.event.case !== "room") continue;
                const now = performance.now();
                for (const e of res.event.value.events) {
                  this.latencies?.push(now - new DataView(e.envelope.buffer, e.envelope.byteOffset, 8).getFloat64(0));
                }
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

  /** Resolves when `count` deliveries (from now) have arrived, or false at the deadline. */
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

async function throughput(t: Target, subscribers: number, posts: number): Promise<string> {
  const fleet = new Fleet();
  await fleet.open(t, subscribers);
  const rooms = createClient(RoomService, createConnectTransport({ baseUrl: t.url, httpVersion: "2" }));
  const done = fleet.expect(posts * subscribers);
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: POST_CONCURRENCY }, async () => {
      while (next < posts) {
        next++;
        await rooms.postToRoom({ roomId: t.roomId, accessKey: t.accessKey, envelope: envelope() });
      }
    }),
  );
  const finished = await done;
  const seconds = (performance.now() - start) / 1000;
  fleet.close();
  if (!finished) return `unfinished (${fleet.delivered}/${posts * subscribers}, ${fleet.cutOff} cut off)`;
  return ((posts * subscribers) / seconds).toFixed(0);
}

async function latency(t: Target, seconds: number): Promise<[string, string]> {
  const fleet = new Fleet();
  await fleet.open(t, LATENCY_SUBSCRIBERS);
  fleet.latencies = [];
  const rooms = createClient(RoomService, createConnectTransport({ baseUrl: t.url, httpVersion: "2" }));
  const posts = LATENCY_POSTS_PER_SECOND * seconds;
  const done = fleet.expect(posts * LATENCY_SUBSCRIBERS);
  const interval = 1000 / LATENCY_POSTS_PER_SECOND;
  const start = performance.now();
  const sent: Promise<unknown>[] = [];
  for (let i = 0; i < posts; i++) {
    const due = start + i * interval - performance.now();
    if (due > 0) await sleep(due);
    sent.push(rooms.postToRoom({ roomId: t.roomId, accessKey: t.accessKey, envelope: envelope() }));
  }
  await Promise.all(sent);
  const finished = await done;
  fleet.close();
  const sorted = fleet.latencies.sort((a, b) => a - b);
  const pct = (p: number): string => (sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN).toFixed(2);
  if (!finished) return [`unfinished (${sorted.length} samples)`, "—"];
  return [pct(0.5), pct(0.99)];
}

async function memoryPerIdleStream(t: Target, streams: number): Promise<string> {
  await sleep(500);
  const before = await rssKb(t.child.pid ?? 0);
  const fleet = new Fleet();
  await fleet.open(t, streams, true);
  await sleep(1000);
  const after = await rssKb(t.child.pid ?? 0);
  fleet.close();
  return (((after - before) * 1024) / streams / 1000).toFixed(1);
}

async function startRelay(dataDir: string): Promise<Target> {
  const { child, url } = await spawnServer(
    ["relay/main.ts", "--port", "0", "--data-dir", dataDir, "--log-level", "warn"],
    {
      // Raised so the benchmark measures delivery, not the abuse limits.
      RELAY_MAX_ROOM_POSTS_PER_MINUTE: "100000000",
      RELAY_MAX_STREAMS_PER_ACCOUNT: "1000000",
      RELAY_MAX_ROOM_LOG_ENVELOPES: "100000000",
    },
    /^SecureComm relay listening on (\S+)$/m,
  );
  const transport = createConnectTransport({ baseUrl: url, httpVersion: "2" });
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
  return { name: "relay", url, child, headers, roomId, accessKey };
}

async function startBaseline(): Promise<Target> {
  const { child, url } = await spawnServer(["bench/relay-baseline.ts"], {}, /^baseline listening on (\S+)$/m);
  return { name: "baseline", url, child, headers: {}, roomId: random(16), accessKey: random(32) };
}

/**
 * Runs every phase against targets from `start`: throughput and latency on one process, and
 * memory on a fresh one, so neither the heap grown by the load phases nor thousands of
 * just-closed streams distort the other measurements.
 */
async function measure(start: () => Promise<Target>, o: Options, children: ChildProcess[]): Promise<string[]> {
  const t = await start();
  children.push(t.child);
  const one = await throughput(t, 1, o.posts);
  const ten = await throughput(t, 10, o.posts);
  const hundred = await throughput(t, 100, Math.max(1, Math.floor(o.posts / 4)));
  const [p50, p99] = await latency(t, o.latencySeconds);
  t.child.kill("SIGTERM");
  const fresh = await start();
  children.push(fresh.child);
  const memory = await memoryPerIdleStream(fresh, o.idleStreams);
  fresh.child.kill("SIGTERM");
  return [one, ten, hundred, p50, p99, memory];
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const dataDir = await mkdtemp(join(tmpdir(), "securecomm-fanout-"));
  const children: ChildProcess[] = [];
  try {
    const base = await measure(startBaseline, o, children);
    let run = 0;
    const real = await measure(() => startRelay(join(dataDir, String(run++))), o, children);

    const rows = [
      "deliveries/s, 1 subscriber",
      "deliveries/s, 10 subscribers",
      "deliveries/s, 100 subscribers",
      `latency p50 ms, ${LATENCY_POSTS_PER_SECOND} posts/s × ${LATENCY_SUBSCRIBERS}`,
      `latency p99 ms, ${LATENCY_POSTS_PER_SECOND} posts/s × ${LATENCY_SUBSCRIBERS}`,
      `KB RSS per idle Subscribe stream (${o.idleStreams} streams)`,
    ];
    console.log(
      `relay fan-out: ${ENVELOPE_BYTES}-byte envelopes over HTTP/2, ${POST_CONCURRENCY} posts in flight, ${o.posts} posts per cell (${Math.floor(o.posts / 4)} with 100 subscribers)`,
    );
    console.log("| measurement | bare Connect fan-out | relay (auth, SQLite) | relay / baseline |");
    console.log("| --- | ---: | ---: | ---: |");
    rows.forEach((label, i) => {
      const b = Number(base[i]);
      const r = Number(real[i]);
      const ratio = Number.isFinite(b) && Number.isFinite(r) && b > 0 ? (r / b).toFixed(2) : "—";
      console.log(`| ${label} | ${base[i]} | ${real[i]} | ${ratio} |`);
    });
    console.log("goals (issue 4): throughput ≥ 0.8× baseline, p99 < 5 ms, < 30 KB per idle stream");
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
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
