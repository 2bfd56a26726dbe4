/**
 * The relay's domain as one object: opens the store, trust root, hub, limits, logger and
 * metrics, and registers every securecomm.relay.v1 service on a Connect router
 * (spec/10-relay-api.md). This is the contract relay/main.ts and relay/server.ts build on.
 *
 * Owns: wiring and lifecycle (open, periodic retention sweeps, close). Does not own the
 * transport (relay/server.ts) or configuration parsing (relay/config.ts).
 */
import { readFileSync } from "node:fs";
import type { ConnectRouter } from "@connectrpc/connect";
import { AccountService } from "../../gen/securecomm/relay/v1/account_pb.js";
import { KeyService } from "../../gen/securecomm/relay/v1/keys_pb.js";
import { MessageService } from "../../gen/securecomm/relay/v1/messages_pb.js";
import { RelayInfoService } from "../../gen/securecomm/relay/v1/relay_info_pb.js";
import { RoomService } from "../../gen/securecomm/relay/v1/rooms_pb.js";
import { relayError } from "../errors.js";
import { Hub } from "../hub/hub.js";
import { resolveLimits, type RelayLimitsConfig } from "../limits.js";
import { createLogger, type Logger, type LogLevel } from "../observability/log.js";
import { createRelayMetrics } from "../observability/relay-metrics.js";
import { createRateLimiter } from "../rate-limit.js";
import type { RelayStore, SweepResult } from "../store/relay-store.js";
import { openSqliteStore } from "../store/sqlite-store.js";
import { loadClientCrypto } from "../trust/client-crypto.js";
import type { RelayCrypto } from "../trust/relay-crypto.js";
import { loadOrCreateTrust } from "../trust/trust-root.js";
import { createAccountService } from "./account-service.js";
import { Lifecycle, type RelayContext } from "./context.js";
import { createKeyService } from "./key-service.js";
import { createMessageService } from "./message-service.js";
import { createRelayInfoService } from "./relay-info-service.js";
import { createRoomService } from "./room-service.js";

export type { Logger } from "../observability/log.js";
export type { RelayLimitsConfig } from "../limits.js";

/** Options of {@link openRelay}. */
export interface RelayOptions {
  /** SQLite file and trust root live here (created if missing). */
  dataDir: string;
  /** Overrides of relay/limits.ts defaults (retention times, caps, rates). */
  limits?: Partial<RelayLimitsConfig>;
  /** Sender certificate lifetime in days (overrides limits.senderCertificateLifetimeMs). */
  senderCertificateDays?: number;
  logLevel?: LogLevel;
  /** Millisecond clock, for tests. */
  now?: () => number;
  /** Receives log lines (default: stderr), for tests that inspect logs. */
  logSink?: (line: string) => void;
  /** Cryptographic operations; defaults to client/server (tests may inject the oracle). */
  crypto?: RelayCrypto;
  /**
   * Wraps the store the relay opens (tests inject faults; another backend can be swapped in).
   * Receives the SQLite store on `dataDir`; returns the store the services use.
   */
  wrapStore?: (store: RelayStore) => RelayStore;
}

/** An open relay. */
export interface Relay {
  /** Registers every securecomm.relay.v1 service. */
  registerServices(router: ConnectRouter): void;
  /** Fully qualified names of the registered services. */
  readonly serviceNames: readonly string[];
  /** Prometheus text exposition of the relay's metrics (no identifiers). */
  renderMetrics(): string;
  /** Counts a connection-guard event from the server (a fixed reason, never an address). */
  recordConnectionEvent(event: string): void;
  readonly logger: Logger;
  /** The resolved limits. */
  readonly limits: Readonly<RelayLimitsConfig>;
  /** Runs a retention sweep now (also runs every limits.sweepIntervalMs). */
  sweep(): Promise<SweepResult>;
  /** Stops accepting new work, finishes in-flight writes, checkpoints the WAL and closes the DB. */
  close(): Promise<void>;
}

const SERVICES = [AccountService, KeyService, MessageService, RoomService, RelayInfoService] as const;

