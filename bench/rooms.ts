// Benchmark (a script, not a test), issues 14 and 15: rooms as one device sees them. For each
// room size N, against the relay in its own process (relay/main.ts, SQLite in a temp dir):
// the measured device runs alone in its own process, the other N − 1 members are spread over
// a few worker processes (bench/room-members.ts), every client opened through the client
// library's facade (`openSecureCommClient`). Measured:
//   - join → ready: from the device's joinRoom until its first message is decrypted by every
//     other member (also: joinRoom returned, roster complete at the device, sendText returned,
//     and the CPU time the device's process used meanwhile: its own cost, which the other
//     processes' load does not inflate);
//   - send → decrypted: the device sends messages at a fixed rate; for each, the time from
//     sendText's call until every other member decrypted it (p50/p99 over enough messages that
//     p99 is a percentile), and per delivery.
// Nothing is polled: every wait is on an event the facade emits. Times are wall clock across
// processes on one machine. The device joins once the other members are settled (no pairwise
// job or post waiting: the room is built, not still being built). Each size's figures stand beside the smallest size measured in the
// same run. Message texts are synthetic; nothing is printed but timings.
//
//   npm run bench:rooms -- [--size quick|full] [--sizes 10,30,100] [--messages M] [--interval-ms T]
//                          [--deadline-ms D] [--verbose] [--device-cpu-prof DIR] [--members-cpu-prof DIR]
//                          [--messaging-cpu-prof DIR] [--device-join-prof DIR]
//   (--verbose: each step, and failure codes; --device-cpu-prof: a V8 CPU profile of the
//   device's process, written to DIR when it exits, to see where its join goes;
//   --members-cpu-prof: the same for each member worker process; --messaging-cpu-prof: profiles
//   of the relay, the device and each member worker over the messaging phase only, written to
//   DIR as <size>-<process>.cpuprofile; --device-join-prof: a profile of the device's process from
//   joinRoom to ready only, DIR/join-N.cpuprofile per size)

import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { bySize, numericOption, sizeOption } from "./bench-args.js";
import { startHostedServer } from "./bench-servers.js";
import { ROOM_GOAL_MEMBERS, ROOM_GOALS } from "./goals.js";
import { forkHelper, type IpcPeer } from "./ipc.js";
import { type BenchResult, type Figure, finishReport, type Series, writeResultFile } from "./report.js";
import type { MemberReply } from "./room-members.js";
import { formatNumber, percentile, samplesForPercentile } from "./stats.js";

const size = sizeOption();
/** Prints each step here and, in the member processes (inherited environment), failure codes. */
const verbose = process.argv.includes("--verbose");
if (verbose) process.env.BENCH_VERBOSE = "1";
const sizesArg = process.argv.indexOf("--sizes");
const SIZES = sizesArg >= 0 ? String(process.argv[sizesArg + 1]).split(",").map(Number) : bySize(size, [5, 10], [10, ROOM_GOAL_MEMBERS]);
if (!SIZES.every((n) => Number.isInteger(n) && n >= 2 && n <= 500)) throw new RangeError("--sizes must be room sizes in 2..500");
/** Messages the device sends per size: enough for a p99 that is not the maximum (full size). */
const messages = numericOption("messages", bySize(size, 30, samplesForPercentile(99) + 20), 5000);
/**
 * Milliseconds between the device's sends in an `n`-member room: a rate the simulated room
 * sustains. Every message costs n − 1 decryptions, all on this machine's 2 cores: at one
 * message every 250 ms a 100-member room needs more CPU than the machine has, and the figure
 * measured the queue. By default 10 ms per member (at least 250 ms); `--interval-ms` fixes it.
 */
