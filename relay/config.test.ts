import { resolve } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_DATA_DIR,
  DEFAULT_HOST,
  DEFAULT_PORT,
  parseDuration,
  parseRelayConfig,
  relayHelpText,
  type RelayConfig,
} from "./config.js";
import { DEFAULT_RELAY_LIMITS } from "./limits.js";

const run = (argv: string[], env: Record<string, string> = {}): RelayConfig => {
  const parsed = parseRelayConfig(argv, env, "/srv");
  if (parsed.kind !== "run") throw new Error(`expected a config, got ${parsed.kind}`);
  return parsed.config;
};
const error = (argv: string[], env: Record<string, string> = {}): string => {
  const parsed = parseRelayConfig(argv, env, "/srv");
  if (parsed.kind !== "error") throw new Error(`expected an error, got ${parsed.kind}`);
  return parsed.message;
};

describe("relay config", () => {
  it("defaults to 127.0.0.1:8080 with ./data", () => {
    const config = run([]);
    expect(config).toEqual({
      host: DEFAULT_HOST,
      port: DEFAULT_PORT,
      dataDir: resolve("/srv", DEFAULT_DATA_DIR),
      limits: {},
    });
  });

  it("chooses PostgreSQL with --database or DATABASE_URL (the flag wins) and SQLite without", () => {
    expect(run([]).databaseUrl).toBeUndefined();
    expect(run([], { DATABASE_URL: "postgres://relay@db:5432/sc" }).databaseUrl).toBe("postgres://relay@db:5432/sc");
    expect(run(["--database", "postgresql://a@b/c"], { DATABASE_URL: "postgres://relay@db/sc" }).databaseUrl).toBe("postgresql://a@b/c");
    expect(error(["--database", "mysql://a@b/c"])).toMatch(/--database expects a postgres:\/\/ URL/);
    expect(error([], { DATABASE_URL: "relay.db" })).toMatch(/DATABASE_URL expects a postgres:\/\/ URL/);
    // The URL (it may hold a password) is never echoed in an error.
    expect(error(["--database", "mysql://secret@b/c"])).not.toContain("secret");
  });

  it("reads flags in both --flag value and --flag=value forms", () => {
    const config = run(["--port", "0", "--data-dir=/tmp/x", "--host", "0.0.0.0", "--log-level", "warn"]);
    expect(config.port).toBe(0);
    expect(config.dataDir).toBe("/tmp/x");
    expect(config.host).toBe("0.0.0.0");
    expect(config.logLevel).toBe("warn");
  });

  it("reads the environment, and flags win over it", () => {
    const env = { PORT: "9000", DATA_DIR: "d", HOST: "::1", LOG_LEVEL: "error" };
    expect(run([], env)).toMatchObject({ port: 9000, dataDir: "/srv/d", host: "::1", logLevel: "error" });
    expect(run(["--port", "9001"], env).port).toBe(9001);
  });

  it("passes limits and retention times through, durations with units", () => {
    const config = run(["--mailbox-retention", "2d", "--max-envelope-bytes=4096"], {
      RELAY_ROOM_RETENTION: "12h",
    });
    expect(config.limits).toEqual({
      mailboxRetentionMs: 2 * 86_400_000,
      roomRetentionMs: 12 * 3_600_000,
      maxEnvelopeBytes: 4096,
    });
  });

  it("offers a flag for every limit (sender certificate lifetime as days)", () => {
    const help = relayHelpText();
    for (const key of Object.keys(DEFAULT_RELAY_LIMITS)) {
      if (key === "senderCertificateLifetimeMs") continue;
      const flag = "--" + key.replace(/Ms$/, "").replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
      expect(help).toContain(flag + " ");
    }
    expect(run(["--sender-certificate-days", "3"]).senderCertificateDays).toBe(3);
  });

  it("takes TLS files together and resolves them", () => {
    expect(run(["--tls-cert", "c.pem", "--tls-key", "k.pem"]).tls).toEqual({
      certFile: "/srv/c.pem",
      keyFile: "/srv/k.pem",
    });
    expect(error(["--tls-cert", "c.pem"])).toMatch(/together/);
  });

  it("rejects unknown flags, stray arguments, missing and malformed values", () => {
    expect(error(["--nope"])).toBe("unknown option: --nope");
    expect(error(["serve"])).toMatch(/unexpected argument/);
    expect(error(["--port"])).toMatch(/needs a value/);
    expect(error(["--port", "70000"])).toMatch(/--port/);
    expect(error(["--port", "-1"])).toMatch(/--port/);
    expect(error(["--log-level", "loud"])).toMatch(/--log-level/);
    expect(error(["--mailbox-retention", "30"])).toMatch(/duration/);
    expect(error(["--max-envelope-bytes", "0"])).toMatch(/positive integer/);
    expect(error([], { PORT: "eighty" })).toMatch(/PORT/);
  });

  it("answers --help with text naming every basic flag", () => {
    const parsed = parseRelayConfig(["--port", "1", "--help"], {});
    expect(parsed.kind).toBe("help");
    if (parsed.kind !== "help") return;
    for (const flag of ["--port", "--host", "--data-dir", "--tls-cert", "--tls-key", "--log-level"]) {
      expect(parsed.text).toContain(flag);
    }
  });

  it("parses durations exactly and rejects everything else", () => {
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("7d")).toBe(7 * 86_400_000);
    fc.assert(
      fc.property(fc.string(), (s) => {
        const ms = parseDuration(s);
        if (ms === undefined) return;
        expect(Number.isSafeInteger(ms) && ms > 0).toBe(true);
        expect(s.trim()).toMatch(/^\d+(ms|s|m|h|d)$/);
      }),
    );
  });

  it("never throws on arbitrary argument lists", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string(), fc.constantFrom("--port", "--host", "--tls-key", "--"))), (argv) => {
        const parsed = parseRelayConfig(argv, {});
        expect(["run", "help", "error"]).toContain(parsed.kind);
      }),
    );
  });
});

