// Benchmark (a script, not a test), issues 4, 10 and 15: room fan-out of the real relay beside
// two references measured in the same run, on loopback over HTTP/2:
//   - ceiling: a bare node:http2 server writing one pre-encoded Connect frame to every stream
//     (bench/relay-ceiling.ts), what HTTP/2 on Node does here with no framework at all;
//   - Connect: a bare in-memory Connect fan-out server (bench/relay-baseline.ts), what the
//     framework costs without authentication, storage or limits;
//   - relay: relay/main.ts itself (authentication, SQLite in a temp dir, limits raised so the
//     benchmark measures delivery, not abuse limits).
// Each server runs in its own process (bench/server-host.ts, started with --expose-gc), the
// subscribers in another (bench/fanout-subscribers.ts), the publisher here. Phases:
//   1. throughput: deliveries/s into 1, 10 and 100 subscribers, after a warm-up, in repeats that
//      interleave the three servers (ceiling, Connect, relay, then rotated), each repeat printed,
//      ratios as the median with their spread; server CPU per delivery;
//   2. latency: post → delivery p50/p99 at a ladder of fixed posting rates into 100 subscribers,
//      each with the throughput actually sustained and whether the load was sustained (every
//      delivery in, queues drained within a short margin), so queue growth is never read as
//      latency;
//   3. idle streams: fresh servers, streams that each follow two rooms (one shared by all, one
//      of 100) as clients do; heap and RSS per stream after a forced GC, idle CPU over a window
//      covering the relay's keep-alive interval, then one message to the shared room and the
//      time until every stream has it.
// Every loop is bounded; a phase past its deadline is reported as unfinished.
//
//   npm run bench:relay -- [--size quick|full] [--repeats N] [--posts N] [--idle-streams N]
//                          [--latency-seconds S] [--idle-cpu-seconds S]

import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { RoomService } from "../gen/securecomm/relay/v1/rooms_pb.js";
import { bySize, numericOption, sizeOption } from "./bench-args.js";
import type { RoomRef, SubscriberReply } from "./fanout-subscribers.js";
import { RELAY_BROADCAST_STREAMS, RELAY_GOALS, RELAY_LATENCY_POSTS_PER_SECOND, RELAY_LATENCY_SUBSCRIBERS } from "./goals.js";
import { registerAccount, type ServerKind, startHostedServer } from "./bench-servers.js";
import { forkHelper, type IpcPeer } from "./ipc.js";
import { type Figure, finishReport, type Series } from "./report.js";
import type { HostReply } from "./server-host.js";
import { formatNumber, median, spread } from "./stats.js";

const size = sizeOption();
const repeats = numericOption("repeats", bySize(size, 2, 3), 20);
/** Posts per throughput cell with 1 and 10 subscribers (a quarter of it with 100). */
const posts = numericOption("posts", bySize(size, 200, 800));
/**
 * Idle streams: the full size stays at 10,000 because opening 40,000 relay streams takes
 * minutes on this machine; the broadcast goal (40,000) is judged only with --idle-streams 40000.
 */
const idleStreams = numericOption("idle-streams", bySize(size, 2000, 10_000), 100_000);
const latencySeconds = numericOption("latency-seconds", bySize(size, 2, 3), 60);
/** Idle CPU window; the full size covers one relay keep-alive interval (15 s). */
const idleCpuSeconds = numericOption("idle-cpu-seconds", bySize(size, 4, 15), 120);

/** Envelope size of every post (a padded text message). */
const ENVELOPE_BYTES = 300;
/** Posts in flight at once in the throughput phase. */
const POST_CONCURRENCY = 16;
/** Subscriber counts of the throughput phase (the fan-out curve). */
const SUBSCRIBER_COUNTS = [1, 10, 100] as const;
/** Posting rates of the latency phase, ending at the goal's load. */
const LATENCY_LOADS = [50, 100, RELAY_LATENCY_POSTS_PER_SECOND] as const;
/** Rooms followed by idle streams besides the shared one (each stream follows one of them). */
const IDLE_ROOMS = 100;
/**
 * Most idle streams the Connect baseline gets: its per-stream cost is the framework's, which a
 * few thousand streams show; 40,000 of them would add minutes to every run.
 */
