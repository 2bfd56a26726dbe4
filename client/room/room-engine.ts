/**
 * The room driver (spec/09-rooms.md RM-01..RM-36): the only room code that touches the state
 * store and the relay clients.
 *
 * Owns: I/O. State-store transactions with their after-commit effects; relay calls (create,
 * join, post, history, rotate); pairwise sends and the outbox worker (room-outbox.ts) that
 * performs them after the state that caused them is stored; processing stored room events
 * strictly in `seq` order with `last_seq` committed atomically with their effects (RM-15) and
 * mailbox envelopes acknowledged after they commit (API-14); performing the effects of the
 * pure rules (room-core.ts `Effect`); in-memory UI state (unread counts, typing throttle).
 * Does not own: the rules (room-core.ts, room-rules.ts), the key-value layout of room records
 * (room-store.ts), envelope opening and join sealing (room-envelope.ts), Welcome and roster
 * building (room-welcome.ts), content building (room-content.ts), failure naming
 * (room-failures.ts), the relay stream (client/relay), account upkeep (client/account),
 * cryptography below the room layer.
 */
import { isValidPointer, MAX_ATTACHMENTS_PER_MESSAGE, viewOf as attachmentView } from "../attachments/attachment-pointer.js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { MailboxEnvelope, RoomCursor, RoomEvent } from "../../gen/securecomm/relay/v1/messages_pb.js";
import { RoomClosedReason } from "../../gen/securecomm/relay/v1/messages_pb.js";
import { type AttachmentPointer, type Content, ContentSchema, DeleteSchema, EditSchema, ProfileSchema, ReactionSchema, RoomSettingsSchema, TextSchema, type Welcome } from "../../gen/securecomm/wire/v1/content_pb.js";
import { type DepartureAnnouncement, type JoinAnnouncement, RoomEnvelopeBodySchema } from "../../gen/securecomm/wire/v1/room_pb.js";
import { type RoomMember, RoomMemberSchema, type RoomRecord } from "../../gen/securecomm/storage/v1/room_pb.js";
import { VerificationState } from "../../gen/securecomm/storage/v1/keys_pb.js";
import { bytesToHex, randomBytes, utf8 } from "../crypto/bytes.js";
import { sha256 } from "../crypto/kdf.js";
import { isProtocolError } from "../errors.js";
import { addressFromSerializedIdentityKey, addressToString } from "../keys/address.js";
import type { IdentityKeyPair } from "../keys/identity.js";
import { pad } from "../padding.js";
import { createDistributionId, createSenderKeyDistributionMessage, groupDecrypt, groupEncrypt, processSenderKeyDistributionMessage, senderKeyMessageDistributionId } from "../sender-keys/group-cipher.js";
import type { Account } from "../account/account.js";
import type { KvProtocolStore } from "../store/protocol-store.js";
import type { StateStore, Txn } from "../store/state-store.js";
import type { RelayClients } from "../relay/relay-clients.js";
import { createInviteLink, parseInviteLink } from "./invite.js";
import { createDepartureAnnouncement, verifyDepartureAnnouncement } from "./departure.js";
import { createInviteSecret, INVITE_SECRET_LENGTH, InviteError } from "./invite-box.js";
import { redeemInvite, writeInviteBox } from "./room-invites.js";
import { isValidDisplayName, verifyJoinAnnouncement } from "./join.js";
import type { Pairwise } from "./pairwise.js";
import { accessKey, accessKeyHash, ROOM_ID_LENGTH, ROOM_SECRET_LENGTH, sealRoomEnvelope } from "./room-keys.js";
import {
  allRooms,
  b64,
  deleteDistsOf,
  deleteRoomKeys,
  distOwner,
  enqueue,
  heldSender,
  loadTracked,
  saveTracked,
  holdPairwise,
  initialSkdm,
  loadRoom,
  roomPosition,
  MAX_PENDING_PER_ROOM,
  newRoom,
  noteMessageId,
  noteRetired,
  type OutboxJob,
  outboxJob,
  outboxJobs,
  replaceJob,
  pendingKeyFields,
  pruneRetiredSecrets,
  retireSecret,
  rotationKeyEpoch,
  ROOM_KEYS,
  roomKey,
  saveRoom,
  saveRoomLast,
  saveRoomCursor,
  sentSeq,
  setDistOwner,
  setInitialSkdm,
  setSentSeq,
  unb64,
} from "./room-store.js";
import { closeEpoch, departedIn, holdExpired, MAX_RETENTION_SECONDS, refuseEnvelope } from "./room-rules.js";
import { annotationTarget, applyLogEvent, applyLogPosition, applyRotation, applyWelcome, type Effect, type EngineEvent, MAX_TEXT_BYTES, type Step, updateEvent } from "./room-core.js";
import { applyAnnotation, type Annotation, validEmoji, viewOf } from "./message-annotations.js";
import { OutboxWorker } from "./room-outbox.js";
import { RoomSenderKeyStore } from "./sender-key-kv.js";
import { addrOf, hexBytes, roomHex, same } from "./room-ids.js";
import { decodePadded, MESSAGE_ID_LENGTH, newContent, skdmBody } from "./room-content.js";
import { openForRoom, sealJoin } from "./room-envelope.js";
import { welcomeBody } from "./room-welcome.js";
import { reason, sendFailureKind } from "./room-failures.js";

export { type EngineEvent, MAX_SEEN_JOIN_NONCES, MAX_TEXT_BYTES, type MessageUpdate, type RoomMessage } from "./room-core.js";
export { MAX_REACTION_EMOJI_BYTES, type ReactionView, TOMBSTONE_TEXT } from "./message-annotations.js";
export { MESSAGE_ID_LENGTH } from "./room-content.js";
export { roomHex } from "./room-ids.js";
export { sendFailureKind } from "./room-failures.js";

/** GetRoomHistory page size (API-20 max 500). */
export const HISTORY_PAGE = 500;
/**
 * A pairwise job sealed longer ago than this is sealed anew before it is delivered: an envelope
 * carries a sender certificate, which expires (SS-*), and a device may be offline for days.
 */
export const RESEAL_AFTER_MS = 10 * 60 * 1000;

/** Dependencies of the engine. */
export interface RoomEngineDeps {
  state: StateStore;
  store: KvProtocolStore;
  identity: IdentityKeyPair;
  account: Account;
  clients: RelayClients;
  pairwise: Pairwise;
  relayUrl: string;
  now: () => number;
  emit: (e: EngineEvent) => void;
  /** The set of followed rooms or their keys changed: reconnect the stream. */
  resubscribe: () => void;
}

/** Collected side effects of one transaction, applied after it commits. */
interface Effects {
  events: EngineEvent[];
  resubscribe: boolean;
  catchUp: Uint8Array[];
  retryPending: Uint8Array[];
  outbox: boolean;
  /**
   * Whether the room record may have changed beyond `last_seq` (a rule returned a new record,
   * or an effect other than emitting or tracking ran): the stored event then saves the record,
   * otherwise only its cursor (RM-15, `saveRoomCursor`). Errs towards true.
   */
  recordChanged: boolean;
}

function effects(): Effects {
  return { events: [], resubscribe: false, catchUp: [], retryPending: [], outbox: false, recordChanged: false };
}

/** Effects that never change the room record (perform1: an event to emit, a tracked message to store). */
const RECORD_NEUTRAL_EFFECTS: ReadonlySet<Effect["type"]> = new Set(["emit", "track"]);

/**
 * The room driver, kept under the name `RoomEngine` that client/app uses: it reads state,
 * calls a pure rule, commits the rule's record with the effects it performs in one
 * transaction, and does the network work (spec RM-07..RM-34, API-11, API-14).
 */
export class RoomEngine {
  private readonly d: RoomEngineDeps;
  private readonly self: Uint8Array;
  private readonly selfAddr: string;
  /** Rooms whose stream said ACCESS_DENIED: not followed until a rotation arrives (RM-14). */
  private readonly awaitingRotation = new Set<string>();
  /** The epoch whose access key the current stream uses, per room (set by `cursors()`). */
  private readonly subscribedEpoch = new Map<string, number>();
  private readonly unreadCounts = new Map<string, number>();
  private readonly outbox: OutboxWorker;
  private closed = false;
  private readonly lastTyping = new Map<string, number>();
  /** RM-27: the tail of each room's posting queue (encrypt and post run one at a time, in call order). */
  readonly #postTails = new Map<string, Promise<unknown>>();

  constructor(deps: RoomEngineDeps) {
    this.d = deps;
    this.self = deps.identity.publicKey.serialize();
    this.selfAddr = addressToString(deps.identity.address);
    this.outbox = new OutboxWorker({
      state: deps.state,
      held: (job) => job.kind === "pairwise" && this.held(unb64(job.to)),
      perform: (key, job) => this.perform(key, job),
      report: (job, e) =>
        this.emit({
          type: "decryption-failed",
          roomId: job.room,
          ...(job.kind === "pairwise" ? { sender: addrOf(unb64(job.to)) } : {}),
          reason: `could not deliver (${reason(e)})`,
        }),
    });
  }

  // ------------------------------------------------------------------ queries

  /** Every room record (committed state). */
  rooms(): RoomRecord[] {
    return allRooms(this.d.state);
  }

