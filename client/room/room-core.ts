/**
 * The room rules as pure functions (spec/09-rooms.md): `(roomRecord, input) → (roomRecord',
 * effects)`, the way the ratchet is built. Inputs arrive authenticated (the driver opened the
 * envelope, verified the join signature, decrypted the sender-key message, opened the sealed
 * pairwise message); the rules decide what they do to membership, admin, epochs and the user's
 * view, and say what I/O must follow as plain-data effects.
 *
 * Owns: stored log events (joins RM-08/RM-09/RM-24, signed departures RM-35, content through `CONTENT_HANDLERS`,
 * departures RM-10..RM-13/RM-28, our own posts, epoch bounds RM-23), Welcomes and roster
 * authority (RM-08, RM-25), rotations and who may send them (RM-14, RM-36). A refused or failed input returns the record
 * unchanged (the same object) with only a `report` effect.
 * Does not own: cryptography, storage, the network (room-engine*.ts, the driver), the pure
 * bound arithmetic (room-rules.ts), the storage layout (room-store.ts).
 */
import { create } from "@bufbuild/protobuf";
import { type Content, type RoomSecretRotation, type RoomSettings, type Welcome } from "../../gen/securecomm/wire/v1/content_pb.js";
import { type RoomEpochBound, RoomEpochSecretSchema, RoomMemberSchema, type RoomRecord } from "../../gen/securecomm/storage/v1/room_pb.js";
import { bytesToHex, constantTimeEqual, utf8 } from "../crypto/bytes.js";
import { addrOf } from "./room-ids.js";
import { type AttachmentView, isValidPointer, MAX_ATTACHMENTS_PER_MESSAGE, viewOf as attachmentView } from "../attachments/attachment-pointer.js";
import { isValidDisplayName } from "./join.js";
import { copyRecord } from "./room-record-copy.js";
import { ROOM_SECRET_LENGTH } from "./room-keys.js";
import { INVITE_SECRET_LENGTH } from "./invite-box.js";
import { type Annotation, type AnnotationStep, applyAnnotation, type ReactionView, type TrackedMessage, validEmoji, validTargetId, viewOf } from "./message-annotations.js";
import { adoptBounds, boundOf, closeEpoch, isRemoved, MAX_RETENTION_SECONDS, noteDeparture, noteRemoved, refuseEnvelope, refuseJoin, rosterDisagrees, welcomeAuthority } from "./room-rules.js";

/** Text bodies are at most 4096 bytes (RM-07). */
export const MAX_TEXT_BYTES = 4096;
/** Join nonces are kept for the room retention period (RM-09); we keep the newest this many. */
export const MAX_SEEN_JOIN_NONCES = 10_000;

/** A chat message as members see it: decrypted, in the relay's order (spec RM-07, RM-15). */
export interface RoomMessage {
  roomId: string;
  seq: number;
  messageId: string;
  sender: string;
  senderName: string;
  text: string;
  /** Files sent with the message (RM-70), pointers only: contents are downloaded on demand. */
  attachments?: AttachmentView[];
  sentAtMs: number;
  postedAtMs: number;
  own: boolean;
  /** RM-61: the message this one answers (32 hex digits); the UI quotes it from its history. */
  replyTo?: string;
  /** RM-63: the text is the author's latest edit. */
  edited?: boolean;
  /** RM-64: deleted for everyone: `text` is empty and the UI shows a tombstone. */
  deleted?: boolean;
  /** RM-62: reactions, when it has any. */
  reactions?: ReactionView[];
}

/**
 * RM-62..RM-64: a message changed: an edit, a delete or a reaction by `sender` at `seq` applied
 * to the message `messageId`, with the message's whole view after it (so a receiver just
 * replaces what it shows). `known` is false while the target itself was not seen (RM-65).
 */
export interface MessageUpdate {
  roomId: string;
  messageId: string;
  kind: "edit" | "delete" | "reaction";
  seq: number;
  sender: string;
  senderName: string;
  own: boolean;
  known: boolean;
  /** The current text when edited (never present once deleted). */
  text?: string;
  edited: boolean;
  deleted: boolean;
  reactions: ReactionView[];
  /** For a reaction: the emoji (empty when taken back). */
  emoji?: string;
}