const CONNECT_IDLE_STREAMS = 5_000;
/** Subscriber processes holding the idle streams (many streams per client process add up). */
const IDLE_WORKERS = 2;
/** A latency load is "sustained" when the last delivery lands within this long after the last post. */
const DRAIN_MARGIN_MS = 500;
/** Longest a throughput or latency cell may take before it is reported unfinished. */
const CELL_DEADLINE_MS = 60_000;
/** Longest the broadcast to idle streams may take. */
const BROADCAST_DEADLINE_MS = 60_000;
/** KB as used in the goals: 1,000 bytes. */
const KB = 1000;

const sha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash("sha256").update(b).digest());
const random = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const wallClock = (): number => performance.timeOrigin + performance.now();

type Kind = ServerKind;
const KINDS: readonly Kind[] = ["ceiling", "connect", "relay"];
const LABELS: Record<Kind, string> = {
  ceiling: "bare node:http2 ceiling",
  connect: "bare Connect fan-out",
  relay: "relay (auth, SQLite)",
};

/** A server under test. */
interface Target {
  readonly kind: Kind;
  readonly url: string;
  readonly host: IpcPeer;
  readonly headers: Record<string, string>;
  /** rooms[0]: the room posts go to; the rest are followed by idle streams. */
  readonly rooms: Array<{ id: Uint8Array; accessKey: Uint8Array; seq: bigint }>;
  readonly dataDir: string | undefined;
}

function roomRefs(t: Target, count: number): RoomRef[] {
  return t.rooms.slice(0, count).map((r) => ({ roomId: hex(r.id), accessKey: hex(r.accessKey), afterSeq: r.seq.toString() }));
}

async function startTarget(kind: Kind, workDir: string, extraRooms: number): Promise<Target> {
  const dataDir = kind === "relay" ? await mkdtemp(join(workDir, "relay-")) : undefined;
  const { url, host } = await startHostedServer(kind, dataDir);
  const rooms = Array.from({ length: 1 + extraRooms }, () => ({ id: random(16), accessKey: random(32), seq: 0n }));
  let headers: Record<string, string> = {};
  if (kind === "relay") {
    headers = (await registerAccount(url)).headers;
    const roomService = createClient(RoomService, createConnectTransport({ baseUrl: url, httpVersion: "2" }));
    for (const r of rooms) await roomService.createRoom({ roomId: r.id, accessKeyHash: sha256(r.accessKey) }, { headers });
  }
  return { kind, url, host, headers, rooms, dataDir };
}

async function stopTarget(t: Target): Promise<void> {
  await t.host.stop();
  if (t.dataDir) await rm(t.dataDir, { recursive: true, force: true });
}

/** An envelope whose first 8 bytes are the wall-clock time of posting (for latency). */
function envelope(): Uint8Array {
  const e = random(ENVELOPE_BYTES);
  new DataView(e.buffer).setFloat64(0, wallClock());
  return e;
}

function poster(t: Target) {
  const rooms = createClient(RoomService, createConnectTransport({ baseUrl: t.url, httpVersion: "2" }));
  const room = t.rooms[0]!;
  return async (): Promise<void> => {
    const res = await rooms.postToRoom({ roomId: room.id, accessKey: room.accessKey, envelope: envelope() });
    if (res.seq > room.seq) room.seq = res.seq;
  };
}

interface Cell {
  perSecond: number | null;
  cpuMicrosPerDelivery: number;
}

