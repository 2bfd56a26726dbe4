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
import { BlobService } from "../../gen/securecomm/relay/v1/blobs_pb.js";
import { KeyService } from "../../gen/securecomm/relay/v1/keys_pb.js";
import { MessageService } from "../../gen/securecomm/relay/v1/messages_pb.js";
import { RelayInfoService } from "../../gen/securecomm/relay/v1/relay_info_pb.js";
import { RoomService } from "../../gen/securecomm/relay/v1/rooms_pb.js";
import { relayError } from "../errors.js";
import { FANOUT_HANDLER_OPTIONS } from "../hub/fanout-options.js";
import { Hub } from "../hub/hub.js";
import { createLocalFeed, type LiveFeed } from "../hub/live-feed.js";
import { createPostgresFeed } from "../hub/postgres-feed.js";
import { resolveLimits, type RelayLimitsConfig } from "../limits.js";
import { createLogger, type Logger, type LogLevel } from "../observability/log.js";
import { createRelayMetrics } from "../observability/relay-metrics.js";
import type { BlobStore } from "../store/blob-store.js";
import { openPostgresBlobStore } from "../store/postgres-blob-store.js";
import { openPostgresStore, type PostgresStore } from "../store/postgres-store.js";
import type { RelayStore, SweepResult } from "../store/relay-store.js";
import { openSqliteBlobStore } from "../store/sqlite-blob-store.js";
import { openSqliteStore } from "../store/sqlite-store.js";
import { loadClientCrypto } from "../trust/client-crypto.js";
import type { RelayCrypto } from "../trust/relay-crypto.js";
import { loadOrCreateTrust } from "../trust/trust-root.js";
import { createAccountService } from "./account-service.js";
import { createBlobService } from "./blob-service.js";
import { Lifecycle, storeRateLimiters, type RelayContext } from "./context.js";
import { createKeyService } from "./key-service.js";
import { createMessageService } from "./message-service.js";
import { createRelayInfoService } from "./relay-info-service.js";
import { createRoomService } from "./room-service.js";

export type { Logger } from "../observability/log.js";
export type { RelayLimitsConfig } from "../limits.js";

/** Options of {@link openRelay}. */
export interface RelayOptions {
  /** SQLite file and trust root live here (created if missing); unused with `databaseUrl`. */
  dataDir: string;
  /**
   * A PostgreSQL connection URL (`postgres://…`): the relay keeps everything in that database,
   * which any number of relay processes may share. SQLite in `dataDir` when absent.
   */
  databaseUrl?: string;
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
   * Wraps the store the relay opens (tests inject faults). Receives the SQLite store on
   * `dataDir` or the PostgreSQL store; returns the store the services use.
   */
  wrapStore?: (store: RelayStore) => RelayStore;
  /** Wraps the blob store the relay opens (tests tamper with stored blobs). */
  wrapBlobs?: (blobs: BlobStore) => BlobStore;
}

/** An open relay. */
export interface Relay {
  /** Registers every securecomm.relay.v1 service. */
  registerServices(router: ConnectRouter): void;
  /** Fully qualified names of the registered services. */
  readonly serviceNames: readonly string[];
  /** Prometheus text exposition of the relay's metrics (no identifiers). */
  renderMetrics(): string;
  /** Envelope bytes stored in all mailboxes and room logs (what `max_stored_bytes` bounds, API-31). */
  storedBytes(): Promise<number>;
  /** Counts a connection-guard event from the server (a fixed reason, never an address). */
  recordConnectionEvent(event: string): void;
  readonly logger: Logger;
  /** The resolved limits. */
  readonly limits: Readonly<RelayLimitsConfig>;
  /** Runs a retention sweep now (also runs every limits.sweepIntervalMs); `blobs` counts swept blobs (API-65). */
  sweep(): Promise<SweepResult & { blobs: number }>;
  /** Stops accepting new work, finishes in-flight writes, checkpoints the WAL and closes the DB. */
  close(): Promise<void>;
}

