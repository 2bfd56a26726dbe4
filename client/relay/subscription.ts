/**
 * The one `Subscribe` stream carrying the mailbox and every followed room (spec API-11..API-14).
 *
 * Owns: `Subscription`: connect with the current room cursors, hand each batch to the handler
 * and wait for it (events are processed one at a time, in stream order), acknowledge mailbox
 * envelopes only after the handler has committed their effects (beside the stream, not in its
 * way: ack-queue.ts), detect dead streams (no
 * message for 45 s, API-12), reconnect with jittered backoff until `stop()` (starting again
 * from the shortest delay after any stream that got as far as CaughtUp, however it ended, so
 * the time to reconnect after a relay restart stays near the relay's downtime however many
 * restarts came before; spec/12-delivery.md DL-05), and reconnect at once when the set of rooms changes. Does not own: what envelopes mean (client/room), cursors
 * (the handler supplies them on every connect, so a resume starts at each room's `last_seq`).
 */

import { Code, ConnectError } from "@connectrpc/connect";
import type {
  MailboxEnvelope,
  RoomClosedReason,
  RoomCursor,
  RoomEvent,
} from "../../gen/securecomm/relay/v1/messages_pb.js";
import { AckQueue } from "./ack-queue.js";
import { backoffDelayMs } from "./backoff.js";
import type { RelayClients } from "./relay-clients.js";

/** A client SHOULD reconnect after this much silence (API-12: keep-alives come every 15 s). */
export const STREAM_SILENCE_TIMEOUT_MS = 45_000;
export { MAX_ACK_IDS } from "./ack-queue.js";

/** Connection state of the stream. */
export type StreamState = "offline" | "connecting" | "online";

/** What the subscription calls; every handler may be async and is awaited before the next. */
export interface SubscriptionHandler {
  /** The rooms to follow, with cursors, read at every (re)connect. */
  cursors(): Array<Pick<RoomCursor, "roomId" | "accessKey" | "afterSeq">>;
  /** Called before every connect attempt (refresh tokens, certificates, prekeys). */
  beforeConnect(): Promise<void>;
  /** Processes mailbox envelopes; resolves with the ids whose effects are committed (to ack). */
  onMailbox(envelopes: MailboxEnvelope[]): Promise<bigint[]>;
  /** Processes a room's events in stream order. */
  onRoomEvents(roomId: Uint8Array, events: RoomEvent[]): Promise<void>;
  /** A room is no longer followed on this stream. */
  onRoomClosed(roomId: Uint8Array, reason: RoomClosedReason): Promise<void>;
  /** The backlog has been delivered. */
  onCaughtUp(): void;
  /** The relay asks for a prekey refill (API-29); must return at once (work runs aside). */
  onPreKeysLow(handoutLimited: boolean): void;
  /** The connection state changed. */
  onState(state: StreamState, error?: string): void;
}

/** Options of `Subscription`. */
export interface SubscriptionOptions {
  clients: RelayClients;
  handler: SubscriptionHandler;
  random: () => number;
  /** Replaceable timers (tests); default setTimeout. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** Counters of the reconnect loop (tests and diagnostics; never identifiers). */
export interface SubscriptionStats {
  /** Streams that reached CaughtUp. */
  healthyStreams: number;
  /** Connect attempts that failed or ended before CaughtUp. */
  failedAttempts: number;
  /** The backoff attempt index the next wait will use (0 = the shortest delay). */
  backoffAttempt: number;
  /**
   * For each stream that reached CaughtUp, how many failed attempts came right before it: the
   * cost of one outage, which must not grow with the number of earlier outages.
   */
  attemptsBeforeHealthy: number[];
  /**
   * For each stream that reached CaughtUp, the backoff attempt index its last wait used: it
   * follows the length of this outage only (it would keep growing across outages if the
   * backoff were reset only after clean ends).
   */
  backoffAtHealthy: number[];
}

/** The Subscribe loop (API-11) with reconnect and backoff. */
export class Subscription {
  readonly #o: SubscriptionOptions;
  #running = false;
  #loop: Promise<void> | undefined;
  #stream: AbortController | undefined;
  #stopper: AbortController | undefined;
  #resubscribe = false;
  #state: StreamState = "offline";
  #caughtUp = false;
  #attempt = 0;
  #failedInRow = 0;
  readonly #stats: SubscriptionStats = { healthyStreams: 0, failedAttempts: 0, backoffAttempt: 0, attemptsBeforeHealthy: [], backoffAtHealthy: [] };

  constructor(options: SubscriptionOptions) {
    this.#o = options;
  }

  /** The current connection state. */
  get state(): StreamState {
    return this.#state;
  }

