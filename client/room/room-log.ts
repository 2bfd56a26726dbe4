/**
 * Room log processing (spec RM-07..RM-19, RM-23..RM-34): the driver's half of the room log —
 * opening envelopes, verifying joins, decrypting or holding sender-key messages, de-duplicating
 * — feeding room-core.ts's pure rules and performing their effects (`step`, `perform1`).
 * Part of the room engine (room-engine.ts).
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { RoomEvent } from "../../gen/securecomm/relay/v1/messages_pb.js";
import { RoomClosedReason } from "../../gen/securecomm/relay/v1/messages_pb.js";
import { type Content, ContentSchema, ProfileSchema, type Roster, RosterMemberSchema, RosterSchema } from "../../gen/securecomm/wire/v1/content_pb.js";
import type { RoomRecord } from "../../gen/securecomm/storage/v1/room_pb.js";
import { VerificationState } from "../../gen/securecomm/storage/v1/keys_pb.js";
import { bytesToHex, randomBytes } from "../crypto/bytes.js";
import { sha256 } from "../crypto/kdf.js";
import { isProtocolError } from "../errors.js";
import { addressFromSerializedIdentityKey } from "../keys/address.js";
import { unpad } from "../padding.js";
import { createDistributionId, createSenderKeyDistributionMessage, groupDecrypt, senderKeyMessageDistributionId } from "../sender-keys/group-cipher.js";
import type { Txn } from "../store/state-store.js";
import { verifyJoinAnnouncement } from "./join.js";
import { accessKey, openRoomEnvelope, ROOM_SECRET_LENGTH } from "./room-keys.js";
import { b64, deleteDistsOf, distOwner, enqueue, holdPairwise, loadRoom, MAX_PENDING_PER_ROOM, noteMessageId, ROOM_KEYS, roomKey, saveRoom, setDistOwner, setInitialSkdm, setSentSeq } from "./room-store.js";
import { boundsForWelcome, holdExpired, refuseEnvelope } from "./room-rules.js";
import { applyLogEvent, applyLogPosition, type Effect, type Step } from "./room-core.js";
import { RoomSenderKeyStore } from "./sender-key-kv.js";
import { addrOf, type Effects, HISTORY_PAGE, MESSAGE_ID_LENGTH, reason, RoomEngineBase, roomHex, same } from "./room-engine-base.js";

/**
 * Stored and ephemeral room events: strictly in `seq` order with `last_seq` committed with the
 * effects (RM-15), gap filling from history, joins (RM-08, RM-09), room content (RM-07),
 * departures with sender-key and secret rotation (RM-12, RM-13), pending envelopes (RM-16),
 * typing (RM-17), retention (RM-19).
 */
export abstract class RoomLog extends RoomEngineBase {
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