/** What the engine reports; the facade turns these into ClientEvents. */
export type EngineEvent =
  | ({ type: "message" } & RoomMessage)
  | ({ type: "message-updated" } & MessageUpdate)
  | { type: "typing"; roomId: string; sender: string; typing: boolean }
  | { type: "members-changed"; roomId: string }
  | { type: "identity-changed"; roomId: string; member: string }
  | { type: "decryption-failed"; roomId?: string; sender?: string; reason: string }
  | { type: "rooms-changed" }
  | { type: "room-closed"; roomId: string; reason: string }
  /** A member changed a room setting (RM-54): disappearing messages. */
  | { type: "settings-changed"; roomId: string; sender: string; senderName: string; own: boolean; seq: number; retentionSeconds: number }
  /** The room's invite link changed (RM-52): the admin reset it. */
  | { type: "invite-changed"; roomId: string };

/** I/O the driver performs after the rules ran (in the same transaction, or after it commits). */
export type Effect =
  /** Tell the user (after commit). */
  | { type: "emit"; event: EngineEvent }
  /** Send `to` our Welcome for its join at `asOfSeq` (RM-08): SKDM, profile, token, roster. */
  | { type: "welcome"; to: Uint8Array; token: Uint8Array; asOfSeq: bigint }
  /** `member` may be someone else's new device: mark its identity changed (ID-12 (a)). */
  | { type: "identity-suspect"; member: Uint8Array }
  /** Forget every sender key and distribution id of a departed member (RM-12). */
  | { type: "forget-sender"; member: Uint8Array }
  /** Draw a new sender key and send its SKDM to every remaining member (RM-12). */
  | { type: "rotate-sender-key" }
  /** We are the admin: rotate the room secret for the departure at `departureSeq` (RM-13, RM-28). */
  | { type: "rotate-secret"; departureSeq: bigint; departureEpoch: number; removal: boolean }
  /** We left or were removed: delete secrets and keys, stop following (RM-10, RM-11). */
  | { type: "depart"; reason: "left" | "removed" }
  /** Process the sender key a Welcome carries, then answer with ours (RM-08, RM-26). */
  | { type: "accept-welcome-key"; from: Uint8Array; welcome: Welcome }
  /** Keep a Welcome that came before the inviter's (RM-25). */
  | { type: "hold-welcome"; from: Uint8Array; welcome: Welcome }
  /** The roster is set: replay held Welcomes, read the log from our join (RM-08, RM-25). */
  | { type: "roster-set" }
  /** The access key changed: follow the room with the new one (RM-14). */
  | { type: "resubscribe" }
  /** A rotation for a later epoch: keep it until the ones between arrive (RM-14). */
  | { type: "keep-rotation"; from: Uint8Array; rotation: RoomSecretRotation }
  /** Store what we keep about message `messageId` (hex) (RM-60..RM-66). */
  | { type: "track"; messageId: string; record: TrackedMessage };

/** The result of one rule: the next record (the same object when nothing changed) and its effects. */
export interface Step {
  room: RoomRecord;
  effects: Effect[];
}

/** A stored room-log event, authenticated by the driver. */
export type LogInput =
  /** A join announcement whose signature verified (RM-08). */
  | { kind: "join"; seq: bigint; epoch: number; identityKey: Uint8Array; nonce: Uint8Array; deliveryToken: Uint8Array; displayName: string }
  /**
   * Room content decrypted with the sender key of `sender` (RM-07). `tracked`: what the driver
   * keeps about the message the content names (its own id for `text`, the target for
   * reaction/edit/delete; RM-60), loaded with `annotationTarget`.
   */
  | { kind: "content"; seq: bigint; epoch: number; postedAtMs: bigint; sender: Uint8Array; content: Content; tracked?: TrackedMessage }
  /** A departure statement whose signature verified (RM-35): `signer` leaves, or removes `member`. */
  | { kind: "departure"; seq: bigint; epoch: number; signer: Uint8Array; member: Uint8Array }
  /** One of our own posts, met in the log; `departure` is the member our leave/remove named. */
  | { kind: "own"; seq: bigint; epoch: number; departure?: Uint8Array; settings?: RoomSettings };

