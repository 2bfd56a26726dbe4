/**
 * Where room state lives in the StateStore, and the small records around RoomRecord.
 *
 * Owns: the whole key layout of room records (`ROOM_KEYS`, `roomKey`): rooms (`room/<id hex>`),
 * distribution-id maps (SK-10), held envelopes (RM-16, RM-26), kept rotations (RM-14), our own
 * posts (RM-07, RM-29), message ids seen (RM-29), pairwise content kept while joining (RM-25,
 * RM-34), our first SKDM (RM-26), retired secrets (RM-14), the stale flag (RM-19), and the
 * outbox of pairwise sends and rotations (JSON jobs, no message plaintext). Sender-key records
 * are under `sender-key/` (sender-key-kv.ts).
 * Does not own: decisions (room-core.ts, room-rules.ts), I/O (the engine).
 */

import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { RoomEpochSecretSchema, type RoomRecord, RoomRecordSchema } from "../../gen/securecomm/storage/v1/room_pb.js";
import { bytesToHex, hexToBytes, utf8 } from "../crypto/bytes.js";
import { base64url, fromBase64url } from "../relay/base64url.js";
import type { Txn } from "../store/state-store.js";
import { roomHex } from "./room-ids.js";
import { encodeRoom } from "./room-record-codec.js";
import { copyRecord } from "./room-record-copy.js";
import { MAX_TRACKED_MESSAGES, parseTracked, serializeTracked, type TrackedMessage } from "./message-annotations.js";

/** Key prefixes of room state. */
export const ROOM_KEYS = {
  room: "room/",
  dist: "room-dist/",
  pending: "room-pending/",
  rotation: "room-rotation/",
  ownPost: "room-own-post/",
  outbox: "outbox/",
  retired: "room-retired/",
  stale: "room-stale/",
  outboxNext: "outbox-next",
  /** Our current distribution's first SKDM (RM-26): what we answer a Welcome with. */
  initialSkdm: "room-skdm/",
  /**
   * Pairwise content that arrived before our roster (RM-25, RM-34): Welcomes other than the
   * inviter's, sender keys and rotations, kept in arrival order until the roster is set.
   */
  heldWelcome: "room-welcome/",
  /** RM-29: message ids already shown per room and sender (receive-side de-duplication). */
  seenMessage: "room-seen-msg/",
  /** RM-29: our own posts the relay stored: message id → seq (idempotent retries). */
  sent: "room-sent/",
  /** RM-29: our own posts by envelope hash → message id, until we see them in the log. */
  ownMessage: "room-own-msg/",
  /** RM-60..RM-66: per message id, its author and the reactions, edits and deletes applied. */
  tracked: "room-msg/",
  /** RM-54: our own RoomSettings posts by envelope hash, applied when met in the log. */
  ownSettings: "room-own-settings/",
  /**
   * How many message ids (`<room>/seen`) and tracked messages (`<room>/tracked`) a room keeps,
   * beside them: a new entry checks its bound without listing them all (listing reads every
   * key of the store and sorts thousands of entries, on every message).
   */
  counts: "room-count/",
  /**
   * RM-15: a room's `last_seq` when the stored event that advanced it changed nothing else in
   * the record (most messages): a few bytes written instead of the whole record. Present only
   * while it is newer than the record's own `last_seq` (saving the record removes it).
   */
  cursor: "room-cursor/",
} as const;

/**
 * RM-25, RM-34: at most this many pairwise messages are kept per room while joining (a Welcome,
 * an SKDM and a rotation or two per member of a large room).
 */
export const MAX_HELD_WELCOMES = 1024;

