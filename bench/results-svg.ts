/**
 * The chart in bench/results/: each curve (relay fan-out by subscribers, rooms by size) as one
 * panel of a small SVG, written as text with no dependency and no network.
 *
 * Owns: `renderSvg(series)`, pure. The x axis is logarithmic (1, 10, 100 subscribers or members
 * are the points measured), the y axis linear from zero. Unit-tested in bench/results-svg.test.ts.
 */

import type { Series } from "./report.js";
import { formatNumber } from "./stats.js";

/** Size of one panel in SVG user units. */
const PANEL_WIDTH = 420;
const PANEL_HEIGHT = 300;
/** Margins inside a panel for the axes' labels and the title. */
const MARGIN = { left: 64, right: 16, top: 36, bottom: 76 };
/** Line colours, cycled (distinguishable for common colour-vision deficiencies). */
const COLOURS = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9"];

const escape = (s: string): string =>
  s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");

/** A "nice" upper bound for the y axis: 1, 2 or 5 times a power of ten at or above `max`. */
export function niceCeiling(max: number): number {
  if (!(max > 0) || !Number.isFinite(max)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) if (step * power >= max) return step * power;
  return 10 * power;
}

function panel(s: Series, offsetX: number): string[] {
  const out: string[] = [];
  const plotW = PANEL_WIDTH - MARGIN.left - MARGIN.right;
  const plotH = PANEL_HEIGHT - MARGIN.top - MARGIN.bottom;
  const points = s.lines.flatMap((l) => l.points).filter(([x, y]) => x > 0 && Number.isFinite(y));
  const xs = points.map(([x]) => x);
  const minX = xs.length > 0 ? Math.min(...xs) : 1;
  const maxX = xs.length > 0 ? Math.max(...xs) : 10;
  const lo = Math.log10(minX);
  const hi = Math.max(Math.log10(maxX), lo + 1e-9);
  const yMax = niceCeiling(Math.max(0, ...points.map(([, y]) => y)));
  const px = (x: number): number => offsetX + MARGIN.left + (xs.length < 2 || hi === lo ? plotW / 2 : ((Math.log10(x) - lo) / (hi - lo)) * plotW);
  const py = (y: number): number => MARGIN.top + plotH - (y / yMax) * plotH;
  const r = (n: number): string => n.toFixed(1);

  out.push(`<text x="${r(offsetX + PANEL_WIDTH / 2)}" y="20" text-anchor="middle" font-weight="bold">${escape(s.title)}</text>`);
  // Axes and grid.
  out.push(`<line x1="${r(offsetX + MARGIN.left)}" y1="${r(py(0))}" x2="${r(offsetX + MARGIN.left + plotW)}" y2="${r(py(0))}" stroke="#333"/>`);
  out.push(`<line x1="${r(offsetX + MARGIN.left)}" y1="${r(MARGIN.top)}" x2="${r(offsetX + MARGIN.left)}" y2="${r(py(0))}" stroke="#333"/>`);
  for (let i = 0; i <= 4; i++) {
    const y = (yMax * i) / 4;
    out.push(`<line x1="${r(offsetX + MARGIN.left)}" y1="${r(py(y))}" x2="${r(offsetX + MARGIN.left + plotW)}" y2="${r(py(y))}" stroke="#ddd"/>`);
    out.push(`<text x="${r(offsetX + MARGIN.left - 6)}" y="${r(py(y) + 4)}" text-anchor="end">${formatNumber(y)}</text>`);
  }
  for (const x of [...new Set(xs)].sort((a, b) => a - b)) {
    out.push(`<text x="${r(px(x))}" y="${r(py(0) + 16)}" text-anchor="middle">${Number.isInteger(x) ? x.toLocaleString("en-US") : formatNumber(x)}</text>`);
  }
  out.push(`<text x="${r(offsetX + MARGIN.left + plotW / 2)}" y="${r(py(0) + 32)}" text-anchor="middle">${escape(s.xLabel)}</text>`);
  out.push(
    `<text transform="translate(${r(offsetX + 14)} ${r(MARGIN.top + plotH / 2)}) rotate(-90)" text-anchor="middle">${escape(s.yLabel)}</text>`,
  );
  // Lines, markers and legend.
  s.lines.forEach((line, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    const pts = line.points.filter(([x, y]) => x > 0 && Number.isFinite(y));
    if (pts.length > 1) {
      out.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${pts.map(([x, y]) => `${r(px(x))},${r(py(y))}`).join(" ")}"/>`);
    }
    for (const [x, y] of pts) out.push(`<circle cx="${r(px(x))}" cy="${r(py(y))}" r="3" fill="${colour}"/>`);
    const lx = offsetX + MARGIN.left + (i % 2) * (plotW / 2);
    const ly = py(0) + 48 + Math.floor(i / 2) * 14;
    out.push(`<rect x="${r(lx)}" y="${r(ly - 8)}" width="10" height="10" fill="${colour}"/>`);
    out.push(`<text x="${r(lx + 14)}" y="${r(ly + 1)}">${escape(line.label)}</text>`);
  });
  return out;
}

/** An SVG document with one panel per series, side by side (an empty note when there are none). */
export function renderSvg(series: readonly Series[]): string {
  const width = Math.max(1, series.length) * PANEL_WIDTH;
  const body = series.length === 0
    ? [`<text x="${PANEL_WIDTH / 2}" y="${PANEL_HEIGHT / 2}" text-anchor="middle">no curves measured</text>`]
    : series.flatMap((s, i) => panel(s, i * PANEL_WIDTH));
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${PANEL_HEIGHT}" viewBox="0 0 ${width} ${PANEL_HEIGHT}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...body,
    "</svg>",
    "",
  ].join("\n");
}
