/**
 * The post outbox's rules: what a person sends to a room waits here until the relay has
 * stored it (spec/12-delivery.md DL-01..DL-04; DESIGN.md §6).
 *
 * Owns: the entry record (`OutboxEntry`), the public view (`OutboxItem`), the reasons it
 * reports, and the pure transitions `(entry, input) → entry'`: which entries are due (one at
 * a time per room, in the order sent), what an attempt's outcome does (sent; queued again
 * with backoff for what a retry can fix; failed only for what it cannot), recognising our own
 * stored post, retry and discard. No I/O, no clock, no randomness of its own: the driver
 * (post-outbox-runner.ts) passes them in. Does not own: storage, timers, the relay or the room
 * engine.
 */

import { backoffDelayMs } from "../relay/backoff.js";

/** Where a message is on its way to the relay. */
export type OutboxStatus = "queued" | "sending" | "sent" | "failed";

/** Why a queued message waits; each clears by itself and the message goes out. */
export type OutboxWaitReason =
  /** The relay could not be reached, or the connection broke before it answered. */
  | "relay-unreachable"
  /** The relay answered with a server-side failure (it is restarting or unwell). */
  | "relay-error"
  /** The relay's rate limit or quota for this room or account was reached. */
  | "rate-limited"
  /** The room's access key changed and this client waits for the new one (spec RM-14). */
  | "access-denied"
  /** The room is still being joined: no member has answered yet (spec RM-08). */
  | "room-joining";

/** Why a message failed for good; a retry cannot fix these. */
export type OutboxFailureReason =
  /** We left the room or were removed from it (spec RM-10, RM-11). */
  | "not-a-member"
  /** The relay or this client does not know the room. */
  | "room-not-found"
  /** The relay refused the envelope itself (`invalid_argument`). */
  | "rejected";

/** A message in the outbox as an app shows it. */
export interface OutboxItem {
  /** Content.message_id, hex (also the id of the message once sent). */
  messageId: string;
  roomId: string;
  text: string;
  /** The message it answers (32 hex digits), spec/09-rooms.md RM-61. */
  replyTo?: string;
  /** When the person sent it (ms since the epoch); carried inside the message. */
  sentAtMs: number;
  status: OutboxStatus;
  /** Why it waits (status "queued" after a failed attempt) or why it failed (status "failed"). */
  reason?: OutboxWaitReason | OutboxFailureReason;
  /** Attempts that did not get the message stored, since it was queued or last retried. */
  attempts: number;
  /** The relay's sequence number, once sent. */
  seq?: number;
  /**
   * When it was stored, once sent: the relay's time when its answer carried one, else the
   * client's time when it found the post in the log (the answer was lost).
   */
  postedAtMs?: number;
}

/** One outbox entry as stored (encrypted at rest by the driver). */
export interface OutboxEntry extends OutboxItem {
  /** Storage key; keys sort in the order messages were sent. */
  key: string;
  /** Not attempted before this time (ms), unless the connection comes back first. */
  notBeforeMs: number;
  /**
   * True once an attempt's answer never came: the relay may have stored the post, so the
   * driver re-reads the room's log before posting again (and posts again under the same
   * message id, which members show once, spec RM-29).
   */
  maybeStored: boolean;
}

/** What one attempt to post did, as the driver classified it. */
export type PostResult =
  | { kind: "posted"; seq: number; postedAtMs: number }
  /** Not stored, or not known to be stored: try again. `maybeStored` when the request may have arrived. */
  | { kind: "wait"; reason: OutboxWaitReason; maybeStored: boolean }
  | { kind: "fail"; reason: OutboxFailureReason };

/**
 * A room still being joined is tried again after this long even without a sign that the
 * roster arrived (members-changed kicks the outbox at once).
 */
export const ROOM_JOINING_RECHECK_MS = 5_000;

/** A new entry for `text`, queued now. */
export function newEntry(key: string, messageId: string, roomId: string, text: string, nowMs: number, replyTo?: string): OutboxEntry {
  return { key, messageId, roomId, text, ...(replyTo === undefined ? {} : { replyTo }), sentAtMs: nowMs, status: "queued", attempts: 0, notBeforeMs: 0, maybeStored: false };
}

