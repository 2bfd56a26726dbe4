/**
 * The shared state every relay service handler works with, and the handler wrappers that
 * give every RPC the same treatment: refuse new work while shutting down, track in-flight
 * calls so close() can wait for them, map failures through relay/errors.ts, count and time
 * calls in metrics, and log failures without identifiers.
 *
 * Owns: RelayContext and the `unary` / `serverStream` wrappers. Does not own any RPC's logic.
 */
import { setMaxListeners } from "node:events";
import { ConnectError, type HandlerContext } from "@connectrpc/connect";
import { Code } from "@connectrpc/connect";
import { relayError, toRelayError } from "../errors.js";
import type { Hub } from "../hub/hub.js";
import type { RelayLimitsConfig } from "../limits.js";
import type { Logger } from "../observability/log.js";
import type { RelayMetrics } from "../observability/relay-metrics.js";
import type { LiveFeed } from "../hub/live-feed.js";
import type { BlobStore } from "../store/blob-store.js";
import type { RateDecision, RelayStore } from "../store/relay-store.js";

const HOUR_MS = 60 * 60 * 1000;
import type { RelayCrypto } from "../trust/relay-crypto.js";
import type { TrustMaterial } from "../trust/trust-root.js";

/** One limited action's buckets, kept by the store (shared by every process on its database). */
export interface SharedRateLimiter {
  /** Takes one token for `key` (opaque, derived from ids, never logged) at `nowMs`. */
  take(key: string, nowMs: number): Promise<RateDecision>;
}

/** The rate limiters the services use, one per limited action. */
export interface RelayRateLimiters {
  challenges: SharedRateLimiter;
  proofs: SharedRateLimiter;
  senderCertificates: SharedRateLimiter;
  bundleFetches: SharedRateLimiter;
  /** One-time prekey handouts per target account per hour, across requesters (API-29). */
  oneTimePreKeyHandouts: SharedRateLimiter;
  /** PreKeysLow notices per account: at most one a minute (API-29). */
  preKeysLowNotices: SharedRateLimiter;
  roomCreations: SharedRateLimiter;
  roomPosts: SharedRateLimiter;
  mailboxSends: SharedRateLimiter;
  /** Blob uploads started per room (API-61). */
  blobUploads: SharedRateLimiter;
}

/** The limiters of `limits`, each a bucket family in `store`. */
export function storeRateLimiters(store: RelayStore, limits: RelayLimitsConfig): RelayRateLimiters {
  const of = (bucket: string, perWindow: number, windowMs?: number): SharedRateLimiter => ({
    take: (key, nowMs) => store.takeRateToken(bucket, key, perWindow, nowMs, windowMs),
  });
  return {
    challenges: of("challenges", limits.maxChallengesPerMinute),
    proofs: of("proofs", limits.maxProofsPerMinute),
    senderCertificates: of("sender_certificates", limits.maxSenderCertificatesPerMinute),
    bundleFetches: of("bundle_fetches", limits.maxBundleFetchesPerMinute),
    oneTimePreKeyHandouts: of("one_time_prekey_handouts", limits.maxOneTimePreKeyHandoutsPerHour, HOUR_MS),
    preKeysLowNotices: of("prekeys_low_notices", 1),
    roomCreations: of("room_creations", limits.maxRoomsCreatedPerMinute),
    roomPosts: of("room_posts", limits.maxRoomPostsPerMinute),
    mailboxSends: of("mailbox_sends", limits.maxSendsPerMailboxPerMinute),
    blobUploads: of("blob_uploads", limits.maxBlobUploadsPerMinute),
  };
}

