/**
 * Replies, reactions, edits and deletes as a pure fold (spec/09-rooms.md RM-60..RM-66): what a
 * member keeps about one `text` message (its authenticated author and every later operation on
 * it, one slot per member and kind) and the view that follows.
 *
 * Every rule resolves by the relay's `seq`, never by arrival order (RM-65): the latest edit of
 * the author wins, a delete of the author wins over every edit and reaction, each member's
 * latest reaction wins. So the view is a function of the set of operations applied, whatever
 * order they arrive in (held messages, RM-16, arrive late; a target may arrive after its edit),
 * which `message-annotations.test.ts` checks with fast-check over permutations.
 *
 * Owns: the record format (`TrackedMessage`, JSON in the state store, keyed by room.
 * `room-store.ts` owns the key), the author check (RM-63, RM-64: from the sender the driver
 * authenticated, the owner of the sender key that decrypted the operation) and the view.
 * Does not own: decryption or the store (room-engine.ts), the handler table (room-core.ts),
 * how a reply is quoted (the web app and the CLI, from their own history, RM-61).
 */
import { utf8 } from "../crypto/bytes.js";
import { MESSAGE_ID_LENGTH } from "./room-content.js";

/**
 * RM-62: a reaction's emoji is 1..32 UTF-8 bytes: the longest emoji ZWJ sequences in use
 * (families, flags with tags) are under 30 bytes; anything longer is not one emoji.
 */
export const MAX_REACTION_EMOJI_BYTES = 32;

/**
 * RM-66: per room, operations and authors are kept for the newest this many messages (by the
 * seq of their last operation); older records are forgotten, so an edit of a message that old
 * waits as one of an unseen target. Matches RM-29's MAX_SEEN_MESSAGE_IDS.
 */
export const MAX_TRACKED_MESSAGES = 10_000;

/** The text a tombstone shows (RM-64). */
export const TOMBSTONE_TEXT = "This message was deleted";

/** What a member keeps about one target message id (RM-60). Addresses are the members' own. */
export interface TrackedMessage {
  /** The author (the authenticated sender of the `text` with this id) once seen, and its seq. */
  author?: string;
  seq?: number;
  /** Per sender: its latest edit (RM-63). Only the author's survives once the author is known. */
  edits: Record<string, { seq: number; text: string }>;
  /** Per sender: its first delete (RM-64). Only the author's survives once the author is known. */
  deletes: Record<string, number>;
  /** Per member: its latest reaction, `emoji` empty when taken back (RM-62). */
  reactions: Record<string, { seq: number; emoji: string; name: string }>;
  /** The highest seq of anything applied (RM-66 eviction order). */
  lastSeq: number;
}

/** One authenticated operation on a target, at its seq in the room log. */
export type Annotation =
  | { kind: "text"; seq: number; sender: string }
  | { kind: "edit"; seq: number; sender: string; text: string }
  | { kind: "delete"; seq: number; sender: string }
  | { kind: "reaction"; seq: number; sender: string; name: string; emoji: string; remove: boolean };

/** One member's reaction as shown: an emoji and who chose it (addresses and names, by seq). */
export interface ReactionView {
  emoji: string;
  members: Array<{ address: string; name: string }>;
}

/** What a target shows (RM-61..RM-64). `known` is false while its `text` was not seen. */
export interface MessageView {
  known: boolean;
  /** The author's latest edit (undefined when never edited or deleted). */
  editedText?: string;
  edited: boolean;
  deleted: boolean;
  reactions: ReactionView[];
}

/** The outcome of applying one operation. */
export interface AnnotationStep {
  record: TrackedMessage;
  /** RM-63, RM-64: edits and deletes by someone other than the author, reported and dropped. */
  forged: Array<{ kind: "edit" | "delete"; sender: string }>;
  /** RM-60: a `text` reusing an id another member's text already has: reported, not shown. */
  reusedId: boolean;
  /** False when nothing visible changed (a duplicate, an ignored edit after a delete). */
  changed: boolean;
}

/** An empty record. */
export function emptyTracked(): TrackedMessage {
  return { edits: {}, deletes: {}, reactions: {}, lastSeq: 0 };
}

