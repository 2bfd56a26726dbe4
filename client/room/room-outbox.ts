/**
 * The outbox worker: performs persisted jobs (pairwise sends, room-secret rotations) after the
 * state that caused them is committed (spec RM-12, RM-13 as built).
 *
 * Owns: running jobs in order — pairwise sends to different members up to
 * MAX_PARALLEL_SENDS at once (their relay calls overlap; jobs for one member stay in order, one
 * at a time), a rotation alone — skipping held ones (RM-20), retrying transient
 * relay failures on a timer, retrying jobs that fail with a ProtocolError (a rejected prekey
 * bundle, ID-08) a bounded number of times, reporting a job's first failure, and dropping a job
 * that cannot succeed. Does not own: what a job does (the engine's `perform`), job storage
 * (room-store.ts).
 */

import { isProtocolError } from "../errors.js";
import { isTransientRelayError } from "../relay/transient.js";
import type { StateStore } from "../store/state-store.js";
import { type OutboxJob, outboxJobs } from "./room-store.js";

/** Jobs failing with a protocol error (a rejected bundle) are tried this many times. */
export const MAX_DELIVERY_ATTEMPTS = 5;
/** Pause before retrying after a failure: long enough not to spin, short enough for chat. */
export const OUTBOX_RETRY_MS = 1000;
/**
 * Pairwise sends in flight at once. A joiner answers every member's Welcome (RM-08) and a
 * departure makes everyone send a new sender key (RM-12): one relay round trip after another
 * made joining a 100-member room wait about 100 round trips. Bounded, so one client never
 * floods the relay.
 */
export const MAX_PARALLEL_SENDS = 8;

/** Relay failures worth retrying later (shared with the post outbox: client/relay/transient.ts). */
const isTransient = isTransientRelayError;

/** What the worker needs from the engine. */
export interface OutboxDeps {
  state: StateStore;
  /** True while the job must wait (its recipient's identity changed and is not accepted). */
  held(job: OutboxJob): boolean;
  /** Performs the job and deletes `key` in one transaction; throws to leave it in place. */
  perform(key: string, job: OutboxJob): Promise<void>;
  /** Reports a job's first failure. */
  report(job: OutboxJob, error: unknown): void;
}

/** Runs the outbox. */
export class OutboxWorker {
  readonly #d: OutboxDeps;
  #running: Promise<void> | undefined;
  #again = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  /** Failed attempts per job (in memory: a restart grants a fresh set of retries). */
  readonly #attempts = new Map<string, number>();

  constructor(deps: OutboxDeps) {
    this.#d = deps;
  }

  /** Starts the worker if it is not running (or makes it run once more). */
  kick(): void {
    if (this.#closed) return;
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    this.#running = this.#run().finally(() => {
      this.#running = undefined;
      if (this.#again) {
        this.#again = false;
        this.kick();
      }
    });
  }

  /** Resolves when the worker is idle. */
  async idle(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  /** Number of jobs waiting. */
  size(): number {
    return outboxJobs(this.#d.state).length;
  }

  /** Stops timers; later kicks do nothing. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
  }

  async #run(): Promise<void> {
    for (;;) {
      if (this.#closed) return;
      let progressed = false;
      let transient = false;
      // One pass over the outbox in batches: each batch is the next runnable jobs in order,
      // pairwise sends to distinct members (a member's later jobs wait for the next batch, so
      // they keep their order), or one rotation alone.
      const jobs = outboxJobs(this.#d.state).filter(({ job }) => !this.#d.held(job));
      const done = new Set<string>();
      while (!transient && done.size < jobs.length) {
        const batch = nextBatch(jobs.filter(({ key }) => !done.has(key)));
        const outcomes = await Promise.allSettled(batch.map(({ key, job }) => this.#d.perform(key, job)));
        for (const [i, outcome] of outcomes.entries()) {
          const { key, job } = batch[i]!;
          done.add(key);
          if (outcome.status === "fulfilled") {
            this.#attempts.delete(key);
            progressed = true;
            continue;
          }
          const e: unknown = outcome.reason;
          if (isTransient(e)) {
            transient = true;
            continue;
          }
          const attempts = (this.#attempts.get(key) ?? 0) + 1;
          this.#attempts.set(key, attempts);
          if (attempts === 1) this.#d.report(job, e);
          if (isProtocolError(e) && attempts < MAX_DELIVERY_ATTEMPTS) {
            this.#retryLater();
            continue;
          }
          this.#attempts.delete(key);
          await this.#d.state.transaction(async (t) => t.delete(key));
          progressed = true;
        }
      }
      if (transient) {
        this.#retryLater();
        return;
      }
      if (!progressed) return;
      if (outboxJobs(this.#d.state).every(({ job }) => this.#d.held(job))) return;
    }
  }

  #retryLater(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.kick();
    }, OUTBOX_RETRY_MS);
  }
}

/**
 * The next jobs to run together, from `jobs` (runnable, in outbox order): a rotation at the
 * head runs alone; otherwise pairwise sends up to the first rotation, one per member (the
 * member's first), at most MAX_PARALLEL_SENDS.
 */
export function nextBatch<J extends { key: string; job: OutboxJob }>(jobs: readonly J[]): J[] {
  const first = jobs[0];
  if (first === undefined) return [];
  if (first.job.kind !== "pairwise") return [first];
  const batch: J[] = [];
  const members = new Set<string>();
  for (const entry of jobs) {
    if (entry.job.kind !== "pairwise") break;
    if (members.has(entry.job.to)) continue;
    members.add(entry.job.to);
    batch.push(entry);
    if (batch.length >= MAX_PARALLEL_SENDS) break;
  }
  return batch;
}
