// Summarises V8 .cpuprofile files (bench/rooms.ts --messaging-cpu-prof, --cpu-prof): self time
// by function and by file, and inclusive ("total") time by function, as shares of the
// profile's busy (non-idle) time. A script for reading profiles, not a benchmark; prints only
// function and file names.
//
//   npx tsx bench/cpuprofile-summary.ts FILE.cpuprofile… [--top N]

import { readFileSync } from "node:fs";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const topArg = process.argv.indexOf("--top");
const TOP = topArg >= 0 ? Number(process.argv[topArg + 1]) : 30;
const files = process.argv.slice(2).filter((a, i, all) => !a.startsWith("--") && all[i - 1] !== "--top");

const short = (url: string): string => url.replace(/^file:\/\/.*?\/(client|relay|bench|gen|node_modules)\//, "$1/").replace(/^node:/, "node:");
const label = (n: Node): string => `${n.callFrame.functionName || "(anonymous)"} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;

const self = new Map<string, number>();
const byFile = new Map<string, number>();
const total = new Map<string, number>();
let busy = 0;
let wall = 0;
for (const file of files) {
  const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
  wall += (p.endTime - p.startTime) / 1000;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // A sample's weight is the time since the previous one, capped at three median intervals: a
  // profile started through node:inspector does not mark idle time, and a process the OS
  // descheduled (2 busy cores) would otherwise charge the whole wait to one sampled frame.
  const sorted = [...p.timeDeltas].sort((a, b) => a - b);
  const cap = 3 * (sorted[Math.floor(sorted.length / 2)] ?? 1000);
  const dt = new Map<number, number>();
  p.samples.forEach((id, i) => dt.set(id, (dt.get(id) ?? 0) + Math.min(p.timeDeltas[i] ?? 0, cap) / 1000));
  for (const [id, ms] of dt) {
    const n = byId.get(id)!;
    if (n.callFrame.functionName === "(idle)" || n.callFrame.functionName === "(program)") continue;
    // The sample that caught the profiler being started (bench/phase-profile.ts) is not the workload.
    if (n.callFrame.functionName === "dispatch" && n.callFrame.url === "") continue;
    busy += ms;
    self.set(label(n), (self.get(label(n)) ?? 0) + ms);
    const f = short(n.callFrame.url) || n.callFrame.functionName;
    byFile.set(f, (byFile.get(f) ?? 0) + ms);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(byId.get(cur)!);
      if (seen.has(l)) continue;
      seen.add(l);
      total.set(l, (total.get(l) ?? 0) + ms);
    }
  }
}
const print = (title: string, m: Map<string, number>): void => {
  console.log(`\n${title}`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`${v.toFixed(0).padStart(8)} ms ${((100 * v) / busy).toFixed(1).padStart(5)} %  ${k}`);
};
console.log(`${files.length} profile(s): ${wall.toFixed(0)} ms wall, ${busy.toFixed(0)} ms busy (idle and "(program)" excluded)`);
print("self time by file", byFile);
print("self time by function", self);
print("total (inclusive) time by function", total);