/** Everything a handler needs. */
export interface RelayContext {
  readonly store: RelayStore;
  /** Encrypted attachments (API-60..API-66). */
  readonly blobs: BlobStore;
  /** This process's streams. */
  readonly hub: Hub;
  /** Announces events to every process's streams (relay/hub/live-feed.ts). */
  readonly feed: LiveFeed;
  readonly limits: RelayLimitsConfig;
  readonly crypto: RelayCrypto;
  readonly trust: TrustMaterial;
  readonly metrics: RelayMetrics;
  readonly logger: Logger;
  readonly rateLimiters: RelayRateLimiters;
  readonly version: string;
  now(): number;
  readonly lifecycle: Lifecycle;
}

/** Tracks in-flight calls and the shutdown signal. */
export class Lifecycle {
  #closing = false;
  #inFlight = 0;
  #idle: (() => void)[] = [];
  readonly #shutdown = new AbortController();

  constructor() {
    // Every open Subscribe stream listens for shutdown: thousands of listeners are expected.
    setMaxListeners(0, this.#shutdown.signal);
  }

  /** Aborted when close() begins; streams end on it. */
  get shutdownSignal(): AbortSignal {
    return this.#shutdown.signal;
  }

  get closing(): boolean {
    return this.#closing;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Marks a call as started; throws SHUTTING_DOWN once closing. */
  enter(): void {
    if (this.#closing) throw relayError("SHUTTING_DOWN");
    this.#inFlight++;
  }

  /** Marks a call as finished. */
  leave(): void {
    this.#inFlight--;
    if (this.#inFlight === 0) for (const f of this.#idle.splice(0)) f();
  }

  /** Stops accepting work and resolves when no call is in flight. */
  drain(): Promise<void> {
    this.#closing = true;
    this.#shutdown.abort();
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }
}

function codeLabel(err: unknown): string {
  const code = err instanceof ConnectError ? err.code : Code.Internal;
  return Code[code] ?? "Unknown";
}

/** Wraps a unary handler with lifecycle, error mapping, metrics and logging. */
export function unary<I, O>(
  rc: RelayContext,
  fn: (req: I, ctx: HandlerContext) => Promise<O>,
): (req: I, ctx: HandlerContext) => Promise<O> {
  return async (req, ctx) => {
    const method = ctx.method.name;
    const started = performance.now();
    rc.lifecycle.enter();
    try {
      const res = await fn(req, ctx);
      rc.metrics.rpcs.inc({ method, code: "OK" });
      return res;
    } catch (err) {
      const mapped = toRelayError(err);
      rc.metrics.rpcs.inc({ method, code: codeLabel(mapped) });
      if (mapped.code === Code.Internal) rc.logger.error("rpc failed", { method, error: err instanceof Error ? err.name : "unknown" });
      else rc.logger.debug("rpc rejected", { method, code: codeLabel(mapped) });
      throw mapped;
    } finally {
      rc.metrics.rpcSeconds.observe((performance.now() - started) / 1000, { method });
      rc.lifecycle.leave();
    }
  };
}

/**
 * Wraps a server-streaming handler with error mapping, metrics and logging. Streams are not
 * counted as in-flight writes: they hold no write and end when shutdown begins.
 */
export function serverStream<I, O>(
  rc: RelayContext,
  fn: (req: I, ctx: HandlerContext) => AsyncIterable<O>,
): (req: I, ctx: HandlerContext) => AsyncIterable<O> {
  return async function* (req, ctx) {
    const method = ctx.method.name;
    if (rc.lifecycle.closing) {
      rc.metrics.rpcs.inc({ method, code: codeLabel(relayError("SHUTTING_DOWN")) });
      throw relayError("SHUTTING_DOWN");
    }
    try {
      yield* fn(req, ctx);
      rc.metrics.rpcs.inc({ method, code: "OK" });
    } catch (err) {
      const mapped = toRelayError(err);
      rc.metrics.rpcs.inc({ method, code: codeLabel(mapped) });
      if (mapped.code === Code.Internal) rc.logger.error("stream failed", { method, error: err instanceof Error ? err.name : "unknown" });
      throw mapped;
    }
  };
}
