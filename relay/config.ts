// Relay configuration from command-line flags and environment variables.
//
// Owns: the flag and variable names, their parsing and validation, the --help text, and the
// mapping onto `RelayOptions` (relay/services) and the server options (relay/server.ts).
// Flags win over environment variables; both win over defaults. Does not read files (TLS
// PEMs are read by relay/main.ts) and does not own the limit defaults (relay/limits.ts).

import { resolve } from "node:path";
import { isIP } from "node:net";
import {
  DEFAULT_RELAY_LIMITS,
  PUBLIC_ACCOUNT_CREATION_WORK_BITS,
  ZERO_ALLOWED_LIMITS,
  type RelayLimitsConfig,
} from "./limits.js";
import { isLogLevel, type LogLevel } from "./observability/log.js";

/** Default TCP port (issue 2: `npm start` serves http://localhost:8080). */
export const DEFAULT_PORT = 8080;
/** Default bind address: loopback, so a development relay is never exposed by accident. */
export const DEFAULT_HOST = "127.0.0.1";
/** Default data directory (SQLite file and trust root), relative to the working directory. */
export const DEFAULT_DATA_DIR = "./data";
/** Default bind address of the metrics listener: loopback, so metrics are never public by accident. */
export const DEFAULT_METRICS_HOST = "127.0.0.1";
/** Shortest accepted metrics token: 128 bits as hex, so it cannot be guessed. */
export const MIN_METRICS_TOKEN_LENGTH = 32;
/** Prefix of the environment variables for limits, so generic names cannot collide. */
export const LIMIT_ENV_PREFIX = "RELAY_";

/** The resolved configuration of one relay process. */
export interface RelayConfig {
  readonly host: string;
  readonly port: number;
  /** Absolute data directory. */
  readonly dataDir: string;
  /** PostgreSQL connection URL; SQLite in `dataDir` when absent. Never printed (it may hold a password). */
  readonly databaseUrl?: string;
  /** PEM file paths; both or neither. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  readonly logLevel?: LogLevel;
  /** Static directory override; the server's default otherwise. */
  readonly staticDir?: string;
  readonly senderCertificateDays?: number;
  /**
   * Where `/metrics` is served (API-30): on its own listener when `port` is set, and/or on
   * the main port when only `token` is set; requests must carry `Bearer <token>` when set.
   * Absent: metrics are not served over HTTP at all.
   */
  readonly metrics?: { readonly host: string; readonly port?: number; readonly token?: string };
  /** Only the limits that were set; the relay fills in the rest. */
  readonly limits: Partial<RelayLimitsConfig>;
}

/** What {@link parseRelayConfig} decided. */
export type ParsedArgs =
  | { readonly kind: "run"; readonly config: RelayConfig }
  | { readonly kind: "help"; readonly text: string }
  | { readonly kind: "error"; readonly message: string };

type Env = Readonly<Record<string, string | undefined>>;

/** One configurable setting: its flag, its environment variable and how to apply a value. */
interface Setting {
  readonly flag: string;
  readonly env: string;
  readonly arg: string;
  readonly help: string;
  apply(value: string, into: MutableConfig): string | undefined; // error message or undefined
}

interface MutableConfig {
  host: string;
  port: number;
  dataDir: string;
  databaseUrl?: string;
  tlsCert?: string;
  tlsKey?: string;
  logLevel?: LogLevel;
  staticDir?: string;
  senderCertificateDays?: number;
  metricsHost: string;
  metricsPort?: number;
  metricsToken?: string;
  limits: Partial<Record<keyof RelayLimitsConfig, number>>;
}

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Parses "500ms", "30s", "15m", "12h", "7d" into milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d{1,12})(ms|s|m|h|d)$/.exec(text.trim());
  if (!match) return undefined;
  const ms = Number(match[1]) * (DURATION_UNITS_MS[match[2] ?? ""] ?? Number.NaN);
  return Number.isSafeInteger(ms) && ms > 0 ? ms : undefined;
}

