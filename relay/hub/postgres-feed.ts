/**
 * The live feed of a relay process on PostgreSQL: every process's streams receive every
 * process's events (DESIGN §5, "Storage"; spec/10-relay-api.md API-11).
 *
 * Owns: one listening connection (LISTEN on the store's hint channel), turning hints into hub
 * publishes in the order they arrive, and catch-up. How it stays exactly-once-to-the-app:
 * - hints are small (`<kind><origin>:<key>[:<n>]`) and sent by the committing transaction, so
 *   PostgreSQL delivers them after commit and in commit order; the store makes one mailbox's
 *   ids and one room's seqs commit in increasing order, so hints arrive in cursor order;
 * - a hint from this process takes the envelope the handler announced (no read); a hint from
 *   another process is read from the store, but only when a stream here follows its target;
 * - every publish goes through the streams' cursors (relay/hub/subscription.ts), which drop
 *   what a stream already delivered, so catch-up may repeat freely;
 * - when the listening connection drops, hints sent meanwhile are lost: once LISTEN is back,
 *   every followed mailbox and room is read from the lowest cursor any stream here holds.
 *   A lost hint thus costs latency, never a message. A failed read schedules the same catch-up.
 * Does not own storage or the streams.
 */
import postgres, { type Sql } from "postgres";
import { relayError } from "../errors.js";
import type { Logger } from "../observability/log.js";
import { HINT_CHANNEL, parseHint, type Hint, type PostgresStore } from "../store/postgres-store.js";
import type { RoomEventRecord } from "../store/relay-store.js";
import type { Hub } from "./hub.js";
import type { LiveFeed } from "./live-feed.js";
import type { LiveMailboxEnvelope, LiveRoomEvent } from "./subscription.js";

/** How long a hint from this process waits for its handler's announcement before reading the row. */
const SELF_WAIT_MS = 200;
/** Envelopes announced by handlers whose hint has not arrived yet; beyond this the oldest go. */
const MAX_ANNOUNCED = 10_000;
/** Rows per catch-up read. */
const CATCH_UP_PAGE = 256;
/** Wait before retrying LISTEN or a failed catch-up. */
const RETRY_MS = 250;

/** Options of {@link createPostgresFeed}. */
export interface PostgresFeedOptions {
  store: PostgresStore;
  hub: Hub;
  logger: Logger;
}

type Resolved =
  | { kind: "mailbox"; address: Uint8Array; envelope: LiveMailboxEnvelope }
  | { kind: "room"; roomId: Uint8Array; event: LiveRoomEvent }
  | { kind: "rotated"; roomId: Uint8Array; hash: Uint8Array }
  | { kind: "deleted"; address: Uint8Array }
  | { kind: "prekeysLow"; address: Uint8Array; handoutLimited: boolean }
  | undefined;

