/**
 * Reconnect delays: exponential backoff with full jitter.
 *
 * Owns: `backoffDelayMs` and its constants. The jitter source is injectable for tests; it is
 * never used for anything secret.
 */

/** First retry waits up to this long: quick enough that a relay restart is barely noticed. */
export const BACKOFF_BASE_MS = 250;
/** Never wait longer than this between attempts, so a returning relay is found within 15 s. */
export const BACKOFF_MAX_MS = 15_000;

/**
 * The delay before reconnect attempt `attempt` (0-based): uniform in
 * [cap/2, cap] with cap = min(max, base · 2^attempt), so clients do not reconnect in lockstep.
 */
export function backoffDelayMs(attempt: number, random: () => number): number {
  const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 20));
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.round(cap / 2 + (cap / 2) * r);
}
