// Summarizes a V8 .cpuprofile (a script, not a test): where a profiled window's time went, by
// share. Written for the rooms benchmark's `--device-join-prof` (the device's join alone), but
// reads any profile node:inspector or `--cpu-prof` writes.
//
//   node --import tsx bench/profile-summary.ts FILE.cpuprofile [--top N] [--from MS --to MS] [--match TEXT]
//
// Prints: the window's wall time and busy time (samples not in "(idle)"/"(program)"); busy time
// by kind of work (each sample charged to the innermost frame matching one of KINDS, so
// protobuf called by sealed sender counts as protobuf); self time per function and per source
// file (module); total (inclusive) time per function, each function counted once per sample
// however often it recurses; with --match, the callers (one level up, by self+below time) of
// the functions whose name or file contains TEXT. --from/--to restrict
// to a time range in ms from the profile's start. Prints function names and file paths only.

import { readFileSync } from "node:fs";
import { relative } from "node:path";

interface Frame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: Frame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const args = process.argv.slice(2);
const file = args[0];
if (file === undefined) {
  console.error("usage: bench/profile-summary.ts FILE.cpuprofile [--top N] [--from MS --to MS] [--match TEXT]");
  process.exit(2);
}
const opt = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const top = Number(opt("top") ?? 40);
const fromMs = Number(opt("from") ?? 0);
const toMs = Number(opt("to") ?? Number.POSITIVE_INFINITY);
const match = opt("match");

const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const shortUrl = (url: string): string => {
  const path = url.startsWith("file://") ? new URL(url).pathname : url;
  const nm = path.lastIndexOf("node_modules/");
  if (nm >= 0) return path.slice(nm + "node_modules/".length);
  return path.startsWith("/") ? relative(process.cwd(), path) : path || "(native)";
};
const label = (f: Frame): string => `${f.functionName || "(anonymous)"} ${shortUrl(f.url)}${f.url ? `:${f.lineNumber + 1}` : ""}`;
/** Kinds of work, tried in order on each frame from the innermost out (first match wins). */
const KINDS: ReadonlyArray<readonly [string, RegExp]> = [
  ["source maps (stack traces under tsx)", /source_map|prepare_stack_trace/],
  ["ML-KEM", /mlkem|\/kem\.ts/],
  ["sealed sender and certificates", /sealed-sender\//],
  ["sender keys", /sender-keys\//],
  ["ratchet, session, PQXDH", /client\/(ratchet|session|handshake)\//],
  ["curve: X25519, XEdDSA, Node key imports", /client\/crypto\/(x25519|curve|xeddsa|node-crypto|public-half)/],
  ["other client/crypto (HMAC, AES, KDF)", /client\/crypto\//],
  ["protobuf", /@bufbuild|proto-strict|compiled-codec|record-codec/],
  ["room engine and room store", /client\/room\//],
  ["state store", /client\/store\//],
  ["relay client: Connect, fetch, HTTP, streams", /connectrpc|undici|node:net|node:internal\/(streams|webstreams|stream_base|abort_controller|event_target|http|timers)|client\/relay\//],
  ["keys and account (prekeys, refill)", /client\/(keys|account)\//],
  ["client app runtime", /client\/app\//],
];

const SPECIAL = new Set(["(idle)", "(program)", "(garbage collector)", "(root)"]);

const self = new Map<string, number>();
const selfFile = new Map<string, number>();
const total = new Map<string, number>();
const callers = new Map<string, number>();
const kinds = new Map<string, number>();
let wall = 0;
let busy = 0;
let idle = 0;
let t = 0;
// A sample's weight is the time until the next one, capped at three median intervals: a
// profile started through node:inspector does not mark idle time, and a process the OS
// descheduled (2 busy cores) would otherwise charge the whole wait to one sampled frame.
const sortedDeltas = [...profile.timeDeltas].sort((a, b) => a - b);
const deltaCap = 3 * (sortedDeltas[Math.floor(sortedDeltas.length / 2)] ?? 1000);
for (let i = 0; i < profile.samples.length; i++) {
  const dt = Math.min(profile.timeDeltas[i + 1] ?? 0, deltaCap); // the time until the next sample is this sample's
  t += profile.timeDeltas[i] ?? 0;
  const ms = t / 1000;
  if (ms < fromMs || ms > toMs) continue;
  const d = dt / 1000;
  wall += d;
  const leaf = byId.get(profile.samples[i]!)!;
  const name = leaf.callFrame.functionName;
  if (name === "(idle)" || name === "(program)") {
    idle += d;
    continue;
  }
  busy += d;
  const l = label(leaf.callFrame);
  self.set(l, (self.get(l) ?? 0) + d);
  const f = SPECIAL.has(name) ? name : shortUrl(leaf.callFrame.url);
  selfFile.set(f, (selfFile.get(f) ?? 0) + d);
  let kind = name === "(garbage collector)" ? "garbage collection" : undefined;
  for (let id: number | undefined = leaf.id; id !== undefined && kind === undefined; id = parent.get(id)) {
    const f = byId.get(id)!.callFrame;
    kind = KINDS.find(([, re]) => re.test(f.url) || re.test(f.functionName))?.[0];
  }
  kind ??= "other (native, microtasks, Node internals)";
  kinds.set(kind, (kinds.get(kind) ?? 0) + d);
  const seen = new Set<string>();
  let matchedBelow = false;
  for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
    const node = byId.get(id)!;
    const nl = label(node.callFrame);
    if (match !== undefined && matchedBelow && !nl.includes(match)) {
      callers.set(nl, (callers.get(nl) ?? 0) + d);
      matchedBelow = false;
    }
    if (match !== undefined && nl.includes(match)) matchedBelow = true;
    if (seen.has(nl)) continue;
    seen.add(nl);
    total.set(nl, (total.get(nl) ?? 0) + d);
  }
}

const pct = (v: number): string => `${((100 * v) / busy).toFixed(1)} %`;
const table = (title: string, m: Map<string, number>): void => {
  console.log(`\n${title}`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${v.toFixed(0).padStart(7)} ms ${pct(v).padStart(7)}  ${k}`);
};
console.log(`window ${wall.toFixed(0)} ms, busy ${busy.toFixed(0)} ms, idle/program ${idle.toFixed(0)} ms (shares below are of busy time)`);
table("busy time by kind of work", kinds);
table("self time by file", selfFile);
table("self time by function", self);
table("total time by function (inclusive)", total);
if (match !== undefined) table(`callers of "${match}"`, callers);
