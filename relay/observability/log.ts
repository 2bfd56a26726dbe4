/**
 * Structured JSON-lines logger for the relay.
 *
 * Owns: levels, the line format (`{"t":…,"level":…,"msg":…,…fields}`) and the output sink.
 * Metadata discipline (DESIGN §5, spec/10-relay-api.md): callers pass only fixed messages and
 * non-identifying fields (RPC names, codes, counts, durations). The logger additionally drops
 * any field whose value is binary (Uint8Array) so key or envelope bytes can never be printed
 * by accident. It never logs IP addresses, identity keys, addresses, tokens or envelopes.
 */

/** Log levels in increasing severity; "silent" logs nothing. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

/** Field values a log line may carry: scalars only, never bytes. */
export type LogFieldValue = string | number | boolean | null | undefined;

/** Extra fields of one log line. */
export type LogFields = Readonly<Record<string, LogFieldValue>>;

/** A structured logger (one JSON object per line). */
export interface Logger {
  readonly level: LogLevel;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

/** Default level: info (debug lines are for development). */
export const DEFAULT_LOG_LEVEL: LogLevel = "info";

const SEVERITY: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  level?: LogLevel;
  /** Receives each line without the trailing newline; defaults to process.stderr. */
  sink?: (line: string) => void;
  now?: () => number;
}

/** Whether `value` names a log level. */
export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === "string" && Object.hasOwn(SEVERITY, value);
}

/** Creates a JSON-lines logger (spec/10-relay-api.md, "Logging"). */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? DEFAULT_LOG_LEVEL;
  if (!isLogLevel(level)) throw new RangeError("unknown log level");
  const sink = options.sink ?? ((line: string) => process.stderr.write(line + "\n"));
  const now = options.now ?? Date.now;
  return build(level, sink, now, {});
}

function build(level: LogLevel, sink: (line: string) => void, now: () => number, base: LogFields): Logger {
  const threshold = SEVERITY[level];
  const emit = (lineLevel: Exclude<LogLevel, "silent">, msg: string, fields?: LogFields): void => {
    if (SEVERITY[lineLevel] < threshold) return;
    const record: Record<string, LogFieldValue> = { t: new Date(now()).toISOString(), level: lineLevel, msg };
    for (const source of [base, fields ?? {}]) {
      for (const [key, value] of Object.entries(source)) {
        if (key === "t" || key === "level" || key === "msg") continue;
        // Only scalars: bytes, objects and errors could carry identifiers or key material.
        if (value === null || value === undefined || typeof value === "string" ||
            typeof value === "number" || typeof value === "boolean") {
          record[key] = value;
        }
      }
    }
    sink(JSON.stringify(record));
  };
  return {
    level,
    debug: (msg, fields) => emit("debug", msg, fields),
    info: (msg, fields) => emit("info", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
    child: (fields) => build(level, sink, now, { ...base, ...fields }),
  };
}
