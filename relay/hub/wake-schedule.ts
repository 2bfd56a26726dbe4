/**
 * One shared timer for every idle Subscribe stream's keep-alive deadline
 * (spec/10-relay-api.md API-12 KeepAlive).
 *
 * Owns: deadlines rounded up to a tick and grouped in buckets, with a single Node timer armed
 * for the earliest bucket. Does not own what a wake-up does (the stream sends KeepAlive).
 * Why: one `setTimeout` per idle stream, re-armed after every delivered message, costs a timer
 * object per stream and a timer-list insert per message; 40,000 streams share one timer here
 * (relay/hub/PERFORMANCE.md).
 */
import { performance } from "node:perf_hooks";

/**
 * Granularity of keep-alive deadlines: a wake-up fires at most this much after its deadline.
 * Small next to the 15 s keep-alive interval, large enough that streams opened together share
 * a bucket (at most interval / tick buckets exist at once).
 */
export const WAKE_TICK_MS = 50;

/** A set of deadlines served by one timer. */
export class WakeSchedule {
  readonly #tickMs: number;
  readonly #buckets = new Map<number, Set<() => void>>();
  #timer: NodeJS.Timeout | undefined;
  #armedFor = Number.POSITIVE_INFINITY;

  constructor(tickMs: number = WAKE_TICK_MS) {
    if (!(tickMs > 0)) throw new RangeError("tick must be positive");
    this.#tickMs = tickMs;
  }

  /** Deadlines waiting. */
  get pending(): number {
    let n = 0;
    for (const set of this.#buckets.values()) n += set.size;
    return n;
  }

  /**
   * Calls `fire` once, no sooner than `delayMs` from now and at most one tick later, unless the
   * returned cancel function runs first.
   */
  schedule(delayMs: number, fire: () => void): () => void {
    const due = Math.ceil((performance.now() + Math.max(0, delayMs)) / this.#tickMs) * this.#tickMs;
    let set = this.#buckets.get(due);
    if (!set) {
      set = new Set();
      this.#buckets.set(due, set);
    }
    // A fresh closure per call: the same function scheduled twice is two deadlines.
    const entry = (): void => fire();
    set.add(entry);
    if (due < this.#armedFor) this.#arm(due);
    return () => {
      const s = this.#buckets.get(due);
      if (s && s.delete(entry) && s.size === 0) this.#buckets.delete(due);
      if (this.#buckets.size === 0) this.#disarm();
    };
  }

  #arm(due: number): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#armedFor = due;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, due - performance.now()));
  }

  #disarm(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
    // Timers may fire a fraction of a millisecond before performance.now() reaches `due`.
    const now = performance.now() + 1;
    const ready: Set<() => void>[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const [due, set] of this.#buckets) {
      if (due <= now) {
        ready.push(set);
        this.#buckets.delete(due);
      } else if (due < next) next = due;
    }
    if (next !== Number.POSITIVE_INFINITY) this.#arm(next);
    for (const set of ready) for (const f of set) f();
  }
}

/** The process's schedule: every Subscription waits on it unless given another. */
export const sharedWakeSchedule = new WakeSchedule();
