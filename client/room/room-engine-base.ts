/**
 * The room protocol engine's base (spec/09-rooms.md): shared state, transactions, queries and
 * posting. See room-engine.ts for the whole engine and what it owns.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { RoomCursor } from "../../gen/securecomm/relay/v1/messages_pb.js";
import { type Content, ContentSchema, ProfileSchema } from "../../gen/securecomm/wire/v1/content_pb.js";
import { RoomEnvelopeBodySchema } from "../../gen/securecomm/wire/v1/room_pb.js";
import type { RoomRecord } from "../../gen/securecomm/storage/v1/room_pb.js";
import { bytesToHex, constantTimeEqual, randomBytes, utf8 } from "../crypto/bytes.js";
import { sha256 } from "../crypto/kdf.js";
import { isProtocolError } from "../errors.js";
import { addressFromSerializedIdentityKey, addressToString } from "../keys/address.js";
import type { IdentityKeyPair } from "../keys/identity.js";
import { pad } from "../padding.js";
import { groupEncrypt } from "../sender-keys/group-cipher.js";
import type { Account } from "../account/account.js";
import type { KvProtocolStore } from "../store/protocol-store.js";
import type { StateStore, Txn } from "../store/state-store.js";
import type { RelayClients } from "../relay/relay-clients.js";
import { createInviteLink } from "./invite.js";
import type { Pairwise } from "./pairwise.js";
import { accessKey, sealRoomEnvelope } from "./room-keys.js";
import { allRooms, deleteRoomKeys, loadRoom, type OutboxJob, outboxJobs, ROOM_KEYS, roomKey, saveRoom, sentSeq, setSentSeq, unb64 } from "./room-store.js";
import { OutboxWorker } from "./room-outbox.js";
import { RoomSenderKeyStore } from "./sender-key-kv.js";

export { type EngineEvent, MAX_SEEN_JOIN_NONCES, MAX_TEXT_BYTES, type RoomMessage } from "./room-core.js";
import { type EngineEvent, MAX_TEXT_BYTES } from "./room-core.js";
/** Message ids are 16 random bytes (RM-07). */
export const MESSAGE_ID_LENGTH = 16;
/** GetRoomHistory page size (API-20 max 500). */
export const HISTORY_PAGE = 500;

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

export function addrOf(identityKey: Uint8Array): string {
  return addressToString(addressFromSerializedIdentityKey(identityKey));
}

export function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && constantTimeEqual(a, b);
}

/**
 * RM-29: whether a failed send may succeed if retried later (`transient`: the relay or the
 * network is unwell, or our access key was rotated and the new secret is on its way) or never
 * will (`permanent`: we left or were removed, the room is gone, the input is invalid).
 */
export function sendFailureKind(e: unknown, room: RoomRecord | undefined): "transient" | "permanent" {
  if (room === undefined || room.departed) return "permanent";
  if (e instanceof ConnectError) {
    if ([Code.Unavailable, Code.Unknown, Code.Internal, Code.Canceled, Code.DeadlineExceeded, Code.ResourceExhausted, Code.Aborted].includes(e.code)) return "transient";
    // Our key was rotated away: a member receives the new secret in its mailbox (RM-14).
    if (e.code === Code.PermissionDenied) return "transient";
    return "permanent";
  }
  if (e instanceof TypeError && /still being joined/.test(e.message)) return "transient";
  return "permanent";
}

export function reason(e: unknown): string {
  if (isProtocolError(e)) return e.code;
  if (e instanceof ConnectError) return `relay:${Code[e.code]}`;
  return "internal";
}

/** Collected side effects of one transaction, applied after it commits. */
export interface Effects {
  events: EngineEvent[];
  resubscribe: boolean;
  catchUp: Uint8Array[];
  retryPending: Uint8Array[];
  outbox: boolean;
}

export function effects(): Effects {
  return { events: [], resubscribe: false, catchUp: [], retryPending: [], outbox: false };
}

/** The room protocol engine. */

export function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * The engine's shared state and plumbing: dependencies, our identity, transactions with
 * after-commit effects, queries, and everything that posts to a room (spec RM-07, RM-10,
 * RM-11, RM-17, RM-18). Subclasses add log processing (room-log.ts), pairwise content
 * (room-inbox.ts) and the public entry points (room-engine.ts).
 */
export abstract class RoomEngineBase {
  protected readonly d: RoomEngineDeps;
  protected readonly self: Uint8Array;
  protected readonly selfAddr: string;
  /** Rooms whose stream said ACCESS_DENIED: not followed until a rotation arrives (RM-14). */
  protected readonly awaitingRotation = new Set<string>();
  /** The epoch whose access key the current stream uses, per room (set by `cursors()`). */
  protected readonly subscribedEpoch = new Map<string, number>();
  protected readonly unreadCounts = new Map<string, number>();
  protected readonly outbox: OutboxWorker;
  protected closed = false;
  protected readonly lastTyping = new Map<string, number>();
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