/** RM-25, RM-34: keeps pairwise `content` from `from` until our roster is set (arrival order). */
export function holdPairwise(t: Txn, roomId: Uint8Array, from: Uint8Array, content: Uint8Array): void {
  const prefix = `${ROOM_KEYS.heldWelcome}${bytesToHex(roomId)}/`;
  const held = t.list(prefix);
  if (held.length >= MAX_HELD_WELCOMES) return;
  const last = held.at(-1)?.[0];
  const n = last === undefined ? 0 : Number(last.slice(prefix.length).split("/")[0]) + 1;
  t.put(`${prefix}${seqKey(n)}/${bytesToHex(from)}`, content);
}

/**
 * RM-29: message ids remembered per room for de-duplication. A retry of a post comes within
 * minutes of the original; ten thousand messages is far more than a room sees meanwhile.
 */
export const MAX_SEEN_MESSAGE_IDS = 10_000;

/**
 * RM-29: records that `sender` showed `messageId` at `seq` in a room; false when it was
 * already shown (a retried post). Keeps at most MAX_SEEN_MESSAGE_IDS, forgetting the oldest.
 */
export function noteMessageId(t: Txn, roomId: Uint8Array, sender: Uint8Array, messageId: Uint8Array, seq: bigint): boolean {
  const prefix = `${ROOM_KEYS.seenMessage}${bytesToHex(roomId)}/`;
  const key = `${prefix}${bytesToHex(messageId)}${bytesToHex(sender)}`;
  if (t.get(key) !== undefined) return false;
  t.put(key, utf8(String(seq)));
  const countKey = `${ROOM_KEYS.counts}${bytesToHex(roomId)}/seen`;
  let count = keptCount(t, countKey, prefix, 1);
  if (count > MAX_SEEN_MESSAGE_IDS) {
    const all = t.list(prefix);
    const bySeq = all.map(([k, v]) => [k, BigInt(new TextDecoder().decode(v))] as const).sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
    // Forget a tenth at once so the scan is rare.
    const forget = bySeq.slice(0, Math.ceil(MAX_SEEN_MESSAGE_IDS / 10));
    for (const [k] of forget) t.delete(k);
    count = all.length - forget.length;
  }
  t.put(countKey, utf8(String(count)));
  return true;
}

/**
 * The number of entries under `prefix` once `added` new ones are in, from the count kept at
 * `countKey` (listing them once when there is none yet: a store from before counts were kept).
 * The caller stores the new count.
 */
function keptCount(t: Txn, countKey: string, prefix: string, added: number): number {
  const kept = t.get(countKey);
  const n = kept === undefined ? Number.NaN : Number(new TextDecoder().decode(kept));
  return Number.isSafeInteger(n) && n >= 0 ? n + added : t.list(prefix).length;
}

/** RM-60: what is kept about message `messageIdHex` of a room (message-annotations.ts). */
export function loadTracked(t: Pick<Txn, "get">, roomId: Uint8Array, messageIdHex: string): TrackedMessage | undefined {
  const v = t.get(`${ROOM_KEYS.tracked}${bytesToHex(roomId)}/${messageIdHex}`);
  return v === undefined ? undefined : parseTracked(v);
}

/**
 * RM-60, RM-66: stores what is kept about a message; past MAX_TRACKED_MESSAGES records in the
 * room, forgets a tenth (so the scan is rare): records of targets never seen first (a member
 * spraying reactions at made-up ids cannot push real messages out), then the oldest by last
 * operation.
 */
export function saveTracked(t: Txn, roomId: Uint8Array, messageIdHex: string, record: TrackedMessage): void {
  const prefix = `${ROOM_KEYS.tracked}${bytesToHex(roomId)}/`;
  const key = `${prefix}${messageIdHex}`;
  const isNew = t.get(key) === undefined;
  t.put(key, serializeTracked(record));
  if (!isNew) return;
  const countKey = `${ROOM_KEYS.counts}${bytesToHex(roomId)}/tracked`;
  let count = keptCount(t, countKey, prefix, 1);
  if (count > MAX_TRACKED_MESSAGES) {
    const all = t.list(prefix);
    const byAge = all
      .map(([k, v]) => {
        const r = parseTracked(v);
        return [k, r?.author === undefined ? 0 : 1, r?.lastSeq ?? 0] as const;
      })
      .sort((a, b) => a[1] - b[1] || a[2] - b[2]);
    count = all.length;
    for (const [k] of byAge.slice(0, Math.ceil(MAX_TRACKED_MESSAGES / 10))) {
      if (k === key) continue;
      t.delete(k);
      count--;
    }
  }
  t.put(countKey, utf8(String(count)));
}

