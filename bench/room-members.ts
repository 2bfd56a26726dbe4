// Room members of bench/rooms.ts in their own process: real clients opened through the client
// library's facade (`openSecureCommClient`, in-memory key-value stores) against the relay under
// test. One process holds the measured device; a few others share the rest of the room.
//
// Owns: its clients and what they observed. Driven over the IPC channel with
// `MemberRequest`s, each answered by one reply carrying the same id. Waits only on the events
// the facade emits ("members-changed", "message"), never by polling. Records wall-clock
// arrival times (performance.timeOrigin + now) of benchmark messages; prints nothing.

import { performance } from "node:perf_hooks";
import { MemoryKeyValueStore } from "../client/store/kv-store.js";
import { openSecureCommClient, type SecureCommClient } from "../client/app/securecomm-client.js";
import { startPhaseProfile, stopPhaseProfile } from "./phase-profile.js";

/** What the benchmark asks. */
export type MemberRequest = { id: number } & (
  | { type: "open"; url: string; count: number; namePrefix: string }
  | { type: "create-room"; name: string }
  | { type: "join"; inviteLink: string }
  /** Answered once every client here sees `count` members in `roomId` (or at the deadline). */
  | { type: "await-roster"; roomId: string; count: number; deadlineMs: number }
  /**
   * Answered once every client here is settled (the runtime's `settled()` diagnostic: every
   * member's sender key known, no pairwise job or post waiting), or at the deadline.
   */
  | { type: "await-settled"; deadlineMs: number }
  /** Every client here but the first joins (the first created the room, or is alone). */
  | { type: "join-rest"; inviteLink: string }
  | { type: "send"; roomId: string; text: string }
  /** Answered once every client here has received each of `texts` (or at the deadline). */
  | { type: "await-texts"; texts: string[]; deadlineMs: number }
  /** Arrival times of benchmark messages so far: text → wall-clock ms per receiving client. */
  | { type: "arrivals" }
  /** CPU time this process has used so far (user + system), in ms: the device's own cost. */
  | { type: "cpu" }
  /** Starts a CPU profile of this process (bench/phase-profile.ts). */
  | { type: "profile-start" }
  /** Stops it and writes it to `path`. */
  | { type: "profile-stop"; path: string }
  | { type: "close" }
);

/** What it answers. */
export interface MemberReply {
  id: number;
  roomId?: string;
  inviteLink?: string;
  ok?: boolean;
  startMs?: number;
  endMs?: number;
  arrivals?: Record<string, number[]>;
  failures?: number;
  cpuMs?: number;
}

const wallClock = (): number => performance.timeOrigin + performance.now();
const clients: SecureCommClient[] = [];
const arrivals = new Map<string, number[]>();
let failures = 0;
/** Waiters of "await-texts", checked on each arrival. */
const waiters = new Set<() => void>();

const received = (text: string): boolean => (arrivals.get(text)?.length ?? 0) >= clients.length;

function awaitTexts(texts: string[], deadlineMs: number): Promise<boolean> {
  const done = (): boolean => texts.every(received);
  if (done()) return Promise.resolve(true);
  return new Promise((resolve) => {
    const check = (): void => {
      if (done()) finish(true);
    };
    const finish = (ok: boolean): void => {
      clearTimeout(timer);
      waiters.delete(check);
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), deadlineMs);
    waiters.add(check);
  });
}

async function open(url: string, count: number, namePrefix: string): Promise<void> {
  for (let i = 0; i < count; i++) {
    const client = await openSecureCommClient({ relayUrl: url, store: new MemoryKeyValueStore() });
    client.on("message", (m) => {
      if (m.own) return;
      const at = wallClock();
      const list = arrivals.get(m.text);
      if (list) list.push(at);
      else arrivals.set(m.text, [at]);
      for (const w of [...waiters]) w();
    });
    client.on("decryption-failed", (e) => {
      if (process.env.BENCH_VERBOSE) process.stderr.write(`decryption failed: ${e.reason}\n`);
      failures++;
    });
    await client.ensureIdentity(`${namePrefix}${i}`);
    await client.start();
    clients.push(client);
  }
}