const DAY_MS = 24 * 60 * 60 * 1000;

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: unknown };
    return typeof pkg.version === "string" ? pkg.version : "0.0.0";
  } catch {
    return "0.0.0";
  }
}

/** Opens the relay's domain over `options.dataDir` (spec/10-relay-api.md). */
export async function openRelay(options: RelayOptions): Promise<Relay> {
  const overrides: Partial<RelayLimitsConfig> = { ...options.limits };
  if (options.senderCertificateDays !== undefined) {
    overrides.senderCertificateLifetimeMs = Math.round(options.senderCertificateDays * DAY_MS);
  }
  const limits = resolveLimits(overrides);
  const now = options.now ?? Date.now;
  const logger = createLogger({
    level: options.logLevel ?? "info",
    ...(options.logSink ? { sink: options.logSink } : {}),
  });
  const metrics = createRelayMetrics();
  const crypto = options.crypto ?? (await loadClientCrypto());
  const trust = await loadOrCreateTrust(options.dataDir, crypto);
  const sqlite = openSqliteStore({
    dataDir: options.dataDir,
    onCommit: (writes, seconds) => {
      metrics.writeBatchSize.observe(writes);
      metrics.commitSeconds.observe(seconds);
    },
  });
  const store = options.wrapStore ? options.wrapStore(sqlite) : sqlite;
  const hub = new Hub();
  const lifecycle = new Lifecycle();
  const rc: RelayContext = {
    store,
    hub,
    limits,
    crypto,
    trust,
    metrics,
    logger,
    version: packageVersion(),
    now,
    lifecycle,
    rateLimiters: {
      challenges: createRateLimiter(limits.maxChallengesPerMinute),
      proofs: createRateLimiter(limits.maxProofsPerMinute),
      senderCertificates: createRateLimiter(limits.maxSenderCertificatesPerMinute),
      bundleFetches: createRateLimiter(limits.maxBundleFetchesPerMinute),
      oneTimePreKeyHandouts: createRateLimiter(limits.maxOneTimePreKeyHandoutsPerHour, undefined, 60 * 60 * 1000),
      preKeysLowNotices: createRateLimiter(1),
      roomCreations: createRateLimiter(limits.maxRoomsCreatedPerMinute),
      roomPosts: createRateLimiter(limits.maxRoomPostsPerMinute),
      mailboxSends: createRateLimiter(limits.maxSendsPerMailboxPerMinute),
    },
  };

  const sweep = async (): Promise<SweepResult> => {
    const result = await store.sweep(now(), limits.mailboxRetentionMs, limits.roomRetentionMs);
    for (const [kind, n] of Object.entries(result)) if (n > 0) metrics.sweptRows.inc({ kind }, n);
    logger.debug("retention sweep", { ...result });
    return result;
  };
  const sweepTimer = setInterval(() => {
    if (!lifecycle.closing) sweep().catch(() => logger.error("retention sweep failed"));
  }, limits.sweepIntervalMs);
  sweepTimer.unref();
  await sweep();

  const impls = {
    account: createAccountService(rc),
    key: createKeyService(rc),
    message: createMessageService(rc),
    room: createRoomService(rc),
    info: createRelayInfoService(rc),
  };
  let closing: Promise<void> | undefined;
  logger.info("relay opened", { schema: "v1" });

  return {
    registerServices(router) {
      router.service(AccountService, impls.account);
      router.service(KeyService, impls.key);
      router.service(MessageService, impls.message);
      router.service(RoomService, impls.room);
      router.service(RelayInfoService, impls.info);
    },
    serviceNames: SERVICES.map((s) => s.typeName),
    renderMetrics: () => metrics.registry.render(),
    recordConnectionEvent: (event) => metrics.connectionEvents.inc({ event }),
    logger,
    limits,
    sweep,
    close() {
      closing ??= (async () => {
        clearInterval(sweepTimer);
        const drained = lifecycle.drain();
        hub.failAll(relayError("SHUTTING_DOWN"));
        await drained;
        await store.close();
        logger.info("relay closed");
      })();
      return closing;
    },
  };
}