const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && constantTimeEqual(a, b);
const addr = addrOf;
const hex = (room: RoomRecord) => bytesToHex(room.roomId);
const unchanged = (room: RoomRecord, ...effects: Effect[]): Step => ({ room, effects });
const report = (room: RoomRecord, reason: string, sender?: Uint8Array): Effect => ({
  type: "emit",
  event: { type: "decryption-failed", roomId: hex(room), reason, ...(sender === undefined ? {} : { sender: addr(sender) }) },
});

/**
 * What a content handler sees: the record and its effects. `room` is the caller's record, to
 * read only; a handler that changes the room calls `edit()` first, which makes `room` a private
 * copy (once) and returns it. Most contents (texts, reactions, edits, deletes) change nothing
 * in the record, and copying a 100-member record for each of them was a large part of a
 * member's time per message.
 */
export interface ContentContext {
  /** The record: the caller's until `edit()` is called, then the private copy. Read only. */
  room: RoomRecord;
  /** The private copy of the record to change (made on the first call). */
  edit(): RoomRecord;
  self: Uint8Array;
  sender: Uint8Array;
  senderName: string;
  seq: bigint;
  epoch: number;
  postedAtMs: bigint;
  content: Content;
  /** What is kept about the message this content names (RM-60), if anything. */
  tracked: TrackedMessage | undefined;
  effects: Effect[];
}

type Bodies = NonNullable<Content["body"]["case"]>;
type BodyOf<K extends Bodies> = Extract<Content["body"], { case: K }>["value"];

/**
 * One handler per stored room content kind (RM-07, RM-10, RM-11, RM-18). A new kind (issue 13:
 * replies, reactions, edits, deletes, attachments) plugs in here; kinds without a handler
 * (typing in stored events, RM-17; pairwise-only bodies, RM-22) change nothing.
 */