  /** A room by hex id, or TypeError. */
  room(roomId: string): RoomRecord {
    const r = this.find(roomId);
    if (r === undefined) throw new TypeError("unknown room");
    return r;
  }

  private find(roomId: string): RoomRecord | undefined {
    if (!/^[0-9a-f]{32}$/.test(roomId)) return undefined;
    return loadRoom(this.d.state, hexBytes(roomId));
  }

  /** True when the room's roster may be stale because history expired while away (RM-19). */
  rosterStale(roomId: string): boolean {
    return this.d.state.get(roomKey.stale(roomId)) !== undefined;
  }

  /** Unread count of a room (in memory). */
  unread(roomId: string): number {
    return this.unreadCounts.get(roomId) ?? 0;
  }

  /** Marks a room read. */
  markRead(roomId: string): void {
    this.unreadCounts.delete(roomId);
  }

  /** Our display name. */
  get displayName(): string {
    return this.d.account.record.displayName;
  }

  /** The cursors to follow (API-11): every live room with its current access key. */
  cursors(): Array<Pick<RoomCursor, "roomId" | "accessKey" | "afterSeq">> {
    const live = this.rooms().filter((r) => !r.departed && !this.awaitingRotation.has(roomHex(r.roomId)));
    this.subscribedEpoch.clear();
    for (const r of live) this.subscribedEpoch.set(roomHex(r.roomId), r.epoch);
    return live.map((r) => ({ roomId: r.roomId, accessKey: accessKey(r.roomId, r.roomSecret, r.epoch), afterSeq: r.lastSeq }));
  }

  /**
   * The invite link of a room (RM-50): any member can share it. A room made before RM-50 has
   * none until its admin resets the link (`resetInviteLink`): TypeError until then.
   */
  inviteLink(roomId: string, origin?: string): string {
    const r = this.room(roomId);
    if (r.departed) throw new TypeError("room departed");
    if (r.inviteSecret.length !== INVITE_SECRET_LENGTH) throw new TypeError("This room has no invite link yet: its admin must reset the link.");
    return createInviteLink(origin ?? this.d.relayUrl, {
      roomId: r.roomId,
      inviteSecret: r.inviteSecret,
      inviterIdentityKey: this.self,
      roomName: r.name,
      inviterName: this.displayName,
    });
  }

  /** True when this member has a link to share (RM-50). */
  hasInviteLink(roomId: string): boolean {
    const r = this.find(roomId);
    return r !== undefined && !r.departed && r.inviteSecret.length === INVITE_SECRET_LENGTH;
  }

  /**
   * RM-52: the admin replaces the room's invite link: a new invite secret, the box rewritten
   * under it (the relay drops the old box, so the old link fails with "reset"), and an
   * InviteReset room message so every member shares the new link. Resolves with the new link.
   */
  async resetInviteLink(roomId: string, origin?: string): Promise<string> {
    const r = this.room(roomId);
    if (r.departed) throw new TypeError("room departed");
    if (!same(r.adminIdentityKey, this.self)) throw new TypeError("Only the room admin can reset the invite link.");
    const inviteSecret = createInviteSecret();
    await writeInviteBox(this.d.clients, r.roomId, inviteSecret, { roomSecret: r.roomSecret, epoch: r.epoch });
    await this.tx(async (t, fx) => {
      const room = loadRoom(t, r.roomId)!;
      room.inviteSecret = inviteSecret;
      saveRoom(t, room);
      enqueue(t, { kind: "invite-reset", room: roomId, inviteSecret: b64(inviteSecret) });
      fx.outbox = true;
      fx.events.push({ type: "invite-changed", roomId });
    });
    return this.inviteLink(roomId, origin);
  }

  /**
   * RM-54: sets the room's disappearing messages for every member (any member may): posts
   * RoomSettings; every member, this one included, applies it when it reaches it in the log.
   */
  async setRetention(roomId: string, retentionSeconds: number): Promise<void> {
    if (!Number.isInteger(retentionSeconds) || retentionSeconds < 0 || retentionSeconds > MAX_RETENTION_SECONDS) throw new RangeError("retention must be 0..31536000 seconds");
    const r = this.room(roomId);
    await this.post(roomId, this.content(r.roomId, { case: "roomSettings", value: create(RoomSettingsSchema, { retentionSeconds }) }), false);
  }

  /** RM-29: `sendFailureKind` for a room by hex id (the room's current state decides). */
  sendFailure(roomId: string, e: unknown): "transient" | "permanent" {
    return sendFailureKind(e, this.find(roomId));
  }

  // ------------------------------------------------------------------ transactions

  private async tx<T>(fn: (t: Txn, fx: Effects) => Promise<T>): Promise<T> {
    const fx = effects();
    const result = await this.d.state.transaction((t) => fn(t, fx));
    this.apply(fx);
    return result;
  }

  private apply(fx: Effects): void {
    for (const e of fx.events) {
      if (e.type === "message" && !e.own) this.unreadCounts.set(e.roomId, (this.unreadCounts.get(e.roomId) ?? 0) + 1);
      try {
        this.d.emit(e);
      } catch {
        // A listener's failure must not break protocol processing.
      }
    }
    if (fx.resubscribe) this.d.resubscribe();
    if (fx.outbox) this.kickOutbox();
    for (const id of fx.retryPending) void this.retryPending(id).catch(() => undefined);
    for (const id of fx.catchUp) void this.catchUp(id).catch(() => undefined);
  }

  // ------------------------------------------------------------------ sending

  /** Encrypts content with our sender key and posts it (RM-06, RM-07, SK-04). */
  private post(roomId: string, content: Content, ephemeral: boolean): Promise<{ seq: bigint; postedAtMs: bigint }> {
    // RM-27: one client's stored posts to a room reach the relay in the order they were made:
    // the sender-key iteration and the relay's seq then agree, and nobody sees a swap.
    if (ephemeral) return this.postNow(roomId, content, true);
    return this.inOrder(roomId, () => this.postNow(roomId, content, false));
  }

