import { describe, expect, it } from "vitest";
import type { BenchResult } from "./report.js";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { figureTable, RESULTS_FILE_ENV, verdictLines, writeResultFile } from "./report.js";
import { renderMarkdown } from "./results-markdown.js";
import type { Goal } from "./stats.js";

const goal: Goal = { id: "relay.latency-p99", description: "p99", comparison: "<", threshold: 50, unit: "ms", source: "issue 10" };
const result: BenchResult = {
  benchmark: "relay fan-out",
  setup: "300-byte envelopes",
  figures: [
    { name: "p99 | relay", value: 191, unit: "ms", goal, reference: { label: "node:http2 ceiling", value: 8, unit: "ms" } },
    { name: "p50", value: 12, unit: "ms" },
    { name: "broadcast", value: null, unit: "ms", goal: { ...goal, id: "relay.broadcast", threshold: 2000 } },
  ],
  series: [],
};
const info = { startedAt: "2026-12-03 12:00 UTC", durationSeconds: 600, machine: "2 × CPU", node: "20.19.0", commit: "abc1234", size: "full", chart: "latest.svg" };

describe("bench results Markdown", () => {
  it("puts every figure beside its reference, its goal and the verdict, escaping table pipes", () => {
    const [header, , first, second, third] = figureTable(result.figures);
    expect(header).toBe("| figure | value | reference (same run) | goal | verdict |");
    expect(first).toBe("| p99 \\| relay | 191 ms | node:http2 ceiling: 8.00 ms | < 50.0 ms (issue 10) | missed by 141 ms (+282 %) |");
    expect(second).toBe("| p50 | 12.0 ms | — | none set | — |");
    expect(third).toContain("| broadcast | unfinished |");
  });

  it("ends with one verdict line per goal, and none for figures without a goal", () => {
    const lines = verdictLines(result.figures);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^goal relay\.latency-p99 \(< 50\.0 ms\): missed by 141 ms/);
    expect(lines[1]).toMatch(/^goal relay\.broadcast .*missed: no figure/);
  });

  it("says when and where it was measured, counts goals met and lists every script's outcome", () => {
    const md = renderMarkdown(info, [
      { script: "bench:relay", status: "ok", seconds: 200, result },
      { script: "bench:relay-postgres", status: "not present", seconds: 0, result: undefined },
    ]);
    expect(md).toContain("Measured 2026-12-03 12:00 UTC on 2 × CPU, Node 20.19.0, commit abc1234");
    expect(md).toContain("## Goals: 0 of 2 met");
    expect(md).toContain("| `npm run bench:relay-postgres` | not present | 0 |");
    expect(md).toContain("![relay fan-out and room-size curves](latest.svg)");
    expect(md).toContain("## relay fan-out (`npm run bench:relay`)");
  });

  it("lists a goal not judged at this size with its reason, apart from the count", () => {
    const small: BenchResult = {
      ...result,
      figures: [{ name: "broadcast", value: 90, unit: "ms", goalNotJudged: { goal, reason: "measured at 10,000 streams" } }],
    };
    expect(verdictLines(small.figures)).toEqual(["goal relay.latency-p99 (< 50.0 ms): not judged: measured at 10,000 streams — p99"]);
    expect(figureTable(small.figures)[2]).toBe("| broadcast | 90.0 ms | — | < 50.0 ms (issue 10) | not judged: measured at 10,000 streams |");
    const md = renderMarkdown(info, [{ script: "bench:relay", status: "ok", seconds: 1, result: small }]);
    expect(md).toContain("## Goals: 0 of 0 met, 1 not judged at this size");
  });

  it("counts a met goal", () => {
    const met: BenchResult = { ...result, figures: [{ name: "p99", value: 20, unit: "ms", goal }] };
    expect(renderMarkdown({ ...info, chart: undefined }, [{ script: "bench:relay", status: "ok", seconds: 1, result: met }])).toContain(
      "## Goals: 1 of 1 met",
    );
  });
});

describe("bench result file", () => {
  it("is written as JSON where BENCH_RESULTS_FILE says, and not at all when it is unset", () => {
    const dir = mkdtempSync(join(tmpdir(), "securecomm-bench-test-"));
    const file = join(dir, "result.json");
    const previous = process.env[RESULTS_FILE_ENV];
    try {
      delete process.env[RESULTS_FILE_ENV];
      writeResultFile(result);
      expect(() => readFileSync(file)).toThrow();
      process.env[RESULTS_FILE_ENV] = file;
      writeResultFile(result);
      expect(JSON.parse(readFileSync(file, "utf8"))).toEqual(result);
    } finally {
      if (previous === undefined) delete process.env[RESULTS_FILE_ENV];
      else process.env[RESULTS_FILE_ENV] = previous;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