export const CONTENT_HANDLERS: { [K in Bodies]?: (ctx: ContentContext, body: BodyOf<K>) => void } = {
  text(ctx, body) {
    if (utf8(body.body).length > MAX_TEXT_BYTES) return;
    // RM-70, RM-73: too many pointers drops the message; an invalid one is reported and dropped.
    if (body.attachments.length > MAX_ATTACHMENTS_PER_MESSAGE) {
      ctx.effects.push(report(ctx.room, "attachment_invalid_pointer", ctx.sender));
      return;
    }
    const attachments = body.attachments.filter(isValidPointer).map(attachmentView);
    if (attachments.length < body.attachments.length) ctx.effects.push(report(ctx.room, "attachment_invalid_pointer", ctx.sender));
    if (body.body.length === 0 && attachments.length === 0) return;
    const id = bytesToHex(ctx.content.messageId);
    // RM-60: the author of a message id is the sender of its text; reused ids are refused.
    const step = annotate(ctx, id, { kind: "text", seq: Number(ctx.seq), sender: addr(ctx.sender) });
    if (step === undefined) return;
    const view = viewOf(step.record);
    const text = view.deleted ? "" : (view.editedText ?? body.body);
    ctx.effects.push({
      type: "emit",
      event: {
        type: "message",
        roomId: hex(ctx.room),
        seq: Number(ctx.seq),
        messageId: id,
        sender: addr(ctx.sender),
        senderName: ctx.senderName,
        text,
        ...(attachments.length > 0 && !view.deleted ? { attachments } : {}),
        sentAtMs: Number(ctx.content.sentAtMs),
        postedAtMs: Number(ctx.postedAtMs),
        own: false,
        ...(validTargetId(body.replyTo) ? { replyTo: bytesToHex(body.replyTo) } : {}),
        ...(view.edited ? { edited: true } : {}),
        ...(view.deleted ? { deleted: true } : {}),
        ...(view.reactions.length > 0 ? { reactions: view.reactions } : {}),
      },
    });
  },
  reaction(ctx, body) {
    // RM-62: any member reacts, with one valid emoji (or takes its reaction back).
    if (!validTargetId(body.targetMessageId) || (!body.remove && !validEmoji(body.emoji))) return void ctx.effects.push(report(ctx.room, "invalid reaction", ctx.sender));
    const emoji = body.remove ? "" : body.emoji;
    updated(ctx, "reaction", { kind: "reaction", seq: Number(ctx.seq), sender: addr(ctx.sender), name: ctx.senderName, emoji, remove: body.remove }, emoji);
  },
  edit(ctx, body) {
    // RM-63: the same bounds as a text; only the author (checked in applyAnnotation).
    const n = utf8(body.body).length;
    if (!validTargetId(body.targetMessageId) || n === 0 || n > MAX_TEXT_BYTES) return void ctx.effects.push(report(ctx.room, "invalid edit", ctx.sender));
    updated(ctx, "edit", { kind: "edit", seq: Number(ctx.seq), sender: addr(ctx.sender), text: body.body });
  },
  delete(ctx, body) {
    // RM-64: only the author (checked in applyAnnotation).
    if (!validTargetId(body.targetMessageId)) return void ctx.effects.push(report(ctx.room, "invalid delete", ctx.sender));
    updated(ctx, "delete", { kind: "delete", seq: Number(ctx.seq), sender: addr(ctx.sender) });
  },
  leave(ctx) {
    departure(ctx.edit(), ctx.self, ctx.sender, ctx.seq, ctx.epoch, ctx.effects);
  },
  remove(ctx, body) {
    const target = body.memberIdentityKey;
    if (!same(ctx.sender, ctx.room.adminIdentityKey)) return; // RM-11
    if (same(target, ctx.room.adminIdentityKey)) return;
    if (!ctx.room.members.some((m) => same(m.identityKey, target))) return;
    if (same(target, ctx.self)) {
      ctx.effects.push({ type: "depart", reason: "removed" });
      return;
    }
    // RM-52: a removed member's later joins are refused, whatever link they use.
    const room = ctx.edit();
    noteRemoved(room, target);
    departure(room, ctx.self, target, ctx.seq, ctx.epoch, ctx.effects, true);
  },
  roomSettings(ctx, body) {
    applySettings(ctx.edit(), ctx.sender, ctx.senderName, false, ctx.seq, body, ctx.effects);
  },
  inviteReset(ctx, body) {
    // RM-52: only the admin replaces the link; members keep the new secret so any can share it.
    if (!same(ctx.sender, ctx.room.adminIdentityKey) || body.inviteSecret.length !== INVITE_SECRET_LENGTH) return;
    ctx.edit().inviteSecret = body.inviteSecret;
    ctx.effects.push({ type: "emit", event: { type: "invite-changed", roomId: hex(ctx.room) } });
  },
  profile(ctx, body) {
    if (!isValidDisplayName(body.displayName)) return;
    if (!ctx.room.members.some((x) => same(x.identityKey, ctx.sender))) return;
    ctx.edit().members.find((x) => same(x.identityKey, ctx.sender))!.displayName = body.displayName;
    ctx.effects.push({ type: "emit", event: { type: "members-changed", roomId: hex(ctx.room) } });
  },
};

/**
 * RM-60, RM-63, RM-64: applies `op` to what is kept about message `id`; reports forged edits
 * and deletes and reused ids; pushes the record to store. Undefined when `op` is refused.
 */
function annotate(ctx: ContentContext, id: string, op: Annotation): AnnotationStep | undefined {
  const step = applyAnnotation(ctx.tracked, op);
  for (const f of step.forged) ctx.effects.push(report(ctx.room, `forged ${f.kind} (not the author)`, addressKey(f.sender, ctx)));
  if (step.reusedId) {
    ctx.effects.push(report(ctx.room, "message id reused", ctx.sender));
    return undefined;
  }
  if (step.record !== ctx.tracked) ctx.effects.push({ type: "track", messageId: id, record: step.record });
  return step;
}

/** The identity key of a member by address when it is in the roster (for the report's sender). */
function addressKey(address: string, ctx: ContentContext): Uint8Array | undefined {
  if (address === addr(ctx.sender)) return ctx.sender;
  return ctx.room.members.find((m) => addr(m.identityKey) === address)?.identityKey;
}

/** RM-62..RM-65: a reaction, edit or delete applied; the target's new view is emitted. */
function updated(ctx: ContentContext, kind: MessageUpdate["kind"], op: Annotation, emoji?: string): void {
  const body = ctx.content.body.value as { targetMessageId: Uint8Array };
  const id = bytesToHex(body.targetMessageId);
  const step = annotate(ctx, id, op);
  if (step === undefined || step.record === ctx.tracked) return; // forged, duplicate or superseded
  // RM-65: while the target is unseen the operation only waits; nothing can show it yet (a
  // forgery among them is reported when the target arrives).
  if (step.record.author === undefined) return;
  ctx.effects.push({ type: "emit", event: { type: "message-updated", ...updateEvent(hex(ctx.room), id, step.record, kind, ctx.seq, addr(ctx.sender), ctx.senderName, false, emoji) } });
}