  protected find(roomId: string): RoomRecord | undefined {
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

  /** The invite link of a room (RM-03). */
  inviteLink(roomId: string, origin?: string): string {
    const r = this.room(roomId);
    if (r.departed) throw new TypeError("room departed");
    return createInviteLink(origin ?? this.d.relayUrl, {
      roomId: r.roomId,
      roomSecret: r.roomSecret,
      epoch: r.epoch,
      inviterIdentityKey: this.self,
      roomName: r.name,
    });
  }

  /** RM-29: `sendFailureKind` for a room by hex id (the room's current state decides). */
  sendFailure(roomId: string, e: unknown): "transient" | "permanent" {
    return sendFailureKind(e, this.find(roomId));
  }

  // ------------------------------------------------------------------ transactions

  protected async tx<T>(fn: (t: Txn, fx: Effects) => Promise<T>): Promise<T> {
    const fx = effects();
    const result = await this.d.state.transaction((t) => fn(t, fx));
    this.apply(fx);
    return result;
  }

  protected apply(fx: Effects): void {
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
  protected post(roomId: string, content: Content, ephemeral: boolean): Promise<{ seq: bigint; postedAtMs: bigint }> {
    // RM-27: one client's stored posts to a room reach the relay in the order they were made:
    // the sender-key iteration and the relay's seq then agree, and nobody sees a swap.
    if (ephemeral) return this.postNow(roomId, content, true);
    const run = () => this.postNow(roomId, content, false);
    const tail = this.#postTails.get(roomId) ?? Promise.resolve();
    const next = tail.then(run, run);
    const settled = next.catch(() => undefined);
    this.#postTails.set(roomId, settled);
    void settled.then(() => {
      if (this.#postTails.get(roomId) === settled) this.#postTails.delete(roomId);
    });
    return next;
  }

  protected async postNow(roomId: string, content: Content, ephemeral: boolean): Promise<{ seq: bigint; postedAtMs: bigint }> {
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
      // RM-29: if the relay's answer is lost, we learn the seq when we meet the post in the log.
      if (!ephemeral) t.put(roomKey.ownMessage(roomHex(room.roomId), bytesToHex(sha256(env))), content.messageId);
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

  protected content(roomId: Uint8Array, body: Content["body"], messageId: Uint8Array = randomBytes(MESSAGE_ID_LENGTH)): Content {
    return create(ContentSchema, { roomId, messageId, sentAtMs: BigInt(this.d.now()), body });
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
  async sendText(roomId: string, text: string, options: { messageId?: string } = {}): Promise<{ messageId: string; seq: number }> {
    if (utf8(text).length > MAX_TEXT_BYTES || text.length === 0) throw new RangeError("text must be 1..4096 bytes");
    if (options.messageId !== undefined && !/^[0-9a-f]{32}$/.test(options.messageId)) throw new TypeError("message id must be 32 hex digits");
    const r = this.room(roomId);
    if (options.messageId !== undefined) {
      const done = sentSeq(this.d.state, r.roomId, options.messageId);
      if (done !== undefined) return { messageId: options.messageId, seq: Number(done) };
    }
    const id = options.messageId === undefined ? randomBytes(MESSAGE_ID_LENGTH) : hexBytes(options.messageId);
    const content = this.content(r.roomId, { case: "text", value: { $typeName: "securecomm.wire.v1.Text", body: text } }, id);
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
      sentAtMs: Number(content.sentAtMs),
      postedAtMs: Number(res.postedAtMs),
      own: true,
    });
    return { messageId, seq: Number(res.seq) };
  }

  protected emit(e: EngineEvent): void {
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
    await this.post(roomId, this.content(r.roomId, { case: "leave", value: { $typeName: "securecomm.wire.v1.Leave" } }), false);
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
    await this.post(roomId, this.content(r.roomId, { case: "remove", value: { $typeName: "securecomm.wire.v1.Remove", memberIdentityKey: m.identityKey } }), false);
  }

  /** Deletes a room's secrets and keys and marks it departed (RM-10, RM-11). */
  protected depart(t: Txn, room: RoomRecord): void {
    room.departed = true;
    room.roomSecret = new Uint8Array(0);
    room.previousSecrets = [];
    room.distributionId = new Uint8Array(0);
    new RoomSenderKeyStore(this.d.state, room.roomId).deleteSenderKeys();
    deleteRoomKeys(t, room.roomId, [ROOM_KEYS.dist, ROOM_KEYS.pending, ROOM_KEYS.rotation, ROOM_KEYS.ownPost, ROOM_KEYS.retired, ROOM_KEYS.initialSkdm, ROOM_KEYS.heldWelcome, ROOM_KEYS.ownMessage, ROOM_KEYS.seenMessage]);
    t.delete(roomKey.stale(roomHex(room.roomId)));
    for (const { key, job } of outboxJobs(t)) if (job.room === roomHex(room.roomId)) t.delete(key);
  }

  /** Reads the log after `last_seq` (RM-15); implemented by room-log.ts. */
  abstract catchUp(roomId: Uint8Array, untilSeq?: bigint): Promise<void>;
  /** Retries pending envelopes (RM-16); implemented by room-log.ts. */
  protected abstract retryPending(roomId: Uint8Array): Promise<void>;
  /** Starts the outbox worker; implemented by room-engine.ts. */
  abstract kickOutbox(): void;
  /** Performs one outbox job; implemented by room-engine.ts. */
  protected abstract perform(key: string, job: OutboxJob): Promise<void>;
  /** True while pairwise content to `identityKey` is held (RM-20); room-engine.ts. */
  protected abstract held(identityKey: Uint8Array): boolean;
}
