/**
 * The CLI's inbox: room messages the client decrypted but no command handed to the caller,
 * kept in the home directory's encrypted store until a `listen` prints them.
 *
 * Why: the client processes the relay's whole backlog when it connects (and advances its
 * cursor and sender-key chains as it goes), so a message not printed by the run that decrypted
 * it can never be fetched again. `listen --count N` prints N and keeps the rest here; so do
 * commands that print no messages at all (`send`, `join`, ...), which also connect. A bot that
 * runs `listen --count 1` in a loop sees every message once, in order (issue 9, finding 6).
 *
 * Owns: the inbox's key range in the store (`cli/inbox/…`), its bound and its drop counter.
 * Does not own: what a command prints (commands.ts) or the room protocol.
 *
 * Delivery is at least once: a message is printed, then removed; a run killed between the two
 * prints it again next time (the `id` field lets a caller drop the duplicate). A run killed
 * after the client processed a message but before it was written here loses it (a window of
 * one store write).
 */

import { attachmentFromJson, attachmentToJson, type AttachmentView } from "../attachments/attachment-pointer.js";
import type { KeyValueStore, KeyValueWrite } from "../store/kv-store.js";
import type { ClientEvents } from "../app/securecomm-client.js";
import { messageTimeMs } from "../app/message-time.js";

/**
 * One message, or one edit, delete or reaction (spec/09-rooms.md RM-62..RM-64), as the client
 * emitted it.
 */
export type InboxMessage = ClientEvents["message"] | ClientEvents["message-updated"];

/** True for an edit, a delete or a reaction (they carry `kind`; messages do not). */
export function isUpdate(m: InboxMessage): m is ClientEvents["message-updated"] {
  return "kind" in m;
}

/** Key prefix of kept messages; a zero-padded counter follows, so keys sort in arrival order. */
export const INBOX_PREFIX = "cli/inbox/";
/** Key of the number of messages dropped because the inbox was full (decimal text). */
export const INBOX_DROPPED_KEY = "cli/inbox-dropped";
/** Digits of the counter in a key (2^53 fits in 16). */
const COUNTER_DIGITS = 16;
/**
 * Most messages kept at once: a home directory nobody listens on must not grow without bound.
 * Ten thousand short messages are a few megabytes in the store; past that, new messages are
 * counted as dropped and the next `listen` says how many.
 */
export const MAX_INBOX_MESSAGES = 10_000;

/** A kept message and the key it is stored under. */
export interface KeptMessage {
  readonly key: string;
  /** Undefined for an entry that does not parse (removed unprinted). */
  readonly message: InboxMessage | undefined;
}

/** The inbox of one open home directory. */
export interface Inbox {
  /** Kept messages of `roomId`, oldest first. */
  waiting(roomId: string): Promise<KeptMessage[]>;
  /** Removes messages once they were handed over. */
  remove(keys: readonly string[]): Promise<void>;
  /** Keeps `message` (written in the background, in order; `flush` waits for it). */
  keep(message: InboxMessage): void;
  /** Waits until every `keep` so far is written; rethrows the first write failure. */
  flush(): Promise<void>;
  /** How many messages were dropped since the last call, resetting the count. */
  takeDropped(): Promise<number>;
  /**
   * Deletes kept messages older than their room's disappearing-messages setting at `nowMs`
   * (spec RM-54; `retentionSeconds` by room id, 0 or absent keeps). Resolves with how many.
   */
  expire(retentionSeconds: ReadonlyMap<string, number>, nowMs: number): Promise<number>;
}

/**
 * RM-54: true when message `m` is older than its room's retention at `nowMs` (0 keeps). An
 * update (edit, delete, reaction) carries no time of its own: it goes with its target when
 * {@link Inbox.expire} drops that (and is dropped if its target is not kept at all).
 */