function parsePositiveInt(text: string): number | undefined {
  if (!/^\d{1,15}$/.test(text.trim())) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

const kebab = (camel: string): string => camel.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
const screaming = (camel: string): string => kebab(camel).replace(/-/g, "_").toUpperCase();

/** Limits not exposed as their own flag, with the flag that covers them instead. */
const LIMITS_COVERED_ELSEWHERE: ReadonlySet<string> = new Set([
  "senderCertificateLifetimeMs", // --sender-certificate-days
]);

function limitSettings(): Setting[] {
  const out: Setting[] = [];
  for (const key of Object.keys(DEFAULT_RELAY_LIMITS) as (keyof RelayLimitsConfig)[]) {
    if (LIMITS_COVERED_ELSEWHERE.has(key)) continue;
    const fallback = DEFAULT_RELAY_LIMITS[key];
    if (key.endsWith("Ms")) {
      const base = key.slice(0, -2);
      out.push({
        flag: `--${kebab(base)}`,
        env: LIMIT_ENV_PREFIX + screaming(base),
        arg: "DURATION",
        help: `limit ${key} (default ${formatDuration(fallback)})`,
        apply(value, into) {
          const ms = parseDuration(value);
          if (ms === undefined) return "expects a duration such as 500ms, 30s, 15m, 12h or 7d";
          into.limits[key] = ms;
          return undefined;
        },
      });
    } else if (ZERO_ALLOWED_LIMITS[key] !== undefined) {
      const max = ZERO_ALLOWED_LIMITS[key];
      out.push({
        flag: `--${kebab(key)}`,
        env: LIMIT_ENV_PREFIX + screaming(key),
        arg: "N",
        help: `limit ${key}, 0 = off (default ${fallback}${key === "accountCreationWorkBits" ? `; ${PUBLIC_ACCOUNT_CREATION_WORK_BITS} when --host is not loopback` : ""})`,
        apply(value, into) {
          const n = /^\d{1,3}$/.test(value.trim()) ? Number(value) : Number.NaN;
          if (!(n >= 0 && n <= max)) return `expects an integer from 0 to ${max}`;
          into.limits[key] = n;
          return undefined;
        },
      });
    } else {
      out.push({
        flag: `--${kebab(key)}`,
        env: LIMIT_ENV_PREFIX + screaming(key),
        arg: "N",
        help: `limit ${key} (default ${fallback})`,
        apply(value, into) {
          const n = parsePositiveInt(value);
          if (n === undefined) return "expects a positive integer";
          into.limits[key] = n;
          return undefined;
        },
      });
    }
  }
  return out;
}

function formatDuration(ms: number): string {
  for (const unit of ["d", "h", "m", "s"] as const) {
    const size = DURATION_UNITS_MS[unit] ?? 1;
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

const BASE_SETTINGS: readonly Setting[] = [
  {
    flag: "--port",
    env: "PORT",
    arg: "PORT",
    help: `TCP port; 0 picks a free one (default ${DEFAULT_PORT})`,
    apply(value, into) {
      if (!/^\d{1,5}$/.test(value) || Number(value) > 65_535) return "expects a port 0..65535";
      into.port = Number(value);
      return undefined;
    },
  },
  {
    flag: "--host",
    env: "HOST",
    arg: "HOST",
    help: `interface to bind (default ${DEFAULT_HOST}; 0.0.0.0 or :: for all)`,
    apply(value, into) {
      if (value.trim() === "") return "expects a host name or address";
      into.host = value.trim();
      return undefined;
    },
  },
  {
    flag: "--data-dir",
    env: "DATA_DIR",
    arg: "DIR",
    help: `SQLite database and trust root, created if missing (default ${DEFAULT_DATA_DIR})`,
    apply(value, into) {
      if (value === "") return "expects a directory";
      into.dataDir = value;
      return undefined;
    },
  },
  {
    flag: "--database",
    env: "DATABASE_URL",
    arg: "URL",
    help: "PostgreSQL URL (postgres://user@host:port/db): several relays share it (default SQLite in the data directory)",
    apply(value, into) {
      if (!/^postgres(ql)?:\/\/./.test(value)) return "expects a postgres:// URL";
      into.databaseUrl = value;
      return undefined;
    },
  },
  {
    flag: "--tls-cert",
    env: "TLS_CERT",
    arg: "FILE",
    help: "PEM certificate chain; with --tls-key serves HTTPS (HTTP/2 and HTTP/1.1)",
    apply(value, into) {
      if (value === "") return "expects a file";
      into.tlsCert = value;
      return undefined;
    },
  },
  {
    flag: "--tls-key",
    env: "TLS_KEY",
    arg: "FILE",
    help: "PEM private key for --tls-cert",
    apply(value, into) {
      if (value === "") return "expects a file";
      into.tlsKey = value;
      return undefined;
    },
  },
  {
    flag: "--log-level",
    env: "LOG_LEVEL",
    arg: "LEVEL",
    help: "debug, info, warn, error or silent (default info)",
    apply(value, into) {
      if (!isLogLevel(value)) return "expects debug, info, warn, error or silent";
      into.logLevel = value;
      return undefined;
    },
  },
  {
    flag: "--static-dir",
    env: "STATIC_DIR",
    arg: "DIR",
    help: "files served on non-RPC paths (default web/dist when built, else web/)",
    apply(value, into) {
      if (value === "") return "expects a directory";
      into.staticDir = value;
      return undefined;
    },
  },
  {
    flag: "--sender-certificate-days",
    env: "SENDER_CERTIFICATE_DAYS",
    arg: "DAYS",
    help: "lifetime of issued sender certificates in days (default 7)",
    apply(value, into) {
      const n = parsePositiveInt(value);
      if (n === undefined || n > 365) return "expects a whole number of days, 1..365";
      into.senderCertificateDays = n;
      return undefined;
    },
  },
  {
    flag: "--metrics-port",
    env: "METRICS_PORT",
    arg: "PORT",
    help: "serve /metrics on this port, on its own listener; 0 picks a free one (default: no listener)",
    apply(value, into) {
      if (!/^\d{1,5}$/.test(value) || Number(value) > 65_535) return "expects a port 0..65535";
      into.metricsPort = Number(value);
      return undefined;
    },
  },
  {
    flag: "--metrics-host",
    env: "METRICS_HOST",
    arg: "HOST",
    help: `interface of the metrics listener (default ${DEFAULT_METRICS_HOST})`,
    apply(value, into) {
      if (value.trim() === "") return "expects a host name or address";
      into.metricsHost = value.trim();
      return undefined;
    },
  },
  {
    flag: "--metrics-token",
    env: "METRICS_TOKEN",
    arg: "TOKEN",
    help: `require "authorization: Bearer TOKEN" on /metrics; alone, serves /metrics on the main port (at least ${MIN_METRICS_TOKEN_LENGTH} characters; prefer the environment variable)`,
    apply(value, into) {
      if (!/^[\x21-\x7e]+$/.test(value) || value.length < MIN_METRICS_TOKEN_LENGTH) {
        return `expects at least ${MIN_METRICS_TOKEN_LENGTH} printable characters`;
      }
      into.metricsToken = value;
      return undefined;
    },
  },
];

/** Whether `host` names only the loopback interface (where the proof of work defaults to off). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost" || h === "::1") return true;
  return isIP(h) === 4 && h.startsWith("127.");
}

let cachedSettings: readonly Setting[] | undefined;
const settings = (): readonly Setting[] => (cachedSettings ??= [...BASE_SETTINGS, ...limitSettings()]);

/** The --help text: usage, every flag with its environment variable and default. */
export function relayHelpText(): string {
  const rows = settings().map((s) => {
    const left = `  ${s.flag} ${s.arg}`;
    return `${left.padEnd(40)} ${s.help} [env ${s.env}]`;
  });
  return [
    "Usage: npm start -- [options]     (or: node --import tsx relay/main.ts [options])",
    "",
    "Runs the SecureComm relay: Connect, gRPC and gRPC-Web on one port (HTTP/1.1 and h2c,",
    "or HTTPS with --tls-cert/--tls-key), gRPC reflection and health, and the web app;",
    "/metrics on a loopback listener with --metrics-port, or behind --metrics-token.",
    "Flags win over environment variables. Durations take a unit: 500ms, 30s, 15m, 12h, 7d.",
    "",
    "Options:",
    ...rows,
    `  ${"--help".padEnd(38)} print this text and exit`,
    "",
  ].join("\n");
}

/**
 * Parses command-line arguments (without `node` and the script) and the environment into a
 * relay configuration. Unknown flags, missing values, malformed values, stray arguments and a
 * TLS certificate without a key (or the reverse) are errors with a message naming the flag.
 */
export function parseRelayConfig(argv: readonly string[], env: Env, cwd = process.cwd()): ParsedArgs {
  const into: MutableConfig = {
    host: DEFAULT_HOST,
    port: DEFAULT_PORT,
    dataDir: DEFAULT_DATA_DIR,
    metricsHost: DEFAULT_METRICS_HOST,
    limits: {},
  };
  const byFlag = new Map(settings().map((s) => [s.flag, s]));

  for (const setting of settings()) {
    const value = env[setting.env];
    if (value === undefined || value === "") continue;
    const problem = setting.apply(value, into);
    if (problem) return { kind: "error", message: `environment variable ${setting.env} ${problem}` };
  }

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--help" || arg === "-h") return { kind: "help", text: relayHelpText() };
    if (!arg.startsWith("--")) return { kind: "error", message: `unexpected argument: ${arg}` };
    const eq = arg.indexOf("=");
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const setting = byFlag.get(flag);
    if (!setting) return { kind: "error", message: `unknown option: ${flag}` };
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else {
      value = argv[i + 1];
      i++;
    }
    if (value === undefined) return { kind: "error", message: `option ${flag} needs a value (${setting.arg})` };
    const problem = setting.apply(value, into);
    if (problem) return { kind: "error", message: `option ${flag} ${problem}` };
  }

  if ((into.tlsCert === undefined) !== (into.tlsKey === undefined)) {
    return { kind: "error", message: "--tls-cert and --tls-key must be given together" };
  }
  // Account creation costs work by default once the relay is reachable from other hosts.
  if (into.limits.accountCreationWorkBits === undefined && !isLoopbackHost(into.host)) {
    into.limits.accountCreationWorkBits = PUBLIC_ACCOUNT_CREATION_WORK_BITS;
  }
  const metricsWanted = into.metricsPort !== undefined || into.metricsToken !== undefined;
  const config: RelayConfig = {
    host: into.host,
    port: into.port,
    dataDir: resolve(cwd, into.dataDir),
    limits: into.limits,
    ...(into.databaseUrl !== undefined ? { databaseUrl: into.databaseUrl } : {}),
    ...(into.tlsCert !== undefined && into.tlsKey !== undefined
      ? { tls: { certFile: resolve(cwd, into.tlsCert), keyFile: resolve(cwd, into.tlsKey) } }
      : {}),
    ...(into.logLevel !== undefined ? { logLevel: into.logLevel } : {}),
    ...(into.staticDir !== undefined ? { staticDir: resolve(cwd, into.staticDir) } : {}),
    ...(into.senderCertificateDays !== undefined
      ? { senderCertificateDays: into.senderCertificateDays }
      : {}),
    ...(metricsWanted
      ? {
          metrics: {
            host: into.metricsHost,
            ...(into.metricsPort !== undefined ? { port: into.metricsPort } : {}),
            ...(into.metricsToken !== undefined ? { token: into.metricsToken } : {}),
          },
        }
      : {}),
  };
  return { kind: "run", config };
}
