/**
 * The implementation behind `openSecureCommClient`: wires the state store, protocol stores,
 * account, pairwise channel, room engine and the Subscribe loop into the facade.
 *
 * Owns: `openClientRuntime`, the identity record in the store, the typed event emitter, and
 * the facade's argument checks. Does not own: protocol decisions (client/room), the relay
 * connection (client/relay), account upkeep (client/account). No Node-only imports.
 */

import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { IdentityKeyPairRecordSchema, VerificationState } from "../../gen/securecomm/storage/v1/keys_pb.js";
import { bytesToHex, constantTimeEqual } from "../crypto/bytes.js";
import { PublicKey } from "../crypto/curve.js";
import { sha256 } from "../crypto/kdf.js";
import { safetyNumberForKeys } from "../fingerprint/safety-number.js";
import { addressFromSerializedIdentityKey, addressToString } from "../keys/address.js";
import { createIdentityKeyPair, identityFromRecord, type IdentityKeyPair, identityToRecord } from "../keys/identity.js";
import { Account, ACCOUNT_KEY, newAccountRecord } from "../account/account.js";
import { parseAccountRecord, serializeAccountRecord } from "../account/account-record.js";
import { createRelayClients, type RelayClients } from "../relay/relay-clients.js";
import { type AttachmentView, MAX_ATTACHMENTS_PER_MESSAGE } from "../attachments/attachment-pointer.js";
import { downloadAttachment, type OutgoingFile, uploadAttachment } from "../attachments/blob-transfer.js";
import { Subscription, type SubscriptionStats } from "../relay/subscription.js";
import { PreKeysLowRefill } from "../account/prekeys-low.js";
import { isValidDisplayName } from "../room/join.js";
import { Pairwise } from "../room/pairwise.js";
import { type EngineEvent, RoomEngine } from "../room/room-engine.js";
import { PostOutbox } from "./post-outbox-runner.js";
import type { OutboxItem } from "./post-outbox.js";
import { KvProtocolStore } from "../store/protocol-store.js";
import type {
  ClientEvents,
  ConnectionState,
  MemberView,
  RoomSummary,
  SecureCommClient,
  SecureCommClientOptions,
  Verification,
} from "./securecomm-client.js";
import { StateStore } from "../store/state-store.js";

/** KV key of our identity key pair (storage.v1 IdentityKeyPairRecord). */
export const IDENTITY_KEY = "account/identity";

/** Everything that exists once there is an identity. */
interface Parts {
  identity: IdentityKeyPair;
  store: KvProtocolStore;
  account: Account;
  engine: RoomEngine;
  subscription: Subscription;
  preKeysLow: PreKeysLowRefill;
  outbox: PostOutbox;
}

/** The client runtime (DESIGN.md §6). */
export class ClientRuntime implements SecureCommClient {
  readonly #o: SecureCommClientOptions;
  readonly #state: StateStore;
  readonly #now: () => number;
  readonly #clients: RelayClients;
  readonly #handlers = new Map<keyof ClientEvents, Set<(e: never) => void>>();
  #parts: Parts | undefined;
  #connection: ConnectionState = "offline";
  /** The relay's post time of our outbox messages, from the engine, until reported. */
  readonly #postedAt = new Map<string, number>();
  #started = false;