const SERVICES = [AccountService, KeyService, MessageService, RoomService, BlobService, RelayInfoService] as const;

const DAY_MS = 24 * 60 * 60 * 1000;
/** Framing and ids of an UploadBlobChunk request besides its data (API-60). */
const BLOB_REQUEST_OVERHEAD_BYTES = 64 * 1024;

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
  const onCommit = (writes: number, seconds: number): void => {
    metrics.writeBatchSize.observe(writes);
    metrics.commitSeconds.observe(seconds);
  };
  let postgres: PostgresStore | undefined;
  let opened: RelayStore;
  if (options.databaseUrl !== undefined) {
    postgres = await openPostgresStore({ url: options.databaseUrl, onCommit });
    opened = postgres;
  } else {
    opened = openSqliteStore({ dataDir: options.dataDir, onCommit });
  }
  const store = options.wrapStore ? options.wrapStore(opened) : opened;
  let blobs: BlobStore;
  try {
    const openedBlobs = options.databaseUrl !== undefined ? await openPostgresBlobStore({ url: options.databaseUrl }) : openSqliteBlobStore({ dataDir: options.dataDir });
    blobs = options.wrapBlobs ? options.wrapBlobs(openedBlobs) : openedBlobs;
  } catch (err) {
    await store.close();
    throw err;
  }
  const hub = new Hub();
  let trust;
  let feed: LiveFeed;
  try {
    trust = await loadOrCreateTrust(store, crypto);
    feed = postgres ? await createPostgresFeed({ store: postgres, hub, logger }) : createLocalFeed(hub);
  } catch (err) {
    await blobs.close();
    await store.close();
    throw err;
  }
  const lifecycle = new Lifecycle();
  const rc: RelayContext = {
    store,
    blobs,
    hub,
    limits,
    crypto,
    trust,
    metrics,
    logger,
    version: packageVersion(),
    now,
    lifecycle,
    feed,
    rateLimiters: storeRateLimiters(store, limits),
  };

  const sweep = async (): Promise<SweepResult & { blobs: number }> => {
    const swept = await store.sweep(now(), limits.mailboxRetentionMs, limits.roomRetentionMs);
    const result = { ...swept, blobs: await blobs.sweep(now(), limits.blobRetentionMs, limits.blobUploadWindowMs) };
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
    blob: createBlobService(rc),
    info: createRelayInfoService(rc),
  };
  let closing: Promise<void> | undefined;
  logger.info("relay opened", { schema: "v1", database: postgres ? "postgresql" : "sqlite" });

  return {
    registerServices(router) {
      router.service(AccountService, impls.account);
      router.service(KeyService, impls.key);
      router.service(MessageService, impls.message, FANOUT_HANDLER_OPTIONS);
      router.service(RoomService, impls.room);
      // Ciphertext does not compress: never spend CPU trying (API-64).
      // Chunks are larger than other requests (API-60), bounded by the configured chunk size.
      router.service(BlobService, impls.blob, { acceptCompression: [], readMaxBytes: limits.maxBlobChunkBytes + BLOB_REQUEST_OVERHEAD_BYTES });
      router.service(RelayInfoService, impls.info);
    },
    serviceNames: SERVICES.map((s) => s.typeName),
    renderMetrics: () => metrics.registry.render(),
    recordConnectionEvent: (event) => metrics.connectionEvents.inc({ event }),
    storedBytes: () => store.storedBytes(),
    logger,
    limits,
    sweep,
    close() {
      closing ??= (async () => {
        clearInterval(sweepTimer);
        const drained = lifecycle.drain();
        hub.failAll(relayError("SHUTTING_DOWN"));
        await drained;
        await feed.close();
        await blobs.close();
        await store.close();
        logger.info("relay closed");
      })();
      return closing;
    },
  };
}
