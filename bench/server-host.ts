// Runs one server under test in its own process and answers the benchmark's measurement
// requests over the IPC channel: heap and RSS after a forced GC, and the process's CPU time.
//
//   node --expose-gc --import tsx bench/server-host.ts relay|connect|ceiling [server args…]
//
// Owns: nothing the servers do. It imports the server's own entry point unchanged (the relay
// as `relay/main.ts`, with its flags and RELAY_* environment), after setting process.argv to
// what that entry point expects; the benchmark reads the listening line on stdout as usual.
// Started only by bench/relay-fanout.ts and bench/relay-throughput.ts (fork with an IPC channel).

import { startPhaseProfile, stopPhaseProfile } from "./phase-profile.js";

/** Entry point of each server kind, relative to this file. */
const ENTRY_POINTS = {
  relay: "../relay/main.ts",
  connect: "./relay-baseline.ts",
  ceiling: "./relay-ceiling.ts",
} as const;

/** What the benchmark asks for over IPC. */
export type HostRequest = { type: "gc"; id: number } | { type: "cpu"; id: number } | { type: "profile-start"; id: number } | { type: "profile-stop"; id: number; path: string };

/** The answer: memory in bytes (after GC for "gc"), CPU in microseconds since start. */
export interface HostReply {
  id: number;
  heapUsed: number;
  rss: number;
  cpuMicros: number;
}

function reply(id: number): HostReply {
  const m = process.memoryUsage();
  const c = process.cpuUsage();
  return { id, heapUsed: m.heapUsed, rss: m.rss, cpuMicros: c.user + c.system };
}

const kind = process.argv[2] as keyof typeof ENTRY_POINTS;
const entry = ENTRY_POINTS[kind];
if (entry === undefined || typeof process.send !== "function") {
  process.stderr.write("usage: fork bench/server-host.ts relay|connect|ceiling [args] with an IPC channel\n");
  process.exit(2);
}
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  process.stderr.write("bench/server-host.ts needs node --expose-gc\n");
  process.exit(2);
}

process.on("message", (message: HostRequest) => {
  if (message.type === "profile-start" || message.type === "profile-stop") {
    void (message.type === "profile-start" ? startPhaseProfile() : stopPhaseProfile(message.path)).then(() => process.send?.(reply(message.id)));
    return;
  }
  if (message.type === "gc") {
    // Twice: the first pass can leave garbage that finalizers release for the second.
    gc();
    gc();
  }
  process.send?.(reply(message.id));
});
// The IPC channel must not keep the server alive once the benchmark is gone.
process.on("disconnect", () => process.exit(0));
process.channel?.unref();

const entryUrl = new URL(entry, import.meta.url);
process.argv = [process.argv[0]!, entryUrl.pathname, ...process.argv.slice(3)];
await import(entryUrl.href);