  /** RM-27: runs one stored post to `roomId` after the previous one answered or failed. */
  private inOrder<T>(roomId: string, run: () => Promise<T>): Promise<T> {
    const tail = this.#postTails.get(roomId) ?? Promise.resolve();
    const next = tail.then(run, run);
    const settled = next.catch(() => undefined);
    this.#postTails.set(roomId, settled);
    void settled.then(() => {
      if (this.#postTails.get(roomId) === settled) this.#postTails.delete(roomId);
    });
    return next;
  }

  /**
   * Posts a signed departure of `member` (ours: a leave; another's: the admin's removal) in a
   * RoomEnvelope of the current epoch (RM-35), in order with our other posts (RM-27).
   */
  private postDeparture(roomId: string, member: Uint8Array): Promise<{ seq: bigint }> {
    return this.inOrder(roomId, async () => {
      const room = this.room(roomId);
      if (room.departed) throw new TypeError("room departed");
      if (room.adminIdentityKey.length === 0) throw new TypeError("The room is still being joined.");
      const ann = createDepartureAnnouncement({ identity: this.d.identity, roomId: room.roomId, epoch: room.epoch, member, nowMs: this.d.now() });
      const envelope = sealRoomEnvelope(room.roomId, room.roomSecret, room.epoch, create(RoomEnvelopeBodySchema, { body: { case: "departure", value: ann } }));
      const res = await this.d.clients.rooms.postToRoom({ roomId: room.roomId, accessKey: accessKey(room.roomId, room.roomSecret, room.epoch), envelope });
      return { seq: res.seq };
    });
  }

  private async postNow(roomId: string, content: Content, ephemeral: boolean): Promise<{ seq: bigint; postedAtMs: bigint }> {
    const r = this.room(roomId);
    if (r.departed) throw new TypeError("room departed");
    if (r.adminIdentityKey.length === 0) throw new TypeError("The room is still being joined.");
    const envelope = await this.tx(async (t) => {
      const room = loadRoom(t, r.roomId)!;
      const skm = await groupEncrypt(new RoomSenderKeyStore(this.d.state, room.roomId), this.selfAddr, room.distributionId, pad(toBinary(ContentSchema, content)));
      const env = sealRoomEnvelope(room.roomId, room.roomSecret, room.epoch, create(RoomEnvelopeBodySchema, { body: { case: "senderKeyMessage", value: skm } }));
      const kind = content.body.case;
      if (!ephemeral && (kind === "leave" || kind === "remove")) {
        const target = kind === "remove" ? content.body.value.memberIdentityKey : this.self;
        t.put(roomKey.ownPost(roomHex(room.roomId), bytesToHex(sha256(env))), target);
      }
      // RM-54: our own setting applies when we meet the post in the log (the log's order).
      if (!ephemeral && kind === "roomSettings") t.put(roomKey.ownSettings(roomHex(room.roomId), bytesToHex(sha256(env))), toBinary(RoomSettingsSchema, content.body.value));
      // RM-29: if the relay's answer is lost, we learn the seq when we meet the post in the log.
      if (!ephemeral) t.put(roomKey.ownMessage(roomHex(room.roomId), bytesToHex(sha256(env))), content.messageId);
      // RM-60, RM-32: our own posts are never decrypted, so we note our authorship of a text
      // now (also when the relay's answer is then lost), so that we may edit and delete it.
      if (!ephemeral && kind === "text") {
        const id = bytesToHex(content.messageId);
        saveTracked(t, room.roomId, id, applyAnnotation(loadTracked(t, room.roomId, id), { kind: "text", seq: Number(room.lastSeq), sender: this.selfAddr }).record);
      }
      return { env, accessKey: accessKey(room.roomId, room.roomSecret, room.epoch) };
    });
    if (ephemeral) {
      await this.d.clients.rooms.postEphemeral({ roomId: r.roomId, accessKey: envelope.accessKey, envelope: envelope.env });
      return { seq: 0n, postedAtMs: BigInt(this.d.now()) };
    }
    const res = await this.d.clients.rooms.postToRoom({ roomId: r.roomId, accessKey: envelope.accessKey, envelope: envelope.env });
    await this.tx(async (t) => {
      const room = loadRoom(t, r.roomId);
      if (room !== undefined && !room.departed) setSentSeq(t, r.roomId, bytesToHex(content.messageId), res.seq);
    });
    return { seq: res.seq, postedAtMs: res.postedAtMs };
  }

  /**
   * What an upload for the room needs (API-61): the room id and the current access key. The key
   * never leaves this device except as the relay's authorization, as for posts (RM-02).
   */
  blobAccess(roomId: string): { roomId: Uint8Array; accessKey: Uint8Array } {
    const r = this.room(roomId);
    if (r.departed) throw new TypeError("room departed");
    return { roomId: r.roomId, accessKey: accessKey(r.roomId, r.roomSecret, r.epoch) };
  }

  private content(roomId: Uint8Array, body: Content["body"], messageId: Uint8Array = randomBytes(MESSAGE_ID_LENGTH)): Content {
    return newContent(roomId, body, this.d.now(), messageId);
  }

  /**
   * The seq at which the relay stored our post `messageId`, once known: from PostToRoom's
   * answer, or from meeting the post in the log when that answer was lost (RM-29).
   */
  postedSeq(roomId: string, messageId: string): number | undefined {
    const r = this.find(roomId);
    if (r === undefined || !/^[0-9a-f]{32}$/.test(messageId)) return undefined;
    const seq = sentSeq(this.d.state, r.roomId, messageId);
    return seq === undefined ? undefined : Number(seq);
  }

  /**
   * Sends a text message (RM-07); resolves with its id and the relay's seq.
   *
   * `options.messageId` (32 hex digits) lets a caller that keeps its own outbox retry the same
   * message: a retry of a message the relay already stored resolves with the stored seq and
   * posts nothing, and a retry after a lost answer posts again under the same id, which every
   * member shows once (RM-29). On failure, `sendFailureKind` says whether to retry.
   */
  async sendText(roomId: string, text: string, options: { messageId?: string; replyTo?: string; attachments?: readonly AttachmentPointer[] } = {}): Promise<{ messageId: string; seq: number }> {
    const attachments = [...(options.attachments ?? [])];
    // RM-70: a message with attachments may have no text; at most 4 valid pointers.
    if (utf8(text).length > MAX_TEXT_BYTES || (text.length === 0 && attachments.length === 0)) throw new RangeError("text must be 1..4096 bytes");
    if (attachments.length > MAX_ATTACHMENTS_PER_MESSAGE || !attachments.every(isValidPointer)) throw new RangeError("at most 4 valid attachments");
    if (options.messageId !== undefined && !/^[0-9a-f]{32}$/.test(options.messageId)) throw new TypeError("message id must be 32 hex digits");
    if (options.replyTo !== undefined && !/^[0-9a-f]{32}$/.test(options.replyTo)) throw new TypeError("message id must be 32 hex digits");
    const r = this.room(roomId);
    if (options.messageId !== undefined) {
      const done = sentSeq(this.d.state, r.roomId, options.messageId);
      if (done !== undefined) return { messageId: options.messageId, seq: Number(done) };
    }
    const id = options.messageId === undefined ? randomBytes(MESSAGE_ID_LENGTH) : hexBytes(options.messageId);
    const replyTo = options.replyTo === undefined ? new Uint8Array(0) : hexBytes(options.replyTo);
    const content = this.content(r.roomId, { case: "text", value: create(TextSchema, { body: text, replyTo, attachments }) }, id);
    const res = await this.post(roomId, content, false);
    const messageId = bytesToHex(content.messageId);
    this.emit({
      type: "message",
      roomId,
      seq: Number(res.seq),
      messageId,
      sender: this.selfAddr,
      senderName: this.displayName,
      text,
      ...(attachments.length > 0 ? { attachments: attachments.map(attachmentView) } : {}),
      sentAtMs: Number(content.sentAtMs),
      postedAtMs: Number(res.postedAtMs),
      own: true,
      ...(options.replyTo === undefined ? {} : { replyTo: options.replyTo }),
    });
    return { messageId, seq: Number(res.seq) };
  }

  /**
   * RM-62: reacts to message `targetId` (32 hex digits) with `emoji`, replacing our earlier
   * reaction, or takes our reaction back (`emoji` undefined). Resolves once the relay stored it.
   */
  async react(roomId: string, targetId: string, emoji: string | undefined): Promise<{ seq: number }> {
    if (emoji !== undefined && !validEmoji(emoji)) throw new RangeError("a reaction is one emoji of 1..32 bytes");
    return this.annotate(roomId, targetId, { case: "reaction", value: create(ReactionSchema, { targetMessageId: this.target(targetId), emoji: emoji ?? "", remove: emoji === undefined }) });
  }

  /** RM-63: replaces the text of our message `targetId`; TypeError unless we wrote it. */
  async editMessage(roomId: string, targetId: string, text: string): Promise<{ seq: number }> {
    if (utf8(text).length > MAX_TEXT_BYTES || text.length === 0) throw new RangeError("text must be 1..4096 bytes");
    this.assertOwnLive(roomId, targetId);
    return this.annotate(roomId, targetId, { case: "edit", value: create(EditSchema, { targetMessageId: this.target(targetId), body: text }) });
  }

  /** RM-64: deletes our message `targetId` for everyone; TypeError unless we wrote it. */
  async deleteMessage(roomId: string, targetId: string): Promise<{ seq: number }> {
    this.assertOwnLive(roomId, targetId);
    return this.annotate(roomId, targetId, { case: "delete", value: create(DeleteSchema, { targetMessageId: this.target(targetId) }) });
  }

  private target(targetId: string): Uint8Array {
    if (!/^[0-9a-f]{32}$/.test(targetId)) throw new TypeError("message id must be 32 hex digits");
    return hexBytes(targetId);
  }

  /** RM-63, RM-64: only the author edits or deletes, and never a deleted message. */
  private assertOwnLive(roomId: string, targetId: string): void {
    const r = this.room(roomId);
    const rec = loadTracked(this.d.state, r.roomId, targetId);
    if (rec?.author !== this.selfAddr) throw new TypeError("Only the author of a message can edit or delete it.");
    if (viewOf(rec).deleted) throw new TypeError("The message was deleted.");
  }

  /** Posts a reaction, edit or delete, then applies it to our own view (RM-32: never decrypted). */
  private async annotate(roomId: string, targetId: string, body: Extract<Content["body"], { case: "reaction" | "edit" | "delete" }>): Promise<{ seq: number }> {
    const r = this.room(roomId);
    const res = await this.post(roomId, this.content(r.roomId, body), false);
    const seq = Number(res.seq);
    const me = { seq, sender: this.selfAddr };
    const op: Annotation =
      body.case === "reaction"
        ? { kind: "reaction", ...me, name: this.displayName, emoji: body.value.remove ? "" : body.value.emoji, remove: body.value.remove }
        : body.case === "edit"
          ? { kind: "edit", ...me, text: body.value.body }
          : { kind: "delete", ...me };
    const record = await this.annotateOwn(r.roomId, targetId, op);
    const emoji = body.case === "reaction" ? (body.value.remove ? "" : body.value.emoji) : undefined;
    if (record !== undefined) this.emit({ type: "message-updated", ...updateEvent(roomId, targetId, record, body.case, res.seq, this.selfAddr, this.displayName, true, emoji) });
    return { seq };
  }

  /** Applies one of our own operations to what we keep about `messageId`; the new record. */
  private async annotateOwn(roomId: Uint8Array, messageId: string, op: Annotation) {
    return this.tx(async (t) => {
      const room = loadRoom(t, roomId);
      if (room === undefined || room.departed) return undefined;
      const step = applyAnnotation(loadTracked(t, roomId, messageId), op);
      saveTracked(t, roomId, messageId, step.record);
      return step.record;
    });
  }

  private emit(e: EngineEvent): void {
    try {
      this.d.emit(e);
    } catch {
      // listeners must not break the engine
    }
  }

  /** Sends a typing indicator as an ephemeral event (RM-17), at most one "started" per 3 s. */
  async setTyping(roomId: string, typing: boolean): Promise<void> {
    const now = this.d.now();
    if (typing && now - (this.lastTyping.get(roomId) ?? -Infinity) < 3000) return;
    if (typing) this.lastTyping.set(roomId, now);
    else this.lastTyping.delete(roomId);
    const r = this.room(roomId);
    await this.post(roomId, this.content(r.roomId, { case: "typing", value: { $typeName: "securecomm.wire.v1.Typing", started: typing } }), true);
  }

  /** Announces our display name in a room (RM-18, Content.profile). */
  async sendProfile(roomId: string, displayName: string): Promise<void> {
    const r = this.room(roomId);
    await this.post(roomId, this.content(r.roomId, { case: "profile", value: create(ProfileSchema, { displayName }) }), false);
  }

  /** Leaves (RM-10): posts Leave, then deletes secrets and sender keys and marks departed. */
  async leaveRoom(roomId: string): Promise<void> {
    const r = this.room(roomId);
    if (r.departed) return;
    // RM-35: a signed departure every member can read (not a sender-key message, RM-10).
    await this.postDeparture(roomId, this.self);
    await this.tx(async (t, fx) => {
      const room = loadRoom(t, r.roomId)!;
      this.depart(t, room);
      saveRoom(t, room);
      fx.events.push({ type: "rooms-changed" }, { type: "room-closed", roomId, reason: "left" });
      fx.resubscribe = true;
    });
  }

  /** Removes a member (RM-11); only the admin may. */
  async removeMember(roomId: string, memberAddress: string): Promise<void> {
    const r = this.room(roomId);
    if (!same(r.adminIdentityKey, this.self)) throw new TypeError("Only the room admin can remove members.");
    const m = r.members.find((x) => addrOf(x.identityKey) === memberAddress);
    if (m === undefined) throw new TypeError("No such member.");
    if (same(m.identityKey, this.self)) throw new TypeError("The admin cannot remove itself; leave instead.");
    // RM-35: signed, so every member applies it at its seq; we apply it when we read it.
    await this.postDeparture(roomId, m.identityKey);
  }

  /** Deletes a room's secrets and keys and marks it departed (RM-10, RM-11). */
  private depart(t: Txn, room: RoomRecord): void {
    room.departed = true;
    room.roomSecret = new Uint8Array(0);
    room.previousSecrets = [];
    room.distributionId = new Uint8Array(0);
    new RoomSenderKeyStore(this.d.state, room.roomId).deleteSenderKeys();
    deleteRoomKeys(t, room.roomId, [ROOM_KEYS.dist, ROOM_KEYS.pending, ROOM_KEYS.rotation, ROOM_KEYS.ownPost, ROOM_KEYS.retired, ROOM_KEYS.initialSkdm, ROOM_KEYS.heldWelcome, ROOM_KEYS.ownMessage, ROOM_KEYS.seenMessage, ROOM_KEYS.tracked, ROOM_KEYS.ownSettings, ROOM_KEYS.counts]);
    t.delete(roomKey.stale(roomHex(room.roomId)));
    for (const { key, job } of outboxJobs(t)) if (job.room === roomHex(room.roomId)) t.delete(key);
  }



  // ------------------------------------------------------------------ room stream

  /** Handles a batch of room events from the stream (RM-15, RM-17). */
  async onRoomEvents(roomId: Uint8Array, events: RoomEvent[]): Promise<void> {
    for (const ev of events) {
      if (ev.ephemeral) await this.ephemeral(roomId, ev);
      else await this.stored(roomId, ev);
    }
  }

  /** Fetches and processes history after `last_seq` (gap fill, RM-15). */
  async catchUp(roomId: Uint8Array, untilSeq?: bigint): Promise<void> {
    for (;;) {
      const r = loadRoom(this.d.state, roomId);
      if (r === undefined || r.departed || r.adminIdentityKey.length === 0) return;
      if (untilSeq !== undefined && r.lastSeq >= untilSeq) return;
      const res = await this.d.clients.rooms.getRoomHistory({
        roomId,
        accessKey: accessKey(r.roomId, r.roomSecret, r.epoch),
        afterSeq: r.lastSeq,
        limit: HISTORY_PAGE,
      });
      if (res.events.length === 0) {
        if (untilSeq !== undefined && res.latestSeq < untilSeq) return;
        // Retention dropped events before our cursor: resume from what is retained (RM-19).
        if (res.oldestSeq > r.lastSeq + 1n) await this.skipTo(roomId, res.oldestSeq - 1n);
        return;
      }
      for (const ev of res.events) await this.stored(roomId, ev, true);
      if (res.events.at(-1)!.seq >= res.latestSeq) return;
    }
  }

  private async skipTo(roomId: Uint8Array, seq: bigint): Promise<void> {
    await this.tx(async (t, fx) => {
      const room = loadRoom(t, roomId);
      if (room === undefined || room.lastSeq >= seq) return;
      room.lastSeq = seq;
      saveRoom(t, room);
      // RM-19: tell the user, and mark the roster as possibly stale (membership changes may
      // have expired with the messages).
      t.put(roomKey.stale(roomHex(roomId)), new Uint8Array([1]));
      fx.events.push({ type: "room-closed", roomId: roomHex(roomId), reason: "history-expired" }, { type: "rooms-changed" });
    });
  }

  private async stored(roomId: Uint8Array, ev: RoomEvent, fromHistory = false): Promise<void> {
    const r = roomPosition(this.d.state, roomId);
    if (r === undefined || r.departed) return;
    if (r.joining) return; // still joining: events wait for the roster
    if (ev.seq <= r.lastSeq) return; // duplicate (API-14)
    if (ev.seq > r.lastSeq + 1n && !fromHistory) {
      // A gap (RM-15): read the log from last_seq up to and including this event.
      await this.catchUp(roomId, ev.seq);
      return;
    }
    let gap = false;
    await this.tx(async (t, fx) => {
      const room = loadRoom(t, roomId);
      if (room === undefined || room.departed || ev.seq <= room.lastSeq) return;
      if (ev.seq !== room.lastSeq + 1n && !fromHistory) {
        gap = true;
        return;
      }
      room.lastSeq = ev.seq;
      await this.processStored(t, fx, room, ev);
      // RM-34: departures a rotation named take effect when the log reaches them.
      if (!room.departed) await this.step(t, fx, room, applyLogPosition(room, this.self, ev.seq));
      // RM-15: last_seq commits with the event's effects; the whole record only if it changed.
      if (fx.recordChanged) saveRoomLast(t, room);
      else saveRoomCursor(t, room.roomId, room.lastSeq);
    });
    if (gap) await this.catchUp(roomId, ev.seq);
  }

  /** One stored event at its seq; `room` is saved by the caller. */
  private async processStored(t: Txn, fx: Effects, room: RoomRecord, ev: RoomEvent): Promise<void> {
    const hex = roomHex(room.roomId);
    let opened;
    try {
      opened = openForRoom(room, ev.envelope);
    } catch (e) {
      // RM-06: invalid, skipped, counted as processed; reported, never silent.
      fx.events.push({ type: "decryption-failed", roomId: hex, reason: `invalid room envelope (${reason(e)})` });
      return;
    }
    const body = opened.body.body;
    // RM-23: an envelope of an epoch that closed before this seq is refused, whatever it carries.
    const refused = refuseEnvelope(room, opened.epoch, ev.seq);
    if (refused !== undefined) {
      fx.events.push({ type: "decryption-failed", roomId: hex, reason: `refused (${refused})` });
      return;
    }
    if (body.case === "join") {
      fx.recordChanged = true;
      await this.join(t, fx, room, ev.seq, opened.epoch, body.value);
      return;
    }
    if (body.case === "departure") {
      fx.recordChanged = true;
      await this.departure(t, fx, room, ev.seq, opened.epoch, body.value);
      return;
    }
    if (body.case !== "senderKeyMessage") return;
    // Changes the record only through rules (`step`), which note it in `fx.recordChanged`.
    await this.senderKeyMessage(t, fx, room, ev, body.value, opened.epoch);
  }

  private async senderKeyMessage(t: Txn, fx: Effects, room: RoomRecord, ev: RoomEvent, skm: Uint8Array, epoch: number): Promise<void> {
    const hex = roomHex(room.roomId);
    let dist: Uint8Array;
    try {
      dist = senderKeyMessageDistributionId(skm);
    } catch (e) {
      fx.events.push({ type: "decryption-failed", roomId: hex, reason: `invalid sender-key message (${reason(e)})` });
      return;
    }
    if (same(dist, room.distributionId) || same(distOwner(t, room.roomId, dist) ?? new Uint8Array(0), this.self)) {
      // Our own post (RM-07): not decrypted; a leave/remove we posted takes effect now.
      const envHash = bytesToHex(sha256(ev.envelope));
      const ownMsgKey = roomKey.ownMessage(hex, envHash);
      const ownMsg = t.get(ownMsgKey);
      if (ownMsg !== undefined) {
        // RM-29: the seq of our post, even if PostToRoom's answer never reached us.
        t.delete(ownMsgKey);
        setSentSeq(t, room.roomId, bytesToHex(ownMsg), ev.seq);
      }
      const key = roomKey.ownPost(hex, envHash);
      const target = t.get(key);
      if (target !== undefined) t.delete(key);
      const settingsKey = roomKey.ownSettings(hex, envHash);
      const settings = t.get(settingsKey);
      if (settings !== undefined) t.delete(settingsKey);
      await this.step(
        t,
        fx,
        room,
        applyLogEvent(room, this.self, {
          kind: "own",
          seq: ev.seq,
          epoch,
          ...(target === undefined ? {} : { departure: target }),
          ...(settings === undefined ? {} : { settings: fromBinary(RoomSettingsSchema, settings) }),
        }),
      );
      return;
    }
    const owner = distOwner(t, room.roomId, dist);
    if (owner === undefined) {
      this.keepPending(t, fx, room, ev);
      return;
    }
    let content: Content;
    try {
      const padded = await groupDecrypt(new RoomSenderKeyStore(this.d.state, room.roomId), addrOf(owner), skm);
      content = decodePadded(padded);
    } catch (e) {
      if (isProtocolError(e, "no_sender_key")) {
        this.keepPending(t, fx, room, ev);
        return;
      }
      fx.events.push({ type: "decryption-failed", roomId: hex, sender: addrOf(owner), reason: reason(e) });
      return;
    }
    if (!same(content.roomId, room.roomId)) {
      fx.events.push({ type: "decryption-failed", roomId: hex, sender: addrOf(owner), reason: "content for another room" });
      return;
    }
    // RM-29: a retried post (same sender, same message id) is shown once.
    if (room.members.some((m) => same(m.identityKey, owner)) && content.messageId.length === MESSAGE_ID_LENGTH && !noteMessageId(t, room.roomId, owner, content.messageId, ev.seq)) return;
    // RM-60: what we keep about the message the content names goes in with it.
    const target = annotationTarget(content);
    const tracked = target === undefined || target.length !== MESSAGE_ID_LENGTH ? undefined : loadTracked(t, room.roomId, bytesToHex(target));
    await this.step(t, fx, room, applyLogEvent(room, this.self, { kind: "content", seq: ev.seq, epoch, postedAtMs: ev.postedAtMs, sender: owner, content, ...(tracked === undefined ? {} : { tracked }) }));
  }

  /**
   * RM-16, RM-26: holds a message whose sender key has not arrived. Bounded in count
   * (MAX_PENDING_PER_ROOM: the oldest is given up and reported lost) and in time (MAX_HOLD_MS,
   * `expireHeld`).
   */
  private keepPending(t: Txn, fx: Effects, room: RoomRecord, ev: RoomEvent): void {
    const prefix = roomKey.pendingPrefix(roomHex(room.roomId));
    const existing = t.list(prefix);
    if (existing.length >= MAX_PENDING_PER_ROOM) {
      t.delete(existing[0]![0]);
      fx.events.push({ type: "decryption-failed", roomId: roomHex(room.roomId), reason: "message lost (too many messages waiting for sender keys)" });
    }
    // The post time rides in the key so a recovered message shows when it was posted; the
    // hold time so it is given up after MAX_HOLD_MS.
    t.put(roomKey.pending(roomHex(room.roomId), ev.seq, ev.postedAtMs, this.d.now()), ev.envelope);
  }

  /** RM-26: gives up held messages older than MAX_HOLD_MS, reporting each as lost. */
  async expireHeld(): Promise<void> {
    await this.tx(async (t, fx) => {
      for (const [key] of t.list(ROOM_KEYS.pending)) {
        const parts = pendingKeyFields(key);
        if (parts.heldAtMs === undefined) continue; // held before RM-26 kept the time: bounded by count only
        if (!holdExpired(Number(parts.heldAtMs), this.d.now())) continue;
        t.delete(key);
        fx.events.push({ type: "decryption-failed", roomId: parts.roomHex, reason: "message lost (its sender key never arrived)" });
      }
    });
  }

  /** Retries pending envelopes of a room after an SKDM arrived (RM-16). */
  private async retryPending(roomId: Uint8Array): Promise<void> {
    const prefix = roomKey.pendingPrefix(roomHex(roomId));
    for (const [key, envelope] of this.d.state.list(prefix)) {
      await this.tx(async (t, fx) => {
        const room = loadRoom(t, roomId);
        if (room === undefined || room.departed || t.get(key) === undefined) return;
        let opened;
        try {
          opened = openForRoom(room, envelope);
        } catch {
          t.delete(key);
          return;
        }
        if (opened.body.body.case !== "senderKeyMessage") {
          t.delete(key);
          return;
        }
        const fields = pendingKeyFields(key);
        const seq = BigInt(fields.seq!);
        const postedAtMs = BigInt(fields.postedAtMs ?? "0");
        // RM-23: a bound learned while it was held still applies.
        const refused = refuseEnvelope(room, opened.epoch, seq);
        if (refused !== undefined) {
          t.delete(key);
          fx.events.push({ type: "decryption-failed", roomId: roomHex(room.roomId), reason: `refused (${refused})` });
          return;
        }
        const skm = opened.body.body.value;
        let dist: Uint8Array;
        try {
          dist = senderKeyMessageDistributionId(skm);
        } catch {
          t.delete(key);
          return;
        }
        const owner = distOwner(t, room.roomId, dist);
        if (owner === undefined) return; // still waiting
        t.delete(key);
        await this.senderKeyMessage(t, fx, room, { seq, postedAtMs, envelope, ephemeral: false } as RoomEvent, skm, opened.epoch);
        saveRoom(t, room);
      });
    }
  }


  private async ephemeral(roomId: Uint8Array, ev: RoomEvent): Promise<void> {
    const r = loadRoom(this.d.state, roomId);
    if (r === undefined || r.departed || r.adminIdentityKey.length === 0) return;
    await this.tx(async (t, fx) => {
      const room = loadRoom(t, roomId)!;
      let opened;
      try {
        opened = openForRoom(room, ev.envelope);
      } catch {
        return; // forged ephemeral noise is dropped (never stored, nothing to skip)
      }
      if (opened.body.body.case !== "senderKeyMessage") return;
      const skm = opened.body.body.value;
      let dist;
      try {
        dist = senderKeyMessageDistributionId(skm);
      } catch {
        return;
      }
      const owner = distOwner(t, room.roomId, dist);
      if (owner === undefined || same(owner, this.self)) return;
      if (!room.members.some((m) => same(m.identityKey, owner))) return;
      let content: Content;
      try {
        content = decodePadded(await groupDecrypt(new RoomSenderKeyStore(this.d.state, room.roomId), addrOf(owner), skm));
      } catch {
        return;
      }
      if (!same(content.roomId, room.roomId) || content.body.case !== "typing") return; // RM-17
      fx.events.push({ type: "typing", roomId: roomHex(room.roomId), sender: addrOf(owner), typing: content.body.value.started });
    });
  }

  /** RoomClosed on the stream (API-11, RM-14, RM-19). */
  async onRoomClosed(roomId: Uint8Array, why: RoomClosedReason): Promise<void> {
    const hex = roomHex(roomId);
    if (why === RoomClosedReason.HISTORY_EXPIRED) {
      const r = loadRoom(this.d.state, roomId);
      if (r === undefined) return;
      const res = await this.d.clients.rooms.getRoomHistory({ roomId, accessKey: accessKey(r.roomId, r.roomSecret, r.epoch), afterSeq: 0n, limit: 1 });
      await this.skipTo(roomId, res.oldestSeq > 0n ? res.oldestSeq - 1n : res.latestSeq);
      this.d.resubscribe();
      return;
    }
    // A stream still using a key we have since rotated (ourselves, or applied from the mailbox
    // before the old stream closed): just follow the room with the current key.
    const r = loadRoom(this.d.state, roomId);
    const used = this.subscribedEpoch.get(hex);
    if (r !== undefined && !r.departed && used !== undefined && r.epoch > used) {
      this.d.resubscribe();
      return;
    }
    // ACCESS_DENIED: wait for a RoomSecretRotation in the mailbox (RM-14); NOT_FOUND: gone.
    this.awaitingRotation.add(hex);
    this.emit({ type: "room-closed", roomId: hex, reason: why === RoomClosedReason.NOT_FOUND ? "not-found" : "access-denied" });
  }

  // ------------------------------------------------------------------ joins and departures

  private async join(t: Txn, fx: Effects, room: RoomRecord, seq: bigint, epoch: number, ann: JoinAnnouncement): Promise<void> {
    let v;
    try {
      v = await verifyJoinAnnouncement(ann, room.roomId, epoch);
    } catch (e) {
      fx.events.push({ type: "decryption-failed", roomId: roomHex(room.roomId), reason: `invalid join (${reason(e)})` });
      return;
    }
    await this.step(
      t,
      fx,
      room,
      applyLogEvent(room, this.self, { kind: "join", seq, epoch, identityKey: v.statement.identityKey, nonce: v.statement.nonce, deliveryToken: v.statement.deliveryToken, displayName: v.displayName }),
    );
  }

  /** RM-35: a signed leave or removal; room-core decides whether its signer may make it. */
  private async departure(t: Txn, fx: Effects, room: RoomRecord, seq: bigint, epoch: number, ann: DepartureAnnouncement): Promise<void> {
    let v;
    try {
      v = await verifyDepartureAnnouncement(ann, room.roomId, epoch);
    } catch (e) {
      fx.events.push({ type: "decryption-failed", roomId: roomHex(room.roomId), reason: `invalid departure (${reason(e)})` });
      return;
    }
    await this.step(t, fx, room, applyLogEvent(room, this.self, { kind: "departure", seq, epoch, signer: v.signer, member: v.member }));
  }

  private markChanged(addr: string, key: Uint8Array): void {
    const existing = this.d.store.trustedRecord(addr);
    if (existing !== undefined && existing.verification === VerificationState.VERIFIED) return;
    this.d.store.putTrustedRecord(addr, {
      $typeName: "securecomm.storage.v1.TrustedIdentityRecord",
      address: addressFromSerializedIdentityKey(key),
      identityKey: key,
      verification: VerificationState.CHANGED,
      firstSeenMs: BigInt(this.d.now()),
    });
  }

  /** Our Welcome for a joiner at `seq` (RM-08): SKDM, profile, token, roster as of seq. */
  private async welcome(room: RoomRecord, seq: bigint): Promise<Content> {
    const rec = this.d.account.record;
    const skdm = await createSenderKeyDistributionMessage(new RoomSenderKeyStore(this.d.state, room.roomId), this.selfAddr, room.distributionId);
    return this.content(room.roomId, welcomeBody(room, seq, skdm, { displayName: rec.displayName, deliveryToken: rec.deliveryToken }));
  }


  /**
   * Applies a pure rule's step (room-core.ts) to `room` (in place, so the caller saves it) and
   * performs its effects: the driver's half of every rule.
   */
  private async step(t: Txn, fx: Effects, room: RoomRecord, step: Step): Promise<void> {
    if (step.room !== room) {
      Object.assign(room, step.room);
      fx.recordChanged = true;
    }
    for (const effect of step.effects) {
      if (!RECORD_NEUTRAL_EFFECTS.has(effect.type)) fx.recordChanged = true;
      await this.perform1(t, fx, room, effect);
    }
  }

  /** One effect of a rule (room-core.ts `Effect`). */
  private async perform1(t: Txn, fx: Effects, room: RoomRecord, e: Effect): Promise<void> {
    const hex = roomHex(room.roomId);
    switch (e.type) {
      case "emit":
        fx.events.push(e.event);
        return;
      case "welcome": {
        const welcome = await this.welcome(room, e.asOfSeq);
        enqueue(t, { kind: "pairwise", room: hex, to: b64(e.to), token: b64(e.token), content: b64(toBinary(ContentSchema, welcome)) });
        fx.outbox = true;
        return;
      }
      case "identity-suspect":
        this.markChanged(addrOf(e.member), e.member);
        return;
      case "forget-sender":
        new RoomSenderKeyStore(this.d.state, room.roomId).deleteSenderKeys(addrOf(e.member));
        deleteDistsOf(t, room.roomId, e.member);
        return;
      case "rotate-sender-key": {
        // RM-12: a new sender key with a new distribution id, sent to every remaining member.
        const dist = createDistributionId();
        room.distributionId = dist;
        setDistOwner(t, room.roomId, dist, this.self);
        const self = room.members.find((m) => same(m.identityKey, this.self));
        if (self !== undefined) self.distributionId = dist;
        const skdm = await createSenderKeyDistributionMessage(new RoomSenderKeyStore(this.d.state, room.roomId), this.selfAddr, dist);
        setInitialSkdm(t, room.roomId, skdm);
        for (const m of room.members) {
          if (same(m.identityKey, this.self)) continue;
          const c = this.content(room.roomId, skdmBody(skdm));
          enqueue(t, { kind: "pairwise", room: hex, to: b64(m.identityKey), token: b64(m.deliveryToken), content: b64(toBinary(ContentSchema, c)) });
        }
        fx.outbox = true;
        return;
      }
      case "rotate-secret":
        // RM-13, RM-28: the admin rotates after every departure, also when it is left alone.
        // RM-52: after a removal the admin also resets the invite link.
        enqueue(t, { kind: "rotate", room: hex, secret: b64(randomBytes(ROOM_SECRET_LENGTH)), departureSeq: String(e.departureSeq), departureEpoch: e.departureEpoch, ...(e.removal ? { resetInvite: b64(createInviteSecret()) } : {}) });
        fx.outbox = true;
        return;
      case "depart":
        this.depart(t, room);
        fx.events.push({ type: "room-closed", roomId: hex, reason: e.reason }, { type: "rooms-changed" });
        fx.resubscribe = true;
        return;
      case "accept-welcome-key":
        await this.acceptWelcomeKeys(t, fx, room, e.from, e.welcome);
        return;
      case "hold-welcome":
        holdPairwise(t, room.roomId, e.from, toBinary(ContentSchema, create(ContentSchema, { roomId: room.roomId, body: { case: "welcome", value: e.welcome } })));
        return;
      case "roster-set":
        await this.rosterSet(t, fx, room);
        return;
      case "track":
        saveTracked(t, room.roomId, e.messageId, e.record);
        return;
      case "resubscribe":
        this.awaitingRotation.delete(hex);
        fx.resubscribe = true;
        return;
      case "keep-rotation":
        t.put(roomKey.rotation(hex, e.rotation.epoch), new Uint8Array([...e.from, ...toBinary(ContentSchema, create(ContentSchema, { roomId: room.roomId, body: { case: "roomSecretRotation", value: e.rotation } }))]));
        return;
    }
  }



  // ------------------------------------------------------------------ mailbox

  /** Processes mailbox envelopes (API-14); resolves with the ids to acknowledge. */
  async onMailbox(envelopes: MailboxEnvelope[]): Promise<bigint[]> {
    const ack: bigint[] = [];
    for (const env of envelopes) {
      try {
        await this.tx(async (t, fx) => {
          let received;
          try {
            received = await this.d.pairwise.open(env.envelope);
          } catch (e) {
            // A redelivered envelope we already processed (API-14) is acknowledged silently.
            if (isProtocolError(e, "duplicate_message")) return;
            fx.events.push({ type: "decryption-failed", reason: `pairwise message rejected (${reason(e)})` });
            return;
          }
          await this.pairwiseContent(t, fx, received.senderIdentityKey.serialize(), received.content);
        });
        ack.push(env.id);
      } catch (e) {
        // Storage or relay failure: not acknowledged, so it comes again (at-least-once).
        if (e instanceof ConnectError) throw e;
        this.emit({ type: "decryption-failed", reason: `pairwise message failed (${reason(e)})` });
        ack.push(env.id);
      }
    }
    return ack;
  }

  private async pairwiseContent(t: Txn, fx: Effects, from: Uint8Array, content: Content): Promise<void> {
    const room = loadRoom(t, content.roomId);
    if (room === undefined || room.departed) return; // RM-22
    const hex = roomHex(room.roomId);
    const body = content.body;
    if (body.case === "welcome") {
      await this.onWelcome(t, fx, room, from, body.value);
      saveRoom(t, room);
      return;
    }
    if (room.adminIdentityKey.length === 0 && (body.case === "senderKeyDistribution" || body.case === "roomSecretRotation")) {
      // RM-34: mailbox order across senders is arbitrary; what a member sends us before the
      // inviter's Welcome sets our roster waits for it (then RM-22 applies).
      holdPairwise(t, room.roomId, from, toBinary(ContentSchema, content));
      return;
    }
    const member = room.members.find((m) => same(m.identityKey, from));
    if (member === undefined) return; // RM-22: not a member
    switch (body.case) {
      case "senderKeyDistribution": {
        if (await this.acceptSkdm(t, fx, room, from, body.value.distributionMessage)) {
          saveRoom(t, room);
          fx.retryPending.push(room.roomId);
        }
        return;
      }
      case "roomSecretRotation": {
        const rot = body.value;
        // Keep it; apply every kept rotation that is now applicable (RM-14).
        t.put(roomKey.rotation(hex, rot.epoch), new Uint8Array([...from, ...toBinary(ContentSchema, content)]));
        await this.applyRotations(t, fx, room);
        saveRoom(t, room);
        return;
      }
      case "roster": {
        // RM-21: only to detect disagreement (ID-12 (b)).
        for (const rm of body.value.members) {
          const ours = room.members.find((m) => m.joinedSeq === rm.joinedSeq);
          if (ours !== undefined && !same(ours.identityKey, rm.identityKey)) {
            fx.events.push({ type: "identity-changed", roomId: hex, member: addrOf(rm.identityKey) });
          }
        }
        return;
      }
      default:
        return;
    }
  }

  private async acceptSkdm(t: Txn, fx: Effects, room: RoomRecord, from: Uint8Array, skdm: Uint8Array): Promise<boolean> {
    let parsed;
    try {
      const { decodeSenderKeyDistribution } = await import("../sender-keys/messages.js");
      parsed = decodeSenderKeyDistribution(skdm);
    } catch (e) {
      fx.events.push({ type: "decryption-failed", roomId: roomHex(room.roomId), sender: addrOf(from), reason: `bad sender key (${reason(e)})` });
      return false;
    }
    const owner = distOwner(t, room.roomId, parsed.distributionId);
    if (owner !== undefined && !same(owner, from)) {
      // SK-10: a distribution id already mapped to another member.
      fx.events.push({ type: "decryption-failed", roomId: roomHex(room.roomId), sender: addrOf(from), reason: "sender key claims another member's id" });
      return false;
    }
    await processSenderKeyDistributionMessage(new RoomSenderKeyStore(this.d.state, room.roomId), addrOf(from), skdm);
    setDistOwner(t, room.roomId, parsed.distributionId, from);
    const m = room.members.find((x) => same(x.identityKey, from));
    if (m !== undefined) m.distributionId = parsed.distributionId;
    return true;
  }

  private async onWelcome(t: Txn, fx: Effects, room: RoomRecord, from: Uint8Array, w: Welcome): Promise<void> {
    const rec = this.d.account.record;
    await this.step(t, fx, room, applyWelcome(room, this.self, from, w, { displayName: this.displayName, deliveryToken: rec.deliveryToken }));
  }

  /** RM-08, RM-25: our roster was just set: read the log, and let earlier Welcomes add their keys. */
  private async rosterSet(t: Txn, fx: Effects, room: RoomRecord): Promise<void> {
    const hex = roomHex(room.roomId);
    const inviterKey = roomKey.inviter(hex);
    const inviter = t.get(inviterKey);
    if (inviter !== undefined) {
      t.delete(inviterKey);
      // RM-03: warn when the inviter is not in the roster we received (a record made before RM-25).
      if (!room.members.some((m) => same(m.identityKey, inviter))) fx.events.push({ type: "identity-changed", roomId: hex, member: addrOf(inviter) });
    }
    fx.catchUp.push(room.roomId);
    const prefix = roomKey.heldPrefix(hex);
    for (const [key, value] of t.list(prefix)) {
      t.delete(key);
      const early = fromBinary(ContentSchema, value);
      const from = heldSender(key, hex);
      if (from.length !== 33) continue;
      if (early.body.case === "welcome") {
        await this.onWelcome(t, fx, room, from, early.body.value);
        continue;
      }
      // RM-34: the room record is the caller's; replay through the same rules with it saved.
      saveRoom(t, room);
      await this.pairwiseContent(t, fx, from, early);
      Object.assign(room, loadRoom(t, room.roomId)!);
    }
  }

  /** RM-08: a Welcome from a member in our roster adds its profile, token and sender key, and we answer. */
  private async acceptWelcomeKeys(t: Txn, fx: Effects, room: RoomRecord, from: Uint8Array, w: Welcome): Promise<void> {
    const hex = roomHex(room.roomId);
    const member = room.members.find((m) => same(m.identityKey, from));
    if (member === undefined) return; // RM-08: a Welcome from an identity not in the roster
    if (w.profile !== undefined && isValidDisplayName(w.profile.displayName)) member.displayName = w.profile.displayName;
    if (w.deliveryToken.length === 32) member.deliveryToken = w.deliveryToken;
    if (!(await this.acceptSkdm(t, fx, room, from, w.distributionMessage))) return;
    fx.retryPending.push(room.roomId);
    // Answer with our own SKDM (RM-08) — the first of our current distribution (RM-26): the
    // Welcome's sender was a member when we joined, so it must read everything we posted since,
    // even if it was offline and welcomes us after we already posted.
    const skdm = initialSkdm(t, room.roomId) ?? (await createSenderKeyDistributionMessage(new RoomSenderKeyStore(this.d.state, room.roomId), this.selfAddr, room.distributionId));
    const c = this.content(room.roomId, skdmBody(skdm));
    enqueue(t, { kind: "pairwise", room: hex, to: b64(from), token: b64(member.deliveryToken), content: b64(toBinary(ContentSchema, c)) });
    fx.outbox = true;
  }

  /** Applies every kept rotation that has become applicable (RM-14). */
  private async applyRotations(t: Txn, fx: Effects, room: RoomRecord): Promise<void> {
    const hex = roomHex(room.roomId);
    for (;;) {
      const key = roomKey.rotation(hex, room.epoch + 1);
      const kept = t.get(key);
      if (kept === undefined) break;
      t.delete(key);
      const from = kept.slice(0, 33);
      const content = fromBinary(ContentSchema, kept.slice(33));
      if (content.body.case !== "roomSecretRotation") continue;
      // RM-14 as amended: we do not wait for departure_seq (a member that was offline cannot
      // read the log with the old key any more); RM-23 binds the old epoch to the log.
      const before = room.epoch;
      await this.step(t, fx, room, applyRotation(room, this.self, from, content.body.value));
      if (room.epoch !== before) noteRetired(t, room.roomId, before, this.d.now());
    }
    // Drop kept rotations for epochs already passed.
    for (const [k] of t.list(`${roomKey.rotationPrefix(hex)}0`)) {
      const e = rotationKeyEpoch(k, hex);
      if (e <= room.epoch) t.delete(k);
    }
  }





  // ------------------------------------------------------------------ create, join

  /** Creates a room (RM-01) and returns its hex id. */
  async createRoom(name: string): Promise<string> {
    if (utf8(name).length < 1 || utf8(name).length > 64) throw new RangeError("room name must be 1..64 bytes");
    const rec = this.d.account.record;
    for (;;) {
      const roomId = randomBytes(ROOM_ID_LENGTH);
      const secret = randomBytes(ROOM_SECRET_LENGTH);
      try {
        await this.d.account.authed(() =>
          this.d.clients.rooms.createRoom({ roomId, accessKeyHash: accessKeyHash(accessKey(roomId, secret, 0)) }),
        );
      } catch (e) {
        if (e instanceof ConnectError && e.code === Code.AlreadyExists) continue;
        throw e;
      }
      // RM-50, RM-51: the room's invite is a capability of its own, its box written at once.
      const inviteSecret = createInviteSecret();
      await writeInviteBox(this.d.clients, roomId, inviteSecret, { roomSecret: secret, epoch: 0 });
      const dist = createDistributionId();
      await this.tx(async (t, fx) => {
        const room = newRoom({
          roomId,
          name,
          inviteSecret,
          roomSecret: secret,
          epoch: 0,
          adminIdentityKey: this.self,
          members: [
            create(RoomMemberSchema, { identityKey: this.self, displayName: rec.displayName, joinedSeq: 0n, deliveryToken: rec.deliveryToken, distributionId: dist }),
          ],
          lastSeq: 0n,
          distributionId: dist,
          relayUrl: this.d.relayUrl,
          joinedSeq: 0n,
        });
        setInitialSkdm(t, roomId, await createSenderKeyDistributionMessage(new RoomSenderKeyStore(this.d.state, roomId), this.selfAddr, dist));
        setDistOwner(t, roomId, dist, this.self);
        saveRoom(t, room);
        fx.events.push({ type: "rooms-changed" });
        fx.resubscribe = true;
      });
      return roomHex(roomId);
    }
  }

  /**
   * Joins by invite link (RM-08 steps 1–3, RM-51); resolves with the room's hex id. A link whose
   * box is gone or unusable throws InviteError with a sentence for the user (RM-51, RM-52).
   */
  async joinRoom(link: string): Promise<string> {
    const parsed = parseInviteLink(link);
    const existing = loadRoom(this.d.state, parsed.roomId);
    if (existing !== undefined && !existing.departed) return roomHex(parsed.roomId);
    // RM-51: the invite secret leads to the room's current secret through the relay's box.
    const redeemed = await redeemInvite(this.d.clients, parsed, (ms) => new Promise((r) => setTimeout(r, ms)));
    const inv = { roomId: parsed.roomId, roomSecret: redeemed.roomSecret, epoch: redeemed.epoch, roomName: parsed.roomName, inviterIdentityKey: parsed.inviterIdentityKey };
    const rec = this.d.account.record;
    const dist = createDistributionId();
    const envelope = sealJoin(inv, this.d.identity, { deliveryToken: rec.deliveryToken, displayName: rec.displayName }, this.d.now());
    // The sender key exists before the announcement is posted (RM-08 step 1).
    await this.tx(async (t) => {
      deleteRoomKeys(t, inv.roomId, [ROOM_KEYS.dist, ROOM_KEYS.pending, ROOM_KEYS.rotation, ROOM_KEYS.ownPost, ROOM_KEYS.heldWelcome, ROOM_KEYS.initialSkdm]);
      new RoomSenderKeyStore(this.d.state, inv.roomId).deleteSenderKeys();
      setInitialSkdm(t, inv.roomId, await createSenderKeyDistributionMessage(new RoomSenderKeyStore(this.d.state, inv.roomId), this.selfAddr, dist));
      setDistOwner(t, inv.roomId, dist, this.self);
    });
    const key = accessKey(inv.roomId, inv.roomSecret, inv.epoch);
    const expired = (e: unknown) => e instanceof ConnectError && (e.code === Code.PermissionDenied || e.code === Code.NotFound);
    let posted: { seq: bigint };
    // RM-33: where the log ended before our join (read while redeeming), to find the join if
    // the answer is lost.
    const before = redeemed.latestSeq;
    try {
      posted = await this.d.clients.rooms.postToRoom({ roomId: inv.roomId, accessKey: key, envelope });
    } catch (e) {
      // The room rotated between reading the box and posting: the link is fine, try again.
      if (expired(e)) throw new InviteError(parsed.legacy === undefined ? "invite_unusable" : "invite_expired", { cause: e });
      // RM-33: the relay may have stored the join and its answer been lost. Never post a second
      // join: find this one (its exact bytes) in the log after `before`.
      const found = await this.findOwnPost(inv.roomId, key, before, envelope).catch(() => undefined);
      if (found === undefined) throw e;
      posted = { seq: found };
    }
    await this.tx(async (t, fx) => {
      const room = newRoom({
        roomId: inv.roomId,
        name: inv.roomName,
        roomSecret: inv.roomSecret,
        epoch: inv.epoch,
        adminIdentityKey: new Uint8Array(0), // unknown until the first Welcome (RM-08)
        members: [],
        lastSeq: posted.seq,
        distributionId: dist,
        relayUrl: this.d.relayUrl,
        joinedSeq: posted.seq,
        // RM-25: only this member's Welcome sets our roster.
        inviterIdentityKey: inv.inviterIdentityKey,
        // RM-50: we can share the link we joined by (the inviter's roster may bring a newer one).
        ...(parsed.inviteSecret === undefined ? {} : { inviteSecret: parsed.inviteSecret }),
      });
      // Remember the inviter for the RM-03 check after the roster arrives.
      t.put(roomKey.inviter(roomHex(inv.roomId)), inv.inviterIdentityKey);
      saveRoom(t, room);
      fx.events.push({ type: "rooms-changed" });
      fx.resubscribe = true;
    });
    return roomHex(inv.roomId);
  }

  /** RM-33: the seq of the envelope with exactly these bytes after `afterSeq`, if the log holds it. */
  private async findOwnPost(roomId: Uint8Array, key: Uint8Array, afterSeq: bigint, envelope: Uint8Array): Promise<bigint | undefined> {
    let cursor = afterSeq;
    for (;;) {
      const res = await this.d.clients.rooms.getRoomHistory({ roomId, accessKey: key, afterSeq: cursor, limit: HISTORY_PAGE });
      const hit = res.events.find((ev) => same(ev.envelope, envelope));
      if (hit !== undefined) return hit.seq;
      if (res.events.length === 0 || res.events.at(-1)!.seq >= res.latestSeq) return undefined;
      cursor = res.events.at(-1)!.seq;
    }
  }

  // ------------------------------------------------------------------ outbox

  /**
   * Deletes previous room secrets retired longer than `retentionMs` ago (RM-14 MUST): by then
   * no envelope they could open remains in the log.
   */
  async pruneOldSecrets(retentionMs: number): Promise<void> {
    await this.tx(async (t) => {
      for (const room of allRooms(t)) if (pruneRetiredSecrets(t, room, this.d.now(), retentionMs)) saveRoom(t, room);
    });
  }

  /** Starts the outbox worker if it is not running. */
  kickOutbox(): void {
    this.outbox.kick();
  }

  /** Waits until the outbox worker is idle (tests, shutdown). */
  async outboxIdle(): Promise<void> {
    await this.outbox.idle();
  }

  /** Number of jobs waiting (tests). */
  outboxSize(): number {
    return this.outbox.size();
  }

  /**
   * Performs one outbox job and removes it. A rotation runs in one transaction. A pairwise send
   * is sealed first, in a transaction that commits the session step together with the sealed
   * envelope (kept in the job); the envelope then goes to the relay outside any transaction, so
   * the store is not locked over the network and the worker can deliver to several members at
   * once (room-outbox.ts); the job is removed once the relay took it. A failed delivery leaves
   * the sealed envelope to be delivered again as it is (a copy the recipient already has is
   * refused as a duplicate), and a job sealed longer than RESEAL_AFTER_MS ago is sealed anew
   * (its sender certificate could have expired; the unsent envelope is only a skipped key).
   */
  private async perform(key: string, job: OutboxJob): Promise<void> {
    if (job.kind === "invite-reset") {
      // RM-52: tell the members the new link (a room message, read only by current members:
      // it is sent after the rotation, under the new epoch and our new sender key).
      const r = this.find(job.room);
      if (r !== undefined && !r.departed && same(r.inviteSecret, unb64(job.inviteSecret))) {
        await this.post(job.room, this.content(r.roomId, { case: "inviteReset", value: { $typeName: "securecomm.wire.v1.InviteReset", inviteSecret: r.inviteSecret } }), false);
      }
      await this.tx(async (t) => t.delete(key));
      return;
    }
    if (job.kind !== "pairwise") {
      await this.tx(async (t, fx) => {
        if (t.get(key) === undefined) return;
        t.delete(key);
        await this.rotate(t, fx, job.room, unb64(job.secret), BigInt(job.departureSeq), job.departureEpoch, job.resetInvite === undefined ? undefined : unb64(job.resetInvite));
      });
      return;
    }
    const sealed = await this.tx(async (t) => {
      const current = outboxJob(t, key);
      if (current === undefined || current.kind !== "pairwise") return undefined;
      if (current.sealed !== undefined && current.sealedAtMs !== undefined && this.d.now() - current.sealedAtMs < RESEAL_AFTER_MS) return current;
      const envelope = await this.d.pairwise.seal(unb64(current.to), fromBinary(ContentSchema, unb64(current.content)));
      const next = { ...current, sealed: b64(envelope), sealedAtMs: this.d.now() };
      replaceJob(t, key, next);
      return next;
    });
    if (sealed?.sealed === undefined) return;
    // Dropped meanwhile (we left the room): nothing to deliver.
    if (outboxJob(this.d.state, key) === undefined) return;
    await this.d.pairwise.deliver(unb64(sealed.to), unb64(sealed.token), unb64(sealed.sealed));
    await this.d.state.transaction(async (t) => t.delete(key));
  }

  private held(identityKey: Uint8Array): boolean {
    return this.d.store.trustedRecord(addrOf(identityKey))?.verification === VerificationState.CHANGED;
  }

  /** RM-13: rotate the access key at the relay, then send the new secret to every member. */
  private async rotate(t: Txn, fx: Effects, hex: string, secret: Uint8Array, departureSeq: bigint, departureEpoch?: number, resetInvite?: Uint8Array): Promise<void> {
    const room = loadRoom(t, hexBytes(hex));
    if (room === undefined || room.departed || !same(room.adminIdentityKey, this.self)) return;
    const epoch = room.epoch + 1;
    await this.d.clients.rooms.rotateRoomAccessKey({
      roomId: room.roomId,
      accessKey: accessKey(room.roomId, room.roomSecret, room.epoch),
      newAccessKeyHash: accessKeyHash(accessKey(room.roomId, secret, epoch)),
    });
    // RM-23: once the relay holds the new key no envelope of the old epoch can be appended, so
    // its latest seq now is where the old epoch closed.
    const head = await this.d.clients.rooms.getRoomHistory({ roomId: room.roomId, accessKey: accessKey(room.roomId, secret, epoch), afterSeq: room.lastSeq, limit: 1 });
    const closedAtSeq = head.latestSeq > departureSeq ? head.latestSeq : departureSeq;
    // RM-34: the rotation names everyone who departed in the epoch it closes.
    const departedIdentityKeys = departedIn(room, Math.min(departureEpoch ?? room.epoch, room.epoch), room.epoch);
    closeEpoch(room, room.epoch, closedAtSeq, departureSeq);
    // RM-51, RM-52: the invite box follows the room to the new epoch in the same step; after a
    // removal under a new invite secret (the relay drops the old box: the removed member's
    // link now reads "reset"). The secret is drawn before the job ran, so a repeat writes the same.
    const inviteSecret = resetInvite ?? room.inviteSecret;
    if (inviteSecret.length === INVITE_SECRET_LENGTH) {
      await writeInviteBox(this.d.clients, room.roomId, inviteSecret, { roomSecret: secret, epoch });
      if (resetInvite !== undefined) {
        room.inviteSecret = resetInvite;
        enqueue(t, { kind: "invite-reset", room: hex, inviteSecret: b64(resetInvite) });
        fx.events.push({ type: "invite-changed", roomId: hex });
      }
    }
    retireSecret(t, room, this.d.now());
    room.roomSecret = secret;
    room.epoch = epoch;
    for (const m of room.members) {
      if (same(m.identityKey, this.self)) continue;
      const c = this.content(room.roomId, {
        case: "roomSecretRotation",
        value: { $typeName: "securecomm.wire.v1.RoomSecretRotation", epoch, roomSecret: secret, departureSeq, closedAtSeq, departedIdentityKeys, removedIdentityKeys: room.removedIdentityKeys },
      });
      enqueue(t, { kind: "pairwise", room: hex, to: b64(m.identityKey), token: b64(m.deliveryToken), content: b64(toBinary(ContentSchema, c)) });
    }
    saveRoom(t, room);
    this.awaitingRotation.delete(hex);
    fx.resubscribe = true;
    fx.outbox = true;
  }

  /** Releases pairwise sends held for a changed identity after the user accepted it (RM-20). */
  async acceptIdentity(address: string): Promise<void> {
    await this.d.state.transaction(async () => {
      const rec = this.d.store.trustedRecord(address);
      if (rec === undefined) return;
      rec.verification = VerificationState.UNSPECIFIED;
      this.d.store.putTrustedRecord(address, rec);
    });
    this.kickOutbox();
  }

  /** Marks an identity verified (ID-11). */
  async markVerified(address: string, identityKey: Uint8Array): Promise<void> {
    await this.d.state.transaction(async () => {
      const rec = this.d.store.trustedRecord(address);
      this.d.store.putTrustedRecord(address, {
        $typeName: "securecomm.storage.v1.TrustedIdentityRecord",
        address: addressFromSerializedIdentityKey(identityKey),
        identityKey,
        verification: VerificationState.VERIFIED,
        firstSeenMs: rec?.firstSeenMs ?? BigInt(this.d.now()),
      });
    });
  }

  /** Stops timers. */
  close(): void {
    this.closed = true;
    this.outbox.close();
  }

  /** Members of a room for display. */
  members(roomId: string): RoomMember[] {
    return this.room(roomId).members;
  }
}
