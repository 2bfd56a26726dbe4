/**
 * `npm run bench`: runs every benchmark in BENCHMARKS one after another, each bounded by its
 * own time limit, and writes bench/results/latest.md (figures beside goals and same-run
 * references, one line per goal) and bench/results/latest.svg (relay fan-out and room-size
 * curves).
 *
 * Owns: the table of benchmarks and the run. Each script writes its result as JSON to the file
 * named by BENCH_RESULTS_FILE (bench/report.ts); a script that is not in package.json yet is
 * listed as "not present" (the hook for bench:relay-postgres, issue 10).
 *
 *   npm run bench [-- --size quick|full] [--only bench:relay,bench:rooms] [--out DIR]
 */

import { spawn } from "node:child_process";
import { execFileSync } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join, relative } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { sizeOption } from "./bench-args.js";
import type { BenchResult } from "./report.js";
import { RESULTS_FILE_ENV } from "./report.js";
import { renderMarkdown, type ScriptOutcome } from "./results-markdown.js";
import { renderSvg } from "./results-svg.js";

const repo = fileURLToPath(new URL("..", import.meta.url));

/** One benchmark the runner runs: its npm script, extra arguments and time limit per size. */
export interface BenchmarkEntry {
  readonly script: string;
  readonly args: readonly string[];
  /** Time limit in seconds for [quick, full]; past it the script's process group is killed. */
  readonly limitSeconds: readonly [number, number];
}

/**
 * Every benchmark `npm run bench` runs, in order. A script past its own limit is stopped and
 * reported as "timed out"; the whole run is also held to RUN_BUDGET_SECONDS.
 */
export const BENCHMARKS: readonly BenchmarkEntry[] = [
  { script: "bench:protocol", args: [], limitSeconds: [60, 90] },
  { script: "bench:crypto", args: [], limitSeconds: [40, 45] },
  { script: "bench:relay-throughput", args: [], limitSeconds: [60, 75] },
  // Issue 10's PostgreSQL rows; runs once the script exists in package.json.
  { script: "bench:relay-postgres", args: [], limitSeconds: [60, 90] },
  { script: "bench:web", args: [], limitSeconds: [60, 75] },
  // Issue 13: attachment upload/download MB/s beside plain HTTP of the same bytes.
  { script: "bench:attachments", args: [], limitSeconds: [60, 150] },
  { script: "bench:relay", args: [], limitSeconds: [180, 300] },
  // Last: a 100-member room takes minutes to set up; it gets what the budget has left, and
  // reports the sizes it finished if stopped.
  { script: "bench:rooms", args: [], limitSeconds: [150, 480] },
];

/**
 * The whole run's bound (issue 15: under 15 minutes on this machine): each script gets at
 * most what is left of it, so the run ends in time even when scripts overrun.
 */
export const RUN_BUDGET_SECONDS = 14 * 60 + 30;

/** Grace between SIGTERM and SIGKILL of a script that overran its limit. */
const KILL_GRACE_MS = 5_000;

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}

async function runOne(entry: BenchmarkEntry, size: "quick" | "full", resultsFile: string, leftMs: number, tmp: string): Promise<ScriptOutcome> {
  const start = performance.now();
  const limitMs = Math.min(entry.limitSeconds[size === "quick" ? 0 : 1] * 1000, leftMs);
  console.log(`\n=== npm run ${entry.script} -- --size ${size} (limit ${Math.round(limitMs / 1000)} s)`);
  // Its own process group, so every process the script starts can be ended on overrun.
  const child = spawn("npm", ["run", "--silent", entry.script, "--", "--size", size, ...entry.args], {
    cwd: repo,
    // TMPDIR: the script's temp directories live under the runner's, removed even if the
    // script is killed at its limit.
    env: { ...process.env, [RESULTS_FILE_ENV]: resultsFile, TMPDIR: tmp },
    stdio: ["ignore", "inherit", "inherit"],
    detached: true,
  });
  let timedOut = false;
  const kill = (signal: NodeJS.Signals): void => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    kill("SIGTERM");
    setTimeout(() => kill("SIGKILL"), KILL_GRACE_MS).unref();
  }, limitMs);
  const onSignal = (): void => kill("SIGKILL");
  process.once("SIGINT", onSignal);
  const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
  clearTimeout(timer);
  process.removeListener("SIGINT", onSignal);
  // Whatever the script left behind in its group goes too.
  kill("SIGKILL");
  let result: BenchResult | undefined;
  try {
    result = JSON.parse(await readFile(resultsFile, "utf8")) as BenchResult;
  } catch {
    result = undefined;
  }
  const seconds = (performance.now() - start) / 1000;
  const status = timedOut ? "timed out" : code === 0 && result ? "ok" : "failed";
  return { script: entry.script, status, seconds, result };
}

async function main(): Promise<void> {
  const size = sizeOption();
  const only = option("only")?.split(",");
  const outDir = option("out") ?? join(repo, "bench", "results");
  const scripts = (JSON.parse(await readFile(join(repo, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
  const work = await mkdtemp(join(tmpdir(), "securecomm-bench-run-"));
  const startedAt = new Date();
  const start = performance.now();
  const outcomes: ScriptOutcome[] = [];
  try {
    for (const [i, entry] of BENCHMARKS.entries()) {
      if (only && !only.includes(entry.script)) continue;
      if (scripts[entry.script] === undefined) {
        outcomes.push({ script: entry.script, status: "not present", seconds: 0, result: undefined });
        continue;
      }
      const leftMs = RUN_BUDGET_SECONDS * 1000 - (performance.now() - start);
      if (leftMs < 5_000) {
        outcomes.push({ script: entry.script, status: "timed out", seconds: 0, result: undefined });
        continue;
      }
      const tmp = join(work, `tmp-${i}`);
      await mkdir(tmp);
      // Traversable (not listable) by other users: bench:relay-postgres runs initdb as the
      // postgres user in a directory under it.
      await chmod(work, 0o711);
      await chmod(tmp, 0o711);
      outcomes.push(await runOne(entry, size, join(work, `${i}.json`), leftMs, tmp));
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const series = outcomes.flatMap((o) => o.result?.series ?? []);
  await mkdir(outDir, { recursive: true });
  const chart = join(outDir, "latest.svg");
  if (series.length > 0) await writeFile(chart, renderSvg(series));
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: repo, encoding: "utf8" }).trim();
  } catch {
    // Not a git checkout.
  }
  const cpu = cpus();
  const markdown = renderMarkdown(
    {
      startedAt: `${startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC`,
      durationSeconds: (performance.now() - start) / 1000,
      machine: `${cpu.length} × ${cpu[0]?.model.trim() ?? "unknown CPU"} (shared)`,
      node: process.versions.node,
      commit,
      size,
      chart: series.length > 0 ? relative(outDir, chart) : undefined,
    },
    outcomes,
  );
  await writeFile(join(outDir, "latest.md"), markdown);
  console.log(`\nwrote ${relative(repo, join(outDir, "latest.md"))}${series.length > 0 ? ` and ${relative(repo, chart)}` : ""}`);
  for (const o of outcomes) console.log(`${o.script}: ${o.status} (${Math.round(o.seconds)} s)`);
}

await main();
