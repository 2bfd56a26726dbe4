/**
 * What a benchmark reports: its figures, each beside the goal it is held to and the reference
 * measured in the same run, the curves it measured, and one verdict line per goal.
 *
 * Owns: the `BenchResult` shape (the JSON the runner, bench/run-all.ts, reads from the file
 * named by `BENCH_RESULTS_FILE`), printing a script's closing table, and its verdict lines.
 * Does not own the goals (bench/goals.ts) or the Markdown/SVG (bench/results-markdown.ts,
 * bench/results-svg.ts). Prints figures only: never keys, plaintext or identifiers.
 */

import { writeFileSync } from "node:fs";
import { formatGoal, formatNumber, type Goal, verdict } from "./stats.js";

/** Environment variable naming the JSON file a script writes its result to (set by the runner). */
export const RESULTS_FILE_ENV = "BENCH_RESULTS_FILE";

/** A figure measured in the same run that a figure should be read against. */
export interface Reference {
  /** What the reference is, e.g. "bare node:http2 ceiling", "libsignal". */
  readonly label: string;
  readonly value: number | null;
  readonly unit: string;
}

/** One measured figure. `value` is null when the phase did not finish within its deadline. */
export interface Figure {
  readonly name: string;
  readonly value: number | null;
  readonly unit: string;
  /** Spread or context printed after the value, e.g. "min 0.71 – max 0.93 over 3 repeats". */
  readonly note?: string;
  readonly reference?: Reference;
  readonly goal?: Goal;
  /** A goal this figure speaks to but is not judged against at this run's size, and why. */
  readonly goalNotJudged?: { readonly goal: Goal; readonly reason: string };
}

/** One line of a curve (x ascending). */
export interface SeriesLine {
  readonly label: string;
  readonly points: ReadonlyArray<readonly [number, number]>;
}

/** A curve the runner draws: relay fan-out by subscribers, rooms by size. */
export interface Series {
  readonly id: string;
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly lines: readonly SeriesLine[];
}

/** What one benchmark script produced. */
export interface BenchResult {
  readonly benchmark: string;
  /** One sentence on what was measured and at which sizes. */
  readonly setup: string;
  readonly figures: readonly Figure[];
  readonly series: readonly Series[];
}

/** The value column: "12.3 ms" or "unfinished". */
export function formatValue(value: number | null, unit: string): string {
  if (value === null || !Number.isFinite(value)) return "unfinished";
  return unit === "×" ? `${formatNumber(value)}×` : unit === "" ? formatNumber(value) : `${formatNumber(value)} ${unit}`;
}

/** The reference column: "libsignal 1,234 msg/s" or "—". */
export function formatReference(reference: Reference | undefined): string {
  return reference === undefined ? "—" : `${reference.label}: ${formatValue(reference.value, reference.unit)}`;
}

/** The goal column: "< 50 ms (issue 10)" or "none set". */
export function formatGoalCell(goal: Goal | undefined): string {
  return goal === undefined ? "none set" : `${formatGoal(goal)} (${goal.source})`;
}

/** One line per goal: "goal relay.latency-p99 (< 50 ms): missed by 141 ms (+282 %)". */
export function verdictLines(figures: readonly Figure[]): string[] {
  return figures.flatMap((f) => {
    if (f.goal) return [`goal ${f.goal.id} (${formatGoal(f.goal)}): ${verdict(f.goal, f.value).text} — ${f.goal.description}`];
    if (f.goalNotJudged) {
      const g = f.goalNotJudged.goal;
      return [`goal ${g.id} (${formatGoal(g)}): not judged: ${f.goalNotJudged.reason} — ${g.description}`];
    }
    return [];
  });
}

const cell = (s: string): string => s.replaceAll("|", "\\|");

/** The figures as a Markdown table: figure, value, reference in the same run, goal, verdict. */
export function figureTable(figures: readonly Figure[]): string[] {
  const lines = ["| figure | value | reference (same run) | goal | verdict |", "| --- | ---: | --- | --- | --- |"];
  for (const f of figures) {
    const value = formatValue(f.value, f.unit) + (f.note ? ` (${f.note})` : "");
    const v = f.goal ? verdict(f.goal, f.value).text : f.goalNotJudged ? `not judged: ${f.goalNotJudged.reason}` : "—";
    const g = formatGoalCell(f.goal ?? f.goalNotJudged?.goal);
    lines.push(`| ${cell(f.name)} | ${cell(value)} | ${cell(formatReference(f.reference))} | ${cell(g)} | ${cell(v)} |`);
  }
  return lines;
}

/**
 * Writes `result` where the runner asked for it (`BENCH_RESULTS_FILE`), if it did. Scripts that
 * measure in stages call it after each, so a run stopped at its time limit keeps what it has.
 */
export function writeResultFile(result: BenchResult): void {
  const file = process.env[RESULTS_FILE_ENV];
  if (file) writeFileSync(file, `${JSON.stringify(result, null, 1)}\n`);
}

/**
 * Prints the closing table and the verdict lines, and writes the result as JSON when the runner
 * asked for it (`BENCH_RESULTS_FILE`).
 */
export function finishReport(result: BenchResult): void {
  console.log("");
  console.log(`${result.benchmark}: ${result.setup}`);
  for (const line of figureTable(result.figures)) console.log(line);
  for (const line of verdictLines(result.figures)) console.log(line);
  writeResultFile(result);
}
