/**
 * One Subscribe stream's live state: the rooms it follows, its cursors, and its bounded
 * buffer of live events (spec/10-relay-api.md API-11..API-13).
 *
 * Owns: buffering, the slow-consumer cut-off, de-duplication against the backlog by cursor,
 * and coalescing of buffered events into stream messages. Does not own reading the backlog
 * from the store or writing to the wire (relay/services/subscribe.ts does both).
 *
 * Modes: in "backlog" mode stored events are not buffered (they are in the store and the
 * backlog reader will find them); a publish only marks the stream dirty so the reader reads
 * again. Ephemeral events are dropped until the stream is caught up (they are best effort).
 * In "live" mode everything is buffered up to the limits; beyond them the stream is cut off.
 */
import { ConnectError } from "@connectrpc/connect";
import { relayError } from "../errors.js";
import { RoomClosedReason } from "../../gen/securecomm/relay/v1/messages_pb.js";
import { sharedWakeSchedule, type WakeSchedule } from "./wake-schedule.js";

/** A mailbox envelope as fanned out. */
export interface LiveMailboxEnvelope {
  id: number;
  storedAtMs: number;
  envelope: Uint8Array;
}

/** A room event as fanned out (seq 0 for ephemeral). */
export interface LiveRoomEvent {
  seq: number;
  postedAtMs: number;
  envelope: Uint8Array;
  ephemeral: boolean;
}

/** One buffered item. */
export type StreamItem =
  | { kind: "mailbox"; envelope: LiveMailboxEnvelope }
  | { kind: "room"; roomKey: string; roomId: Uint8Array; event: LiveRoomEvent }
  | { kind: "closed"; roomId: Uint8Array; reason: RoomClosedReason }
  | { kind: "prekeysLow"; handoutLimited: boolean };

/** A followed room. */
export interface FollowedRoom {
  roomId: Uint8Array;
  accessKeyHash: Uint8Array;
  /** Highest sequence number delivered (or the resume point). */
  lastSeq: number;
  /**
   * A live event with this seq arrived after a gap and the stream has read the store for the
   * gap once; if the store had nothing in between (expired), the event is delivered anyway.
   */
  gapCheckedBefore?: number;
}

/** Limits of one subscription's buffer. */
export interface SubscriptionLimits {
  maxBufferEvents: number;
  maxBufferBytes: number;
}

/** Fixed per-item overhead counted against the byte budget (object, array slot, ids). */
const ITEM_OVERHEAD_BYTES = 64;

/** Hex key for maps; in memory only, never logged. */
export function keyOf(id: Uint8Array): string {
  return Buffer.from(id).toString("hex");
}

/** A Subscribe stream's state (spec/10-relay-api.md API-13). */
export class Subscription {
  readonly mailboxKey: string;
  readonly rooms = new Map<string, FollowedRoom>();
  mode: "backlog" | "live" | "closed" = "backlog";
  /** Set when a stored event was published during backlog mode. */
  dirty = false;
  lastMailboxId = 0;
  /** Why the stream must end, once it must. */
  error: ConnectError | undefined;
  /**
   * A followed room (hex key) whose next buffered event is not the next seq: the stream reads
   * the store from the room's cursor before taking more (a stream never skips a seq, however
   * events reached the hub).
   */
  gap: { roomKey: string; beforeSeq: number } | undefined;
  /** Called when the subscription cuts itself off, so the hub can forget it. */
  onCutOff: ((sub: Subscription) => void) | undefined;

  #queue: StreamItem[] = [];
  #head = 0;
  #bytes = 0;
  #waiter: ((outcome: "work" | "aborted") => void) | undefined;
  #watched: AbortSignal | undefined;
  readonly #limits: SubscriptionLimits;
  readonly #wakeups: WakeSchedule;

  constructor(mailboxAddress: Uint8Array, limits: SubscriptionLimits, wakeups: WakeSchedule = sharedWakeSchedule) {
    this.mailboxKey = keyOf(mailboxAddress);
    this.#limits = limits;
    this.#wakeups = wakeups;
  }

  /** Items buffered and not yet taken. */
  get bufferedItems(): number {
    return this.#queue.length - this.#head;
  }

  /** Bytes buffered (envelope bytes plus a fixed overhead per item). */
  get bufferedBytes(): number {
    return this.#bytes;
  }

  /** Offers a mailbox envelope; returns whether it was buffered. */
  pushMailbox(envelope: LiveMailboxEnvelope): boolean {
    if (this.mode === "closed") return false;
    if (this.mode === "backlog") {
      this.dirty = true;
      return false;
    }
    return this.#enqueue({ kind: "mailbox", envelope }, envelope.envelope.length);
  }

