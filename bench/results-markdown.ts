/**
 * The Markdown in bench/results/latest.md: when and where the run was measured, each
 * benchmark's figures beside their goals and same-run references, and one line per goal.
 *
 * Owns: `renderMarkdown(run)`, pure. The runner (bench/run-all.ts) gathers what it needs;
 * unit-tested in bench/results-markdown.test.ts.
 */

import { figureTable, type BenchResult, verdictLines } from "./report.js";
import { verdict } from "./stats.js";

/** Where and when a run happened, and how each script ended. */
export interface RunInfo {
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly machine: string;
  readonly node: string;
  readonly commit: string;
  readonly size: string;
  readonly chart: string | undefined;
}

/** How one entry of the runner's table ended. */
export interface ScriptOutcome {
  readonly script: string;
  readonly status: "ok" | "failed" | "timed out" | "not present";
  readonly seconds: number;
  readonly result: BenchResult | undefined;
}

/** The whole latest.md. */
export function renderMarkdown(info: RunInfo, outcomes: readonly ScriptOutcome[]): string {
  const out: string[] = [];
  out.push("# Benchmark results");
  out.push("");
  out.push(
    `Measured ${info.startedAt} on ${info.machine}, Node ${info.node}, commit ${info.commit}, size \`${info.size}\`, ` +
      `${Math.round(info.durationSeconds)} s in all, by \`npm run bench\`. Every figure stands beside the reference ` +
      "measured in the same run: on a shared machine, read ratios to the reference, not absolute values.",
  );
  out.push("");
  const goals = outcomes.flatMap((o) => (o.result ? o.result.figures.filter((f) => f.goal) : []));
  const met = goals.filter((f) => f.goal && verdict(f.goal, f.value).met).length;
  const unjudged = outcomes.flatMap((o) => (o.result ? o.result.figures.filter((f) => !f.goal && f.goalNotJudged) : [])).length;
  out.push(`## Goals: ${met} of ${goals.length} met${unjudged > 0 ? `, ${unjudged} not judged at this size` : ""}`);
  out.push("");
  const lines = outcomes.flatMap((o) => (o.result ? verdictLines(o.result.figures) : []));
  if (lines.length === 0) out.push("No goal was measured in this run.");
  for (const line of lines) out.push(`- ${line}`);
  out.push("");
  out.push("## Scripts");
  out.push("");
  out.push("| script | status | seconds |");
  out.push("| --- | --- | ---: |");
  for (const o of outcomes) out.push(`| \`npm run ${o.script}\` | ${o.status} | ${Math.round(o.seconds)} |`);
  if (info.chart) {
    out.push("");
    out.push(`![relay fan-out and room-size curves](${info.chart})`);
  }
  for (const o of outcomes) {
    if (!o.result) continue;
    out.push("");
    out.push(`## ${o.result.benchmark} (\`npm run ${o.script}\`)`);
    out.push("");
    out.push(o.result.setup);
    out.push("");
    out.push(...figureTable(o.result.figures));
  }
  out.push("");
  return out.join("\n");
}
