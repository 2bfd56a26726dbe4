/**
 * A V8 CPU profile of one phase of a benchmark helper process (bench/rooms.ts
 * `--messaging-cpu-prof`): started and stopped over IPC through `node:inspector`, so the
 * profile holds the steady-state window only (no start-up, no room set-up, no join).
 *
 * Owns: one inspector session per process, opened on the first `start`. Prints nothing.
 */

import { writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";

let session: Session | undefined;

/** Starts sampling this process every `intervalUs` µs (--cpu-prof samples every 1,000 µs). */
export async function startPhaseProfile(intervalUs = 1000): Promise<void> {
  if (session === undefined) {
    session = new Session();
    session.connect();
  }
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: intervalUs });
  await session.post("Profiler.start");
}

/** Stops sampling and writes the profile (a `.cpuprofile` JSON file) to `path`. */
export async function stopPhaseProfile(path: string): Promise<void> {
  if (session === undefined) throw new Error("no phase profile was started");
  const { profile } = await session.post("Profiler.stop");
  await writeFile(path, JSON.stringify(profile));
}