/** RM-62..RM-64: the `message-updated` payload for `record` after an operation of `kind`. */
export function updateEvent(roomId: string, messageId: string, record: TrackedMessage, kind: MessageUpdate["kind"], seq: bigint, sender: string, senderName: string, own: boolean, emoji?: string): MessageUpdate {
  const view = viewOf(record);
  return {
    roomId,
    messageId,
    kind,
    seq: Number(seq),
    sender,
    senderName,
    own,
    known: view.known,
    ...(view.editedText === undefined ? {} : { text: view.editedText }),
    edited: view.edited,
    deleted: view.deleted,
    reactions: view.reactions,
    ...(emoji === undefined ? {} : { emoji }),
  };
}

/** RM-60: the message id a content's tracked record is kept under (text: its own; others: the target). */
export function annotationTarget(content: Content): Uint8Array | undefined {
  switch (content.body.case) {
    case "text":
      return content.messageId;
    case "reaction":
    case "edit":
    case "delete":
      return content.body.value.targetMessageId;
    default:
      return undefined;
  }
}

/**
 * RM-54: a member (any member) set the room's disappearing-messages setting. Out-of-range
 * values change nothing. Applied in log order, so every member ends with the last one posted.
 */
function applySettings(room: RoomRecord, sender: Uint8Array, senderName: string, own: boolean, seq: bigint, body: RoomSettings, effects: Effect[]): void {
  if (body.retentionSeconds > MAX_RETENTION_SECONDS) return;
  room.retentionSeconds = body.retentionSeconds;
  room.retentionSetBy = sender;
  effects.push({
    type: "emit",
    event: { type: "settings-changed", roomId: hex(room), sender: addr(sender), senderName, own, seq: Number(seq), retentionSeconds: body.retentionSeconds },
  });
}

/**
 * A departure at `seq` in an envelope of `epoch` (RM-12, RM-13, RM-24, RM-28), applied to
 * `room` in place: the member leaves the roster, its keys are forgotten, a new admin succeeds a
 * departed admin (lowest joined_seq), we rotate our sender key, and the admin rotates the secret.
 */
function departure(room: RoomRecord, self: Uint8Array, departed: Uint8Array, seq: bigint, epoch: number, effects: Effect[], removal = false): void {
  const idx = room.members.findIndex((m) => same(m.identityKey, departed));
  if (idx < 0) return;
  room.members.splice(idx, 1);
  noteDeparture(room, epoch, seq, departed);
  if (same(departed, room.adminIdentityKey)) {
    const successor = [...room.members].sort((a, b) => (a.joinedSeq < b.joinedSeq ? -1 : a.joinedSeq > b.joinedSeq ? 1 : 0))[0];
    room.adminIdentityKey = successor?.identityKey ?? new Uint8Array(0);
  }
  effects.push({ type: "forget-sender", member: departed }, { type: "emit", event: { type: "members-changed", roomId: hex(room) } }, { type: "rotate-sender-key" });
  if (same(room.adminIdentityKey, self)) effects.push({ type: "rotate-secret", departureSeq: seq, departureEpoch: epoch, removal });
}

