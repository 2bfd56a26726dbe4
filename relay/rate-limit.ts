/**
 * Rate limiting for the relay: token buckets keyed by opaque strings, in memory. The SQLite
 * store keeps its buckets here (one process owns the file); the PostgreSQL store keeps the same
 * arithmetic in a table every process shares (relay/store/postgres-store.ts).
 *
 * Owns: the bucket arithmetic and the bound on memory (idle full buckets are pruned). Keys are
 * derived from account addresses, room ids or key hashes; they never leave this module and are
 * never logged. Does not own which calls are limited (the services decide, with the rates in
 * relay/limits.ts).
 */

import type { RateDecision } from "./store/relay-store.js";

export type { RateDecision } from "./store/relay-store.js";

/** A token-bucket rate limiter. */
export interface RateLimiter {
  /** Takes one token for `key` at `nowMs`. */
  take(key: string, nowMs: number): RateDecision;
  /** Number of keys currently tracked (for tests of the memory bound). */
  readonly size: number;
}

/** Most keys tracked per limiter before full buckets are pruned: bounds memory under key floods. */
export const MAX_TRACKED_KEYS = 100_000;

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/**
 * Creates a limiter allowing `perWindow` events per key per `windowMs` (a minute unless
 * given), with bursts up to `perWindow` (spec/10-relay-api.md, "Rate limits").
 */
export function createRateLimiter(perWindow: number, maxKeys: number = MAX_TRACKED_KEYS, windowMs = 60_000): RateLimiter {
  if (!(Number.isSafeInteger(perWindow) && perWindow > 0)) throw new RangeError("perWindow must be a positive integer");
  if (!(Number.isSafeInteger(windowMs) && windowMs > 0)) throw new RangeError("windowMs must be a positive integer");
  const capacity = perWindow;
  const refillPerMs = perWindow / windowMs;
  const buckets = new Map<string, Bucket>();

  const refill = (b: Bucket, nowMs: number): void => {
    const elapsed = Math.max(0, nowMs - b.updatedMs);
    b.tokens = Math.min(capacity, b.tokens + elapsed * refillPerMs);
    b.updatedMs = Math.max(b.updatedMs, nowMs);
  };
  const prune = (nowMs: number): void => {
    for (const [k, b] of buckets) {
      refill(b, nowMs);
      if (b.tokens >= capacity) buckets.delete(k);
    }
    // Still too many (a flood of distinct keys within a minute): drop the oldest entries.
    // Dropping forgives those keys; memory stays bounded, which matters more here.
    // Evict down to 90% so the next prune is many insertions away (no quadratic scans).
    const target = Math.floor(maxKeys * 0.9);
    while (buckets.size > target) {
      const first = buckets.keys().next();
      if (first.done) break;
      buckets.delete(first.value);
    }
  };

  return {
    take(key, nowMs) {
      let b = buckets.get(key);
      if (!b) {
        if (buckets.size >= maxKeys) prune(nowMs);
        b = { tokens: capacity, updatedMs: nowMs };
        buckets.set(key, b);
      } else {
        refill(b, nowMs);
      }
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return { allowed: true };
      }
      return { allowed: false, retryAfterMs: Math.max(1, Math.ceil((1 - b.tokens) / refillPerMs)) };
    },
    get size() {
      return buckets.size;
    },
  };
}