describe("relay config: abuse limits and metrics (API-27..API-31)", () => {
  it("API-28: account creation costs work by default off loopback, not on it; an explicit value wins", () => {
    expect(run([]).limits.accountCreationWorkBits).toBeUndefined();
    expect(run(["--host", "::1"]).limits.accountCreationWorkBits).toBeUndefined();
    expect(run(["--host", "0.0.0.0"]).limits.accountCreationWorkBits).toBe(20);
    expect(run(["--host", "0.0.0.0", "--account-creation-work-bits", "0"]).limits.accountCreationWorkBits).toBe(0);
    expect(run([], { HOST: "192.0.2.1", RELAY_ACCOUNT_CREATION_WORK_BITS: "12" }).limits.accountCreationWorkBits).toBe(12);
    expect(error(["--account-creation-work-bits", "33"])).toMatch(/--account-creation-work-bits expects an integer from 0 to 32/);
  });

  it("API-30: metrics are off unless a port or a token is given; the listener defaults to loopback", () => {
    expect(run([]).metrics).toBeUndefined();
    expect(run(["--metrics-port", "0"]).metrics).toEqual({ host: "127.0.0.1", port: 0 });
    const token = "x".repeat(32);
    expect(run([], { METRICS_TOKEN: token }).metrics).toEqual({ host: "127.0.0.1", token });
    expect(run(["--metrics-port", "9464", "--metrics-host", "10.0.0.2"]).metrics).toEqual({ host: "10.0.0.2", port: 9464 });
    expect(error(["--metrics-token", "short"])).toMatch(/--metrics-token expects at least 32/);
  });

  it("API-27/API-31: the new limits have flags and variables", () => {
    expect(run(["--max-connections-per-address", "8", "--h2-idle-timeout", "30s"], { RELAY_MAX_STORED_BYTES: "1000000" }).limits).toEqual({
      maxConnectionsPerAddress: 8,
      h2IdleTimeoutMs: 30_000,
      maxStoredBytes: 1_000_000,
    });
  });
});
