/**
 * Output formats of the CLI: JSON lines for `listen`, tables for `rooms` and `members`, the
 * grouped safety number, and chat lines.
 *
 * Owns: how everything the CLI prints looks, and making text from other members safe for a
 * terminal (control characters, including escape sequences a hostile member could send to
 * rewrite the screen, are shown as U+FFFD). Does not own: what is printed when (commands).
 * Pure functions, unit-tested directly.
 */

import type { ClientEvents, MemberView, RoomSummary } from "../app/securecomm-client.js";
import { messageTimeMs } from "../app/message-time.js";

/** Number of digits in a safety number (Signal's fingerprint: 12 groups of 5). */
export const SAFETY_NUMBER_DIGITS = 60;
/** Digits per group when a safety number is shown, as Signal shows it. */
export const SAFETY_NUMBER_GROUP = 5;
/** Groups per line when a safety number is shown (3 lines of 4, as Signal's apps do). */
export const SAFETY_NUMBER_GROUPS_PER_LINE = 4;

// C0 and C1 control characters, DEL, and the bidirectional overrides/isolates that can make
// text display in a different order than it was written (Trojan Source).
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** `text` with every control character replaced by U+FFFD, safe to write to a terminal. */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, "\uFFFD");
}

/**
 * JSON text of `value` in which every non-ASCII-safe control character (C1 controls, line and
 * paragraph separators, bidi overrides) is escaped too, so a JSON line can also be shown on a
 * terminal unchanged.
 */
export function safeJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** What `listen --save-dir` did with one attachment: the path saved, or why it was refused. */
export type SavedAttachment = { saved: string } | { error: string } | undefined;

/**
 * One `listen` output line: a JSON object per message (no trailing newline). `kind` is
 * "message"; `replyTo`, `edited`, `deleted` and `reactions` appear when they apply
 * (spec/09-rooms.md RM-61..RM-64). Attachments (RM-70) are listed by name, type, size and
 * media fields, with `saved` or `error` when `--save-dir` was given; pointers, keys and
 * thumbnails are never printed.
 */
export function formatMessageJson(m: ClientEvents["message"], saved: readonly SavedAttachment[] = []): string {
  const attachments = m.attachments?.map((a, i) => ({
    name: a.fileName,
    type: a.contentType,
    size: a.size,
    ...(a.width > 0 || a.height > 0 ? { width: a.width, height: a.height } : {}),
    ...(a.durationMs > 0 ? { durationMs: a.durationMs } : {}),
    ...(a.voiceNote ? { voiceNote: true } : {}),
    ...(saved[i] ?? {}),
  }));
  return safeJson({
    kind: "message",
    room: m.roomId,
    seq: m.seq,
    id: m.messageId,
    sender: m.sender,
    senderName: m.senderName,
    text: m.text,
    sentAt: new Date(m.sentAtMs).toISOString(),
    postedAt: new Date(m.postedAtMs).toISOString(),
    own: m.own,
    ...(m.replyTo === undefined ? {} : { replyTo: m.replyTo }),
    ...(m.edited === true ? { edited: true } : {}),
    ...(m.deleted === true ? { deleted: true } : {}),
    ...(m.reactions === undefined ? {} : { reactions: reactionsJson(m.reactions) }),
    ...(attachments !== undefined ? { attachments } : {}),
  });
}

function reactionsJson(reactions: NonNullable<ClientEvents["message"]["reactions"]>) {
  return reactions.map((r) => ({ emoji: r.emoji, count: r.members.length, members: r.members.map((x) => x.address), names: r.members.map((x) => x.name) }));
}

/**
 * One `listen` line for an edit, a delete or a reaction (RM-62..RM-64): `kind` says which,
 * `id` is the target message, `sender` who did it, and the target's view after it (`text` when
 * edited, `deleted`, `reactions`); a reaction adds `emoji` (empty when taken back).
 */
export function formatUpdateJson(u: ClientEvents["message-updated"]): string {
  return safeJson({
    kind: u.kind,
    room: u.roomId,
    seq: u.seq,
    id: u.messageId,
    sender: u.sender,
    senderName: u.senderName,
    own: u.own,
    ...(u.text === undefined ? {} : { text: u.text }),
    edited: u.edited,
    deleted: u.deleted,
    reactions: reactionsJson(u.reactions),
    ...(u.emoji === undefined ? {} : { emoji: u.emoji }),
  });
}

/** RM-61: a reply's quote: "Name: start of the text…", a tombstone, or "original not available". */
export function formatQuote(target: { senderName: string; own: boolean; text: string; deleted?: boolean } | undefined, maxChars = QUOTE_CHARS): string {
  if (target === undefined) return "original not available";
  const who = target.own ? "you" : target.senderName;
  if (target.deleted === true) return `${terminalSafe(who)}: ${TOMBSTONE}`;
  const chars = [...target.text.replace(/\s+/g, " ")];
  const excerpt = chars.length > maxChars ? `${chars.slice(0, maxChars).join("")}…` : chars.join("");
  return `${terminalSafe(who)}: ${terminalSafe(excerpt)}`;
}