/** RM-29: the seq at which the relay stored our post `messageId` (hex), if we know it. */
export function sentSeq(t: Pick<Txn, "get">, roomId: Uint8Array, messageIdHex: string): bigint | undefined {
  const v = t.get(`${ROOM_KEYS.sent}${bytesToHex(roomId)}/${messageIdHex}`);
  return v === undefined ? undefined : BigInt(new TextDecoder().decode(v));
}

/** RM-29: records that our post `messageId` (hex) is stored at `seq`. */
export function setSentSeq(t: Txn, roomId: Uint8Array, messageIdHex: string, seq: bigint): void {
  t.put(`${ROOM_KEYS.sent}${bytesToHex(roomId)}/${messageIdHex}`, utf8(String(seq)));
}

/** RM-26: the first SKDM of our current distribution in a room. */
export function initialSkdm(t: Pick<Txn, "get">, roomId: Uint8Array): Uint8Array | undefined {
  return t.get(`${ROOM_KEYS.initialSkdm}${bytesToHex(roomId)}/current`);
}

/** RM-26: records the first SKDM of a new distribution of ours. */
export function setInitialSkdm(t: Txn, roomId: Uint8Array, skdm: Uint8Array): void {
  t.put(`${ROOM_KEYS.initialSkdm}${bytesToHex(roomId)}/current`, skdm);
}

/**
 * Every key of one room's records: the only place that spells them (room hex = 32 hex digits).
 * Sender keys live under `sender-key/<room hex>/…` (sender-key-kv.ts, SENDER_KEY_PREFIX).
 */
export const roomKey = {
  /** RM-19: the roster may be stale. */
  stale: (roomHex: string) => `${ROOM_KEYS.stale}${roomHex}`,
  /** RM-07: our leave/remove post by envelope hash → the member it names. */
  ownPost: (roomHex: string, envHash: string) => `${ROOM_KEYS.ownPost}${roomHex}/${envHash}`,
  /** RM-29: our post by envelope hash → its message id. */
  ownMessage: (roomHex: string, envHash: string) => `${ROOM_KEYS.ownMessage}${roomHex}/${envHash}`,
  /** RM-54: our RoomSettings post by envelope hash → the settings. */
  ownSettings: (roomHex: string, envHash: string) => `${ROOM_KEYS.ownSettings}${roomHex}/${envHash}`,
  /** RM-14: a kept rotation to `epoch` (sender key ‖ Content). */
  rotation: (roomHex: string, epoch: number) => `${ROOM_KEYS.rotation}${roomHex}/${seqKey(epoch)}`,
  /** Prefix of kept rotations (their keys are `rotationPrefix` + 20-digit epoch). */
  rotationPrefix: (roomHex: string) => `${ROOM_KEYS.rotation}${roomHex}/`,
  /** RM-03: the inviter, for records made before RM-25 kept it in the room record. */
  inviter: (roomHex: string) => `${ROOM_KEYS.rotation}${roomHex}/inviter`,
  /** RM-16, RM-26: prefix of held envelopes (`<seq>/<posted ms>/<held at ms>`). */
  pendingPrefix: (roomHex: string) => `${ROOM_KEYS.pending}${roomHex}/`,
  /** RM-16, RM-26: a held envelope. */
  pending: (roomHex: string, seq: bigint, postedAtMs: bigint, heldAtMs: number) => `${ROOM_KEYS.pending}${roomHex}/${seqKey(seq)}/${postedAtMs}/${heldAtMs}`,
  /** RM-25, RM-34: prefix of pairwise content kept while joining. */
  heldPrefix: (roomHex: string) => `${ROOM_KEYS.heldWelcome}${roomHex}/`,
} as const;

