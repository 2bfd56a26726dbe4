/**
 * The fan-out hub: which Subscribe streams follow which mailbox and which room, and the
 * hand-off of newly stored or ephemeral events to them (spec/10-relay-api.md API-11).
 *
 * Owns: the subscriber indexes and access-key rotation closing streams on the old key. Does
 * not own storage (events are published only after they are durable) or the wire format.
 * In-process: it holds this process's streams. Events reach it through a LiveFeed
 * (relay/hub/live-feed.ts), directly on SQLite or via database hints on PostgreSQL.
 */
import type { ConnectError } from "@connectrpc/connect";
import { constantTimeEqual } from "../auth.js";
import { keyOf, RoomClosedReason, type LiveMailboxEnvelope, type LiveRoomEvent, type Subscription } from "./subscription.js";

/** Delivery counts of one publish, for metrics. */
export interface PublishResult {
  delivered: number;
}

/** The in-process fan-out hub. */
export class Hub {
  readonly #mailboxes = new Map<string, Set<Subscription>>();
  readonly #rooms = new Map<string, Set<Subscription>>();
  readonly #all = new Set<Subscription>();

  /** Number of open subscriptions. */
  get size(): number {
    return this.#all.size;
  }

  /** Number of open subscriptions on one mailbox. */
  streamsFor(address: Uint8Array): number {
    return this.#mailboxes.get(keyOf(address))?.size ?? 0;
  }

  /** Whether any stream here follows the room with hex key `roomKey`. */
  followsRoom(roomKey: string): boolean {
    return this.#rooms.has(roomKey);
  }

  /** Whether any stream here follows the mailbox with hex key `mailboxKey`. */
  followsMailbox(mailboxKey: string): boolean {
    return this.#mailboxes.has(mailboxKey);
  }

  /**
   * For catching up after lost hints: each followed mailbox (hex key) with the lowest id any
   * of its streams has delivered, and each followed room with the lowest delivered seq.
   */
  cursors(): { mailboxes: Map<string, number>; rooms: Map<string, { roomId: Uint8Array; afterSeq: number }> } {
    const mailboxes = new Map<string, number>();
    for (const [key, subs] of this.#mailboxes) mailboxes.set(key, Math.min(...[...subs].map((s) => s.lastMailboxId)));
    const rooms = new Map<string, { roomId: Uint8Array; afterSeq: number }>();
    for (const [key, subs] of this.#rooms) {
      for (const sub of subs) {
        const room = sub.rooms.get(key);
        if (!room) continue;
        const seen = rooms.get(key);
        if (!seen || room.lastSeq < seen.afterSeq) rooms.set(key, { roomId: room.roomId, afterSeq: room.lastSeq });
      }
    }
    return { mailboxes, rooms };
  }

  /** Registers a subscription for its mailbox and every room it follows. */
  add(sub: Subscription): void {
    this.#all.add(sub);
    addTo(this.#mailboxes, sub.mailboxKey, sub);
    for (const roomKey of sub.rooms.keys()) addTo(this.#rooms, roomKey, sub);
    sub.onCutOff = (s) => this.remove(s);
  }

  /** Forgets a subscription. */
  remove(sub: Subscription): void {
    this.#all.delete(sub);
    removeFrom(this.#mailboxes, sub.mailboxKey, sub);
    for (const roomKey of sub.rooms.keys()) removeFrom(this.#rooms, roomKey, sub);
    // Rooms closed by rotateRoom left this index when they left sub.rooms.
  }

  /** Hands a stored mailbox envelope to the recipient's streams. */
  publishMailbox(address: Uint8Array, envelope: LiveMailboxEnvelope): PublishResult {
    let delivered = 0;
    for (const sub of [...(this.#mailboxes.get(keyOf(address)) ?? [])]) if (sub.pushMailbox(envelope)) delivered++;
    return { delivered };
  }

  /** Hands a stored or ephemeral room event to the room's streams. */
  publishRoom(roomId: Uint8Array, event: LiveRoomEvent): PublishResult {
    const roomKey = keyOf(roomId);
    let delivered = 0;
    for (const sub of [...(this.#rooms.get(roomKey) ?? [])]) if (sub.pushRoom(roomKey, event)) delivered++;
    return { delivered };
  }

  /**
   * After an access-key rotation: streams that follow the room with another key hash get
   * RoomClosed(ACCESS_DENIED) and stop following it.
   */
  rotateRoom(roomId: Uint8Array, newAccessKeyHash: Uint8Array): number {
    const roomKey = keyOf(roomId);
    const set = this.#rooms.get(roomKey);
    if (!set) return 0;
    let closed = 0;
    for (const sub of [...set]) {
      const room = sub.rooms.get(roomKey);
      if (room && !constantTimeEqual(room.accessKeyHash, newAccessKeyHash)) {
        sub.closeRoom(roomKey, RoomClosedReason.ACCESS_DENIED);
        set.delete(sub);
        closed++;
      }
    }
    if (set.size === 0) this.#rooms.delete(roomKey);
    return closed;
  }

  /** Tells the account's streams to refill one-time prekeys (API-29); returns how many streams. */
  notifyPreKeysLow(address: Uint8Array, handoutLimited: boolean): number {
    const subs = [...(this.#mailboxes.get(keyOf(address)) ?? [])];
    for (const sub of subs) sub.pushPreKeysLow(handoutLimited);
    return subs.length;
  }

  /** Ends every stream on one mailbox with `error` (account deleted). */
  failMailbox(address: Uint8Array, error: ConnectError): number {
    const subs = [...(this.#mailboxes.get(keyOf(address)) ?? [])];
    for (const sub of subs) sub.fail(error);
    return subs.length;
  }

  /** Ends every stream with `error` (shutdown). */
  failAll(error: ConnectError): void {
    for (const sub of [...this.#all]) sub.fail(error);
    this.#all.clear();
    this.#mailboxes.clear();
    this.#rooms.clear();
  }
}

function addTo(map: Map<string, Set<Subscription>>, key: string, sub: Subscription): void {
  let set = map.get(key);
  if (!set) {
    set = new Set();
    map.set(key, set);
  }
  set.add(sub);
}

function removeFrom(map: Map<string, Set<Subscription>>, key: string, sub: Subscription): void {
  const set = map.get(key);
  if (set && set.delete(sub) && set.size === 0) map.delete(key);
}
