/**
 * The live feed: how the services announce a stored or ephemeral event so that every Subscribe
 * stream following its mailbox or room receives it, on this relay process or on any other
 * process sharing the database (spec/10-relay-api.md API-11, DESIGN §5 "Storage").
 *
 * Owns: the interface and its in-process implementation (one process on SQLite: the hub gets
 * the event directly, in commit order). The PostgreSQL implementation
 * (relay/hub/postgres-feed.ts) carries wake-up hints between processes with LISTEN/NOTIFY and
 * catches up by sequence. Does not own storage: every announced stored event is durable first.
 */
import { relayError } from "../errors.js";
import type { Hub } from "./hub.js";
import type { LiveMailboxEnvelope, LiveRoomEvent } from "./subscription.js";

/** Fan-out of events to every process's Subscribe streams. */
export interface LiveFeed {
  /** A mailbox envelope was committed (call after the append resolved). */
  mailboxStored(address: Uint8Array, envelope: LiveMailboxEnvelope): void;
  /** A room event was committed (call after the append resolved). */
  roomStored(roomId: Uint8Array, event: LiveRoomEvent): void;
  /**
   * An ephemeral room event (never stored): delivered best effort to every process's streams.
   * Resolves to the number of streams on this process that took it.
   */
  roomEphemeral(roomId: Uint8Array, event: LiveRoomEvent): Promise<number>;
  /** The room's access key was rotated to `newAccessKeyHash` (committed). */
  roomRotated(roomId: Uint8Array, newAccessKeyHash: Uint8Array): void;
  /**
   * The account's one-time prekeys run low (API-29, already rate-limited by the caller): every
   * stream of the account, on any process, is asked to refill. Best effort, like any notice.
   */
  preKeysLow(address: Uint8Array, handoutLimited: boolean): void;
  /** The account was deleted (committed): its streams end. */
  accountDeleted(address: Uint8Array): void;
  /** Stops listening. */
  close(): Promise<void>;
}

/** The feed of a single relay process: the hub is every stream there is. */
export function createLocalFeed(hub: Hub): LiveFeed {
  return {
    mailboxStored: (address, envelope) => void hub.publishMailbox(address, envelope),
    roomStored: (roomId, event) => void hub.publishRoom(roomId, event),
    roomEphemeral: (roomId, event) => Promise.resolve(hub.publishRoom(roomId, event).delivered),
    roomRotated: (roomId, hash) => void hub.rotateRoom(roomId, hash),
    preKeysLow: (address, handoutLimited) => void hub.notifyPreKeysLow(address, handoutLimited),
    // A deleted account's token no longer exists: its streams end as unauthenticated.
    accountDeleted: (address) => void hub.failMailbox(address, relayError("BAD_TOKEN")),
    close: () => Promise.resolve(),
  };
}