  /** A snapshot of the loop's counters. */
  get stats(): SubscriptionStats {
    return { ...this.#stats, backoffAttempt: this.#attempt, attemptsBeforeHealthy: [...this.#stats.attemptsBeforeHealthy], backoffAtHealthy: [...this.#stats.backoffAtHealthy] };
  }

  /** Starts the loop (idempotent). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#stopper = new AbortController();
    this.#loop = this.#run(this.#stopper.signal);
  }

  /** Stops the loop and waits for it to end. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#stopper?.abort();
    this.#stream?.abort();
    await this.#loop;
    this.#setState("offline");
  }

  /** Reconnects now with fresh cursors (rooms were added, rotated or left). */
  resubscribe(): void {
    if (!this.#running) return;
    this.#resubscribe = true;
    this.#stream?.abort();
  }

  #setState(state: StreamState, error?: string): void {
    if (state === this.#state && error === undefined) return;
    this.#state = state;
    this.#o.handler.onState(state, error);
  }

  async #run(stop: AbortSignal): Promise<void> {
    this.#attempt = 0;
    while (this.#running) {
      this.#setState("connecting");
      this.#caughtUp = false;
      try {
        await this.#o.handler.beforeConnect();
        await this.#once(stop);
      } catch (e) {
        if (!this.#running) break;
        this.#setState("connecting", describe(e));
      }
      if (!this.#running) break;
      // A stream that reached CaughtUp was healthy, whether it then ended cleanly or broke
      // (a relay killed mid-stream): the next outage starts from the shortest delay again.
      if (this.#resubscribe) {
        this.#resubscribe = false;
        this.#attempt = 0;
        continue;
      }
      if (this.#caughtUp) this.#attempt = 0;
      else {
        this.#stats.failedAttempts++;
        this.#failedInRow++;
      }
      const delay = backoffDelayMs(this.#attempt++, this.#o.random);
      await (this.#o.sleep ?? sleep)(delay, stop);
    }
  }

  /**
   * One stream; sets `#caughtUp` when it got as far as CaughtUp. The stream is tied to `stop`
   * (DL-06): a `stop()` that came while `beforeConnect` ran opens no stream, and one that comes
   * later cancels the request at once rather than after the relay's next message (a keep-alive
   * can be 15 s away).
   */
  async #once(stop: AbortSignal): Promise<void> {
    if (stop.aborted) return;
    const h = this.#o.handler;
    const ctl = new AbortController();
    const onStop = () => ctl.abort();
    stop.addEventListener("abort", onStop);
    this.#stream = ctl;
    // A failed ack ends this stream as a failed call did before: the relay delivers the
    // envelopes again on the next one.
    let ackError: { error: unknown } | undefined;
    const acks = new AckQueue(
      (ids) => this.#o.clients.messages.ackMessages({ ids }),
      (error) => {
        ackError ??= { error };
        ctl.abort();
      },
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      if (timer !== undefined) clearTimeout(timer);
      timer = setTimeout(() => ctl.abort(), STREAM_SILENCE_TIMEOUT_MS);
    };
    try {
      arm();
      const rooms = h.cursors();
      const stream = this.#o.clients.messages.subscribe({ rooms }, { signal: ctl.signal });
      for await (const msg of stream) {
        arm();
        const ev = msg.event;
        switch (ev.case) {
          case "mailbox": {
            acks.add(await h.onMailbox(ev.value.envelopes));
            break;
          }
          case "room":
            await h.onRoomEvents(ev.value.roomId, ev.value.events);
            break;
          case "roomClosed":
            await h.onRoomClosed(ev.value.roomId, ev.value.reason);
            break;
          case "caughtUp":
            if (!this.#caughtUp) {
              this.#caughtUp = true;
              this.#stats.healthyStreams++;
              this.#stats.attemptsBeforeHealthy.push(this.#failedInRow);
              this.#stats.backoffAtHealthy.push(this.#attempt);
              this.#failedInRow = 0;
              this.#attempt = 0;
            }
            this.#setState("online");
            h.onCaughtUp();
            break;
          case "preKeysLow":
            h.onPreKeysLow(ev.value.handoutLimited);
            break;
          default:
            break;
        }
        if (!this.#running || this.#resubscribe || ackError !== undefined) break;
      }
      await acks.drain();
      if (ackError !== undefined) throw ackError.error;
      if (this.#running && !this.#resubscribe) this.#setState("connecting", "stream ended");
    } catch (e) {
      await acks.drain();
      if (ackError !== undefined && this.#running) throw ackError.error;
      if (this.#running && !this.#resubscribe) throw e;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      stop.removeEventListener("abort", onStop);
      ctl.abort();
      this.#stream = undefined;
    }
  }
}

/** Waits `ms`, or less: an abort of `signal` ends the wait at once and clears its timer (DL-06). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}

/** A short, fixed description of a connection failure (never request content). */
function describe(e: unknown): string {
  if (e instanceof ConnectError) return `relay error: ${Code[e.code]}`;
  return "connection failed";
}