/** Starts listening; resolves once LISTEN is in place. */
export async function createPostgresFeed(options: PostgresFeedOptions): Promise<LiveFeed> {
  const { store, hub, logger } = options;
  let closed = false;
  const announced = new Map<string, LiveMailboxEnvelope | LiveRoomEvent>();
  const waiters = new Map<string, (value: LiveMailboxEnvelope | LiveRoomEvent) => void>();
  let queue: Hint[] = [];
  let draining = false;
  let needCatchUp = false;
  let listening = false;

  const announce = (key: string, value: LiveMailboxEnvelope | LiveRoomEvent): void => {
    const waiter = waiters.get(key);
    if (waiter) {
      waiters.delete(key);
      waiter(value);
      return;
    }
    announced.set(key, value);
    if (announced.size > MAX_ANNOUNCED) {
      const oldest = announced.keys().next();
      if (!oldest.done) announced.delete(oldest.value);
    }
  };
  /** The handler's announcement for `key`, waiting briefly for it; undefined if it never comes. */
  const fromHandler = (key: string): Promise<LiveMailboxEnvelope | LiveRoomEvent | undefined> => {
    const ready = announced.get(key);
    if (ready) {
      announced.delete(key);
      return Promise.resolve(ready);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        waiters.delete(key);
        resolve(undefined);
      }, SELF_WAIT_MS);
      waiters.set(key, (v) => {
        clearTimeout(timer);
        resolve(v);
      });
    });
  };

  /**
   * Reads, once per room, the events other processes hinted in one batch: one query for a run
   * of seqs instead of one per hint. Keys `<room hex>:<seq>`.
   */
  const prefetchRooms = (batch: readonly Hint[]): Map<string, Promise<Map<number, RoomEventRecord>>> => {
    const ranges = new Map<string, { min: number; max: number }>();
    for (const h of batch) {
      if (h.kind !== "room" || h.origin === store.origin || !hub.followsRoom(h.key)) continue;
      const r = ranges.get(h.key);
      ranges.set(h.key, r ? { min: Math.min(r.min, h.seq), max: Math.max(r.max, h.seq) } : { min: h.seq, max: h.seq });
    }
    const out = new Map<string, Promise<Map<number, RoomEventRecord>>>();
    for (const [key, { min, max }] of ranges) {
      const rows = store.readRoomEvents(new Uint8Array(Buffer.from(key, "hex")), min - 1, Math.min(max - min + 1, CATCH_UP_PAGE));
      out.set(key, rows.then((list) => new Map(list.map((r) => [r.seq, r]))));
    }
    return out;
  };

  const resolve = async (h: Hint, rooms: Map<string, Promise<Map<number, RoomEventRecord>>>): Promise<Resolved> => {
    const self = h.origin === store.origin;
    const id = new Uint8Array(Buffer.from(h.key, "hex"));
    switch (h.kind) {
      case "mailbox": {
        const key = `m:${h.key}:${h.id}`;
        if (!hub.followsMailbox(h.key)) {
          announced.delete(key);
          return undefined;
        }
        const mine = self ? ((await fromHandler(key)) as LiveMailboxEnvelope | undefined) : undefined;
        if (mine) return { kind: "mailbox", address: id, envelope: mine };
        const [row] = await store.readMailbox(id, h.id - 1, 1);
        return row && row.id === h.id ? { kind: "mailbox", address: id, envelope: row } : undefined;
      }
      case "room": {
        const key = `r:${h.key}:${h.seq}`;
        if (!hub.followsRoom(h.key)) {
          announced.delete(key);
          return undefined;
        }
        const mine = self ? ((await fromHandler(key)) as LiveRoomEvent | undefined) : undefined;
        if (mine) return { kind: "room", roomId: id, event: mine };
        const prefetched = (await rooms.get(h.key))?.get(h.seq);
        if (prefetched) return { kind: "room", roomId: id, event: { ...prefetched, ephemeral: false } };
        const [row] = await store.readRoomEvents(id, h.seq - 1, 1);
        return row && row.seq === h.seq ? { kind: "room", roomId: id, event: { ...row, ephemeral: false } } : undefined;
      }
      case "ephemeral": {
        // This process delivered its own ephemeral events when the handler ran.
        if (self || !hub.followsRoom(h.key)) return undefined;
        const row = await store.getEphemeral(h.id);
        return row ? { kind: "room", roomId: row.roomId, event: { seq: 0, postedAtMs: row.postedAtMs, envelope: row.envelope, ephemeral: true } } : undefined;
      }
      case "rotated": {
        if (self || !hub.followsRoom(h.key)) return undefined;
        const room = await store.getRoom(id);
        return room ? { kind: "rotated", roomId: id, hash: room.accessKeyHash } : undefined;
      }
      case "deleted":
        return self ? undefined : { kind: "deleted", address: id };
      case "prekeysLow":
        // This process told its own streams when the fetch ran.
        return self || !hub.followsMailbox(h.key) ? undefined : { kind: "prekeysLow", address: id, handoutLimited: h.handoutLimited };
    }
  };

  const apply = (r: Resolved): void => {
    if (!r) return;
    if (r.kind === "mailbox") hub.publishMailbox(r.address, r.envelope);
    else if (r.kind === "room") hub.publishRoom(r.roomId, r.event);
    else if (r.kind === "rotated") hub.rotateRoom(r.roomId, r.hash);
    else if (r.kind === "prekeysLow") hub.notifyPreKeysLow(r.address, r.handoutLimited);
    else hub.failMailbox(r.address, relayError("BAD_TOKEN"));
  };

  /**
   * The one loop that publishes: each batch of hints is resolved concurrently and published in
   * arrival order; a catch-up runs between batches, never beside one. When a hint cannot be
   * resolved, the rest of its batch is dropped (publishing a later event first would move the
   * streams' cursors past the failed one) and a catch-up re-reads everything from the cursors.
   */
  const drain = async (): Promise<void> => {
    if (draining) return;
    draining = true;
    try {
      while ((queue.length > 0 || needCatchUp) && !closed) {
        if (needCatchUp) {
          // Only once LISTEN is back: rows committed after the catch-up's reads then come as hints.
          if (!listening) {
            await new Promise((r) => setTimeout(r, RETRY_MS));
            continue;
          }
          needCatchUp = false;
          try {
            await catchUp();
          } catch {
            needCatchUp = true;
            logger.warn("live catch-up failed; retrying");
            await new Promise((r) => setTimeout(r, RETRY_MS));
          }
          continue;
        }
        const batch = queue;
        queue = [];
        const rooms = prefetchRooms(batch);
        // A failed prefetch fails the hints that need it (below), not the loop.
        for (const p of rooms.values()) p.catch(() => undefined);
        const outcomes = await Promise.allSettled(batch.map((h) => resolve(h, rooms)));
        for (const o of outcomes) {
          if (o.status === "rejected") {
            needCatchUp = true;
            break;
          }
          apply(o.value);
        }
      }
    } finally {
      draining = false;
    }
  };

  const catchUp = async (): Promise<void> => {
    const { mailboxes, rooms } = hub.cursors();
    for (const [key, afterId] of mailboxes) {
      const address = new Uint8Array(Buffer.from(key, "hex"));
      for (let after = afterId; !closed; ) {
        const rows = await store.readMailbox(address, after, CATCH_UP_PAGE);
        for (const row of rows) hub.publishMailbox(address, row);
        if (rows.length < CATCH_UP_PAGE) break;
        after = rows[rows.length - 1]!.id;
      }
    }
    for (const { roomId, afterSeq } of rooms.values()) {
      for (let after = afterSeq; !closed; ) {
        const rows = await store.readRoomEvents(roomId, after, CATCH_UP_PAGE);
        for (const row of rows) hub.publishRoom(roomId, { ...row, ephemeral: false });
        if (rows.length < CATCH_UP_PAGE) break;
        after = rows[rows.length - 1]!.seq;
      }
    }
  };

  const onNotify = (channel: string, payload: string): void => {
    if (channel !== HINT_CHANNEL || closed) return;
    const h = parseHint(payload);
    if (!h) return;
    queue.push(h);
    void drain();
  };

  // The listening connection: one, never idle-closed; when it drops, LISTEN again and catch up.
  const listener: Sql = postgres(store.url, {
    max: 1,
    idle_timeout: 0,
    max_lifetime: null,
    onnotice: () => {},
    backoff: () => RETRY_MS / 1000,
    connection: { application_name: "securecomm-relay-listen" },
    // `onnotify` is honoured by the client but missing from its option types.
    ...({ onnotify: onNotify } as object),
    onclose: () => {
      if (closed || !listening) return;
      listening = false;
      // Hints sent from now until LISTEN is back are lost; nothing is published until the
      // catch-up after it has run (a later hint first would move cursors past a lost one).
      needCatchUp = true;
      logger.warn("hint listener disconnected; reconnecting");
      void relisten();
    },
  });
  const relisten = async (): Promise<void> => {
    while (!closed) {
      try {
        await listener.unsafe(`LISTEN ${HINT_CHANNEL}`);
        listening = true;
        logger.info("hint listener connected");
        void drain();
        return;
      } catch {
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    }
  };
  try {
    await listener.unsafe(`LISTEN ${HINT_CHANNEL}`);
  } catch (err) {
    closed = true;
    await listener.end({ timeout: 1 });
    throw err;
  }
  listening = true;

  const key = (letter: "m" | "r", id: Uint8Array, n: number): string => `${letter}:${Buffer.from(id).toString("hex")}:${n}`;

  return {
    mailboxStored: (address, envelope) => announce(key("m", address, envelope.id), envelope),
    roomStored: (roomId, event) => announce(key("r", roomId, event.seq), event),
    roomEphemeral: async (roomId, event) => {
      const delivered = hub.publishRoom(roomId, event).delivered;
      // Best effort beyond this process: a database hiccup loses the event for other processes only.
      try {
        await store.putEphemeral(roomId, event.envelope, event.postedAtMs);
      } catch {
        logger.warn("ephemeral event not relayed to other processes");
      }
      return delivered;
    },
    roomRotated: (roomId, hash) => void hub.rotateRoom(roomId, hash),
    preKeysLow: (address, handoutLimited) => {
      hub.notifyPreKeysLow(address, handoutLimited);
      // Streams of the account on other processes hear it through a hint; a lost one costs a
      // notice, never a message (the owner also refills when it next checks its counts).
      store.notifyPreKeysLow(address, handoutLimited).catch(() => logger.warn("prekeys-low notice not relayed to other processes"));
    },
    accountDeleted: (address) => void hub.failMailbox(address, relayError("BAD_TOKEN")),
    close: async () => {
      if (closed) return;
      closed = true;
      for (const w of waiters.values()) w(undefined as unknown as LiveMailboxEnvelope);
      waiters.clear();
      await listener.end({ timeout: 1 });
    },
  };
}