  /** Offers a room event; returns whether it was buffered. */
  pushRoom(roomKey: string, event: LiveRoomEvent): boolean {
    const room = this.rooms.get(roomKey);
    if (this.mode === "closed" || !room) return false;
    if (this.mode === "backlog") {
      if (!event.ephemeral) this.dirty = true;
      return false;
    }
    return this.#enqueue({ kind: "room", roomKey, roomId: room.roomId, event }, event.envelope.length);
  }

  /** Stops following a room and reports it in-stream (always buffered: at most one per room). */
  closeRoom(roomKey: string, reason: RoomClosedReason): void {
    const room = this.rooms.get(roomKey);
    if (!room || this.mode === "closed") return;
    this.rooms.delete(roomKey);
    this.#queue.push({ kind: "closed", roomId: room.roomId, reason });
    this.#bytes += ITEM_OVERHEAD_BYTES;
    this.#wake();
  }

  /** Asks the account to refill its one-time prekeys (API-29); buffered even in backlog mode. */
  pushPreKeysLow(handoutLimited: boolean): void {
    if (this.mode === "closed") return;
    this.#queue.push({ kind: "prekeysLow", handoutLimited });
    this.#bytes += ITEM_OVERHEAD_BYTES;
    this.#wake();
  }

  /** Ends the stream with `error` (slow consumer, shutdown); drops the buffer. */
  fail(error: ConnectError): void {
    if (this.mode === "closed") return;
    this.mode = "closed";
    this.error = error;
    this.#queue = [];
    this.#head = 0;
    this.#bytes = 0;
    this.onCutOff?.(this);
    this.#wake();
  }

  /**
   * Removes up to `max` buffered items, skipping ones already delivered from the backlog, and
   * advances the cursors.
   */
  take(max: number): StreamItem[] {
    const out: StreamItem[] = [];
    while (out.length < max && this.#head < this.#queue.length) {
      const item = this.#queue[this.#head] as StreamItem;
      if (item.kind === "room" && !item.event.ephemeral) {
        const room = this.rooms.get(item.roomKey);
        if (room && item.event.seq > room.lastSeq + 1 && room.gapCheckedBefore !== item.event.seq) {
          // Left in the buffer: taken again once the stream has read the gap from the store.
          this.gap = { roomKey: item.roomKey, beforeSeq: item.event.seq };
          break;
        }
      }
      this.#head++;
      this.#bytes -= ITEM_OVERHEAD_BYTES + (item.kind === "mailbox" ? item.envelope.envelope.length : item.kind === "room" ? item.event.envelope.length : 0);
      if (item.kind === "mailbox") {
        if (item.envelope.id <= this.lastMailboxId) continue;
        this.lastMailboxId = item.envelope.id;
      } else if (item.kind === "room" && !item.event.ephemeral) {
        const room = this.rooms.get(item.roomKey);
        if (!room || item.event.seq <= room.lastSeq) continue;
        room.lastSeq = item.event.seq;
      } else if (item.kind === "room") {
        if (!this.rooms.has(item.roomKey)) continue;
      }
      out.push(item);
    }
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return out;
  }

  /**
   * Resolves when there is something to take or the stream failed ("work"), after `timeoutMs`
   * ("timeout"), or when `signal` aborts ("aborted").
   */
  wait(timeoutMs: number, signal: AbortSignal): Promise<"work" | "timeout" | "aborted"> {
    if (signal.aborted) return Promise.resolve("aborted");
    if (this.bufferedItems > 0 || this.error) return Promise.resolve("work");
    this.#watch(signal);
    return new Promise((resolve) => {
      const done = (outcome: "work" | "timeout" | "aborted"): void => {
        cancel();
        this.#waiter = undefined;
        resolve(outcome);
      };
      // The shared schedule, not a timer per stream (relay/hub/PERFORMANCE.md).
      const cancel = this.#wakeups.schedule(timeoutMs, () => done("timeout"));
      this.#waiter = done;
    });
  }

  /**
   * Listens to `signal` once for the stream's life rather than once per wait: adding and
   * removing a listener after every delivered message was a visible share of the fan-out
   * profile (relay/hub/PERFORMANCE.md).
   */
  #watch(signal: AbortSignal): void {
    if (this.#watched === signal) return;
    this.#watched = signal;
    signal.addEventListener("abort", () => this.#waiter?.("aborted"), { once: true });
  }

  #enqueue(item: StreamItem, size: number): boolean {
    this.#queue.push(item);
    this.#bytes += ITEM_OVERHEAD_BYTES + size;
    if (this.bufferedItems > this.#limits.maxBufferEvents || this.#bytes > this.#limits.maxBufferBytes) {
      this.fail(relayError("SLOW_CONSUMER"));
      return false;
    }
    this.#wake();
    return true;
  }

  #wake(): void {
    const w = this.#waiter;
    if (w) w("work");
  }
}

export { RoomClosedReason };