/**
 * RM-16, RM-26: the fields of a held-envelope key (`roomKey.pending`), as stored text: room hex
 * id, seq, post time, hold time (`heldAtMs` is missing in keys written before RM-26 kept it).
 */
export function pendingKeyFields(key: string): { roomHex: string; seq: string | undefined; postedAtMs: string | undefined; heldAtMs: string | undefined } {
  const parts = key.slice(ROOM_KEYS.pending.length).split("/");
  return { roomHex: parts[0]!, seq: parts[1], postedAtMs: parts[2], heldAtMs: parts[3] };
}

/** RM-25, RM-34: the sender of held pairwise content, from its key (`holdPairwise`); empty if malformed. */
export function heldSender(key: string, roomHex: string): Uint8Array {
  return hexToBytes(key.slice(roomKey.heldPrefix(roomHex).length).split("/")[1] ?? "");
}

/** RM-14: the epoch a kept rotation's key names (`roomKey.rotation`). */
export function rotationKeyEpoch(key: string, roomHex: string): number {
  return Number(key.slice(roomKey.rotationPrefix(roomHex).length));
}

/** RM-16: keep at least 500 undecryptable envelopes per room. */
export const MAX_PENDING_PER_ROOM = 500;

/** Fixed-width decimal so keys sort numerically. */
export function seqKey(n: bigint | number): string {
  return String(n).padStart(20, "0");
}

/** Loads a room record. */
export function loadRoom(t: Pick<Txn, "get">, roomId: Uint8Array): RoomRecord | undefined {
  const hex = roomHex(roomId);
  const b = t.get(ROOM_KEYS.room + hex);
  if (b === undefined) return undefined;
  const r = decodeRoom(b);
  const cursor = cursorOf(t, hex);
  if (cursor !== undefined) r.lastSeq = cursor;
  return r;
}

/**
 * RM-15: where a room's log cursor is, read without copying the record (the check before each
 * stored event's transaction only needs these three fields). Undefined for an unknown room.
 */
export function roomPosition(t: Pick<Txn, "get">, roomId: Uint8Array): { lastSeq: bigint; departed: boolean; joining: boolean } | undefined {
  const hex = roomHex(roomId);
  const b = t.get(ROOM_KEYS.room + hex);
  if (b === undefined) return undefined;
  const r = decodedRecord(b);
  return { lastSeq: cursorOf(t, hex) ?? r.lastSeq, departed: r.departed, joining: r.adminIdentityKey.length === 0 };
}

/** RM-15: the room's `last_seq` kept beside its record (`ROOM_KEYS.cursor`), if newer than the record's. */
function cursorOf(t: Pick<Txn, "get">, hex: string): bigint | undefined {
  const c = t.get(ROOM_KEYS.cursor + hex);
  return c === undefined ? undefined : BigInt(new TextDecoder().decode(c));
}

/**
 * RM-15: commits a room's `last_seq` without saving its record, for a stored event that changed
 * nothing else in it (the caller knows: the rules returned the record itself and asked for no
 * change to it). `loadRoom`, `roomPosition` and `allRooms` read it over the record's.
 */
export function saveRoomCursor(t: Txn, roomId: Uint8Array, lastSeq: bigint): void {
  t.put(ROOM_KEYS.cursor + roomHex(roomId), utf8(String(lastSeq)));
}

/** A saved record holds its own `last_seq`: a cursor beside it would be older, and goes. */
function dropCursor(t: Txn, hex: string): void {
  if (t.get(ROOM_KEYS.cursor + hex) !== undefined) t.delete(ROOM_KEYS.cursor + hex);
}