/** How much of a quoted message a reply shows: enough to recognise it on one line. */
export const QUOTE_CHARS = 40;

/** RM-64: the tombstone's text. */
export const TOMBSTONE = "This message was deleted";

/** RM-62: reactions as "👍 2 (Alice, Bob) · ❤️ 1 (Carol)", or "no reactions". */
export function formatReactions(reactions: ClientEvents["message-updated"]["reactions"]): string {
  if (reactions.length === 0) return "no reactions";
  return reactions.map((r) => `${terminalSafe(r.emoji)} ${r.members.length} (${r.members.map((m) => terminalSafe(m.name)).join(", ")})`).join(" · ");
}

/**
 * A safety number as Signal shows it: 12 groups of 5 digits, 4 groups per line. Throws
 * `RangeError` for anything but 60 digits (a bug upstream, never user input).
 */
export function formatSafetyNumber(digits: string): string {
  if (!new RegExp(`^[0-9]{${SAFETY_NUMBER_DIGITS}}$`).test(digits)) throw new RangeError("safety number must be 60 digits");
  const groups = digits.match(new RegExp(`.{${SAFETY_NUMBER_GROUP}}`, "g")) ?? [];
  const lines: string[] = [];
  for (let i = 0; i < groups.length; i += SAFETY_NUMBER_GROUPS_PER_LINE) {
    lines.push(groups.slice(i, i + SAFETY_NUMBER_GROUPS_PER_LINE).join(" "));
  }
  return lines.join("\n");
}

/** Left-aligned text table with a header row; every cell made terminal-safe. */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const safe = rows.map((r) => r.map(terminalSafe));
  const widths = header.map((h, i) => Math.max(h.length, ...safe.map((r) => [...(r[i] ?? "")].length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c + " ".repeat(Math.max(0, (widths[i] ?? 0) - [...c].length))))
      .join("  ")
      .trimEnd();
  return [line(header), ...safe.map(line)].join("\n");
}

/** Human label of a member's verification state. */
export function verificationLabel(v: MemberView["verification"]): string {
  return v === "verified" ? "verified" : v === "changed" ? "KEY CHANGED" : "unverified";
}

/** `members ROOM` output: a table, or a JSON array with `json`. */
export function formatMembers(members: readonly MemberView[], json: boolean): string {
  if (json) return safeJson(members.map((m) => ({ ...m })));
  return formatTable(
    ["NAME", "ROLE", "VERIFIED", "ADDRESS"],
    members.map((m) => [
      m.isSelf ? `${m.displayName} (you)` : m.displayName,
      m.isAdmin ? "admin" : "member",
      m.isSelf ? "-" : verificationLabel(m.verification),
      m.address,
    ]),
  );
}

/** `rooms` output: a table, or a JSON array with `json`; "(no rooms)" when empty. */
export function formatRooms(rooms: readonly RoomSummary[], json: boolean): string {
  if (json) return safeJson(rooms.map((r) => ({ ...r })));
  if (rooms.length === 0) return "(no rooms)";
  return formatTable(
    ["NAME", "MEMBERS", "STATE", "ID"],
    rooms.map((r) => [r.name, String(r.memberCount), r.departed ? "left" : r.isAdmin ? "admin" : "member", r.roomId]),
  );
}

/** Local time of day as HH:MM. */
function clock(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

/**
 * One chat line: "[HH:MM] Name: text" (own messages as "you"), terminal-safe. The time is the
 * sender's own (SC-18: the relay's post time is floored to the hour).
 */
export function formatChatLine(m: ClientEvents["message"]): string {
  const who = m.own ? "you" : m.senderName;
  return `[${clock(messageTimeMs(m))}] ${terminalSafe(who)}: ${terminalSafe(m.text)}`;
}

/**
 * The notice for a reported failure: forged edits and deletes (spec/09-rooms.md RM-63, RM-64)
 * are named, anything else is "could not be decrypted". `who` names the sender when known.
 */
export function failureNotice(reason: string, who?: string): string {
  if (reason.startsWith("forged ")) return `${who ?? "A member"} tried to ${reason.slice(7).split(" ")[0]} a message they did not write; ignored.`;
  return `A message${who === undefined ? "" : ` from ${who}`} could not be decrypted${who === undefined ? " (reported by the client)" : ""}.`;
}

/** A chat notice (joins, leaves, warnings) as "* text", terminal-safe. */
export function formatNotice(text: string): string {
  return `* ${terminalSafe(text)}`;
}