/** Resolves true when `client` sees `count` members in `roomId`, false at the deadline. */
function roster(client: SecureCommClient, roomId: string, count: number, deadlineMs: number): Promise<boolean> {
  const complete = (): boolean => client.members(roomId).length >= count;
  if (complete()) return Promise.resolve(true);
  return new Promise((resolve) => {
    const finish = (ok: boolean): void => {
      clearTimeout(timer);
      off();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), deadlineMs);
    const off = client.on("members-changed", (e) => {
      if (e.roomId === roomId && complete()) finish(true);
    });
  });
}

/** Sampling interval of a window profile, µs (V8's default is 1,000; finer shows the short per-member calls). */
const PROFILE_SAMPLING_US = 250;

/** Poll interval for `await-settled`: the runtime has no event for it (as client/cli/wait.ts). */
const SETTLE_POLL_MS = 50;

/** Resolves true once every client reports itself settled, false at the deadline. */
async function settled(deadlineMs: number): Promise<boolean> {
  const deadline = Date.now() + deadlineMs;
  const all = (): boolean => clients.every((c) => (c as { settled?: () => boolean }).settled?.() ?? true);
  while (!all()) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, SETTLE_POLL_MS));
  }
  return true;
}

async function handle(req: MemberRequest): Promise<MemberReply> {
  switch (req.type) {
    case "open":
      await open(req.url, req.count, req.namePrefix);
      return { id: req.id, ok: true };
    case "create-room": {
      const { roomId, inviteLink } = await clients[0]!.createRoom(req.name);
      return { id: req.id, roomId, inviteLink };
    }
    case "join":
      // All at once, as people opening an invite link do.
      await Promise.all(clients.map((c) => c.joinRoom(req.inviteLink)));
      return { id: req.id, ok: true };
    case "join-rest":
      await Promise.all(clients.slice(1).map((c) => c.joinRoom(req.inviteLink)));
      return { id: req.id, ok: true };
    case "await-texts": {
      const ok = await awaitTexts(req.texts, req.deadlineMs);
      if (!ok && process.env.BENCH_VERBOSE) {
        process.stderr.write(`await-texts timed out: ${clients.length} clients, ${req.texts.filter(received).length}/${req.texts.length} texts, failures ${failures}, rooms ${JSON.stringify(clients.map((c) => c.rooms().map((r) => [r.memberCount, r.departed])))}\n`);
      }
      return { id: req.id, ok };
    }
    case "await-settled":
      return { id: req.id, ok: await settled(req.deadlineMs) };
    case "await-roster": {
      const ok = await Promise.all(clients.map((c) => roster(c, req.roomId, req.count, req.deadlineMs)));
      return { id: req.id, ok: ok.every(Boolean) };
    }
    case "send": {
      const startMs = wallClock();
      await clients[0]!.sendText(req.roomId, req.text);
      return { id: req.id, startMs, endMs: wallClock() };
    }
    case "arrivals":
      return { id: req.id, arrivals: Object.fromEntries(arrivals), failures };
    case "cpu": {
      const u = process.cpuUsage();
      return { id: req.id, cpuMs: (u.user + u.system) / 1000 };
    }
    case "profile-start":
      await startPhaseProfile(PROFILE_SAMPLING_US);
      return { id: req.id, ok: true };
    case "profile-stop":
      await stopPhaseProfile(req.path);
      return { id: req.id, ok: true };
    case "close":
      for (const c of clients) await c.close().catch(() => undefined);
      return { id: req.id };
  }
}

if (typeof process.send !== "function") {
  process.stderr.write("bench/room-members.ts is forked by bench/rooms.ts\n");
  process.exit(2);
}
process.on("message", (req: MemberRequest) => {
  void handle(req).then(
    (reply) => process.send?.(reply),
    (error: unknown) => {
      if (process.env.BENCH_VERBOSE === "1") process.stderr.write(`step ${req.type} failed: ${error instanceof Error ? `${error.name}: ${error.message} ${String((error as { cause?: { cause?: unknown } }).cause?.cause ?? (error as { cause?: unknown }).cause ?? "")}` : "error"}\n`);
      process.send?.({ id: req.id, ok: false });
    },
  );
});
process.on("disconnect", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0)); // exit normally, so --cpu-prof (rooms.ts --device-cpu-prof) writes its profile