export function disappeared(m: InboxMessage, retentionSeconds: number | undefined, nowMs: number): boolean {
  if (isUpdate(m)) return false;
  return retentionSeconds !== undefined && retentionSeconds > 0 && messageTimeMs(m) < nowMs - retentionSeconds * 1000;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function keyOf(counter: number): string {
  return INBOX_PREFIX + String(counter).padStart(COUNTER_DIGITS, "0");
}

function parseMessage(bytes: Uint8Array): InboxMessage | undefined {
  try {
    const u = JSON.parse(decoder.decode(bytes)) as Partial<ClientEvents["message-updated"]>;
    if ("kind" in u) {
      const ok =
        (u.kind === "edit" || u.kind === "delete" || u.kind === "reaction") &&
        [u.roomId, u.messageId, u.sender, u.senderName].every((v) => typeof v === "string") &&
        typeof u.seq === "number" &&
        [u.own, u.known, u.edited, u.deleted].every((v) => typeof v === "boolean") &&
        Array.isArray(u.reactions);
      return ok ? (u as InboxMessage) : undefined;
    }
    const raw = u as Partial<ClientEvents["message"]> & { attachments?: unknown };
    // Attachments are kept as pointers in JSON (RM-76), never file contents.
    const attachments = Array.isArray(raw.attachments) ? raw.attachments.map(attachmentFromJson) : undefined;
    if (attachments !== undefined && attachments.some((a) => a === undefined)) return undefined;
    const m: Partial<ClientEvents["message"]> = { ...raw, ...(attachments !== undefined ? { attachments: attachments as AttachmentView[] } : {}) };
    const strings = [m.roomId, m.messageId, m.sender, m.senderName, m.text].every((v) => typeof v === "string");
    const numbers = [m.seq, m.sentAtMs, m.postedAtMs].every((v) => typeof v === "number");
    return strings && numbers && typeof m.own === "boolean" ? (m as InboxMessage) : undefined;
  } catch {
    return undefined;
  }
}

/** Opens the inbox kept in `store` (reads only the keys, to find the next counter). */
export async function openInbox(store: KeyValueStore): Promise<Inbox> {
  const existing = await store.list(INBOX_PREFIX);
  let count = existing.length;
  const last = existing.at(-1)?.[0];
  let next = last === undefined ? 0 : Number(last.slice(INBOX_PREFIX.length)) + 1;
  let queue: Promise<void> = Promise.resolve();
  let failure: unknown;

  const readDropped = async () => {
    const v = await store.get(INBOX_DROPPED_KEY);
    return v === undefined ? 0 : Number(decoder.decode(v)) || 0;
  };

  return {
    async waiting(roomId) {
      await queue;
      const kept: KeptMessage[] = [];
      for (const [key, value] of await store.list(INBOX_PREFIX)) {
        const message = parseMessage(value);
        // An unreadable entry cannot be handed over; it is removed with the room's others.
        if (message === undefined || message.roomId === roomId) kept.push({ key, message });
      }
      return kept;
    },
    async remove(keys) {
      if (keys.length === 0) return;
      await queue;
      await store.write(keys.map((key): KeyValueWrite => ({ key, value: undefined })));
      count = Math.max(0, count - keys.length);
    },
    keep(message) {
      // RM-64: a delete takes the message's text (and any kept edit's) out of the inbox too, so a
      // later listen prints the tombstone, never the words.
      if (isUpdate(message) && message.deleted) {
        queue = queue.then(async () => {
          const rewrites: KeyValueWrite[] = [];
          for (const [key, value] of await store.list(INBOX_PREFIX)) {
            const kept = parseMessage(value);
            if (kept === undefined || kept.roomId !== message.roomId || kept.messageId !== message.messageId) continue;
            const scrubbed = isUpdate(kept)
              ? (({ text: _t, ...rest }) => ({ ...rest, edited: false, deleted: true, reactions: [] }))(kept)
              : (({ reactions: _r, edited: _e, ...rest }) => ({ ...rest, text: "", deleted: true }))(kept);
            rewrites.push({ key, value: encoder.encode(JSON.stringify(scrubbed)) });
          }
          if (rewrites.length > 0) await store.write(rewrites);
        });
      }
      if (count >= MAX_INBOX_MESSAGES) {
        queue = queue.then(async () => {
          const dropped = (await readDropped()) + 1;
          await store.write([{ key: INBOX_DROPPED_KEY, value: encoder.encode(String(dropped)) }]);
        });
      } else {
        count++;
        const key = keyOf(next++);
        const value = encoder.encode(JSON.stringify({ ...message, ...(!isUpdate(message) && message.attachments ? { attachments: message.attachments.map(attachmentToJson) } : {}) }));
        queue = queue.then(() => store.write([{ key, value }]));
      }
      queue = queue.catch((e: unknown) => {
        failure ??= e;
      });
    },
    async flush() {
      await queue;
      if (failure !== undefined) throw failure;
    },
    async expire(retention, nowMs) {
      await queue;
      const gone: string[] = [];
      const updates: { key: string; update: ClientEvents["message-updated"] }[] = [];
      const kept = new Set<string>();
      for (const [key, value] of await store.list(INBOX_PREFIX)) {
        const message = parseMessage(value);
        if (message === undefined) continue;
        if (isUpdate(message)) updates.push({ key, update: message });
        else if (disappeared(message, retention.get(message.roomId), nowMs)) gone.push(key);
        else kept.add(`${message.roomId}/${message.messageId}`);
      }
      // Updates go with their target in rooms with disappearing messages (their own age is unknown).
      for (const { key, update } of updates) {
        if ((retention.get(update.roomId) ?? 0) > 0 && !kept.has(`${update.roomId}/${update.messageId}`)) gone.push(key);
      }
      if (gone.length > 0) await store.write(gone.map((key): KeyValueWrite => ({ key, value: undefined })));
      count = Math.max(0, count - gone.length);
      return gone.length;
    },
    async takeDropped() {
      await queue;
      const dropped = await readDropped();
      if (dropped > 0) await store.write([{ key: INBOX_DROPPED_KEY, value: undefined }]);
      return dropped;
    },
  };
}