/** RM-60: a target id is exactly MESSAGE_ID_LENGTH bytes. */
export function validTargetId(id: Uint8Array): boolean {
  return id.length === MESSAGE_ID_LENGTH;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** RM-62: an emoji is 1..MAX_REACTION_EMOJI_BYTES UTF-8 bytes without control characters or whitespace. */
export function validEmoji(emoji: string): boolean {
  const n = utf8(emoji).length;
  return n >= 1 && n <= MAX_REACTION_EMOJI_BYTES && !CONTROL.test(emoji) && !/\s/.test(emoji);
}

function copy(r: TrackedMessage): TrackedMessage {
  return { ...r, edits: { ...r.edits }, deletes: { ...r.deletes }, reactions: { ...r.reactions } };
}

function deletedBy(r: TrackedMessage, member: string): boolean {
  return r.deletes[member] !== undefined;
}

/** RM-64: a deleted message keeps nothing but its tombstone: no text of any edit, no reactions. */
function scrub(r: TrackedMessage): void {
  if (r.author === undefined || !deletedBy(r, r.author)) return;
  r.edits = {};
  r.reactions = {};
}

/**
 * RM-60..RM-65: applies `op` to `record` (undefined: nothing kept yet for the id); returns a
 * new record (the input is never changed) with what to report.
 */
export function applyAnnotation(record: TrackedMessage | undefined, op: Annotation): AnnotationStep {
  const r = copy(record ?? emptyTracked());
  const forged: AnnotationStep["forged"] = [];
  const done = (changed: boolean, reusedId = false): AnnotationStep => {
    if (changed) r.lastSeq = Math.max(r.lastSeq, op.seq);
    return { record: changed ? r : (record ?? r), forged, reusedId, changed: changed || forged.length > 0 };
  };
  switch (op.kind) {
    case "text": {
      if (r.author !== undefined) return done(false, r.author !== op.sender);
      r.author = op.sender;
      r.seq = op.seq;
      // RM-65: what waited for the target is checked now: only the author edits or deletes.
      for (const sender of Object.keys(r.edits)) if (sender !== op.sender) (delete r.edits[sender], forged.push({ kind: "edit", sender }));
      for (const sender of Object.keys(r.deletes)) if (sender !== op.sender) (delete r.deletes[sender], forged.push({ kind: "delete", sender }));
      scrub(r);
      return done(true);
    }
    case "edit": {
      if (r.author !== undefined && r.author !== op.sender) {
        forged.push({ kind: "edit", sender: op.sender });
        return done(false);
      }
      // RM-64: a deleted message is never edited again, whichever came first.
      if (r.author !== undefined && deletedBy(r, op.sender)) return done(false);
      const prev = r.edits[op.sender];
      if (prev !== undefined && prev.seq >= op.seq) return done(false);
      // Before the target is known the slot is kept (a forger is reported when it arrives), but
      // never the text of an edit its sender also deleted.
      r.edits[op.sender] = { seq: op.seq, text: deletedBy(r, op.sender) ? "" : op.text };
      return done(true);
    }
    case "delete": {
      if (r.author !== undefined && r.author !== op.sender) {
        forged.push({ kind: "delete", sender: op.sender });
        return done(false);
      }
      const prev = r.deletes[op.sender];
      if (prev !== undefined && prev <= op.seq) return done(false);
      r.deletes[op.sender] = op.seq;
      const edit = r.edits[op.sender];
      if (edit !== undefined) r.edits[op.sender] = { seq: edit.seq, text: "" }; // its text is never kept
      scrub(r);
      return done(true);
    }
    case "reaction": {
      if (r.author !== undefined && deletedBy(r, r.author)) return done(false); // RM-62
      const prev = r.reactions[op.sender];
      if (prev !== undefined && prev.seq >= op.seq) return done(false);
      r.reactions[op.sender] = { seq: op.seq, emoji: op.remove ? "" : op.emoji, name: op.name };
      return done(true);
    }
  }
}

/** RM-61..RM-64: what `record` shows. */
export function viewOf(record: TrackedMessage | undefined): MessageView {
  if (record === undefined || record.author === undefined) return { known: false, edited: false, deleted: false, reactions: [] };
  const deleted = deletedBy(record, record.author);
  const edit = deleted ? undefined : record.edits[record.author];
  const byEmoji = new Map<string, Array<{ address: string; name: string; seq: number }>>();
  if (!deleted) {
    for (const [address, x] of Object.entries(record.reactions)) {
      if (x.emoji === "") continue;
      const list = byEmoji.get(x.emoji) ?? [];
      list.push({ address, name: x.name, seq: x.seq });
      byEmoji.set(x.emoji, list);
    }
  }
  // Order by first reaction (seq), so every member lists them alike.
  const reactions = [...byEmoji.entries()]
    .map(([emoji, list]) => ({ emoji, list: list.sort((a, b) => a.seq - b.seq) }))
    .sort((a, b) => a.list[0]!.seq - b.list[0]!.seq)
    .map(({ emoji, list }) => ({ emoji, members: list.map(({ address, name }) => ({ address, name })) }));
  return { known: true, ...(edit === undefined ? {} : { editedText: edit.text }), edited: edit !== undefined, deleted, reactions };
}

/** Parses a stored record; undefined for anything malformed (then treated as nothing kept). */
export function parseTracked(bytes: Uint8Array): TrackedMessage | undefined {
  try {
    const v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)) as TrackedMessage;
    if (typeof v !== "object" || v === null || typeof v.lastSeq !== "number") return undefined;
    if (typeof v.edits !== "object" || typeof v.deletes !== "object" || typeof v.reactions !== "object") return undefined;
    return v;
  } catch {
    return undefined;
  }
}

/** Serialises a record for the state store. */
export function serializeTracked(record: TrackedMessage): Uint8Array {
  return utf8(JSON.stringify(record));
}