/** RM-15: one stored event at `seq` (the driver advances `last_seq` whatever the outcome). */
export function applyLogEvent(room: RoomRecord, self: Uint8Array, input: LogInput): Step {
  // RM-23: an envelope of an epoch closed before this seq is refused, whatever it carries.
  const closed = refuseEnvelope(room, input.epoch, input.seq);
  if (closed !== undefined) return unchanged(room, report(room, `refused (${closed})`));
  switch (input.kind) {
    case "join":
      return applyJoin(room, self, input);
    case "departure":
      return applySignedDeparture(room, self, input);
    case "own": {
      if (input.settings !== undefined) {
        // RM-54: our own setting takes its place in the log order like everyone else's.
        const next = copyRecord(room);
        const effects: Effect[] = [];
        const me = room.members.find((m) => same(m.identityKey, self));
        applySettings(next, self, me?.displayName ?? "", true, input.seq, input.settings, effects);
        return { room: next, effects };
      }
      if (input.departure === undefined || same(input.departure, self)) return unchanged(room);
      const next = copyRecord(room);
      const effects: Effect[] = [];
      // Our own Remove (a departure we posted that names someone else, RM-07): RM-52 applies.
      noteRemoved(next, input.departure);
      departure(next, self, input.departure, input.seq, input.epoch, effects, true);
      return { room: next, effects };
    }
    case "content": {
      const member = room.members.find((m) => same(m.identityKey, input.sender));
      if (member === undefined) return unchanged(room); // departed since: their old posts change nothing
      const kind = input.content.body.case;
      const handler = kind === undefined ? undefined : (CONTENT_HANDLERS[kind] as ((ctx: ContentContext, body: unknown) => void) | undefined);
      if (handler === undefined) return unchanged(room);
      let copied: RoomRecord | undefined;
      const ctx: ContentContext = {
        room,
        edit() {
          if (copied === undefined) ctx.room = copied = copyRecord(room);
          return copied;
        },
        self,
        sender: input.sender,
        senderName: member.displayName,
        seq: input.seq,
        epoch: input.epoch,
        postedAtMs: input.postedAtMs,
        content: input.content,
        tracked: input.tracked,
        effects: [],
      };
      handler(ctx, input.content.body.value);
      return { room: ctx.room, effects: ctx.effects };
    }
  }
}

/**
 * RM-35 (with RM-10, RM-11): a verified departure statement. A leave counts when its signer is
 * a current member; a removal when its signer is the current admin and names a member other
 * than the admin. Anything else is reported and changes nothing.
 */
function applySignedDeparture(room: RoomRecord, self: Uint8Array, d: Extract<LogInput, { kind: "departure" }>): Step {
  const isMember = (k: Uint8Array) => room.members.some((m) => same(m.identityKey, k));
  if (!isMember(d.signer)) return unchanged(room, report(room, "departure from a non-member", d.signer));
  const leave = same(d.signer, d.member);
  if (!leave) {
    if (!same(d.signer, room.adminIdentityKey)) return unchanged(room, report(room, "removal by a non-admin", d.signer));
    if (same(d.member, room.adminIdentityKey) || !isMember(d.member)) return unchanged(room, report(room, "removal of the admin or a non-member", d.signer));
  }
  // Our own leave: we departed when we posted it (RM-10) and never read on, so only a record
  // restored from before it gets here; it departs now.
  if (same(d.member, self)) return unchanged(room, { type: "depart", reason: leave ? "left" : "removed" });
  const next = copyRecord(room);
  const effects: Effect[] = [];
  // RM-52: a removed member's later joins are refused, whatever link they use, and the
  // admin's rotation after a removal also resets the invite link.
  if (!leave) noteRemoved(next, d.member);
  departure(next, self, d.member, d.seq, d.epoch, effects, !leave);
  return { room: next, effects };
}

/** RM-08, RM-09, RM-24: a verified join announcement. */
function applyJoin(room: RoomRecord, self: Uint8Array, j: Extract<LogInput, { kind: "join" }>): Step {
  const refused = refuseJoin(room, j.epoch, j.seq, j.nonce, j.identityKey);
  if (refused !== undefined) return unchanged(room, report(room, refused === "replayed-join" ? "replayed join" : `refused join (${refused})`));
  // RM-52: the admin removed this identity; a valid link (shared by a member, or the old one
  // with the relay's help) does not bring it back.
  if (isRemoved(room, j.identityKey)) return unchanged(room, report(room, "refused join (removed member)", j.identityKey));
  const next = copyRecord(room);
  next.seenJoinNonces.push(j.nonce);
  if (next.seenJoinNonces.length > MAX_SEEN_JOIN_NONCES) next.seenJoinNonces.shift();
  if (next.members.some((m) => same(m.identityKey, j.identityKey))) return { room: next, effects: [] }; // already a member
  next.members.push(create(RoomMemberSchema, { identityKey: j.identityKey, displayName: j.displayName, joinedSeq: j.seq, deliveryToken: j.deliveryToken }));
  const effects: Effect[] = [{ type: "emit", event: { type: "members-changed", roomId: hex(next) } }];
  // ID-12 (a): a new identity with the name of a current member is a possible key change.
  if (next.members.some((m) => !same(m.identityKey, j.identityKey) && !same(m.identityKey, self) && m.displayName === j.displayName)) {
    effects.push({ type: "identity-suspect", member: j.identityKey }, { type: "emit", event: { type: "identity-changed", roomId: hex(next), member: addr(j.identityKey) } });
  }
  effects.push({ type: "welcome", to: j.identityKey, token: j.deliveryToken, asOfSeq: j.seq });
  return { room: next, effects };
}