/** The public view of an entry (no storage details). */
export function itemOf(e: OutboxEntry): OutboxItem {
  const item: OutboxItem = { messageId: e.messageId, roomId: e.roomId, text: e.text, sentAtMs: e.sentAtMs, status: e.status, attempts: e.attempts };
  if (e.reason !== undefined) item.reason = e.reason;
  if (e.replyTo !== undefined) item.replyTo = e.replyTo;
  if (e.seq !== undefined) item.seq = e.seq;
  if (e.postedAtMs !== undefined) item.postedAtMs = e.postedAtMs;
  return item;
}

/**
 * The entries to attempt now: per room, the oldest entry not yet sent or failed (posts of one
 * room go out in the order sent, spec "Nothing lost" in DESIGN.md §4), if it is queued, its
 * time has come, its room is not busy, and — after a first attempt — the connection is up
 * (so a long outage costs one attempt, not one sender-key step every backoff period).
 * Entries come back oldest first.
 */
export function dueEntries(entries: readonly OutboxEntry[], nowMs: number, busyRooms: ReadonlySet<string>, online: boolean): OutboxEntry[] {
  const heads = new Map<string, OutboxEntry>();
  for (const e of [...entries].sort(byKey)) {
    if (e.status === "sent" || e.status === "failed" || heads.has(e.roomId)) continue;
    heads.set(e.roomId, e);
  }
  return [...heads.values()].filter(
    (e) => e.status === "queued" && !busyRooms.has(e.roomId) && e.notBeforeMs <= nowMs && (online || e.attempts === 0 || e.reason === "room-joining"),
  );
}

/**
 * The earliest future time an entry becomes due (for the driver's timer), if any waits on
 * time. Entries whose time has passed wait for something else (the connection, their room's
 * attempt in flight), which kicks the outbox itself: no timer, so an offline client does not
 * spin.
 */
export function nextWakeMs(entries: readonly OutboxEntry[], nowMs: number): number | undefined {
  let wake: number | undefined;
  for (const e of entries) {
    if (e.status !== "queued" || e.notBeforeMs <= nowMs) continue;
    wake = wake === undefined ? e.notBeforeMs : Math.min(wake, e.notBeforeMs);
  }
  return wake;
}

/** An attempt starts. */
export function attemptStarted(e: OutboxEntry): OutboxEntry {
  return { ...e, status: "sending" };
}

/** Applies an attempt's outcome. `random` is jitter in [0, 1) for the backoff only. */
export function attemptEnded(e: OutboxEntry, result: PostResult, nowMs: number, random: () => number): OutboxEntry {
  switch (result.kind) {
    case "posted":
      return sent(e, result.seq, result.postedAtMs);
    case "fail": {
      const { notBeforeMs: _n, ...rest } = e;
      return { ...rest, notBeforeMs: 0, status: "failed", reason: result.reason, attempts: e.attempts + 1 };
    }
    case "wait": {
      // Once an answer went missing, the log is checked before every later attempt.
      const maybeStored = e.maybeStored || result.maybeStored;
      if (result.reason === "room-joining") {
        return { ...e, status: "queued", reason: result.reason, maybeStored, notBeforeMs: nowMs + ROOM_JOINING_RECHECK_MS };
      }
      const attempts = e.attempts + 1;
      return { ...e, status: "queued", reason: result.reason, maybeStored, attempts, notBeforeMs: nowMs + backoffDelayMs(attempts - 1, random) };
    }
  }
}

/** The relay stored the message (its answer, or our own post recognised in the log). */
export function sent(e: OutboxEntry, seq: number, postedAtMs: number): OutboxEntry {
  const { reason: _r, ...rest } = e;
  return { ...rest, status: "sent", seq, postedAtMs };
}

/** The connection is back: whatever waits for the relay goes out now, in order. */
export function connectionBack(e: OutboxEntry): OutboxEntry {
  if (e.status !== "queued" || e.reason === "room-joining" || e.reason === "rate-limited") return e;
  return { ...e, notBeforeMs: 0 };
}

/** The person asked to try a failed or waiting message again now. */
export function retried(e: OutboxEntry): OutboxEntry {
  if (e.status !== "failed" && e.status !== "queued") return e;
  const { reason: _r, ...rest } = e;
  return { ...rest, status: "queued", attempts: 0, notBeforeMs: 0 };
}

/**
 * An entry loaded after a restart: one that was "sending" when the client stopped may have
 * been stored, so it is queued again and checked against the log before posting.
 */
export function afterRestart(e: OutboxEntry): OutboxEntry {
  return e.status === "sending" ? { ...e, status: "queued", notBeforeMs: 0, maybeStored: true } : e;
}

function byKey(a: OutboxEntry, b: OutboxEntry): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}