const intervalArg = process.argv.includes("--interval-ms") ? numericOption("interval-ms", 1000, 10_000) : undefined;
const intervalFor = (n: number): number => intervalArg ?? bySize(size, 150, Math.max(250, 10 * n));
/** Worker processes holding the members other than the device. */
const MEMBER_WORKERS = 3;
/** How long the device waits for a probe to reach everyone before sending another. */
const PROBE_INTERVAL_MS = 500;
/** Longest any one wait may take (setup of a large room on a busy machine included). */
const DEADLINE_MS = numericOption("deadline-ms", 300_000, 3_600_000);
const profileArg = process.argv.indexOf("--device-cpu-prof");
/** Node flags of the device's process: a CPU profile when asked for. */
const deviceFlags = profileArg >= 0 ? ["--cpu-prof", `--cpu-prof-dir=${String(process.argv[profileArg + 1])}`] : [];
const joinProfileArg = process.argv.indexOf("--device-join-prof");
/** Where the join window's profile goes (`join-<size>.cpuprofile`), when asked for. */
const joinProfileDir = joinProfileArg >= 0 ? String(process.argv[joinProfileArg + 1]) : undefined;
/** The profiler samples all the time: a profiled device's CPU time includes it (several % of a core). */
const cpuNote = profileArg >= 0 || joinProfileDir !== undefined ? " (profiled: includes the profiler's own sampling)" : "";
const membersProfileArg = process.argv.indexOf("--members-cpu-prof");
/** Node flags of the member workers' processes. */
const memberFlags = membersProfileArg >= 0 ? ["--cpu-prof", `--cpu-prof-dir=${String(process.argv[membersProfileArg + 1])}`] : [];
const messagingProfileArg = process.argv.indexOf("--messaging-cpu-prof");
/** Where the messaging phase's profiles go (bench/phase-profile.ts), when asked for. */
const messagingProfileDir = messagingProfileArg >= 0 ? resolve(String(process.argv[messagingProfileArg + 1])) : undefined;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function call(peer: IpcPeer, request: Record<string, unknown>): Promise<MemberReply> {
  if (verbose) console.error(`step ${String(request.type)} (pid ${peer.child.pid})`);
  const reply = await peer.call<MemberReply>(request);
  if (reply.ok === false) throw new Error(`room member step "${String(request.type)}" failed or timed out`);
  return reply;
}

interface SizeResult {
  members: number;
  setupMs: number;
  joinReturnedMs: number;
  rosterMs: number;
  probeSentMs: number;
  readyMs: number;
  /** Probes the device sent until one reached everyone, and how many never did. */
  probesSent: number;
  probesLost: number;
  /** Join → every other member lists the device. */
  everyoneMs: number;
  sends: number;
  allP50: number;
  allP99: number;
  deliveryP50: number;
  deliveryP99: number;
  failures: number;
  /** CPU time of the device's process (user + system) from joinRoom to ready, and per send. */
  deviceJoinCpuMs: number;
  deviceSendCpuMs: number;
  /** CPU time of the member workers per message per receiving member, and of the relay per message. */
  memberCpuPerMessageMs: number;
  relayCpuPerMessageMs: number;
}