  constructor(options: SecureCommClientOptions, state: StateStore) {
    this.#o = options;
    this.#state = state;
    this.#now = options.now ?? Date.now;
    this.#clients = createRelayClients({
      baseUrl: options.relayUrl,
      token: () => this.#parts?.account.token,
      ...(options.fetch !== undefined ? { fetch: options.fetch } : {}),
    });
    const idBytes = state.get(IDENTITY_KEY);
    if (idBytes !== undefined) this.#parts = this.#build(identityFromRecord(fromBinary(IdentityKeyPairRecordSchema, idBytes)));
  }

  #build(identity: IdentityKeyPair): Parts {
    const store = new KvProtocolStore(this.#state, identity, this.#now);
    const account = new Account({ state: this.#state, store, clients: this.#clients, identity, now: this.#now });
    const pairwise = new Pairwise({ clients: this.#clients, store, identity, account, now: this.#now });
    let subscription: Subscription | undefined;
    let outbox: PostOutbox | undefined;
    const engine = new RoomEngine({
      state: this.#state,
      store,
      identity,
      account,
      clients: this.#clients,
      pairwise,
      relayUrl: this.#o.relayUrl,
      now: this.#now,
      emit: (e) => this.#dispatch(e),
      resubscribe: () => subscription?.resubscribe(),
    });
    outbox = new PostOutbox({
      state: this.#state,
      identitySecret: identity.privateKey.serialize(),
      engine: {
        sendText: (roomId, text, options) => engine.sendText(roomId, text, options),
        postedSeq: (roomId, messageId) => engine.postedSeq(roomId, messageId),
        sendFailure: (roomId, e) => engine.sendFailure(roomId, e),
        catchUp: (roomId) => engine.catchUp(roomId),
        roomState: (roomId) => {
          const r = engine.rooms().find((x) => bytesToHex(x.roomId) === roomId);
          if (r === undefined) return "unknown";
          if (r.departed) return "departed";
          return r.adminIdentityKey.length === 0 ? "joining" : "member";
        },
      },
      now: this.#now,
      random: this.#o.random ?? Math.random,
      online: () => subscription?.state === "online",
      emit: (item) => this.#onOutbox(item, identity, account),
    });
    // API-29: the relay says our one-time prekeys are being drained; refill, at most once a minute.
    const preKeysLow = new PreKeysLowRefill({ refill: () => account.refillPreKeys(), now: this.#now });
    subscription = new Subscription({
      clients: this.#clients,
      random: this.#o.random ?? Math.random,
      handler: {
        cursors: () => engine.cursors(),
        beforeConnect: async () => {
          await account.upkeep();
          await engine.pruneOldSecrets(account.roomRetentionMs);
          await engine.expireHeld();
          engine.kickOutbox();
        },
        onMailbox: (envs) => engine.onMailbox(envs),
        onRoomEvents: (roomId, events) => engine.onRoomEvents(roomId, events),
        onRoomClosed: (roomId, reason) => engine.onRoomClosed(roomId, reason),
        onCaughtUp: () => {
          engine.kickOutbox();
          outbox?.connectionBack();
        },
        onPreKeysLow: () => void preKeysLow.notice(),
        onState: (state, error) => {
          this.#connection = state;
          this.#emit("connection", { state, ...(error !== undefined ? { error } : {}) });
        },
      },
    });
    return { identity, store, account, engine, subscription, outbox, preKeysLow };
  }

  #p(): Parts {
    if (this.#parts === undefined) throw new TypeError("No identity yet: call ensureIdentity first.");
    return this.#parts;
  }

  #emit<K extends keyof ClientEvents>(event: K, payload: ClientEvents[K]): void {
    for (const h of this.#handlers.get(event) ?? []) {
      try {
        (h as (e: ClientEvents[K]) => void)(payload);
      } catch {
        // a failing listener must not break the client
      }
    }
  }

  #dispatch(e: EngineEvent): void {
    const { type, ...rest } = e;
    if (e.type === "message" && e.own && this.#parts?.outbox.has(e.messageId)) {
      // The outbox reports its own messages once, when sent (also when recognised in the log).
      this.#postedAt.set(e.messageId, e.postedAtMs);
      return;
    }
    this.#emit(type, rest as never);
    // A roster arrived, a room was added or closed: queued posts may go (or fail) now.
    if (type === "members-changed" || type === "rooms-changed" || type === "room-closed") this.#parts?.outbox.kick();
  }

  /** Reports an outbox change; a sent message is also a `message` event of our own. */
  #onOutbox(change: OutboxItem, identity: IdentityKeyPair, account: Account): void {
    // The relay's time, when its answer brought one (else the time the client learned it).
    const relayTime = change.status === "sent" ? this.#postedAt.get(change.messageId) : undefined;
    this.#postedAt.delete(change.messageId);
    const item = relayTime !== undefined ? { ...change, postedAtMs: relayTime } : change;
    this.#emit("outbox", item);
    if (item.status !== "sent") return;
    this.#emit("message", {
      roomId: item.roomId,
      seq: item.seq ?? 0,
      messageId: item.messageId,
      sender: addressToString(identity.address),
      senderName: account.record.displayName,
      text: item.text,
      sentAtMs: item.sentAtMs,
      postedAtMs: item.postedAtMs ?? 0,
      own: true,
      ...(item.replyTo === undefined ? {} : { replyTo: item.replyTo }),
    });
  }

  // ---------------------------------------------------------------- identity

  get hasIdentity(): boolean {
    return this.#parts !== undefined;
  }

  async ensureIdentity(displayName: string): Promise<void> {
    if (!isValidDisplayName(displayName)) throw new RangeError("display name must be 1..64 UTF-8 bytes");
    if (this.#parts === undefined) {
      const identity = createIdentityKeyPair();
      await this.#state.transaction(async (t) => {
        t.put(IDENTITY_KEY, toBinary(IdentityKeyPairRecordSchema, identityToRecord(identity)));
        t.put(ACCOUNT_KEY, serializeAccountRecord(newAccountRecord(displayName)));
      });
      this.#parts = this.#build(identity);
    }
    await this.#parts.account.upkeep();
  }

  identity(): { address: string; fingerprint: string; displayName: string } {
    const p = this.#p();
    const key = p.identity.publicKey.serialize();
    const fp = bytesToHex(sha256(key).slice(0, 20)).match(/.{4}/g)!.join(" ");
    return { address: addressToString(p.identity.address), fingerprint: fp, displayName: p.account.record.displayName };
  }

  async setDisplayName(name: string): Promise<void> {
    if (!isValidDisplayName(name)) throw new RangeError("display name must be 1..64 UTF-8 bytes");
    const p = this.#p();
    await p.account.update((r) => void (r.displayName = name));
    // RM-18: profiles travel only inside end-to-end encrypted content.
    for (const r of p.engine.rooms()) {
      if (r.departed || r.adminIdentityKey.length === 0) continue;
      await p.engine.sendProfile(bytesToHex(r.roomId), name).catch(() => undefined);
    }
  }

  // ---------------------------------------------------------------- rooms

  async createRoom(name: string, origin?: string): Promise<{ roomId: string; inviteLink: string }> {
    const p = this.#p();
    const roomId = await p.engine.createRoom(name);
    return { roomId, inviteLink: p.engine.inviteLink(roomId, origin) };
  }

  inviteLink(roomId: string, origin?: string): string {
    return this.#p().engine.inviteLink(roomId, origin);
  }

  async resetInviteLink(roomId: string, origin?: string): Promise<string> {
    return this.#p().engine.resetInviteLink(roomId, origin);
  }

  async setRoomRetention(roomId: string, retentionSeconds: number): Promise<void> {
    await this.#p().engine.setRetention(roomId, retentionSeconds);
  }

  async joinRoom(inviteLink: string): Promise<{ roomId: string }> {
    const p = this.#p();
    await p.account.upkeep();
    return { roomId: await p.engine.joinRoom(inviteLink) };
  }

  rooms(): RoomSummary[] {
    const p = this.#parts;
    if (p === undefined) return [];
    const self = p.identity.publicKey.serialize();
    return p.engine.rooms().map((r) => {
      const id = bytesToHex(r.roomId);
      return {
        roomId: id,
        name: r.name,
        memberCount: r.members.length,
        unread: p.engine.unread(id),
        departed: r.departed,
        rosterStale: p.engine.rosterStale(id),
        retentionSeconds: r.retentionSeconds,
        hasInviteLink: p.engine.hasInviteLink(id),
        isAdmin: r.adminIdentityKey.length === 33 && constantTimeEqual(r.adminIdentityKey, self),
      };
    });
  }

  members(roomId: string): MemberView[] {
    const p = this.#p();
    const r = p.engine.room(roomId);
    const self = p.identity.publicKey.serialize();
    return r.members.map((m) => {
      const address = addressToString(addressFromSerializedIdentityKey(m.identityKey));
      const isSelf = constantTimeEqual(m.identityKey, self);
      return {
        address,
        displayName: isSelf ? p.account.record.displayName : m.displayName,
        isAdmin: r.adminIdentityKey.length === 33 && constantTimeEqual(r.adminIdentityKey, m.identityKey),
        isSelf,
        verification: isSelf ? "verified" : this.#verification(address),
      };
    });
  }

  #verification(address: string): Verification {
    const v = this.#p().store.trustedRecord(address)?.verification;
    if (v === VerificationState.VERIFIED) return "verified";
    if (v === VerificationState.CHANGED) return "changed";
    return "unverified";
  }

  async sendFiles(
    roomId: string,
    files: readonly OutgoingFile[],
    options: { text?: string; onProgress?: (index: number, done: number, total: number) => void; signal?: AbortSignal } = {},
  ): Promise<{ messageId: string; seq: number }> {
    const p = this.#p();
    if (files.length === 0 || files.length > MAX_ATTACHMENTS_PER_MESSAGE) throw new RangeError("send 1..4 files at once");
    p.engine.markRead(roomId);
    // RM-76: every blob is complete before the pointer is posted.
    const pointers = [];
    for (const [i, f] of files.entries()) {
      pointers.push(
        await uploadAttachment(this.#clients.blobs, p.engine.blobAccess(roomId), f, {
          ...(options.onProgress ? { onProgress: (done: number, total: number) => options.onProgress?.(i, done, total) } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        }),
      );
    }
    return p.engine.sendText(roomId, options.text ?? "", { attachments: pointers });
  }

  downloadAttachment(attachment: AttachmentView | Uint8Array, options: { onProgress?: (done: number, total: number) => void; signal?: AbortSignal } = {}): Promise<Uint8Array> {
    return downloadAttachment(this.#clients.blobs, attachment instanceof Uint8Array ? attachment : attachment.pointer, options);
  }

  async sendText(roomId: string, text: string, options?: { messageId?: string; replyTo?: string }): Promise<{ messageId: string; seq: number }> {
    const p = this.#p();
    p.engine.markRead(roomId);
    // A caller-chosen id means the caller keeps its own outbox: post directly (RM-29).
    if (options?.messageId !== undefined) return p.engine.sendText(roomId, text, options);
    const { messageId, seq } = await p.outbox.send(roomId, text, options?.replyTo);
    return { messageId, seq };
  }

  async queueText(roomId: string, text: string, options?: { replyTo?: string }): Promise<OutboxItem> {
    const p = this.#p();
    p.engine.markRead(roomId);
    return p.outbox.queue(roomId, text, options?.replyTo);
  }

  async react(roomId: string, messageId: string, emoji: string | undefined): Promise<void> {
    await this.#p().engine.react(roomId, messageId, emoji);
  }

  async editMessage(roomId: string, messageId: string, text: string): Promise<void> {
    await this.#p().engine.editMessage(roomId, messageId, text);
  }

  async deleteMessage(roomId: string, messageId: string): Promise<void> {
    await this.#p().engine.deleteMessage(roomId, messageId);
  }

  outbox(roomId?: string): OutboxItem[] {
    return this.#parts?.outbox.list(roomId) ?? [];
  }

  async retryMessage(messageId: string): Promise<void> {
    await this.#p().outbox.retry(messageId);
  }

  async discardMessage(messageId: string): Promise<void> {
    await this.#p().outbox.discard(messageId);
  }

  async setTyping(roomId: string, typing: boolean): Promise<void> {
    await this.#p().engine.setTyping(roomId, typing);
  }

  async leaveRoom(roomId: string): Promise<void> {
    await this.#p().engine.leaveRoom(roomId);
  }

  async removeMember(roomId: string, memberAddress: string): Promise<void> {
    await this.#p().engine.removeMember(roomId, memberAddress);
  }

  #memberKey(memberAddress: string, roomId?: string): Uint8Array {
    const p = this.#p();
    const rooms = roomId !== undefined ? [p.engine.room(roomId)] : p.engine.rooms();
    for (const r of rooms) {
      for (const m of r.members) {
        if (addressToString(addressFromSerializedIdentityKey(m.identityKey)) === memberAddress) return m.identityKey;
      }
    }
    throw new TypeError("No such member.");
  }

  async safetyNumber(roomId: string, memberAddress: string): Promise<{ digits: string; scannable: Uint8Array }> {
    const p = this.#p();
    const theirs = PublicKey.deserialize(this.#memberKey(memberAddress, roomId));
    const sn = safetyNumberForKeys(p.identity.publicKey, theirs);
    return { digits: sn.digits, scannable: sn.scannable };
  }

  async markVerified(memberAddress: string): Promise<void> {
    const key = this.#memberKey(memberAddress);
    await this.#p().engine.markVerified(memberAddress, key);
    for (const r of this.rooms()) this.#emit("members-changed", { roomId: r.roomId });
  }

  async acceptIdentityChange(memberAddress: string): Promise<void> {
    await this.#p().engine.acceptIdentity(memberAddress);
    for (const r of this.rooms()) this.#emit("members-changed", { roomId: r.roomId });
  }

  // ---------------------------------------------------------------- connection

  async start(): Promise<void> {
    const p = this.#p();
    this.#started = true;
    p.subscription.start();
    p.outbox.kick(); // what a previous run left queued goes out when it can
  }

  async stop(): Promise<void> {
    this.#started = false;
    await this.#parts?.subscription.stop();
    await this.#parts?.preKeysLow.idle();
    await this.#parts?.engine.outboxIdle();
  }

  get connection(): ConnectionState {
    return this.#connection;
  }

  on<K extends keyof ClientEvents>(event: K, handler: (e: ClientEvents[K]) => void): () => void {
    let set = this.#handlers.get(event);
    if (set === undefined) this.#handlers.set(event, (set = new Set()));
    set.add(handler as (e: never) => void);
    return () => void set.delete(handler as (e: never) => void);
  }

  async deleteEverything(): Promise<void> {
    const p = this.#p();
    await this.stop();
    await p.account.deleteAccount();
    p.outbox.close();
    p.engine.close();
    await this.#state.transaction(async (t) => {
      for (const [k] of t.list("")) t.delete(k);
    });
    this.#parts = undefined;
    this.#emit("rooms-changed", {});
  }

  async close(): Promise<void> {
    if (this.#started) await this.stop();
    this.#parts?.outbox.close();
    this.#parts?.engine.close();
    await this.#state.close();
  }

  // ---------------------------------------------------------------- diagnostics (tests, CLI)

  /** The account (tests and tools; not part of the stable facade). */
  get account(): Account {
    return this.#p().account;
  }

  /** The relay clients, authenticated with this account's token (tests and tools). */
  get relayClients(): RelayClients {
    return this.#clients;
  }

  /** Counters of the Subscribe loop's reconnects (tests and tools; not part of the facade). */
  get subscriptionStats(): SubscriptionStats {
    return this.#p().subscription.stats;
  }

  /** The room engine (tests and tools; not part of the stable facade). */
  get engine(): RoomEngine {
    return this.#p().engine;
  }

  /**
   * True when every member's current sender key is known, nothing waits in the outbox and no
   * room envelope waits for a key.
   */
  settled(): boolean {
    const p = this.#parts;
    if (p === undefined) return true;
    const keysKnown = p.engine
      .rooms()
      .every((r) => r.departed || (r.adminIdentityKey.length > 0 && r.members.every((m) => m.distributionId.length > 0)));
    return keysKnown && p.engine.outboxSize() === 0 && p.outbox.pending() === 0 && this.#state.list("room-pending/").length === 0;
  }
}

/** Opens the runtime over `options.store` (see `openSecureCommClient`). */
export async function openClientRuntime(options: SecureCommClientOptions): Promise<ClientRuntime> {
  if (typeof options.relayUrl !== "string" || options.relayUrl.length === 0) throw new TypeError("relayUrl is required");
  const state = await StateStore.open(options.store);
  // Check the account record parses, so corruption surfaces at open, not mid-protocol.
  const acct = state.get(ACCOUNT_KEY);
  if (acct !== undefined) parseAccountRecord(acct);
  return new ClientRuntime(options, state);
}
