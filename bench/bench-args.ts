/**
 * What every benchmark script shares on its command line: bounded numeric options and the
 * run size.
 *
 * Owns: `numericOption` (reads `--name N` within 1..max, so a typo cannot start an hour-long
 * run) and `sizeOption` (`--size quick|full`: quick is a smoke run of seconds, full the sizes
 * the committed results are measured at). Benchmarks are scripts, never tests.
 */

export { median } from "./stats.js";

/** Upper bound for count-like options unless a script sets its own. */
export const MAX_COUNT = 50_000;

/** `--name N` from the command line, or `fallback`; N must be an integer in 1..max. */
export function numericOption(name: string, fallback: number, max: number = MAX_COUNT): number {
  const index = process.argv.indexOf(`--${name}`);
  if (index < 0) return fallback;
  const value = Number(process.argv[index + 1]);
  if (!Number.isInteger(value) || value < 1 || value > max) throw new RangeError(`--${name} must be 1..${max}`);
  return value;
}

/** How big a run is: "quick" (seconds, for development) or "full" (the default). */
export type RunSize = "quick" | "full";

/** `--size quick|full` from the command line; "full" when absent. */
export function sizeOption(): RunSize {
  const index = process.argv.indexOf("--size");
  if (index < 0) return "full";
  const value = process.argv[index + 1];
  if (value !== "quick" && value !== "full") throw new RangeError("--size must be quick or full");
  return value;
}

/** `quick` or `full` depending on the run size. */
export function bySize<T>(size: RunSize, quick: T, full: T): T {
  return size === "quick" ? quick : full;
}