async function benchSize(n: number): Promise<SizeResult> {
  const dataDir = await mkdtemp(join(tmpdir(), "securecomm-rooms-"));
  const helpers: IpcPeer[] = [];
  const { url, host } = await startHostedServer("relay", dataDir);
  try {
    const device = forkHelper("bench/room-members.ts", [], { nodeFlags: deviceFlags });
    const workers = Array.from({ length: Math.min(MEMBER_WORKERS, n - 1) }, () => forkHelper("bench/room-members.ts", [], { nodeFlags: memberFlags }));
    helpers.push(device, ...workers);
    const setupStart = performance.now();
    const shares = workers.map((_, i) => Math.floor((n - 1) / workers.length) + (i < (n - 1) % workers.length ? 1 : 0));
    await Promise.all([
      call(device, { type: "open", url, count: 1, namePrefix: "device" }),
      ...workers.map((w, i) => call(w, { type: "open", url, count: shares[i], namePrefix: `member-${i}-` })),
    ]);
    const { roomId, inviteLink } = await call(workers[0]!, { type: "create-room", name: `bench-${n}` });
    await Promise.all(workers.map((w, i) => call(w, { type: i === 0 ? "join-rest" : "join", inviteLink })));
    await Promise.all(workers.map((w) => call(w, { type: "await-roster", roomId, count: n - 1, deadlineMs: DEADLINE_MS })));
    // The room is built when its members are settled, not when rosters are complete: every
    // join makes each member send a Welcome and each joiner answer everyone (O(N²) pairwise
    // sends), and a device joining while that backlog drains measures the backlog.
    await Promise.all(workers.map((w) => call(w, { type: "await-settled", deadlineMs: DEADLINE_MS })));
    const setupMs = performance.now() - setupStart;

    // Join → ready, as the device's user sees it.
    if (joinProfileDir !== undefined) await call(device, { type: "profile-start" });
    const cpu0 = (await call(device, { type: "cpu" })).cpuMs!;
    const t0 = performance.timeOrigin + performance.now();
    await call(device, { type: "join", inviteLink });
    const joinReturnedMs = performance.timeOrigin + performance.now() - t0;
    await call(device, { type: "await-roster", roomId, count: n, deadlineMs: DEADLINE_MS });
    const rosterMs = performance.timeOrigin + performance.now() - t0;
    // Every other member has taken the device in too (a message sent earlier can be lost: see
    // the README's benchmark notes).
    await Promise.all(workers.map((w) => call(w, { type: "await-roster", roomId, count: n, deadlineMs: DEADLINE_MS })));
    const everyoneMs = performance.timeOrigin + performance.now() - t0;
    // Ready: the first message from the device that every other member decrypts. A message
    // sent too soon after joining can be lost at some members (a product finding this benchmark
    // reports), so the device sends a probe every PROBE_INTERVAL_MS, as a person would send
    // again, until one reaches everyone; lost probes are counted.
    const probes: string[] = [];
    let probeSentMs = 0;
    let readyMs = Number.NaN;
    const complete = async (): Promise<number | undefined> => {
      const replies = await Promise.all(workers.map((w) => call(w, { type: "arrivals" })));
      const done = probes
        .map((p) => replies.flatMap((r) => r.arrivals?.[p] ?? []))
        .filter((times) => times.length >= n - 1)
        .map((times) => Math.max(...times) - t0);
      return done.length > 0 ? Math.min(...done) : undefined;
    };
    while (performance.timeOrigin + performance.now() - t0 < DEADLINE_MS) {
      const probe = `ready probe ${probes.length}`;
      probes.push(probe);
      const r = await call(device, { type: "send", roomId, text: probe });
      if (probes.length === 1) probeSentMs = r.endMs! - t0;
      await Promise.all(workers.map((w) => w.call<MemberReply>({ type: "await-texts", texts: [probe], deadlineMs: PROBE_INTERVAL_MS })));
      const ready = await complete();
      if (ready !== undefined) {
        readyMs = ready;
        break;
      }
    }

    // The device's own CPU until ready: what it did, whatever the simulated members cost (the
    // probe replies in flight after ready are a few ms at most).
    const cpu1 = (await call(device, { type: "cpu" })).cpuMs!;
    if (joinProfileDir !== undefined) await call(device, { type: "profile-stop", path: resolve(joinProfileDir, `join-${n}.cpuprofile`) });
    // The messaging phase's CPU in the other processes: members' per received message, the relay's.
    const workerCpu = async (): Promise<number> => (await Promise.all(workers.map((w) => call(w, { type: "cpu" })))).reduce((a, r) => a + r.cpuMs!, 0);
    const relayCpu = async (): Promise<number> => (await host.call<{ cpuMicros: number }>({ type: "cpu" })).cpuMicros / 1000;
    if (messagingProfileDir !== undefined) {
      await Promise.all([...helpers.map((h) => call(h, { type: "profile-start" })), host.call({ type: "profile-start" })]);
    }
    const [workers1, relay1] = [await workerCpu(), await relayCpu()];

    // Send → decrypted at every member, at a fixed rate.
    const sent = new Map<string, number>();
    for (let i = 0; i < messages; i++) {
      const text = `bench message ${i}`;
      const start = performance.now();
      const r = await call(device, { type: "send", roomId, text });
      sent.set(text, r.startMs!);
      const wait = intervalFor(n) - (performance.now() - start);
      if (wait > 0) await sleep(wait);
    }
    const cpu2 = (await call(device, { type: "cpu" })).cpuMs!;
    await Promise.all(workers.map((w) => call(w, { type: "await-texts", texts: [...sent.keys()], deadlineMs: DEADLINE_MS })));
    const [workers2, relay2] = [await workerCpu(), await relayCpu()];
    if (messagingProfileDir !== undefined) {
      await Promise.all([
        call(device, { type: "profile-stop", path: join(messagingProfileDir, `${n}-device.cpuprofile`) }),
        ...workers.map((w, i) => call(w, { type: "profile-stop", path: join(messagingProfileDir, `${n}-members-${i}.cpuprofile`) })),
        host.call({ type: "profile-stop", path: join(messagingProfileDir, `${n}-relay.cpuprofile`) }),
      ]);
    }
    const replies = await Promise.all(workers.map((w) => call(w, { type: "arrivals" })));
    const perMessage: number[] = [];
    const perDelivery: number[] = [];
    for (const [text, at] of sent) {
      const times = replies.flatMap((r) => r.arrivals?.[text] ?? []);
      perMessage.push(Math.max(...times) - at);
      for (const t of times) perDelivery.push(t - at);
    }
    return {
      members: n,
      setupMs,
      joinReturnedMs,
      rosterMs,
      probeSentMs,
      readyMs,
      probesSent: probes.length,
      probesLost: probes.filter((p) => replies.flatMap((r) => r.arrivals?.[p] ?? []).length < n - 1).length,
      everyoneMs,
      sends: messages,
      allP50: percentile(perMessage, 50),
      allP99: percentile(perMessage, 99),
      deliveryP50: percentile(perDelivery, 50),
      deliveryP99: percentile(perDelivery, 99),
      failures: replies.reduce((a, r) => a + (r.failures ?? 0), 0),
      deviceJoinCpuMs: cpu1 - cpu0,
      deviceSendCpuMs: (cpu2 - cpu1) / messages,
      memberCpuPerMessageMs: (workers2 - workers1) / (messages * (n - 1)),
      relayCpuPerMessageMs: (relay2 - relay1) / messages,
    };
  } finally {
    await Promise.all(helpers.map((h) => h.call({ type: "close" }).catch(() => undefined)));
    for (const h of helpers) await h.stop().catch(() => undefined);
    await host.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

function resultOf(results: readonly SizeResult[]): BenchResult {
  const smallest = results[0];
  const ref = (r: SizeResult, value: number | undefined) => (r === smallest || smallest === undefined || value === undefined ? {} : { reference: { label: `${smallest.members}-member room`, value, unit: "ms" } });
  const figures: Figure[] = [];
  for (const r of results) {
    const goal = r.members === ROOM_GOAL_MEMBERS;
    figures.push({
      name: `${r.members} members: join → ready (first message decrypted by all)`,
      value: r.readyMs,
      unit: "ms",
      note: `device CPU ${formatNumber(r.deviceJoinCpuMs)} ms${cpuNote}; joinRoom ${formatNumber(r.joinReturnedMs)} ms, roster complete at the device ${formatNumber(r.rosterMs)} ms and at everyone ${formatNumber(r.everyoneMs)} ms, first send returned ${formatNumber(r.probeSentMs)} ms; ${r.probesSent} probe(s) sent, ${r.probesLost} never decrypted by all`,
      ...ref(r, smallest?.readyMs),
      ...(goal ? { goal: ROOM_GOALS.joinReady } : {}),
    });
    figures.push({
      name: `${r.members} members: send → decrypted at all, p99`,
      value: r.allP99,
      unit: "ms",
      note: `p50 ${formatNumber(r.allP50)} ms over ${r.sends} messages, one every ${intervalFor(r.members)} ms; device CPU ${formatNumber(r.deviceSendCpuMs)} ms per send${cpuNote}; members' CPU ${formatNumber(r.memberCpuPerMessageMs)} ms per received message, relay CPU ${formatNumber(r.relayCpuPerMessageMs)} ms per message`,
      ...ref(r, smallest?.allP99),
      ...(goal ? { goal: ROOM_GOALS.sendP99 } : {}),
    });
    figures.push({
      name: `${r.members} members: send → decrypted, per delivery p99`,
      value: r.deliveryP99,
      unit: "ms",
      note: `p50 ${formatNumber(r.deliveryP50)} ms over ${r.sends * (r.members - 1)} deliveries; ${r.failures} decryption failures`,
      ...ref(r, smallest?.deliveryP99),
    });
    figures.push({ name: `${r.members} members: room set-up (all but the device joined)`, value: r.setupMs / 1000, unit: "s" });
  }
  // A run stopped before the goal's size still says the goals went unmeasured.
  if (SIZES.includes(ROOM_GOAL_MEMBERS) && !results.some((r) => r.members === ROOM_GOAL_MEMBERS)) {
    figures.push({ name: `${ROOM_GOAL_MEMBERS} members: join → ready (first message decrypted by all)`, value: null, unit: "ms", goal: ROOM_GOALS.joinReady });
    figures.push({ name: `${ROOM_GOAL_MEMBERS} members: send → decrypted at all, p99`, value: null, unit: "ms", goal: ROOM_GOALS.sendP99 });
  }
  const series: Series[] = [
    {
      id: "rooms",
      title: "Rooms by size (device in its own process)",
      xLabel: "members in the room",
      yLabel: "milliseconds",
      lines: [
        { label: "join → ready", points: results.map((r) => [r.members, r.readyMs] as const) },
        { label: "send → all decrypted, p99", points: results.map((r) => [r.members, r.allP99] as const) },
        { label: "send → all decrypted, p50", points: results.map((r) => [r.members, r.allP50] as const) },
      ],
    },
  ];
  return {
    benchmark: "rooms",
    setup: `relay (SQLite) in its own process, the measured device in its own, the other members over ${MEMBER_WORKERS} worker processes, all through openSecureCommClient; sizes ${SIZES.join(", ")}; ${messages} messages per size from the device, one every ${SIZES.map((n) => `${intervalFor(n)} ms`).join(", ")}; waits are on facade events only`,
    figures,
    series,
  };
}

async function main(): Promise<void> {
  console.log(`rooms (${size}): sizes ${SIZES.join(", ")}; device in its own process, others over ${MEMBER_WORKERS} processes; ${messages} messages every ${SIZES.map((n) => `${intervalFor(n)} ms`).join(", ")}`);
  if (messagingProfileDir !== undefined) await mkdir(messagingProfileDir, { recursive: true });
  const results: SizeResult[] = [];
  for (const n of SIZES) {
    const r = await benchSize(n);
    results.push(r);
    writeResultFile(resultOf(results));
    console.log(
      `${n} members: setup ${formatNumber(r.setupMs / 1000)} s; join → ready ${formatNumber(r.readyMs)} ms (device CPU ${formatNumber(r.deviceJoinCpuMs)} ms; ${r.probesSent} probes, ${r.probesLost} lost; joinRoom ${formatNumber(r.joinReturnedMs)}, roster ${formatNumber(r.rosterMs)}, first send returned ${formatNumber(r.probeSentMs)}); send → all p50 ${formatNumber(r.allP50)} p99 ${formatNumber(r.allP99)} ms (CPU per message: device ${formatNumber(r.deviceSendCpuMs)} ms, each member ${formatNumber(r.memberCpuPerMessageMs)} ms, relay ${formatNumber(r.relayCpuPerMessageMs)} ms); per delivery p50 ${formatNumber(r.deliveryP50)} p99 ${formatNumber(r.deliveryP99)} ms; decryption failures ${r.failures}`,
    );
  }
  finishReport(resultOf(results));
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : "benchmark failed");
    process.exit(1);
  },
);
