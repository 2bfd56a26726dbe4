/**
 * What every benchmark script shares: bounded numeric options and the median of runs.
 *
 * Owns: `numericOption` (reads `--name N` from the command line within 1..max, so a typo
 * cannot start an hour-long run) and `median`. Benchmarks are scripts, never tests.
 */

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

/** The median of `values` (the mean of the middle two for an even count; 0 for none). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
