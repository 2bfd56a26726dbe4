import { describe, expect, it } from "vitest";
import { formatGoal, type Goal, median, percentile, samplesForPercentile, spread, verdict } from "./stats.js";

const upper: Goal = { id: "t.upper", description: "latency", comparison: "<", threshold: 50, unit: "ms", source: "issue 0" };
const lower: Goal = { id: "t.lower", description: "ratio", comparison: ">=", threshold: 0.8, unit: "×", source: "issue 0" };

describe("bench statistics", () => {
  it("median takes the middle value, or the mean of the middle two, of unsorted input", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it("spread is the smallest and largest value", () => {
    expect(spread([0.9, 0.59, 1.47])).toEqual({ min: 0.59, max: 1.47 });
  });

  it("percentile is nearest-rank: p99 of 200 samples is the third largest, of 100 the second largest", () => {
    const two = Array.from({ length: 200 }, (_, i) => 200 - i);
    expect(percentile(two, 99)).toBe(198);
    expect(percentile(Array.from({ length: 100 }, (_, i) => i + 1), 99)).toBe(99);
    expect(percentile([5, 1, 3], 50)).toBe(3);
    expect(percentile([7], 0)).toBe(7);
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });

  it("a p99 needs 100 samples before it differs from the maximum", () => {
    expect(samplesForPercentile(99)).toBe(100);
    expect(samplesForPercentile(50)).toBe(2);
    const n = samplesForPercentile(99);
    const values = Array.from({ length: n }, (_, i) => i);
    expect(percentile(values, 99)).toBeLessThan(Math.max(...values));
    expect(percentile(values.slice(1), 99)).toBe(Math.max(...values));
  });

  it("verdicts say met or missed and by how much, for upper and lower bounds", () => {
    expect(verdict(upper, 20)).toEqual({ met: true, text: "met by 30.0 ms (−60.0 %)" });
    expect(verdict(upper, 191)).toEqual({ met: false, text: "missed by 141 ms (+282 %)" });
    expect(verdict(upper, 50).met).toBe(false);
    expect(verdict(lower, 0.8).met).toBe(true);
    expect(verdict(lower, 0.4)).toEqual({ met: false, text: "missed by 0.40× (−50.0 %)" });
    expect(verdict(lower, null)).toEqual({ met: false, text: "missed: no figure (unfinished)" });
    expect(verdict(upper, Number.NaN).met).toBe(false);
  });

  it("goals print as people read them", () => {
    expect(formatGoal(upper)).toBe("< 50.0 ms");
    expect(formatGoal(lower)).toBe("≥ 0.80×");
  });
});