/** Deliveries per second with `subscribers` streams and `n` posts, `POST_CONCURRENCY` in flight. */
async function throughputCell(t: Target, sub: IpcPeer, subscribers: number, n: number): Promise<Cell> {
  await sub.call({ type: "open", url: t.url, headers: t.headers, rooms: roomRefs(t, 1), streams: subscribers });
  await sub.call({ type: "arm", count: n * subscribers, deadlineMs: CELL_DEADLINE_MS });
  const cpu0 = await t.host.call<HostReply>({ type: "cpu" });
  const post = poster(t);
  const start = wallClock();
  let next = 0;
  await Promise.all(
    Array.from({ length: POST_CONCURRENCY }, async () => {
      while (next < n) {
        next++;
        await post();
      }
    }),
  );
  const done = await sub.call<SubscriberReply>({ type: "wait" });
  const cpu1 = await t.host.call<HostReply>({ type: "cpu" });
  await sub.call({ type: "close" });
  return {
    perSecond: done.reached ? (n * subscribers) / ((done.atMs! - start) / 1000) : null,
    cpuMicrosPerDelivery: (cpu1.cpuMicros - cpu0.cpuMicros) / (n * subscribers),
  };
}

interface LatencyCell {
  p50: number | null;
  p99: number | null;
  sustainedPerSecond: number | null;
  sustained: boolean;
}

/** Latency at a fixed posting rate into the goal's subscriber count. */
async function latencyCell(t: Target, sub: IpcPeer, rate: number): Promise<LatencyCell> {
  const subscribers = RELAY_LATENCY_SUBSCRIBERS;
  const n = Math.max(1, Math.round(rate * latencySeconds));
  await sub.call({ type: "open", url: t.url, headers: t.headers, rooms: roomRefs(t, 1), streams: subscribers });
  await sub.call({ type: "latency-start" });
  await sub.call({ type: "arm", count: n * subscribers, deadlineMs: CELL_DEADLINE_MS });
  const post = poster(t);
  const interval = 1000 / rate;
  const start = wallClock();
  const sent: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const due = start + i * interval - wallClock();
    if (due > 0) await sleep(due);
    sent.push(post());
  }
  const postedAt = wallClock();
  await Promise.all(sent);
  const done = await sub.call<SubscriberReply>({ type: "wait" });
  const stats = await sub.call<SubscriberReply>({ type: "latency-stop" });
  await sub.call({ type: "close" });
  if (!done.reached) return { p50: null, p99: null, sustainedPerSecond: null, sustained: false };
  const drainMs = stats.lastAtMs! - postedAt;
  return {
    p50: stats.p50!,
    p99: stats.p99!,
    sustainedPerSecond: (n * subscribers) / ((stats.lastAtMs! - start) / 1000),
    sustained: drainMs <= DRAIN_MARGIN_MS,
  };
}

interface IdleResult {
  heapPerStreamKb: number;
  rssPerStreamKb: number;
  idleCpuPercent: number;
  broadcastMs: number | null;
  opened: number;
}

/** Idle streams on a fresh server: memory after GC, idle CPU, one message to all of them. */
async function idlePhase(kind: Kind, workDir: string, workers: IpcPeer[]): Promise<IdleResult> {
  const t = await startTarget(kind, workDir, IDLE_ROOMS);
  try {
    await sleep(500);
    const before = await t.host.call<HostReply>({ type: "gc" });
    const streams = kind === "connect" ? Math.min(idleStreams, CONNECT_IDLE_STREAMS) : idleStreams;
    const share = Math.ceil(streams / workers.length);
    const opened = await Promise.all(
      workers.map((w) => w.call<SubscriberReply>({ type: "open", url: t.url, headers: t.headers, rooms: roomRefs(t, 1 + IDLE_ROOMS), streams: share })),
    );
    const total = opened.reduce((a, r) => a + (r.opened ?? 0), 0);
    await sleep(1000);
    const after = await t.host.call<HostReply>({ type: "gc" });
    const cpu0 = await t.host.call<HostReply>({ type: "cpu" });
    await sleep(idleCpuSeconds * 1000);
    const cpu1 = await t.host.call<HostReply>({ type: "cpu" });
    await Promise.all(workers.map((w, i) => w.call({ type: "arm", count: opened[i]!.opened ?? 0, deadlineMs: BROADCAST_DEADLINE_MS })));
    const start = wallClock();
    await poster(t)();
    const done = await Promise.all(workers.map((w) => w.call<SubscriberReply>({ type: "wait" })));
    await Promise.all(workers.map((w) => w.call({ type: "close" })));
    return {
      heapPerStreamKb: (after.heapUsed - before.heapUsed) / total / KB,
      rssPerStreamKb: (after.rss - before.rss) / total / KB,
      idleCpuPercent: ((cpu1.cpuMicros - cpu0.cpuMicros) / (idleCpuSeconds * 1e6)) * 100,
      broadcastMs: done.every((d) => d.reached) ? Math.max(...done.map((d) => d.atMs!)) - start : null,
      opened: total,
    };
  } finally {
    await stopTarget(t);
  }
}

