/**
 * The room protocol engine (spec/09-rooms.md RM-01..RM-22).
 *
 * Owns: creating, joining, leaving and removing; processing stored room events strictly in
 * `seq` order with `last_seq` committed atomically with their effects (RM-15); join
 * announcements, Welcomes and answers (RM-08, RM-09); departures with sender-key rotation
 * (RM-12) and room-secret rotation by the admin or successor (RM-13, RM-14); pending envelopes
 * (RM-16); ephemeral typing events (RM-17); pairwise content rules (RM-21, RM-22); the outbox
 * that performs pairwise sends and rotations after the state that caused them is stored.
 * Does not own: the relay stream (client/relay), account upkeep (client/account), cryptography
 * below the room layer.
 */

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { MailboxEnvelope, RoomCursor, RoomEvent } from "../../gen/securecomm/relay/v1/messages_pb.js";
import { RoomClosedReason } from "../../gen/securecomm/relay/v1/messages_pb.js";
import {
  type Content,
  ContentSchema,
  ProfileSchema,
  type Roster,
  RosterMemberSchema,
  RosterSchema,
} from "../../gen/securecomm/wire/v1/content_pb.js";
import { RoomEnvelopeBodySchema } from "../../gen/securecomm/wire/v1/room_pb.js";
import { type RoomMember, RoomEpochSecretSchema, RoomMemberSchema, type RoomRecord } from "../../gen/securecomm/storage/v1/room_pb.js";
import { VerificationState } from "../../gen/securecomm/storage/v1/keys_pb.js";
import { bytesToHex, constantTimeEqual, randomBytes, utf8 } from "../crypto/bytes.js";
import { sha256 } from "../crypto/kdf.js";
import { isProtocolError, ProtocolError } from "../errors.js";
import { addressFromSerializedIdentityKey, addressToString } from "../keys/address.js";
import type { IdentityKeyPair } from "../keys/identity.js";
import { pad, unpad } from "../padding.js";
import {
  createDistributionId,
  createSenderKeyDistributionMessage,
  groupDecrypt,
  groupEncrypt,
  processSenderKeyDistributionMessage,
  senderKeyMessageDistributionId,
} from "../sender-keys/group-cipher.js";
import type { Account } from "../account/account.js";
import type { KvProtocolStore } from "../app/protocol-store.js";
import type { StateStore, Txn } from "../app/state-store.js";
import type { RelayClients } from "../relay/relay-clients.js";
import { createInviteLink, parseInviteLink } from "./invite.js";
import { createJoinAnnouncement, isValidDisplayName, verifyJoinAnnouncement } from "./join.js";
import type { Pairwise } from "./pairwise.js";
import { accessKey, accessKeyHash, openRoomEnvelope, ROOM_ID_LENGTH, ROOM_SECRET_LENGTH, sealRoomEnvelope } from "./room-keys.js";
import {
  allRooms,
  b64,
  deleteDistsOf,
  deleteRoomKeys,
  distOwner,
  enqueue,
  loadRoom,
  type OutboxJob,
  MAX_PENDING_PER_ROOM,
  newRoom,
  outboxJobs,
  ROOM_KEYS,
  saveRoom,
  seqKey,
  setDistOwner,
  unb64,
} from "./room-store.js";
import { OutboxWorker } from "./room-outbox.js";
import { RoomSenderKeyStore } from "./sender-key-kv.js";

/** Text bodies are at most 4096 bytes (RM-07). */
export const MAX_TEXT_BYTES = 4096;
/** Message ids are 16 random bytes (RM-07). */
export const MESSAGE_ID_LENGTH = 16;
/** Join nonces are kept for the room retention period (RM-09); we keep the newest this many. */
export const MAX_SEEN_JOIN_NONCES = 10_000;
/** GetRoomHistory page size (API-20 max 500). */
export const HISTORY_PAGE = 500;

/** What the engine reports; the facade turns these into ClientEvents. */
export type EngineEvent =
  | {
      type: "message";
      roomId: string;
      seq: number;
      messageId: string;
      sender: string;
      senderName: string;
      text: string;
      sentAtMs: number;
      postedAtMs: number;
      own: boolean;
    }
  | { type: "typing"; roomId: string; sender: string; typing: boolean }
  | { type: "members-changed"; roomId: string }
  | { type: "identity-changed"; roomId: string; member: string }
  | { type: "decryption-failed"; roomId?: string; sender?: string; reason: string }
  | { type: "rooms-changed" }
  | { type: "room-closed"; roomId: string; reason: string };

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

/** The hex id of a room (what the facade calls `roomId`). */
export function roomHex(roomId: Uint8Array): string {
  return bytesToHex(roomId);
}

function addrOf(identityKey: Uint8Array): string {
  return addressToString(addressFromSerializedIdentityKey(identityKey));
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && constantTimeEqual(a, b);
}

function reason(e: unknown): string {
  if (isProtocolError(e)) return e.code;
  if (e instanceof ConnectError) return `relay:${Code[e.code]}`;
  return "internal";
}

/** Collected side effects of one transaction, applied after it commits. */
interface Effects {
  events: EngineEvent[];
  resubscribe: boolean;
  catchUp: Uint8Array[];
  retryPending: Uint8Array[];
  outbox: boolean;
}

function effects(): Effects {
  return { events: [], resubscribe: false, catchUp: [], retryPending: [], outbox: false };
}

/** The room protocol engine. */
export class RoomEngine {
  readonly #d: RoomEngineDeps;
  readonly #self: Uint8Array;
  readonly #selfAddr: string;
  /** Rooms whose stream said ACCESS_DENIED: not followed until a rotation arrives (RM-14). */
  readonly #awaitingRotation = new Set<string>();
  /** The epoch whose access key the current stream uses, per room (set by `cursors()`). */
  readonly #subscribedEpoch = new Map<string, number>();
  readonly #unread = new Map<string, number>();
  readonly #outbox: OutboxWorker;
  #closed = false;
  readonly #lastTyping = new Map<string, number>();

