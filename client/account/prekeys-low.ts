/**
 * Refilling one-time prekeys when the relay says they are being drained (spec API-29, ID-09).
 *
 * Owns: `PreKeysLowRefill`: on a `PreKeysLow` notice from the Subscribe stream it runs the
 * account's ordinary refill (`Account.refillPreKeys`, which tops up each one-time kind below the
 * relay's threshold), bounded: at most one refill in flight and at most one started per
 * `PREKEYS_LOW_MIN_INTERVAL_MS`, however many notices arrive (a relay sends at most one a minute
 * per account; a faulty or hostile one must not make the client upload in a loop). A notice with
 * `handout_limited` still checks the counts: the per-target budget is the relay's, so refilling
 * only helps when a kind really ran low. Does not own: the refill itself (account.ts), the stream
 * (client/relay/subscription.ts).
 */

/** At most one notice-driven refill starts per minute (API-29: notices come at most once a minute). */
export const PREKEYS_LOW_MIN_INTERVAL_MS = 60_000;

/** Dependencies of `PreKeysLowRefill`. */
export interface PreKeysLowRefillDeps {
  /** The account's refill (ID-09). */
  refill: () => Promise<unknown>;
  now: () => number;
}

/** Runs a bounded refill for each `PreKeysLow` notice. */
export class PreKeysLowRefill {
  readonly #d: PreKeysLowRefillDeps;
  #running: Promise<void> | undefined;
  #lastStartMs: number | undefined;
  #failures = 0;

  constructor(deps: PreKeysLowRefillDeps) {
    this.#d = deps;
  }

  /**
   * A `PreKeysLow` notice arrived. Starts a refill unless one is running or one started less
   * than a minute ago; returns whether it started one. Never throws: a failed refill is counted
   * and retried by the next connect's upkeep (`Account.upkeep`) or the next notice.
   */
  notice(): boolean {
    const now = this.#d.now();
    if (this.#running !== undefined) return false;
    if (this.#lastStartMs !== undefined && now - this.#lastStartMs < PREKEYS_LOW_MIN_INTERVAL_MS && now >= this.#lastStartMs) return false;
    this.#lastStartMs = now;
    this.#running = this.#d
      .refill()
      .then(
        () => undefined,
        () => void this.#failures++,
      )
      .finally(() => {
        this.#running = undefined;
      });
    return true;
  }

  /** Refills that failed (diagnostics; the reason is not kept). */
  get failures(): number {
    return this.#failures;
  }

  /** Resolves when no refill is running (shutdown, tests). */
  async idle(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }
}
