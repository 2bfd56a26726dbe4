import { describe, expect, it } from "vitest";
import { createMetricsRegistry } from "./metrics.js";
import { createRelayMetrics } from "./relay-metrics.js";

describe("metrics registry (Prometheus text)", () => {
  it("renders counters with labels and histograms with cumulative buckets, sum and count", () => {
    const r = createMetricsRegistry();
    const c = r.counter("x_total", "Things.");
    c.inc({ method: "A", code: "OK" });
    c.inc({ code: "OK", method: "A" }, 2);
    c.inc();
    const h = r.histogram("d_seconds", "Durations.", [0.1, 1]);
    h.observe(0.05, { method: "A" });
    h.observe(0.5, { method: "A" });
    h.observe(5, { method: "A" });
    expect(r.render()).toBe(
      [
        "# HELP x_total Things.",
        "# TYPE x_total counter",
        'x_total{code="OK",method="A"} 3',
        "x_total 1",
        "# HELP d_seconds Durations.",
        "# TYPE d_seconds histogram",
        'd_seconds_bucket{method="A",le="0.1"} 1',
        'd_seconds_bucket{method="A",le="1"} 2',
        'd_seconds_bucket{method="A",le="+Inf"} 3',
        'd_seconds_sum{method="A"} 5.55',
        'd_seconds_count{method="A"} 3',
        "",
      ].join("\n"),
    );
  });

  it("escapes label values and rejects bad names, duplicates and decrements", () => {
    const r = createMetricsRegistry();
    const c = r.counter("y_total", "Y.");
    c.inc({ v: 'a"b\\c\nd' });
    expect(r.render()).toContain('y_total{v="a\\"b\\\\c\\nd"} 1');
    expect(() => r.counter("y_total", "again")).toThrow(RangeError);
    expect(() => r.counter("bad-name", "x")).toThrow(RangeError);
    expect(() => c.inc({ "bad-label": "x" })).toThrow(RangeError);
    expect(() => c.inc(undefined, -1)).toThrow(RangeError);
  });

  it("the relay's metric set renders and carries no identifiers by construction", () => {
    const m = createRelayMetrics();
    m.rpcs.inc({ method: "SendSealed", code: "OK" });
    const text = m.registry.render();
    expect(text).toContain('securecomm_relay_rpcs_total{code="OK",method="SendSealed"} 1');
    expect(text).toContain("# TYPE securecomm_relay_rpc_duration_seconds histogram");
  });
});
