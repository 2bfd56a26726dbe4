/**
 * Local history of rooms: the lines a timeline shows, kept across reloads in a
 * `KeyValueStore` (the profile vault's history view, so every entry is encrypted at rest), with
 * a retention setting per room (DESIGN.md §6: "Local history is kept encrypted at rest … with a
 * retention setting per room (disappearing messages)").
 *
 * Owns: the entry format (JSON inside the vault's encryption), keys `line/<room>/<key>` and
 * `retention/<room>`, pruning by retention, clearing. Retention is applied by this device's
 * client only (a local setting: other members keep their own copies under their own setting).
 * Does not own: encryption (profile-vault.ts) or what the lines mean (the web session).
 */

import type { KeyValueStore } from "../store/kv-store.js";

/** How long a room's lines are kept on this device. */
export type Retention = "keep" | "week" | "day" | "hour";

/** Each retention as a lifetime in milliseconds (`keep`: forever). */
export const RETENTION_MS: Readonly<Record<Retention, number | undefined>> = {
  keep: undefined,
  week: 7 * 24 * 60 * 60 * 1000,
  day: 24 * 60 * 60 * 1000,
  hour: 60 * 60 * 1000,
};

/** A retention as the room setting's seconds (spec RM-54: 0 keeps messages). */
export function retentionSeconds(retention: Retention): number {
  const ms = RETENTION_MS[retention];
  return ms === undefined ? 0 : ms / 1000;
}

/**
 * The retention this device applies for a room setting of `seconds` (RM-54): 0 keeps; any
 * other value the longest offered retention not longer than it, so messages never outlive
 * what the room asked (and at least an hour is kept, the shortest this app offers).
 */
export function retentionFromSeconds(seconds: number): Retention {
  if (!(seconds > 0)) return "keep";
  const fitting = (["week", "day", "hour"] as const).find((r) => RETENTION_MS[r]! <= seconds * 1000);
  return fitting ?? "hour";
}

/** Words for a room setting, as the line "X set disappearing messages to …" says it. */
export function retentionPhrase(seconds: number): string {
  if (!(seconds > 0)) return "off";
  const known: Record<number, string> = { 3600: "1 hour", 86400: "1 day", 604800: "1 week" };
  return known[seconds] ?? `${seconds} seconds`;
}

/** Every retention, longest first (the settings menu's order). */
export const RETENTIONS: readonly Retention[] = ["keep", "week", "day", "hour"];

/**
 * Most lines kept per room whatever the retention: bounds the memory a long-lived room takes
 * at load (the web loads a room's history at start-up). Oldest go first.
 */
export const MAX_LINES_PER_ROOM = 5_000;

/** One stored timeline line (a message or a join/leave line). */
export interface HistoryLine {
  readonly key: string;
  readonly kind: "message" | "event";
  readonly seq?: number;
  readonly messageId?: string;
  readonly sender: string;
  readonly senderName: string;
  readonly text: string;
  readonly atMs: number;
  readonly own: boolean;
  /** The message it answers (spec/09-rooms.md RM-61). */
  readonly replyTo?: string;
  /** Edited by its author (RM-63): `text` is the latest edit. */
  readonly edited?: boolean;
  /** Deleted for everyone (RM-64): `text` is empty; the line stays as a tombstone. */
  readonly deleted?: boolean;
  /** Reactions (RM-62). */
  readonly reactions?: ReadonlyArray<{ readonly emoji: string; readonly members: ReadonlyArray<{ readonly address: string; readonly name: string }> }>;
  /**
   * Attachment pointers as JSON (client/attachments AttachmentJson, spec/09-rooms.md RM-76):
   * kept inside this encrypted history, never file contents. Checked again when read.
   */
  readonly attachments?: readonly unknown[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
const lineKey = (roomId: string, key: string) => `line/${roomId}/${key}`;

function parseLine(bytes: Uint8Array): HistoryLine | undefined {
  try {
    const v = JSON.parse(decoder.decode(bytes)) as Partial<HistoryLine>;
    if (typeof v.key !== "string" || (v.kind !== "message" && v.kind !== "event")) return undefined;
    if (typeof v.text !== "string" || typeof v.atMs !== "number" || typeof v.sender !== "string") return undefined;
    return v as HistoryLine;
  } catch {
    return undefined;
  }
}

/** A room's place in relay order: by sequence number, lines without one by time. */
function byOrder(a: HistoryLine, b: HistoryLine): number {
  return (a.seq ?? Number.MAX_SAFE_INTEGER) - (b.seq ?? Number.MAX_SAFE_INTEGER) || a.atMs - b.atMs;
}

/** Local history over `store` (the vault's `historyStore`). */
export class RoomHistory {
  constructor(private readonly store: KeyValueStore, private readonly now: () => number = Date.now) {}

  /** The room's retention (default `keep`). */
  async retention(roomId: string): Promise<Retention> {
    const v = await this.store.get(`retention/${roomId}`);
    const r = v === undefined ? "keep" : decoder.decode(v);
    return (RETENTIONS as readonly string[]).includes(r) ? (r as Retention) : "keep";
  }

  /** Sets the room's retention and deletes what it no longer allows. */
  async setRetention(roomId: string, retention: Retention): Promise<void> {
    await this.store.write([{ key: `retention/${roomId}`, value: encoder.encode(retention) }]);
    await this.load(roomId);
  }

  /** The room's lines in order, after deleting expired ones (and any beyond MAX_LINES_PER_ROOM). */
  async load(roomId: string): Promise<HistoryLine[]> {
    const lifetime = RETENTION_MS[await this.retention(roomId)];
    const cutoff = lifetime === undefined ? -Infinity : this.now() - lifetime;
    const kept: HistoryLine[] = [];
    const drop: string[] = [];
    for (const [key, value] of await this.store.list(lineKey(roomId, ""))) {
      const line = parseLine(value);
      if (line === undefined || line.atMs < cutoff) drop.push(key);
      else kept.push(line);
    }
    kept.sort(byOrder);
    const excess = kept.length - MAX_LINES_PER_ROOM;
    if (excess > 0) for (const line of kept.splice(0, excess)) drop.push(lineKey(roomId, line.key));
    if (drop.length > 0) await this.store.write(drop.map((key) => ({ key, value: undefined })));
    return kept;
  }

  /**
   * Stores (or replaces) one line. An edit or delete replaces the line under the same key, so
   * the text it replaced is gone from storage too (RM-63, RM-64; the vault's store overwrites).
   */
  async put(roomId: string, line: HistoryLine): Promise<void> {
    await this.store.write([{ key: lineKey(roomId, line.key), value: encoder.encode(JSON.stringify(line)) }]);
  }

  /** Deletes one line (a pending line that was replaced by its ordered copy). */
  async delete(roomId: string, key: string): Promise<void> {
    await this.store.write([{ key: lineKey(roomId, key), value: undefined }]);
  }

  /** Deletes every line of the room (keeps its retention setting). */
  async clear(roomId: string): Promise<void> {
    const keys = (await this.store.list(lineKey(roomId, ""))).map(([key]) => key);
    if (keys.length > 0) await this.store.write(keys.map((key) => ({ key, value: undefined })));
  }
}