/**
 * RM-08, RM-25: a Welcome from `from` (sealed sender authenticated it). The inviter's sets the
 * roster while we have none; others wait for it, and afterwards only add their sender's key.
 */
export function applyWelcome(room: RoomRecord, self: Uint8Array, from: Uint8Array, w: Welcome, profile: { displayName: string; deliveryToken: Uint8Array }): Step {
  const authority = welcomeAuthority(room, from);
  if (authority === "wait") return unchanged(room, { type: "hold-welcome", from, welcome: w });
  const roster = w.roster;
  if (authority === "keys") {
    const effects: Effect[] = [];
    if (roster !== undefined && rosterDisagrees(room, roster)) effects.push(report(room, "roster disagreement", from));
    if (room.adminIdentityKey.length > 0) effects.push({ type: "accept-welcome-key", from, welcome: w });
    return unchanged(room, ...effects);
  }
  const adoptable =
    roster !== undefined &&
    roster.asOfSeq === room.joinedSeq &&
    roster.epoch === room.epoch &&
    roster.members.some((m) => same(m.identityKey, from)) &&
    roster.members.some((m) => same(m.identityKey, self)) &&
    roster.adminIdentityKey.length === 33;
  if (!adoptable) return unchanged(room, report(room, "welcome without a usable roster", from));
  const next = copyRecord(room);
  const kept = new Map(room.members.map((m) => [bytesToHex(m.identityKey), m.distributionId]));
  next.members = roster.members.map((m) =>
    create(RoomMemberSchema, {
      identityKey: m.identityKey,
      displayName: isValidDisplayName(m.profile?.displayName ?? "") ? m.profile!.displayName : "?",
      joinedSeq: m.joinedSeq,
      deliveryToken: m.deliveryToken,
      distributionId: kept.get(bytesToHex(m.identityKey)) ?? new Uint8Array(0),
    }),
  );
  const me = next.members.find((m) => same(m.identityKey, self));
  if (me !== undefined) {
    me.distributionId = next.distributionId;
    me.displayName = profile.displayName;
    me.deliveryToken = profile.deliveryToken;
  }
  next.adminIdentityKey = roster.adminIdentityKey;
  adoptBounds(next, roster.epochBounds);
  // RM-52, RM-54: the removed set, the current invite secret and the room's settings come with
  // the roster from the inviter (the joiner could not read the events that set them).
  for (const k of roster.removedIdentityKeys) if (k.length === 33) noteRemoved(next, k);
  if (roster.inviteSecret.length === INVITE_SECRET_LENGTH) next.inviteSecret = roster.inviteSecret;
  if (roster.settings !== undefined && roster.settings.retentionSeconds <= MAX_RETENTION_SECONDS) next.retentionSeconds = roster.settings.retentionSeconds;
  return {
    room: next,
    effects: [
      { type: "emit", event: { type: "members-changed", roomId: hex(next) } },
      { type: "emit", event: { type: "rooms-changed" } },
      { type: "accept-welcome-key", from, welcome: w },
      { type: "roster-set" },
    ],
  };
}

/**
 * RM-36: the members a rotation named as departed (of those who joined before `dueSeq`) that
 * are still in `room`'s roster. Once the log has reached `dueSeq` every departure up to it has
 * been read (RM-35), so any left means the rotation's sender claimed departures that did not
 * happen: it was not entitled to rotate.
 */
function unconfirmed(room: RoomRecord, named: readonly Uint8Array[], dueSeq: bigint): Uint8Array[] {
  return named.filter((k) => room.members.some((m) => same(m.identityKey, k) && m.joinedSeq < dueSeq));
}