  protected async skipTo(roomId: Uint8Array, seq: bigint): Promise<void> {
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

  protected async stored(roomId: Uint8Array, ev: RoomEvent, fromHistory = false): Promise<void> {
    const r = loadRoom(this.d.state, roomId);
    if (r === undefined || r.departed) return;
    if (r.adminIdentityKey.length === 0) return; // still joining: events wait for the roster
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
      saveRoom(t, room);
    });
    if (gap) await this.catchUp(roomId, ev.seq);
  }

  /** One stored event at its seq; `room` is saved by the caller. */
  protected async processStored(t: Txn, fx: Effects, room: RoomRecord, ev: RoomEvent): Promise<void> {
    const hex = roomHex(room.roomId);
    let opened;
    try {
      opened = openRoomEnvelope(room.roomId, ev.envelope, (epoch) => this.secretFor(room, epoch));
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
      await this.join(t, fx, room, ev.seq, opened.epoch, body.value);
      return;
    }
    if (body.case !== "senderKeyMessage") return;
    await this.senderKeyMessage(t, fx, room, ev, body.value, opened.epoch);
  }

  protected async senderKeyMessage(t: Txn, fx: Effects, room: RoomRecord, ev: RoomEvent, skm: Uint8Array, epoch: number): Promise<void> {
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
      await this.step(t, fx, room, applyLogEvent(room, this.self, { kind: "own", seq: ev.seq, epoch, ...(target === undefined ? {} : { departure: target }) }));
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
      content = fromBinary(ContentSchema, unpad(padded));
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
    await this.step(t, fx, room, applyLogEvent(room, this.self, { kind: "content", seq: ev.seq, epoch, postedAtMs: ev.postedAtMs, sender: owner, content }));
  }

  /**
   * RM-16, RM-26: holds a message whose sender key has not arrived. Bounded in count
   * (MAX_PENDING_PER_ROOM: the oldest is given up and reported lost) and in time (MAX_HOLD_MS,
   * `expireHeld`).
   */
  protected keepPending(t: Txn, fx: Effects, room: RoomRecord, ev: RoomEvent): void {
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
        const parts = key.slice(ROOM_KEYS.pending.length).split("/");
        if (parts[3] === undefined) continue; // held before RM-26 kept the time: bounded by count only
        if (!holdExpired(Number(parts[3]), this.d.now())) continue;
        t.delete(key);
        fx.events.push({ type: "decryption-failed", roomId: parts[0]!, reason: "message lost (its sender key never arrived)" });
      }
    });
  }

  /** Retries pending envelopes of a room after an SKDM arrived (RM-16). */
  protected async retryPending(roomId: Uint8Array): Promise<void> {
    const prefix = roomKey.pendingPrefix(roomHex(roomId));
    for (const [key, envelope] of this.d.state.list(prefix)) {
      await this.tx(async (t, fx) => {
        const room = loadRoom(t, roomId);
        if (room === undefined || room.departed || t.get(key) === undefined) return;
        let opened;
        try {
          opened = openRoomEnvelope(room.roomId, envelope, (epoch) => this.secretFor(room, epoch));
        } catch {
          t.delete(key);
          return;
        }
        if (opened.body.body.case !== "senderKeyMessage") {
          t.delete(key);
          return;
        }
        const [seqText, postedText] = key.slice(prefix.length).split("/");
        const seq = BigInt(seqText!);
        const postedAtMs = BigInt(postedText ?? "0");
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

  protected secretFor(room: RoomRecord, epoch: number): Uint8Array | undefined {
    if (epoch === room.epoch && room.roomSecret.length === ROOM_SECRET_LENGTH) return room.roomSecret;
    return room.previousSecrets.find((p) => p.epoch === epoch)?.roomSecret;
  }

  protected async ephemeral(roomId: Uint8Array, ev: RoomEvent): Promise<void> {
    const r = loadRoom(this.d.state, roomId);
    if (r === undefined || r.departed || r.adminIdentityKey.length === 0) return;
    await this.tx(async (t, fx) => {
      const room = loadRoom(t, roomId)!;
      let opened;
      try {
        opened = openRoomEnvelope(room.roomId, ev.envelope, (epoch) => this.secretFor(room, epoch));
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
        content = fromBinary(ContentSchema, unpad(await groupDecrypt(new RoomSenderKeyStore(this.d.state, room.roomId), addrOf(owner), skm)));
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

  protected async join(t: Txn, fx: Effects, room: RoomRecord, seq: bigint, epoch: number, ann: import("../../gen/securecomm/wire/v1/room_pb.js").JoinAnnouncement): Promise<void> {
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

  protected markChanged(addr: string, key: Uint8Array): void {
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
  protected async welcome(room: RoomRecord, seq: bigint): Promise<Content> {
    const rec = this.d.account.record;
    const skdm = await createSenderKeyDistributionMessage(new RoomSenderKeyStore(this.d.state, room.roomId), this.selfAddr, room.distributionId);
    return this.content(room.roomId, {
      case: "welcome",
      value: {
        $typeName: "securecomm.wire.v1.Welcome",
        distributionMessage: skdm,
        profile: create(ProfileSchema, { displayName: rec.displayName }),
        deliveryToken: rec.deliveryToken,
        roster: this.roster(room, seq),
      },
    });
  }

  protected roster(room: RoomRecord, asOf: bigint): Roster {
    return create(RosterSchema, {
      members: room.members.map((m) =>
        create(RosterMemberSchema, { identityKey: m.identityKey, profile: create(ProfileSchema, { displayName: m.displayName }), joinedSeq: m.joinedSeq, deliveryToken: m.deliveryToken }),
      ),
      asOfSeq: asOf,
      adminIdentityKey: room.adminIdentityKey,
      epoch: room.epoch,
      epochBounds: boundsForWelcome(room),
    });
  }

  /**
   * Applies a pure rule's step (room-core.ts) to `room` (in place, so the caller saves it) and
   * performs its effects: the driver's half of every rule.
   */
  protected async step(t: Txn, fx: Effects, room: RoomRecord, step: Step): Promise<void> {
    if (step.room !== room) Object.assign(room, step.room);
    for (const effect of step.effects) await this.perform1(t, fx, room, effect);
  }

  /** One effect of a rule (room-core.ts `Effect`). */
  protected async perform1(t: Txn, fx: Effects, room: RoomRecord, e: Effect): Promise<void> {
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
          const c = this.content(room.roomId, { case: "senderKeyDistribution", value: { $typeName: "securecomm.wire.v1.SenderKeyDistribution", distributionMessage: skdm } });
          enqueue(t, { kind: "pairwise", room: hex, to: b64(m.identityKey), token: b64(m.deliveryToken), content: b64(toBinary(ContentSchema, c)) });
        }
        fx.outbox = true;
        return;
      }
      case "rotate-secret":
        // RM-13, RM-28: the admin rotates after every departure, also when it is left alone.
        enqueue(t, { kind: "rotate", room: hex, secret: b64(randomBytes(ROOM_SECRET_LENGTH)), departureSeq: String(e.departureSeq), departureEpoch: e.departureEpoch });
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
      case "resubscribe":
        this.awaitingRotation.delete(hex);
        fx.resubscribe = true;
        return;
      case "keep-rotation":
        t.put(roomKey.rotation(hex, e.rotation.epoch), new Uint8Array([...e.from, ...toBinary(ContentSchema, create(ContentSchema, { roomId: room.roomId, body: { case: "roomSecretRotation", value: e.rotation } }))]));
        return;
    }
  }

  /** RM-08: processes a Welcome's sender key and answers with ours (room-inbox.ts). */
  protected abstract acceptWelcomeKeys(t: Txn, fx: Effects, room: RoomRecord, from: Uint8Array, w: import("../../gen/securecomm/wire/v1/content_pb.js").Welcome): Promise<void>;
  /** RM-08, RM-25: after the roster is set (room-inbox.ts). */
  protected abstract rosterSet(t: Txn, fx: Effects, room: RoomRecord): Promise<void>;
}