/** Stores a room record. */
export function saveRoom(t: Txn, room: RoomRecord): void {
  const key = ROOM_KEYS.room + roomHex(room.roomId);
  t.put(key, encodeRoom(room));
  dropCursor(t, roomHex(room.roomId));
  // The store keeps its own copy of what was put: the record just encoded is what it decodes to.
  const stored = t.get(key);
  if (stored !== undefined) decoded.set(stored, copyRecord(room));
}

/**
 * Stores a room record the caller is done with (the last thing its transaction does to it):
 * the record itself becomes the decoded form kept for the stored bytes, without the copy
 * `saveRoom` makes. Used once per stored room event (RM-15 commits `last_seq` with it). The
 * caller MUST NOT change `room` afterwards.
 */
export function saveRoomLast(t: Txn, room: RoomRecord): void {
  const key = ROOM_KEYS.room + roomHex(room.roomId);
  t.put(key, encodeRoom(room));
  dropCursor(t, roomHex(room.roomId));
  const stored = t.get(key);
  if (stored !== undefined) decoded.set(stored, room);
}

/** Every room record. */
export function allRooms(t: Pick<Txn, "list" | "get">): RoomRecord[] {
  return t.list(ROOM_KEYS.room).map(([k, v]) => {
    const r = decodeRoom(v);
    const cursor = cursorOf(t, k.slice(ROOM_KEYS.room.length));
    if (cursor !== undefined) r.lastSeq = cursor;
    return r;
  });
}

/**
 * Decoded room records by the stored bytes they came from. A room record lists every member
 * (a 100-member room's is about 12 KB), and every room event, post and Welcome loads it
 * several times: decoding it each time cost a large part of a member's time per message. The
 * store never changes stored bytes in place (a write stores new bytes), so bytes seen before
 * decode to the record kept for them; each caller gets its own copy (callers change records
 * in place before saving them).
 */
const decoded = new WeakMap<Uint8Array, RoomRecord>();

function decodeRoom(bytes: Uint8Array): RoomRecord {
  return copyRecord(decodedRecord(bytes));
}

/** The record kept for `bytes` (decoded once): shared, so never handed out to be changed. */
function decodedRecord(bytes: Uint8Array): RoomRecord {
  let known = decoded.get(bytes);
  if (known === undefined) {
    known = fromBinary(RoomRecordSchema, bytes);
    decoded.set(bytes, known);
  }
  return known;
}

/** A new empty room record. */
export function newRoom(fields: MessageInitShape<typeof RoomRecordSchema>): RoomRecord {
  return create(RoomRecordSchema, fields);
}

/** The member identity key a distribution id belongs to in a room (SK-10). */
export function distOwner(t: Pick<Txn, "get">, roomId: Uint8Array, dist: Uint8Array): Uint8Array | undefined {
  return t.get(`${ROOM_KEYS.dist}${bytesToHex(roomId)}/${bytesToHex(dist)}`);
}

/** Maps a distribution id to a member (SK-10). */
export function setDistOwner(t: Txn, roomId: Uint8Array, dist: Uint8Array, identityKey: Uint8Array): void {
  t.put(`${ROOM_KEYS.dist}${bytesToHex(roomId)}/${bytesToHex(dist)}`, identityKey);
}

/** Removes every distribution id of a member in a room (RM-12). */
export function deleteDistsOf(t: Txn, roomId: Uint8Array, identityKey: Uint8Array): void {
  const prefix = `${ROOM_KEYS.dist}${bytesToHex(roomId)}/`;
  for (const [k, v] of t.list(prefix)) if (bytesToHex(v) === bytesToHex(identityKey)) t.delete(k);
}

/** Deletes every key of a room under the given prefixes (leaving, RM-10). */
export function deleteRoomKeys(t: Txn, roomId: Uint8Array, prefixes: string[]): void {
  const hex = bytesToHex(roomId);
  for (const p of prefixes) for (const [k] of t.list(`${p}${hex}/`)) t.delete(k);
}

