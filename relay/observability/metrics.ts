/**
 * Metrics registry with Prometheus text rendering (exposition format 0.0.4).
 *
 * Owns: counters and histograms, label handling, rendering. Label values are RPC names,
 * Connect codes and fixed kinds only; never identifiers (DESIGN §5 metadata discipline).
 * Does not own the HTTP endpoint (relay-net serves `renderMetrics()`).
 */

/** Label set of one series; values must be low-cardinality constants. */
export type Labels = Readonly<Record<string, string>>;

/** A monotonically increasing counter. */
export interface Counter {
  inc(labels?: Labels, by?: number): void;
  get(labels?: Labels): number;
}

/** A histogram with fixed buckets. */
export interface Histogram {
  observe(value: number, labels?: Labels): void;
  count(labels?: Labels): number;
}

/** A registry of counters and histograms rendered together. */
export interface MetricsRegistry {
  counter(name: string, help: string): Counter;
  histogram(name: string, help: string, buckets: readonly number[]): Histogram;
  render(): string;
}

/** Default latency buckets in seconds: 0.5 ms to 10 s. */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10,
];

/** Size buckets in bytes: 256 B to the 64 KiB envelope cap. */
export const SIZE_BUCKETS_BYTES: readonly number[] = [256, 1024, 4096, 16384, 65536];

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function labelKey(labels: Labels | undefined): string {
  if (!labels) return "";
  const keys = Object.keys(labels).sort();
  for (const k of keys) if (!LABEL_NAME.test(k)) throw new RangeError("bad metric label name");
  return keys.map((k) => `${k}="${escapeLabel(labels[k] ?? "")}"`).join(",");
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function formatNumber(n: number): string {
  if (n === Infinity) return "+Inf";
  return String(n);
}

/** Creates an empty metrics registry (spec/10-relay-api.md, "Metrics"). */
export function createMetricsRegistry(): MetricsRegistry {
  const renderers: (() => string)[] = [];
  const names = new Set<string>();
  const claim = (name: string): void => {
    if (!NAME.test(name)) throw new RangeError("bad metric name");
    if (names.has(name)) throw new RangeError("duplicate metric name");
    names.add(name);
  };
  return {
    counter(name, help) {
      claim(name);
      const series = new Map<string, number>();
      renderers.push(() => {
        const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} counter`];
        for (const [k, v] of series) lines.push(`${name}${k ? `{${k}}` : ""} ${formatNumber(v)}`);
        return lines.join("\n");
      });
      return {
        inc(labels, by = 1) {
          if (!(by >= 0)) throw new RangeError("counters only go up");
          const k = labelKey(labels);
          series.set(k, (series.get(k) ?? 0) + by);
        },
        get: (labels) => series.get(labelKey(labels)) ?? 0,
      };
    },
    histogram(name, help, buckets) {
      claim(name);
      const bounds = [...buckets].sort((a, b) => a - b);
      const series = new Map<string, { counts: number[]; sum: number; count: number }>();
      renderers.push(() => {
        const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`];
        for (const [k, s] of series) {
          const sep = k ? "," : "";
          let cumulative = 0;
          bounds.forEach((b, i) => {
            cumulative += s.counts[i] ?? 0;
            lines.push(`${name}_bucket{${k}${sep}le="${formatNumber(b)}"} ${cumulative}`);
          });
          lines.push(`${name}_bucket{${k}${sep}le="+Inf"} ${s.count}`);
          lines.push(`${name}_sum${k ? `{${k}}` : ""} ${formatNumber(s.sum)}`);
          lines.push(`${name}_count${k ? `{${k}}` : ""} ${s.count}`);
        }
        return lines.join("\n");
      });
      return {
        observe(value, labels) {
          const k = labelKey(labels);
          let s = series.get(k);
          if (!s) {
            s = { counts: bounds.map(() => 0), sum: 0, count: 0 };
            series.set(k, s);
          }
          const i = bounds.findIndex((b) => value <= b);
          if (i >= 0) s.counts[i] = (s.counts[i] ?? 0) + 1;
          s.sum += value;
          s.count += 1;
        },
        count: (labels) => series.get(labelKey(labels))?.count ?? 0,
      };
    },
    render: () => renderers.map((r) => r()).join("\n") + "\n",
  };
}
