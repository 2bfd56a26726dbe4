import { describe, expect, it } from "vitest";
import { niceCeiling, renderSvg } from "./results-svg.js";

describe("bench results SVG", () => {
  it("rounds the y axis up to 1, 2 or 5 times a power of ten", () => {
    expect(niceCeiling(0.3)).toBeCloseTo(0.5);
    expect(niceCeiling(7)).toBe(10);
    expect(niceCeiling(120)).toBe(200);
    expect(niceCeiling(2000)).toBe(2000);
    expect(niceCeiling(0)).toBe(1);
  });

  it("draws one panel per series with a line and a marker per point, x on a log scale", () => {
    const svg = renderSvg([
      {
        id: "relay-fanout",
        title: "relay fan-out",
        xLabel: "subscribers",
        yLabel: "deliveries/s",
        lines: [
          { label: "relay", points: [[1, 100], [10, 1000], [100, 2000]] },
          { label: "ceiling <h2>", points: [[1, 200], [10, 2000], [100, 4000]] },
        ],
      },
      { id: "rooms", title: "rooms", xLabel: "members", yLabel: "ms", lines: [{ label: "join", points: [[10, 500]] }] },
    ]);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" width="840"')).toBe(true);
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(svg.match(/<circle/g)).toHaveLength(7);
    expect(svg).toContain("ceiling &lt;h2&gt;");
    expect(svg).not.toContain("<h2>");
    // Log x: 10 lies halfway between 1 and 100 (plot spans 64..404 in the first panel).
    expect(svg).toContain('<circle cx="234.0"');
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
  });

  it("says so when there is nothing to draw", () => {
    expect(renderSvg([])).toContain("no curves measured");
  });
});