  constructor(deps: RoomEngineDeps) {
    this.#d = deps;
    this.#self = deps.identity.publicKey.serialize();
    this.#selfAddr = addressToString(deps.identity.address);
    this.#outbox = new OutboxWorker({
      state: deps.state,
      held: (job) => job.kind === "pairwise" && this.#held(unb64(job.to)),
      perform: (key, job) => this.#perform(key, job),
      report: (job, e) =>
        this.#emit({
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
    return allRooms(this.#d.state);
  }

  /** A room by hex id, or TypeError. */
  room(roomId: string): RoomRecord {
    const r = this.#find(roomId);
    if (r === undefined) throw new TypeError("unknown room");
    return r;
  }

  #find(roomId: string): RoomRecord | undefined {
    if (!/^[0-9a-f]{32}$/.test(roomId)) return undefined;
    return loadRoom(this.#d.state, hexBytes(roomId));
  }

  /** Unread count of a room (in memory). */
  unread(roomId: string): number {
    return this.#unread.get(roomId) ?? 0;
  }

  /** Marks a room read. */
  markRead(roomId: string): void {
    this.#unread.delete(roomId);
  }

  /** Our display name. */
  get displayName(): string {
    return this.#d.account.record.displayName;
  }

  /** The cursors to follow (API-11): every live room with its current access key. */
  cursors(): Array<Pick<RoomCursor, "roomId" | "accessKey" | "afterSeq">> {
    const live = this.rooms().filter((r) => !r.departed && !this.#awaitingRotation.has(roomHex(r.roomId)));
    this.#subscribedEpoch.clear();
    for (const r of live) this.#subscribedEpoch.set(roomHex(r.roomId), r.epoch);
    return live.map((r) => ({ roomId: r.roomId, accessKey: accessKey(r.roomId, r.roomSecret, r.epoch), afterSeq: r.lastSeq }));
  }

  /** The invite link of a room (RM-03). */
  inviteLink(roomId: string, origin?: string): string {
    const r = this.room(roomId);
    if (r.departed) throw new TypeError("room departed");
    return createInviteLink(origin ?? this.#d.relayUrl, {
      roomId: r.roomId,
      roomSecret: r.roomSecret,
      epoch: r.epoch,
      inviterIdentityKey: this.#self,
      roomName: r.name,
    });
  }

  // ------------------------------------------------------------------ transactions

  async #tx<T>(fn: (t: Txn, fx: Effects) => Promise<T>): Promise<T> {
    const fx = effects();
    const result = await this.#d.state.transaction((t) => fn(t, fx));
    this.#apply(fx);
    return result;
  }