const fmt = (v: number | null): string => (v === null ? "unfinished" : formatNumber(v));

async function main(): Promise<void> {
  const workDir = await mkdtemp(join(tmpdir(), "securecomm-fanout-"));
  const helpers: IpcPeer[] = [];
  const targets = new Map<Kind, Target>();
  try {
    const sub = forkHelper("bench/fanout-subscribers.ts");
    helpers.push(sub);
    for (const kind of KINDS) {
      const t = await startTarget(kind, workDir, 0);
      targets.set(kind, t);
      helpers.push(t.host);
    }
    console.log(
      `relay fan-out (${size}): ${ENVELOPE_BYTES}-byte envelopes over HTTP/2, ${POST_CONCURRENCY} posts in flight, ${posts} posts per cell (${Math.floor(posts / 4)} with 100 subscribers), ${repeats} repeats`,
    );
    // Warm-up: one small cell per server, untimed.
    for (const kind of KINDS) await throughputCell(targets.get(kind)!, sub, 10, Math.min(100, posts));

    // 1. Throughput, interleaved repeats.
    const rates = new Map<string, Array<number | null>>();
    const cpu = new Map<Kind, number[]>();
    for (let r = 0; r < repeats; r++) {
      const order = KINDS.map((_, i) => KINDS[(i + r) % KINDS.length]!);
      for (const kind of order) {
        const line: string[] = [];
        for (const subscribers of SUBSCRIBER_COUNTS) {
          const n = subscribers >= 100 ? Math.max(1, Math.floor(posts / 4)) : posts;
          const cell = await throughputCell(targets.get(kind)!, sub, subscribers, n);
          const key = `${kind}/${subscribers}`;
          rates.set(key, [...(rates.get(key) ?? []), cell.perSecond]);
          if (subscribers === 100) cpu.set(kind, [...(cpu.get(kind) ?? []), cell.cpuMicrosPerDelivery]);
          line.push(`${subscribers}: ${fmt(cell.perSecond)}/s`);
        }
        console.log(`repeat ${r + 1} ${LABELS[kind].padEnd(24)} deliveries ${line.join("  ")}`);
      }
    }
    const finite = (xs: Array<number | null> | undefined): number[] => (xs ?? []).filter((x): x is number => x !== null);
    const medianRate = (kind: Kind, subscribers: number): number | null => {
      const xs = rates.get(`${kind}/${subscribers}`) ?? [];
      return xs.some((x) => x === null) ? null : median(finite(xs));
    };
    const ratios = (kind: Kind, ref: Kind, subscribers: number): number[] => {
      const a = rates.get(`${kind}/${subscribers}`) ?? [];
      const b = rates.get(`${ref}/${subscribers}`) ?? [];
      return a.flatMap((x, i) => (x !== null && b[i] != null ? [x / b[i]!] : []));
    };

    const figures: Figure[] = [];
    for (const subscribers of SUBSCRIBER_COUNTS) {
      for (const kind of KINDS) {
        const xs = finite(rates.get(`${kind}/${subscribers}`));
        const s = spread(xs);
        figures.push({
          name: `deliveries/s, ${subscribers} subscriber${subscribers === 1 ? "" : "s"}: ${LABELS[kind]}`,
          value: medianRate(kind, subscribers),
          unit: "deliveries/s",
          note: `median of ${repeats}, ${formatNumber(s.min)}–${formatNumber(s.max)}`,
          ...(kind === "ceiling" ? {} : { reference: { label: LABELS.ceiling, value: medianRate("ceiling", subscribers), unit: "deliveries/s" } }),
        });
      }
      for (const ref of ["connect", "ceiling"] as const) {
        const rs = ratios("relay", ref, subscribers);
        const s = spread(rs);
        const isGoal = ref === "connect" && subscribers === 100;
        figures.push({
          name: `relay ÷ ${LABELS[ref]}, ${subscribers} subscriber${subscribers === 1 ? "" : "s"}`,
          value: rs.length === repeats ? median(rs) : null,
          unit: "×",
          note: `repeats ${rs.map((x) => formatNumber(x)).join(", ")}; spread ${formatNumber(s.min)}–${formatNumber(s.max)}`,
          reference: { label: LABELS[ref], value: medianRate(ref, subscribers), unit: "deliveries/s" },
          ...(isGoal ? { goal: RELAY_GOALS.throughputVsConnect } : {}),
        });
      }
    }
    for (const kind of KINDS) {
      figures.push({
        name: `server CPU per delivery, 100 subscribers: ${LABELS[kind]}`,
        value: median(cpu.get(kind) ?? []),
        unit: "µs",
        ...(kind === "ceiling" ? {} : { reference: { label: LABELS.ceiling, value: median(cpu.get("ceiling") ?? []), unit: "µs" } }),
      });
    }

    // 2. Latency at a ladder of loads, servers interleaved per load.
    const latency = new Map<string, LatencyCell>();
    for (const rate of LATENCY_LOADS) {
      for (const kind of KINDS) {
        const cell = await latencyCell(targets.get(kind)!, sub, rate);
        latency.set(`${kind}/${rate}`, cell);
        console.log(
          `latency ${rate} posts/s × ${RELAY_LATENCY_SUBSCRIBERS} ${LABELS[kind].padEnd(24)} p50 ${fmt(cell.p50)} ms  p99 ${fmt(cell.p99)} ms  sustained ${fmt(cell.sustainedPerSecond)} deliveries/s of ${rate * RELAY_LATENCY_SUBSCRIBERS} offered${cell.sustained ? "" : " (NOT sustained: queues grew)"}`,
        );
      }
    }
    for (const rate of LATENCY_LOADS) {
      const offered = rate * RELAY_LATENCY_SUBSCRIBERS;
      for (const kind of KINDS) {
        const c = latency.get(`${kind}/${rate}`)!;
        const ref = latency.get(`ceiling/${rate}`)!;
        const load = `${rate} posts/s × ${RELAY_LATENCY_SUBSCRIBERS}`;
        const note = `p50 ${fmt(c.p50)} ms; sustained ${fmt(c.sustainedPerSecond)} of ${formatNumber(offered)} deliveries/s offered${c.sustained ? "" : ", NOT sustained"}`;
        figures.push({
          name: `latency p99, ${load}: ${LABELS[kind]}`,
          value: c.p99,
          unit: "ms",
          note,
          ...(kind === "ceiling" ? {} : { reference: { label: `${LABELS.ceiling} p99`, value: ref.p99, unit: "ms" } }),
          ...(kind === "relay" && rate === RELAY_LATENCY_POSTS_PER_SECOND ? { goal: RELAY_GOALS.latencyP99 } : {}),
        });
      }
    }
    // The long-lived servers are done; the idle phase starts fresh ones.
    for (const t of targets.values()) await stopTarget(t);
    targets.clear();

    // 3. Idle streams.
    const workers = [sub, ...Array.from({ length: IDLE_WORKERS - 1 }, () => forkHelper("bench/fanout-subscribers.ts"))];
    helpers.push(...workers.slice(1));
    const idle = new Map<Kind, IdleResult>();
    for (const kind of KINDS) {
      const result = await idlePhase(kind, workDir, workers);
      idle.set(kind, result);
      console.log(
        `idle ${LABELS[kind].padEnd(24)} ${result.opened} streams: heap ${formatNumber(result.heapPerStreamKb)} KB, RSS ${formatNumber(result.rssPerStreamKb)} KB per stream; idle CPU ${formatNumber(result.idleCpuPercent)} % of a core; one message to all in ${fmt(result.broadcastMs)} ms`,
      );
    }
    for (const kind of KINDS) {
      const r = idle.get(kind)!;
      const c = idle.get("ceiling")!;
      const streams = `${r.opened.toLocaleString("en-US")} idle streams`;
      const refOf = (value: number | null, unit: string) => (kind === "ceiling" ? {} : { reference: { label: LABELS.ceiling, value, unit } });
      figures.push({ name: `heap per idle stream after GC, ${streams}: ${LABELS[kind]}`, value: r.heapPerStreamKb, unit: "KB", ...refOf(c.heapPerStreamKb, "KB") });
      figures.push({
        name: `RSS per idle stream after GC, ${streams}: ${LABELS[kind]}`,
        value: r.rssPerStreamKb,
        unit: "KB",
        ...refOf(c.rssPerStreamKb, "KB"),
        ...(kind === "relay" ? { goal: RELAY_GOALS.idleStreamMemory } : {}),
      });
      figures.push({ name: `idle CPU over ${idleCpuSeconds} s, ${streams}: ${LABELS[kind]}`, value: r.idleCpuPercent, unit: "% of a core", ...refOf(c.idleCpuPercent, "% of a core") });
      figures.push({
        name: `one message → all ${streams}: ${LABELS[kind]}`,
        value: r.broadcastMs,
        unit: "ms",
        ...refOf(c.broadcastMs, "ms"),
        // The goal is set at 40,000 streams; a smaller run reports the figure without judging it.
        ...(kind === "relay" && r.opened >= RELAY_BROADCAST_STREAMS
          ? { goal: RELAY_GOALS.broadcast }
          : kind === "relay"
            ? {
                goalNotJudged: {
                  goal: RELAY_GOALS.broadcast,
                  reason: `measured at ${r.opened.toLocaleString("en-US")} streams; run with --idle-streams ${RELAY_BROADCAST_STREAMS} (minutes of stream set-up here)`,
                },
              }
            : {}),
      });
    }

    const series: Series[] = [
      {
        id: "relay-fanout",
        title: "Relay fan-out (median deliveries/s)",
        xLabel: "subscribers in the room",
        yLabel: "deliveries per second",
        lines: KINDS.map((kind) => ({
          label: LABELS[kind],
          points: SUBSCRIBER_COUNTS.flatMap((s) => {
            const v = medianRate(kind, s);
            return v === null ? [] : [[s, v] as const];
          }),
        })),
      },
    ];
    finishReport({
      benchmark: "relay fan-out",
      setup:
        `${ENVELOPE_BYTES}-byte envelopes over HTTP/2 on loopback; each server in its own process, subscribers in another, publisher in a third; ` +
        `throughput: ${posts} posts per cell (${Math.floor(posts / 4)} at 100 subscribers), ${POST_CONCURRENCY} in flight, ${repeats} interleaved repeats after a warm-up; ` +
        `latency: ${latencySeconds} s at each of ${LATENCY_LOADS.join(", ")} posts/s into ${RELAY_LATENCY_SUBSCRIBERS} subscribers ("sustained" = every delivery in and the last within ${DRAIN_MARGIN_MS} ms of the last post); ` +
        `idle: ${idleStreams.toLocaleString("en-US")} streams (Connect baseline: at most ${CONNECT_IDLE_STREAMS.toLocaleString("en-US")}) following 2 rooms each, 100 per HTTP/2 connection, over ${IDLE_WORKERS} subscriber processes, fresh servers with --expose-gc`,
      figures,
      series,
    });
  } finally {
    for (const t of targets.values()) await stopTarget(t).catch(() => undefined);
    for (const h of helpers) await h.stop().catch(() => undefined);
    await rm(workDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : "benchmark failed");
    process.exit(1);
  },
);