/**
 * RM-36: after the stored event at `seq`: a rotation accepted before the log reached the
 * departures it named is checked against the log there. A claim the log does not confirm is
 * reported and changes no roster (nobody is removed, no admin appointed, on a rotation's word).
 */
export function applyLogPosition(room: RoomRecord, _self: Uint8Array, seq: bigint): Step {
  if (!room.epochBounds.some((b) => b.departuresDueSeq > 0n && seq >= b.departuresDueSeq)) return unchanged(room);
  const next = copyRecord(room);
  const effects: Effect[] = [];
  for (const b of next.epochBounds) {
    if (b.departuresDueSeq === 0n || seq < b.departuresDueSeq) continue;
    if (unconfirmed(next, b.namedDepartures, b.departuresDueSeq).length > 0) effects.push(report(next, "a rotation named departures that are not in the log"));
    b.departuresDueSeq = 0n;
    b.namedDepartures = [];
  }
  return { room: next, effects };
}

/**
 * RM-13, RM-36: who may rotate. The admin; or the member that is admin once the departures the
 * rotation names (`departed`, of members who joined before `departureSeq`) are applied: the
 * admin always has the lowest joined_seq (the creator has 0, a successor is the lowest
 * remaining, RM-13, and joiners come later), so it is the lowest joined_seq among the members
 * other than the admin and the named ones. A member may be unable to apply those departures
 * yet (its log has not reached them; after the rotation it can only read on with the new key).
 */
export function mayRotate(room: RoomRecord, from: Uint8Array, departed: readonly Uint8Array[] = [], departureSeq = 0n): boolean {
  if (same(from, room.adminIdentityKey)) return true;
  const gone = (m: RoomRecord["members"][number]) => m.joinedSeq < departureSeq && departed.some((k) => same(k, m.identityKey));
  const others = room.members.filter((m) => !same(m.identityKey, room.adminIdentityKey) && !gone(m));
  others.sort((a, b) => (a.joinedSeq < b.joinedSeq ? -1 : a.joinedSeq > b.joinedSeq ? 1 : 0));
  return others[0] !== undefined && same(others[0].identityKey, from);
}

/**
 * RM-14, RM-23: a RoomSecretRotation from `from`. The next epoch applies now (binding the old
 * one to the log); a later one is kept; an earlier one, or one from a member who may not
 * rotate, is refused.
 */
export function applyRotation(room: RoomRecord, _self: Uint8Array, from: Uint8Array, rot: RoomSecretRotation): Step {
  if (rot.epoch <= room.epoch) return unchanged(room);
  if (rot.epoch > room.epoch + 1) return unchanged(room, { type: "keep-rotation", from, rotation: rot });
  const named = rot.departedIdentityKeys.filter((k) => k.length === 33);
  if (!mayRotate(room, from, named, rot.departureSeq) || rot.roomSecret.length !== ROOM_SECRET_LENGTH) return unchanged(room, report(room, "rotation from a non-admin", from));
  // RM-36: a member that has read the log up to the departure checks the claim now.
  const read = room.lastSeq >= rot.departureSeq;
  if (read && unconfirmed(room, named, rot.departureSeq).length > 0) return unchanged(room, report(room, "a rotation named departures that are not in the log", from));
  const next = copyRecord(room);
  // RM-23: the old epoch ends at closed_at_seq. Its join bound (RM-24) and departures (RM-34)
  // come from the log, which every member reads (RM-35), not from the rotation's word.
  closeEpoch(next, room.epoch, rot.closedAtSeq, 0n);
  if (!read) {
    // RM-36: checked when the log reaches departure_seq (applyLogPosition).
    const bound = boundOf(next, room.epoch)!;
    bound.namedDepartures = named;
    bound.departuresDueSeq = rot.departureSeq;
  }
  // RM-52: removals we could not read still bar those members from joining again.
  for (const gone of rot.removedIdentityKeys) if (gone.length === 33) noteRemoved(next, gone);
  // RM-14: the old secret is kept only to read envelopes of its epoch up to closed_at_seq.
  next.previousSecrets.push(create(RoomEpochSecretSchema, { epoch: room.epoch, roomSecret: room.roomSecret }));
  next.roomSecret = rot.roomSecret;
  next.epoch = rot.epoch;
  return { room: next, effects: [{ type: "resubscribe" }] };
}
