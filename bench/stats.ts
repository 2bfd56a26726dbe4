/**
 * Statistics every benchmark uses: median, spread, percentiles and the verdict against a goal.
 *
 * Owns: pure functions over arrays of numbers and the `Goal` shape's verdict. Does not own the
 * goals themselves (bench/goals.ts) nor printing (bench/report.ts). Benchmarks are scripts,
 * never tests; these helpers are unit-tested in bench/stats.test.ts.
 */

/** The median of `values` (the mean of the middle two for an even count; NaN for none). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Smallest and largest of `values` (NaN for none): the spread printed beside a median. */
export function spread(values: readonly number[]): { min: number; max: number } {
  if (values.length === 0) return { min: Number.NaN, max: Number.NaN };
  return { min: Math.min(...values), max: Math.max(...values) };
}

/**
 * The nearest-rank percentile `p` (0..100) of `values`: the smallest value with at least p % of
 * the samples at or below it. NaN for no samples.
 */
export function percentile(values: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError("percentile must be 0..100");
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/**
 * Fewest samples for which the nearest-rank percentile `p` is not simply the maximum: at least
 * one sample must lie above it (nearest rank: p99 needs 100 samples, p50 needs 2).
 */
export function samplesForPercentile(p: number): number {
  return Math.ceil(100 / (100 - p) - 1e-9);
}

/** How a figure is compared with its goal's threshold. */
export type Comparison = "<" | "<=" | ">=" | ">";

/** A performance goal a figure is held to (values in bench/goals.ts). */
export interface Goal {
  /** Stable id, e.g. "relay.latency-p99". */
  readonly id: string;
  /** What is held to the threshold, in words. */
  readonly description: string;
  readonly comparison: Comparison;
  readonly threshold: number;
  /** Unit of the threshold and the figure, e.g. "ms", "KB", "×". */
  readonly unit: string;
  /** Where the goal was set, e.g. "issue 10". */
  readonly source: string;
}

/** The outcome of one figure against its goal. */
export interface Verdict {
  readonly met: boolean;
  /** One line: "met by 12 ms (−24 %)", "missed by 141 ms (+282 %)" or "missed: unfinished". */
  readonly text: string;
}

/** Formats a number for people: up to 3 significant figures, thousands grouped. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return "—";
  const abs = Math.abs(value);
  if (abs >= 100) return Math.round(value).toLocaleString("en-US");
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  if (abs === 0) return "0";
  return value.toPrecision(2);
}

/** Goal as people read it: "< 50 ms", "≥ 0.8×". */
export function formatGoal(goal: Goal): string {
  const op = { "<": "<", "<=": "≤", ">=": "≥", ">": ">" }[goal.comparison];
  return goal.unit === "×" ? `${op} ${formatNumber(goal.threshold)}×` : `${op} ${formatNumber(goal.threshold)} ${goal.unit}`;
}

/** Whether `value` meets `goal`, and by how much (absolute and relative to the threshold). */
export function verdict(goal: Goal, value: number | null): Verdict {
  if (value === null || !Number.isFinite(value)) return { met: false, text: "missed: no figure (unfinished)" };
  const met =
    goal.comparison === "<" ? value < goal.threshold
    : goal.comparison === "<=" ? value <= goal.threshold
    : goal.comparison === ">=" ? value >= goal.threshold
    : value > goal.threshold;
  const diff = Math.abs(value - goal.threshold);
  const unit = goal.unit === "×" ? "×" : ` ${goal.unit}`;
  const relative = goal.threshold === 0 ? "" : ` (${value >= goal.threshold ? "+" : "−"}${formatNumber((diff / Math.abs(goal.threshold)) * 100)} %)`;
  return { met, text: `${met ? "met" : "missed"} by ${formatNumber(diff)}${unit}${relative}` };
}