  #apply(fx: Effects): void {
    for (const e of fx.events) {
      if (e.type === "message" && !e.own) this.#unread.set(e.roomId, (this.#unread.get(e.roomId) ?? 0) + 1);
      try {
        this.#d.emit(e);
      } catch {
        // A listener's failure must not break protocol processing.
      }
    }
    if (fx.resubscribe) this.#d.resubscribe();
    if (fx.outbox) this.kickOutbox();
    for (const id of fx.retryPending) void this.#retryPending(id).catch(() => undefined);
    for (const id of fx.catchUp) void this.catchUp(id).catch(() => undefined);
  }

  // ------------------------------------------------------------------ create, join

  /** Creates a room (RM-01) and returns its hex id. */
  async createRoom(name: string): Promise<string> {
    if (utf8(name).length < 1 || utf8(name).length > 64) throw new RangeError("room name must be 1..64 bytes");
    const rec = this.#d.account.record;
    for (;;) {
      const roomId = randomBytes(ROOM_ID_LENGTH);
      const secret = randomBytes(ROOM_SECRET_LENGTH);
      try {
        await this.#d.account.authed(() =>
          this.#d.clients.rooms.createRoom({ roomId, accessKeyHash: accessKeyHash(accessKey(roomId, secret, 0)) }),
        );
      } catch (e) {
        if (e instanceof ConnectError && e.code === Code.AlreadyExists) continue;
        throw e;
      }
      const dist = createDistributionId();
      await this.#tx(async (t, fx) => {
        const room = newRoom({
          roomId,
          name,
          roomSecret: secret,
          epoch: 0,
          adminIdentityKey: this.#self,
          members: [
            create(RoomMemberSchema, { identityKey: this.#self, displayName: rec.displayName, joinedSeq: 0n, deliveryToken: rec.deliveryToken, distributionId: dist }),
          ],
          lastSeq: 0n,
          distributionId: dist,
          relayUrl: this.#d.relayUrl,
          joinedSeq: 0n,
        });
        await createSenderKeyDistributionMessage(new RoomSenderKeyStore(this.#d.state, roomId), this.#selfAddr, dist);
        setDistOwner(t, roomId, dist, this.#self);
        saveRoom(t, room);
        fx.events.push({ type: "rooms-changed" });
        fx.resubscribe = true;
      });
      return roomHex(roomId);
    }
  }

  /** Joins by invite link (RM-08 steps 1–3); resolves with the room's hex id. */
  async joinRoom(link: string): Promise<string> {
    const inv = parseInviteLink(link);
    const existing = loadRoom(this.#d.state, inv.roomId);
    if (existing !== undefined && !existing.departed) return roomHex(inv.roomId);
    const rec = this.#d.account.record;
    const dist = createDistributionId();
    const ann = createJoinAnnouncement({
      identity: this.#d.identity,
      roomId: inv.roomId,
      epoch: inv.epoch,
      deliveryToken: rec.deliveryToken,
      displayName: rec.displayName,
      nowMs: this.#d.now(),
    });
    const envelope = sealRoomEnvelope(inv.roomId, inv.roomSecret, inv.epoch, create(RoomEnvelopeBodySchema, { body: { case: "join", value: ann } }));
    // The sender key exists before the announcement is posted (RM-08 step 1).
    await this.#tx(async (t) => {
      deleteRoomKeys(t, inv.roomId, [ROOM_KEYS.dist, ROOM_KEYS.pending, ROOM_KEYS.rotation, ROOM_KEYS.ownPost]);
      new RoomSenderKeyStore(this.#d.state, inv.roomId).deleteSenderKeys();
      await createSenderKeyDistributionMessage(new RoomSenderKeyStore(this.#d.state, inv.roomId), this.#selfAddr, dist);
      setDistOwner(t, inv.roomId, dist, this.#self);
    });
    let posted;
    try {
      posted = await this.#d.clients.rooms.postToRoom({ roomId: inv.roomId, accessKey: accessKey(inv.roomId, inv.roomSecret, inv.epoch), envelope });
    } catch (e) {
      if (e instanceof ConnectError && (e.code === Code.PermissionDenied || e.code === Code.NotFound)) {
        throw new TypeError("The invite has expired or the room no longer exists.");
      }
      throw e;
    }
    await this.#tx(async (t, fx) => {
      const room = newRoom({
        roomId: inv.roomId,
        name: inv.roomName,
        roomSecret: inv.roomSecret,
        epoch: inv.epoch,
        adminIdentityKey: new Uint8Array(0), // unknown until the first Welcome (RM-08)
        members: [],
        lastSeq: posted.seq,
        distributionId: dist,
        relayUrl: this.#d.relayUrl,
        joinedSeq: posted.seq,
      });
      // Remember the inviter for the RM-03 check after the roster arrives.
      t.put(`${ROOM_KEYS.rotation}${roomHex(inv.roomId)}/inviter`, inv.inviterIdentityKey);
      saveRoom(t, room);
      fx.events.push({ type: "rooms-changed" });
      fx.resubscribe = true;
    });
    return roomHex(inv.roomId);
  }

  // ------------------------------------------------------------------ sending

  /** Encrypts content with our sender key and posts it (RM-06, RM-07, SK-04). */
  async #post(roomId: string, content: Content, ephemeral: boolean): Promise<{ seq: bigint; postedAtMs: bigint }> {
    const r = this.room(roomId);
    if (r.departed) throw new TypeError("room departed");
    if (r.adminIdentityKey.length === 0) throw new TypeError("The room is still being joined.");
    const envelope = await this.#tx(async (t) => {
      const room = loadRoom(t, r.roomId)!;
      const skm = await groupEncrypt(new RoomSenderKeyStore(this.#d.state, room.roomId), this.#selfAddr, room.distributionId, pad(toBinary(ContentSchema, content)));
      const env = sealRoomEnvelope(room.roomId, room.roomSecret, room.epoch, create(RoomEnvelopeBodySchema, { body: { case: "senderKeyMessage", value: skm } }));
      const kind = content.body.case;
      if (!ephemeral && (kind === "leave" || kind === "remove")) {
        const target = kind === "remove" ? content.body.value.memberIdentityKey : this.#self;
        t.put(`${ROOM_KEYS.ownPost}${roomHex(room.roomId)}/${bytesToHex(sha256(env))}`, target);
      }
      return { env, accessKey: accessKey(room.roomId, room.roomSecret, room.epoch) };
    });
    if (ephemeral) {
      await this.#d.clients.rooms.postEphemeral({ roomId: r.roomId, accessKey: envelope.accessKey, envelope: envelope.env });
      return { seq: 0n, postedAtMs: BigInt(this.#d.now()) };
    }
    const res = await this.#d.clients.rooms.postToRoom({ roomId: r.roomId, accessKey: envelope.accessKey, envelope: envelope.env });
    return { seq: res.seq, postedAtMs: res.postedAtMs };
  }

  #content(roomId: Uint8Array, body: Content["body"]): Content {
    return create(ContentSchema, { roomId, messageId: randomBytes(MESSAGE_ID_LENGTH), sentAtMs: BigInt(this.#d.now()), body });
  }

  /** Sends a text message (RM-07); resolves with its id and the relay's seq. */
  async sendText(roomId: string, text: string): Promise<{ messageId: string; seq: number }> {
    if (utf8(text).length > MAX_TEXT_BYTES || text.length === 0) throw new RangeError("text must be 1..4096 bytes");
    const r = this.room(roomId);
    const content = this.#content(r.roomId, { case: "text", value: { $typeName: "securecomm.wire.v1.Text", body: text } });
    const res = await this.#post(roomId, content, false);
    const messageId = bytesToHex(content.messageId);
    this.#emit({
      type: "message",
      roomId,
      seq: Number(res.seq),
      messageId,
      sender: this.#selfAddr,
      senderName: this.displayName,
      text,
      sentAtMs: Number(content.sentAtMs),
      postedAtMs: Number(res.postedAtMs),
      own: true,
    });
    return { messageId, seq: Number(res.seq) };
  }

  #emit(e: EngineEvent): void {
    try {
      this.#d.emit(e);
    } catch {
      // listeners must not break the engine
    }
  }

  /** Sends a typing indicator as an ephemeral event (RM-17), at most one "started" per 3 s. */
  async setTyping(roomId: string, typing: boolean): Promise<void> {
    const now = this.#d.now();
    if (typing && now - (this.#lastTyping.get(roomId) ?? -Infinity) < 3000) return;
    if (typing) this.#lastTyping.set(roomId, now);
    else this.#lastTyping.delete(roomId);
    const r = this.room(roomId);
    await this.#post(roomId, this.#content(r.roomId, { case: "typing", value: { $typeName: "securecomm.wire.v1.Typing", started: typing } }), true);
  }

  /** Announces our display name in a room (RM-18, Content.profile). */
  async sendProfile(roomId: string, displayName: string): Promise<void> {
    const r = this.room(roomId);
    await this.#post(roomId, this.#content(r.roomId, { case: "profile", value: create(ProfileSchema, { displayName }) }), false);
  }

  /** Leaves (RM-10): posts Leave, then deletes secrets and sender keys and marks departed. */
  async leaveRoom(roomId: string): Promise<void> {
    const r = this.room(roomId);
    if (r.departed) return;
    await this.#post(roomId, this.#content(r.roomId, { case: "leave", value: { $typeName: "securecomm.wire.v1.Leave" } }), false);
    await this.#tx(async (t, fx) => {
      const room = loadRoom(t, r.roomId)!;
      this.#depart(t, room);
      saveRoom(t, room);
      fx.events.push({ type: "rooms-changed" }, { type: "room-closed", roomId, reason: "left" });
      fx.resubscribe = true;
    });
  }

  /** Removes a member (RM-11); only the admin may. */
  async removeMember(roomId: string, memberAddress: string): Promise<void> {
    const r = this.room(roomId);
    if (!same(r.adminIdentityKey, this.#self)) throw new TypeError("Only the room admin can remove members.");
    const m = r.members.find((x) => addrOf(x.identityKey) === memberAddress);
    if (m === undefined) throw new TypeError("No such member.");
    if (same(m.identityKey, this.#self)) throw new TypeError("The admin cannot remove itself; leave instead.");
    await this.#post(roomId, this.#content(r.roomId, { case: "remove", value: { $typeName: "securecomm.wire.v1.Remove", memberIdentityKey: m.identityKey } }), false);
  }

  /** Deletes a room's secrets and keys and marks it departed (RM-10, RM-11). */
  #depart(t: Txn, room: RoomRecord): void {
    room.departed = true;
    room.roomSecret = new Uint8Array(0);
    room.previousSecrets = [];
    room.distributionId = new Uint8Array(0);
    new RoomSenderKeyStore(this.#d.state, room.roomId).deleteSenderKeys();
    deleteRoomKeys(t, room.roomId, [ROOM_KEYS.dist, ROOM_KEYS.pending, ROOM_KEYS.rotation, ROOM_KEYS.ownPost]);
    for (const { key, job } of outboxJobs(t)) if (job.room === roomHex(room.roomId)) t.delete(key);
  }

  // ------------------------------------------------------------------ room stream

  /** Handles a batch of room events from the stream (RM-15, RM-17). */
  async onRoomEvents(roomId: Uint8Array, events: RoomEvent[]): Promise<void> {
    for (const ev of events) {
      if (ev.ephemeral) await this.#ephemeral(roomId, ev);
      else await this.#stored(roomId, ev);
    }
  }

  /** Fetches and processes history after `last_seq` (gap fill, RM-15). */
  async catchUp(roomId: Uint8Array, untilSeq?: bigint): Promise<void> {
    for (;;) {
      const r = loadRoom(this.#d.state, roomId);
      if (r === undefined || r.departed || r.adminIdentityKey.length === 0) return;
      if (untilSeq !== undefined && r.lastSeq >= untilSeq) return;
      const res = await this.#d.clients.rooms.getRoomHistory({
        roomId,
        accessKey: accessKey(r.roomId, r.roomSecret, r.epoch),
        afterSeq: r.lastSeq,
        limit: HISTORY_PAGE,
      });
      if (res.events.length === 0) {
        if (untilSeq !== undefined && res.latestSeq < untilSeq) return;
        // Retention dropped events before our cursor: resume from what is retained (RM-19).
        if (res.oldestSeq > r.lastSeq + 1n) await this.#skipTo(roomId, res.oldestSeq - 1n);
        return;
      }
      for (const ev of res.events) await this.#stored(roomId, ev, true);
      if (res.events.at(-1)!.seq >= res.latestSeq) return;
    }
  }

  async #skipTo(roomId: Uint8Array, seq: bigint): Promise<void> {
    await this.#tx(async (t, fx) => {
      const room = loadRoom(t, roomId);
      if (room === undefined || room.lastSeq >= seq) return;
      room.lastSeq = seq;
      saveRoom(t, room);
      fx.events.push({ type: "room-closed", roomId: roomHex(roomId), reason: "history-expired" });
    });
  }

  async #stored(roomId: Uint8Array, ev: RoomEvent, fromHistory = false): Promise<void> {
    const r = loadRoom(this.#d.state, roomId);
    if (r === undefined || r.departed) return;
    if (r.adminIdentityKey.length === 0) return; // still joining: events wait for the roster
    if (ev.seq <= r.lastSeq) return; // duplicate (API-14)
    if (ev.seq > r.lastSeq + 1n && !fromHistory) {
      // A gap (RM-15): read the log from last_seq up to and including this event.
      await this.catchUp(roomId, ev.seq);
      return;
    }
    let gap = false;
    await this.#tx(async (t, fx) => {
      const room = loadRoom(t, roomId);
      if (room === undefined || room.departed || ev.seq <= room.lastSeq) return;
      if (ev.seq !== room.lastSeq + 1n && !fromHistory) {
        gap = true;
        return;
      }
      room.lastSeq = ev.seq;
      await this.#processStored(t, fx, room, ev);
      saveRoom(t, room);
    });
    if (gap) await this.catchUp(roomId, ev.seq);
  }

  /** One stored event at its seq; `room` is saved by the caller. */
  async #processStored(t: Txn, fx: Effects, room: RoomRecord, ev: RoomEvent): Promise<void> {
    const hex = roomHex(room.roomId);
    let opened;
    try {
      opened = openRoomEnvelope(room.roomId, ev.envelope, (epoch) => this.#secretFor(room, epoch));
    } catch (e) {
      // RM-06: invalid, skipped, counted as processed; reported, never silent.
      fx.events.push({ type: "decryption-failed", roomId: hex, reason: `invalid room envelope (${reason(e)})` });
      return;
    }
    const body = opened.body.body;
    if (body.case === "join") {
      await this.#join(t, fx, room, ev.seq, opened.epoch, body.value);
      return;
    }
    if (body.case !== "senderKeyMessage") return;
    await this.#senderKeyMessage(t, fx, room, ev, body.value);
  }

  async #senderKeyMessage(t: Txn, fx: Effects, room: RoomRecord, ev: RoomEvent, skm: Uint8Array): Promise<void> {
    const hex = roomHex(room.roomId);
    let dist: Uint8Array;
    try {
      dist = senderKeyMessageDistributionId(skm);
    } catch (e) {
      fx.events.push({ type: "decryption-failed", roomId: hex, reason: `invalid sender-key message (${reason(e)})` });
      return;
    }
    if (same(dist, room.distributionId) || same(distOwner(t, room.roomId, dist) ?? new Uint8Array(0), this.#self)) {
      // Our own post (RM-07): not decrypted; a leave/remove we posted takes effect now.
      const key = `${ROOM_KEYS.ownPost}${hex}/${bytesToHex(sha256(ev.envelope))}`;
      const target = t.get(key);
      if (target !== undefined) {
        t.delete(key);
        if (!same(target, this.#self)) await this.#departure(t, fx, room, target, ev.seq);
      }
      return;
    }
    const owner = distOwner(t, room.roomId, dist);
    if (owner === undefined) {
      this.#keepPending(t, room, ev);
      return;
    }
    let content: Content;
    try {
      const padded = await groupDecrypt(new RoomSenderKeyStore(this.#d.state, room.roomId), addrOf(owner), skm);
      content = fromBinary(ContentSchema, unpad(padded));
    } catch (e) {
      if (isProtocolError(e, "no_sender_key")) {
        this.#keepPending(t, room, ev);
        return;
      }
      fx.events.push({ type: "decryption-failed", roomId: hex, sender: addrOf(owner), reason: reason(e) });
      return;
    }
    if (!same(content.roomId, room.roomId)) {
      fx.events.push({ type: "decryption-failed", roomId: hex, sender: addrOf(owner), reason: "content for another room" });
      return;
    }
    await this.#roomContent(t, fx, room, owner, content, ev);
  }

  /** Applies decrypted room content from member `owner` (RM-07, RM-10, RM-11, RM-18). */
  async #roomContent(t: Txn, fx: Effects, room: RoomRecord, owner: Uint8Array, content: Content, ev: RoomEvent): Promise<void> {
    const hex = roomHex(room.roomId);
    const member = room.members.find((m) => same(m.identityKey, owner));
    if (member === undefined) return; // departed since: their old posts change nothing
    const body = content.body;
    switch (body.case) {
      case "text": {
        if (utf8(body.value.body).length > MAX_TEXT_BYTES) return;
        fx.events.push({
          type: "message",
          roomId: hex,
          seq: Number(ev.seq),
          messageId: bytesToHex(content.messageId),
          sender: addrOf(owner),
          senderName: member.displayName,
          text: body.value.body,
          sentAtMs: Number(content.sentAtMs),
          postedAtMs: Number(ev.postedAtMs),
          own: false,
        });
        return;
      }
      case "leave":
        await this.#departure(t, fx, room, owner, ev.seq);
        return;
      case "remove": {
        const target = body.value.memberIdentityKey;
        if (!same(owner, room.adminIdentityKey)) return; // RM-11
        if (same(target, room.adminIdentityKey)) return;
        if (!room.members.some((m) => same(m.identityKey, target))) return;
        if (same(target, this.#self)) {
          this.#depart(t, room);
          fx.events.push({ type: "room-closed", roomId: hex, reason: "removed" }, { type: "rooms-changed" });
          fx.resubscribe = true;
          return;
        }
        await this.#departure(t, fx, room, target, ev.seq);
        return;
      }
      case "profile": {
        const name = body.value.displayName;
        if (!isValidDisplayName(name)) return;
        member.displayName = name;
        fx.events.push({ type: "members-changed", roomId: hex });
        return;
      }
      default:
        return; // typing in stored events, receipts, and pairwise-only bodies are ignored (RM-07, RM-17)
    }
  }

  #keepPending(t: Txn, room: RoomRecord, ev: RoomEvent): void {
    const prefix = `${ROOM_KEYS.pending}${roomHex(room.roomId)}/`;
    const existing = t.list(prefix);
    if (existing.length >= MAX_PENDING_PER_ROOM) t.delete(existing[0]![0]);
    // The post time rides in the key so a recovered message shows when it was posted.
    t.put(`${prefix}${seqKey(ev.seq)}/${ev.postedAtMs}`, ev.envelope);
  }

  /** Retries pending envelopes of a room after an SKDM arrived (RM-16). */
  async #retryPending(roomId: Uint8Array): Promise<void> {
    const prefix = `${ROOM_KEYS.pending}${roomHex(roomId)}/`;
    for (const [key, envelope] of this.#d.state.list(prefix)) {
      await this.#tx(async (t, fx) => {
        const room = loadRoom(t, roomId);
        if (room === undefined || room.departed || t.get(key) === undefined) return;
        let opened;
        try {
          opened = openRoomEnvelope(room.roomId, envelope, (epoch) => this.#secretFor(room, epoch));
        } catch {
          t.delete(key);
          return;
        }
        if (opened.body.body.case !== "senderKeyMessage") {
          t.delete(key);
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
        const [seqText, postedText] = key.slice(prefix.length).split("/");
        const seq = BigInt(seqText!);
        const postedAtMs = BigInt(postedText ?? "0");
        await this.#senderKeyMessage(t, fx, room, { seq, postedAtMs, envelope, ephemeral: false } as RoomEvent, skm);
        saveRoom(t, room);
      });
    }
  }

  #secretFor(room: RoomRecord, epoch: number): Uint8Array | undefined {
    if (epoch === room.epoch && room.roomSecret.length === ROOM_SECRET_LENGTH) return room.roomSecret;
    return room.previousSecrets.find((p) => p.epoch === epoch)?.roomSecret;
  }

  async #ephemeral(roomId: Uint8Array, ev: RoomEvent): Promise<void> {
    const r = loadRoom(this.#d.state, roomId);
    if (r === undefined || r.departed || r.adminIdentityKey.length === 0) return;
    await this.#tx(async (t, fx) => {
      const room = loadRoom(t, roomId)!;
      let opened;
      try {
        opened = openRoomEnvelope(room.roomId, ev.envelope, (epoch) => this.#secretFor(room, epoch));
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
      if (owner === undefined || same(owner, this.#self)) return;
      if (!room.members.some((m) => same(m.identityKey, owner))) return;
      let content: Content;
      try {
        content = fromBinary(ContentSchema, unpad(await groupDecrypt(new RoomSenderKeyStore(this.#d.state, room.roomId), addrOf(owner), skm)));
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
      const r = loadRoom(this.#d.state, roomId);
      if (r === undefined) return;
      const res = await this.#d.clients.rooms.getRoomHistory({ roomId, accessKey: accessKey(r.roomId, r.roomSecret, r.epoch), afterSeq: 0n, limit: 1 });
      await this.#skipTo(roomId, res.oldestSeq > 0n ? res.oldestSeq - 1n : res.latestSeq);
      this.#d.resubscribe();
      return;
    }
    // A stream still using a key we have since rotated (ourselves, or applied from the mailbox
    // before the old stream closed): just follow the room with the current key.
    const r = loadRoom(this.#d.state, roomId);
    const used = this.#subscribedEpoch.get(hex);
    if (r !== undefined && !r.departed && used !== undefined && r.epoch > used) {
      this.#d.resubscribe();
      return;
    }
    // ACCESS_DENIED: wait for a RoomSecretRotation in the mailbox (RM-14); NOT_FOUND: gone.
    this.#awaitingRotation.add(hex);
    this.#emit({ type: "room-closed", roomId: hex, reason: why === RoomClosedReason.NOT_FOUND ? "not-found" : "access-denied" });
  }

  // ------------------------------------------------------------------ joins and departures

  async #join(t: Txn, fx: Effects, room: RoomRecord, seq: bigint, epoch: number, ann: import("../../gen/securecomm/wire/v1/room_pb.js").JoinAnnouncement): Promise<void> {
    const hex = roomHex(room.roomId);
    let v;
    try {
      v = await verifyJoinAnnouncement(ann, room.roomId, epoch);
    } catch (e) {
      fx.events.push({ type: "decryption-failed", roomId: hex, reason: `invalid join (${reason(e)})` });
      return;
    }
    const nonceSeen = room.seenJoinNonces.some((n) => same(n, v.statement.nonce));
    if (nonceSeen) {
      fx.events.push({ type: "decryption-failed", roomId: hex, reason: "replayed join" });
      return; // RM-09
    }
    room.seenJoinNonces.push(v.statement.nonce);
    if (room.seenJoinNonces.length > MAX_SEEN_JOIN_NONCES) room.seenJoinNonces.shift();
    const key = v.statement.identityKey;
    if (room.members.some((m) => same(m.identityKey, key))) return; // already a member
    room.members.push(create(RoomMemberSchema, { identityKey: key, displayName: v.displayName, joinedSeq: seq, deliveryToken: v.statement.deliveryToken }));
    fx.events.push({ type: "members-changed", roomId: hex });
    // ID-12 (a): a new identity with the name of a current member is a possible key change.
    const addr = addrOf(key);
    if (room.members.some((m) => !same(m.identityKey, key) && !same(m.identityKey, this.#self) && m.displayName === v.displayName)) {
      this.#markChanged(addr, key);
      fx.events.push({ type: "identity-changed", roomId: hex, member: addr });
    }
    const welcome = await this.#welcome(room, seq);
    enqueue(t, { kind: "pairwise", room: hex, to: b64(key), token: b64(v.statement.deliveryToken), content: b64(toBinary(ContentSchema, welcome)) });
    fx.outbox = true;
  }

  #markChanged(addr: string, key: Uint8Array): void {
    const existing = this.#d.store.trustedRecord(addr);
    if (existing !== undefined && existing.verification === VerificationState.VERIFIED) return;
    this.#d.store.putTrustedRecord(addr, {
      $typeName: "securecomm.storage.v1.TrustedIdentityRecord",
      address: addressFromSerializedIdentityKey(key),
      identityKey: key,
      verification: VerificationState.CHANGED,
      firstSeenMs: BigInt(this.#d.now()),
    });
  }

  /** Our Welcome for a joiner at `seq` (RM-08): SKDM, profile, token, roster as of seq. */
  async #welcome(room: RoomRecord, seq: bigint): Promise<Content> {
    const rec = this.#d.account.record;
    const skdm = await createSenderKeyDistributionMessage(new RoomSenderKeyStore(this.#d.state, room.roomId), this.#selfAddr, room.distributionId);
    return this.#content(room.roomId, {
      case: "welcome",
      value: {
        $typeName: "securecomm.wire.v1.Welcome",
        distributionMessage: skdm,
        profile: create(ProfileSchema, { displayName: rec.displayName }),
        deliveryToken: rec.deliveryToken,
        roster: this.#roster(room, seq),
      },
    });
  }

  #roster(room: RoomRecord, asOf: bigint): Roster {
    return create(RosterSchema, {
      members: room.members.map((m) =>
        create(RosterMemberSchema, { identityKey: m.identityKey, profile: create(ProfileSchema, { displayName: m.displayName }), joinedSeq: m.joinedSeq, deliveryToken: m.deliveryToken }),
      ),
      asOfSeq: asOf,
      adminIdentityKey: room.adminIdentityKey,
      epoch: room.epoch,
    });
  }

  /** A departure at `seq` (RM-12, RM-13): rotate our sender key; admin/successor rotates the secret. */
  async #departure(t: Txn, fx: Effects, room: RoomRecord, departed: Uint8Array, seq: bigint): Promise<void> {
    const hex = roomHex(room.roomId);
    const idx = room.members.findIndex((m) => same(m.identityKey, departed));
    if (idx < 0) return;
    room.members.splice(idx, 1);
    new RoomSenderKeyStore(this.#d.state, room.roomId).deleteSenderKeys(addrOf(departed));
    deleteDistsOf(t, room.roomId, departed);
    if (same(departed, room.adminIdentityKey)) {
      // RM-13: the successor is the remaining member with the lowest joined_seq.
      const successor = [...room.members].sort((a, b) => (a.joinedSeq < b.joinedSeq ? -1 : a.joinedSeq > b.joinedSeq ? 1 : 0))[0];
      room.adminIdentityKey = successor?.identityKey ?? new Uint8Array(0);
    }
    fx.events.push({ type: "members-changed", roomId: hex });
    // RM-12: a new sender key with a new distribution id, sent to every remaining member.
    const dist = createDistributionId();
    room.distributionId = dist;
    setDistOwner(t, room.roomId, dist, this.#self);
    const self = room.members.find((m) => same(m.identityKey, this.#self));
    if (self !== undefined) self.distributionId = dist;
    const skdm = await createSenderKeyDistributionMessage(new RoomSenderKeyStore(this.#d.state, room.roomId), this.#selfAddr, dist);
    for (const m of room.members) {
      if (same(m.identityKey, this.#self)) continue;
      const c = this.#content(room.roomId, { case: "senderKeyDistribution", value: { $typeName: "securecomm.wire.v1.SenderKeyDistribution", distributionMessage: skdm } });
      enqueue(t, { kind: "pairwise", room: hex, to: b64(m.identityKey), token: b64(m.deliveryToken), content: b64(toBinary(ContentSchema, c)) });
    }
    fx.outbox = true;
    if (same(room.adminIdentityKey, this.#self) && room.members.length > 1) {
      enqueue(t, { kind: "rotate", room: hex, secret: b64(randomBytes(ROOM_SECRET_LENGTH)), departureSeq: String(seq) });
    }
  }

  // ------------------------------------------------------------------ mailbox

  /** Processes mailbox envelopes (API-14); resolves with the ids to acknowledge. */
  async onMailbox(envelopes: MailboxEnvelope[]): Promise<bigint[]> {
    const ack: bigint[] = [];
    for (const env of envelopes) {
      try {
        await this.#tx(async (t, fx) => {
          let received;
          try {
            received = await this.#d.pairwise.open(env.envelope);
          } catch (e) {
            // A redelivered envelope we already processed (API-14) is acknowledged silently.
            if (isProtocolError(e, "duplicate_message")) return;
            fx.events.push({ type: "decryption-failed", reason: `pairwise message rejected (${reason(e)})` });
            return;
          }
          await this.#pairwiseContent(t, fx, received.senderIdentityKey.serialize(), received.content);
        });
        ack.push(env.id);
      } catch (e) {
        // Storage or relay failure: not acknowledged, so it comes again (at-least-once).
        if (e instanceof ConnectError) throw e;
        this.#emit({ type: "decryption-failed", reason: `pairwise message failed (${reason(e)})` });
        ack.push(env.id);
      }
    }
    return ack;
  }

  async #pairwiseContent(t: Txn, fx: Effects, from: Uint8Array, content: Content): Promise<void> {
    const room = loadRoom(t, content.roomId);
    if (room === undefined || room.departed) return; // RM-22
    const hex = roomHex(room.roomId);
    const body = content.body;
    if (body.case === "welcome") {
      await this.#onWelcome(t, fx, room, from, body.value);
      saveRoom(t, room);
      return;
    }
    const member = room.members.find((m) => same(m.identityKey, from));
    if (member === undefined) return; // RM-22: not a member
    switch (body.case) {
      case "senderKeyDistribution": {
        if (await this.#acceptSkdm(t, fx, room, from, body.value.distributionMessage)) {
          saveRoom(t, room);
          fx.retryPending.push(room.roomId);
        }
        return;
      }
      case "roomSecretRotation": {
        const rot = body.value;
        // Keep it; apply every kept rotation that is now applicable (RM-14).
        t.put(`${ROOM_KEYS.rotation}${hex}/${seqKey(rot.epoch)}`, new Uint8Array([...from, ...toBinary(ContentSchema, content)]));
        this.#applyRotations(t, fx, room);
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

  async #acceptSkdm(t: Txn, fx: Effects, room: RoomRecord, from: Uint8Array, skdm: Uint8Array): Promise<boolean> {
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
    await processSenderKeyDistributionMessage(new RoomSenderKeyStore(this.#d.state, room.roomId), addrOf(from), skdm);
    setDistOwner(t, room.roomId, parsed.distributionId, from);
    const m = room.members.find((x) => same(x.identityKey, from));
    if (m !== undefined) m.distributionId = parsed.distributionId;
    return true;
  }

  async #onWelcome(t: Txn, fx: Effects, room: RoomRecord, from: Uint8Array, w: import("../../gen/securecomm/wire/v1/content_pb.js").Welcome): Promise<void> {
    const hex = roomHex(room.roomId);
    const roster = w.roster;
    const bootstrapping = room.adminIdentityKey.length === 0;
    const adoptable =
      roster !== undefined &&
      roster.asOfSeq === room.joinedSeq &&
      roster.epoch === room.epoch &&
      roster.members.some((m) => same(m.identityKey, from)) &&
      roster.members.some((m) => same(m.identityKey, this.#self)) &&
      roster.adminIdentityKey.length === 33;
    const replaceByAdmin = !bootstrapping && adoptable && same(from, roster!.adminIdentityKey) && room.lastSeq === room.joinedSeq;
    if ((bootstrapping && adoptable) || replaceByAdmin) {
      const kept = new Map(room.members.map((m) => [bytesToHex(m.identityKey), m.distributionId]));
      room.members = roster!.members.map((m) =>
        create(RoomMemberSchema, {
          identityKey: m.identityKey,
          displayName: isValidDisplayName(m.profile?.displayName ?? "") ? m.profile!.displayName : "?",
          joinedSeq: m.joinedSeq,
          deliveryToken: m.deliveryToken,
          distributionId: kept.get(bytesToHex(m.identityKey)) ?? new Uint8Array(0),
        }),
      );
      const self = room.members.find((m) => same(m.identityKey, this.#self));
      if (self !== undefined) {
        self.distributionId = room.distributionId;
        self.displayName = this.displayName;
        self.deliveryToken = this.#d.account.record.deliveryToken;
      }
      room.adminIdentityKey = roster!.adminIdentityKey;
      const inviterKey = `${ROOM_KEYS.rotation}${hex}/inviter`;
      const inviter = t.get(inviterKey);
      if (inviter !== undefined) {
        t.delete(inviterKey);
        if (!room.members.some((m) => same(m.identityKey, inviter))) {
          // RM-03: warn when the inviter is not in the roster we received.
          fx.events.push({ type: "identity-changed", roomId: hex, member: addrOf(inviter) });
        }
      }
      fx.events.push({ type: "members-changed", roomId: hex }, { type: "rooms-changed" });
      fx.catchUp.push(room.roomId);
    }
    const member = room.members.find((m) => same(m.identityKey, from));
    if (member === undefined) return; // RM-08: a Welcome from an identity not in the roster
    if (w.profile !== undefined && isValidDisplayName(w.profile.displayName)) member.displayName = w.profile.displayName;
    if (w.deliveryToken.length === 32) member.deliveryToken = w.deliveryToken;
    if (!(await this.#acceptSkdm(t, fx, room, from, w.distributionMessage))) return;
    fx.retryPending.push(room.roomId);
    // Answer with our own SKDM (RM-08).
    const skdm = await createSenderKeyDistributionMessage(new RoomSenderKeyStore(this.#d.state, room.roomId), this.#selfAddr, room.distributionId);
    const c = this.#content(room.roomId, { case: "senderKeyDistribution", value: { $typeName: "securecomm.wire.v1.SenderKeyDistribution", distributionMessage: skdm } });
    enqueue(t, { kind: "pairwise", room: hex, to: b64(from), token: b64(member.deliveryToken), content: b64(toBinary(ContentSchema, c)) });
    fx.outbox = true;
  }

  /** Applies every kept rotation that has become applicable (RM-14). */
  #applyRotations(t: Txn, fx: Effects, room: RoomRecord): void {
    const hex = roomHex(room.roomId);
    for (;;) {
      const key = `${ROOM_KEYS.rotation}${hex}/${seqKey(room.epoch + 1)}`;
      const kept = t.get(key);
      if (kept === undefined) break;
      const from = kept.slice(0, 33);
      const content = fromBinary(ContentSchema, kept.slice(33));
      if (content.body.case !== "roomSecretRotation") {
        t.delete(key);
        continue;
      }
      const rot = content.body.value;
      t.delete(key);
      // RM-14 as amended: the sender must be the admin, or the successor the admin's own leave
      // would make. We do not wait for departure_seq: a member that was offline cannot read
      // the log with the old key any more, so it applies the rotation first and then reads the
      // departure from history with the new key.
      if (!this.#mayRotate(room, from) || rot.roomSecret.length !== ROOM_SECRET_LENGTH) {
        fx.events.push({ type: "decryption-failed", roomId: hex, sender: addrOf(from), reason: "rotation from a non-admin" });
        continue;
      }
      room.previousSecrets.push(create(RoomEpochSecretSchema, { epoch: room.epoch, roomSecret: room.roomSecret }));
      room.roomSecret = rot.roomSecret;
      room.epoch = rot.epoch;
      this.#awaitingRotation.delete(hex);
      fx.resubscribe = true;
    }
    // Drop kept rotations for epochs already passed.
    for (const [k] of t.list(`${ROOM_KEYS.rotation}${hex}/0`)) {
      const e = Number(k.slice(`${ROOM_KEYS.rotation}${hex}/`.length));
      if (e <= room.epoch) t.delete(k);
    }
  }

  /** The admin, or the successor if the admin left (lowest joined_seq among the others). */
  #mayRotate(room: RoomRecord, from: Uint8Array): boolean {
    if (same(from, room.adminIdentityKey)) return true;
    const others = room.members.filter((m) => !same(m.identityKey, room.adminIdentityKey));
    others.sort((a, b) => (a.joinedSeq < b.joinedSeq ? -1 : a.joinedSeq > b.joinedSeq ? 1 : 0));
    return others[0] !== undefined && same(others[0].identityKey, from);
  }

  // ------------------------------------------------------------------ outbox

  /** Starts the outbox worker if it is not running. */
  kickOutbox(): void {
    this.#outbox.kick();
  }

  /** Waits until the outbox worker is idle (tests, shutdown). */
  async outboxIdle(): Promise<void> {
    await this.#outbox.idle();
  }

  /** Number of jobs waiting (tests). */
  outboxSize(): number {
    return this.#outbox.size();
  }

  /** Performs one outbox job and removes it, in one transaction. */
  async #perform(key: string, job: OutboxJob): Promise<void> {
    await this.#tx(async (t, fx) => {
      if (t.get(key) === undefined) return;
      t.delete(key);
      if (job.kind === "pairwise") {
        const content = fromBinary(ContentSchema, unb64(job.content));
        await this.#d.pairwise.send(unb64(job.to), unb64(job.token), content);
      } else {
        await this.#rotate(t, fx, job.room, unb64(job.secret), BigInt(job.departureSeq));
      }
    });
  }

  #held(identityKey: Uint8Array): boolean {
    return this.#d.store.trustedRecord(addrOf(identityKey))?.verification === VerificationState.CHANGED;
  }

  /** RM-13: rotate the access key at the relay, then send the new secret to every member. */
  async #rotate(t: Txn, fx: Effects, hex: string, secret: Uint8Array, departureSeq: bigint): Promise<void> {
    const room = loadRoom(t, hexBytes(hex));
    if (room === undefined || room.departed || !same(room.adminIdentityKey, this.#self)) return;
    const epoch = room.epoch + 1;
    await this.#d.clients.rooms.rotateRoomAccessKey({
      roomId: room.roomId,
      accessKey: accessKey(room.roomId, room.roomSecret, room.epoch),
      newAccessKeyHash: accessKeyHash(accessKey(room.roomId, secret, epoch)),
    });
    room.previousSecrets.push(create(RoomEpochSecretSchema, { epoch: room.epoch, roomSecret: room.roomSecret }));
    room.roomSecret = secret;
    room.epoch = epoch;
    for (const m of room.members) {
      if (same(m.identityKey, this.#self)) continue;
      const c = this.#content(room.roomId, {
        case: "roomSecretRotation",
        value: { $typeName: "securecomm.wire.v1.RoomSecretRotation", epoch, roomSecret: secret, departureSeq },
      });
      enqueue(t, { kind: "pairwise", room: hex, to: b64(m.identityKey), token: b64(m.deliveryToken), content: b64(toBinary(ContentSchema, c)) });
    }
    saveRoom(t, room);
    this.#awaitingRotation.delete(hex);
    fx.resubscribe = true;
    fx.outbox = true;
  }

  /** Releases pairwise sends held for a changed identity after the user accepted it (RM-20). */
  async acceptIdentity(address: string): Promise<void> {
    await this.#d.state.transaction(async () => {
      const rec = this.#d.store.trustedRecord(address);
      if (rec === undefined) return;
      rec.verification = VerificationState.UNSPECIFIED;
      this.#d.store.putTrustedRecord(address, rec);
    });
    this.kickOutbox();
  }

  /** Marks an identity verified (ID-11). */
  async markVerified(address: string, identityKey: Uint8Array): Promise<void> {
    await this.#d.state.transaction(async () => {
      const rec = this.#d.store.trustedRecord(address);
      this.#d.store.putTrustedRecord(address, {
        $typeName: "securecomm.storage.v1.TrustedIdentityRecord",
        address: addressFromSerializedIdentityKey(identityKey),
        identityKey,
        verification: VerificationState.VERIFIED,
        firstSeenMs: rec?.firstSeenMs ?? BigInt(this.#d.now()),
      });
    });
  }

  /** Stops timers. */
  close(): void {
    this.#closed = true;
    this.#outbox.close();
  }

  /** Members of a room for display. */
  members(roomId: string): RoomMember[] {
    return this.room(roomId).members;
  }
}

function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}
