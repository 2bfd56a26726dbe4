/**
 * Grouping a room's messages for display: consecutive messages from one sender close in time
 * share one header (name and time).
 *
 * Owns: the grouping rule and the in-memory message shape the room view renders. Does not own:
 * ordering (the relay's sequence numbers, applied in state/session.ts) or storage
 * (client/vault/room-history.ts).
 */

/**
 * Delivery state of one of our own messages, as the client's outbox reports it: queued
 * (waiting; `reason` says why after a failed attempt), sending, sent, or failed for good.
 */
import type { AttachmentView } from "../../../client/app/securecomm-client.js";

export type SendStatus = "queued" | "sending" | "sent" | "failed";

/** One line in a room's timeline, in memory only. */
export interface TimelineItem {
  /** Stable key for rendering (message id once known, else a local id). */
  readonly key: string;
  readonly kind: "message" | "event";
  /** Relay sequence number, once the relay ordered it. */
  readonly seq?: number;
  readonly messageId?: string;
  readonly sender: string;
  readonly senderName: string;
  readonly text: string;
  readonly atMs: number;
  readonly own: boolean;
  readonly status: SendStatus;
  /** Why a queued message waits or a failed one failed (the outbox's reason code). */
  readonly reason?: string;
  /** The message this one answers (spec/09-rooms.md RM-61). */
  readonly replyTo?: string;
  /** The text is the author's latest edit (RM-63). */
  readonly edited?: boolean;
  /** Deleted for everyone: `text` is empty, a tombstone shows (RM-64). */
  readonly deleted?: boolean;
  /** Reactions and who chose them (RM-62). */
  readonly reactions?: ReadonlyArray<{ readonly emoji: string; readonly members: ReadonlyArray<{ readonly address: string; readonly name: string }> }>;
  /** Files sent with the message (pointers; contents are downloaded when opened, RM-76). */
  readonly attachments?: readonly AttachmentView[];
}

/** One block of consecutive messages from one sender. */
export interface MessageGroup {
  readonly key: string;
  readonly kind: "message" | "event";
  readonly sender: string;
  readonly senderName: string;
  readonly own: boolean;
  readonly atMs: number;
  readonly items: readonly TimelineItem[];
}

/**
 * Longest pause inside one group. Five minutes matches how chat apps usually break a
 * conversation into visual turns.
 */
export const GROUP_GAP_MS = 5 * 60 * 1000;
/**
 * Most messages under one header, and the longest time one header covers: a long run from one
 * person repeats the name and time every so often, so a reader scrolling into the middle of it
 * still sees who is talking and when.
 */
export const MAX_GROUP_ITEMS = 10;
export const MAX_GROUP_SPAN_MS = 15 * 60 * 1000;

/**
 * Groups `items` (already in display order) into runs by sender and time. `breakBefore` (an
 * item key) always starts a new group, so a "New messages" line can sit right above it.
 */
export function groupMessages(items: readonly TimelineItem[], breakBefore?: string): MessageGroup[] {
  const groups: MessageGroup[] = [];
  let current: { key: string; kind: "message" | "event"; sender: string; senderName: string; own: boolean; atMs: number; items: TimelineItem[] } | undefined;
  for (const item of items) {
    const last = current?.items[current.items.length - 1];
    const joins =
      current !== undefined &&
      last !== undefined &&
      item.kind === "message" &&
      item.key !== breakBefore &&
      current.kind === "message" &&
      current.sender === item.sender &&
      item.atMs - last.atMs <= GROUP_GAP_MS &&
      current.items.length < MAX_GROUP_ITEMS &&
      item.atMs - current.atMs <= MAX_GROUP_SPAN_MS;
    if (joins && current) {
      current.items.push(item);
      continue;
    }
    current = {
      key: item.key,
      kind: item.kind,
      sender: item.sender,
      senderName: item.senderName,
      own: item.own,
      atMs: item.atMs,
      items: [item],
    };
    groups.push(current);
  }
  return groups;
}

/**
 * Inserts `item` in relay order: items with a sequence number by `seq`, items without one
 * (still pending) after all ordered ones, in arrival order. Returns a new array.
 */
export function insertInOrder(items: readonly TimelineItem[], item: TimelineItem): TimelineItem[] {
  const out = items.slice();
  if (item.seq === undefined) {
    out.push(item);
    return out;
  }
  let at = out.length;
  while (at > 0) {
    const prev = out[at - 1]!;
    if (prev.seq === undefined || prev.seq > item.seq) at -= 1;
    else break;
  }
  out.splice(at, 0, item);
  return out;
}