/**
 * Keeps the current secret as a previous one (RM-14: only to decrypt envelopes of earlier
 * epochs) and records when it was retired, so it can be deleted after the retention period.
 */
export function retireSecret(t: Txn, room: RoomRecord, nowMs: number): void {
  room.previousSecrets.push(create(RoomEpochSecretSchema, { epoch: room.epoch, roomSecret: room.roomSecret }));
  noteRetired(t, room.roomId, room.epoch, nowMs);
}

/** Records when the secret of `epoch` was retired (the rule kept it in `previous_secrets`). */
export function noteRetired(t: Txn, roomId: Uint8Array, epoch: number, nowMs: number): void {
  t.put(`${ROOM_KEYS.retired}${bytesToHex(roomId)}/${seqKey(epoch)}`, utf8(String(nowMs)));
}

/**
 * Deletes previous secrets retired more than `retentionMs` ago (RM-14: they MUST be deleted
 * after the room retention period, when no envelope they open can remain in the log).
 * Resolves true when the room changed.
 */
export function pruneRetiredSecrets(t: Txn, room: RoomRecord, nowMs: number, retentionMs: number): boolean {
  const prefix = `${ROOM_KEYS.retired}${bytesToHex(room.roomId)}/`;
  let changed = false;
  for (const [key, value] of t.list(prefix)) {
    const at = Number(new TextDecoder().decode(value));
    if (!(nowMs - at > retentionMs)) continue;
    const epoch = Number(key.slice(prefix.length));
    room.previousSecrets = room.previousSecrets.filter((p) => p.epoch !== epoch);
    t.delete(key);
    changed = true;
  }
  return changed;
}

/** An outbox job: work with network side effects, persisted so it survives crashes. */
export type OutboxJob =
  /**
   * `sealed` (the envelope for `to`, base64url) and `sealedAtMs` are set once the session step
   * for `content` is committed; from then on the job delivers that envelope (room-engine.ts).
   */
  | { kind: "pairwise"; room: string; to: string; token: string; content: string; sealed?: string; sealedAtMs?: number }
  | { kind: "rotate"; room: string; secret: string; departureSeq: string; departureEpoch?: number; resetInvite?: string }
  /** RM-52: post InviteReset with the room's new invite secret (after the box holds it). */
  | { kind: "invite-reset"; room: string; inviteSecret: string };

/** Appends a job to the outbox. */
export function enqueue(t: Txn, job: OutboxJob): void {
  const nextBytes = t.get(ROOM_KEYS.outboxNext);
  const next = nextBytes === undefined ? 0 : Number(new TextDecoder().decode(nextBytes));
  t.put(ROOM_KEYS.outbox + seqKey(next), utf8(JSON.stringify(job)));
  t.put(ROOM_KEYS.outboxNext, utf8(String(next + 1)));
}

/** Replaces the job at `key` (same place in the outbox order). */
export function replaceJob(t: Txn, key: string, job: OutboxJob): void {
  t.put(key, utf8(JSON.stringify(job)));
}

/** The job at `key`, if it is still in the outbox. */
export function outboxJob(t: Pick<Txn, "get">, key: string): OutboxJob | undefined {
  const v = t.get(key);
  return v === undefined ? undefined : (JSON.parse(new TextDecoder().decode(v)) as OutboxJob);
}

/** The outbox, oldest first. */
export function outboxJobs(t: Pick<Txn, "list">): Array<{ key: string; job: OutboxJob }> {
  return t.list(ROOM_KEYS.outbox).map(([key, v]) => ({ key, job: JSON.parse(new TextDecoder().decode(v)) as OutboxJob }));
}

/** Bytes ⇄ text for jobs. */
export const b64 = base64url;
/** Text → bytes for jobs (a corrupt job is a bug: TypeError). */
export function unb64(s: string): Uint8Array {
  const b = fromBase64url(s);
  if (b === undefined) throw new TypeError("corrupt outbox job");
  return b;
}
export { bytesToHex, hexToBytes };
