/**
 * The room protocol engine (spec/09-rooms.md RM-01..RM-22).
 *
 * Owns: creating, joining, leaving and removing; processing stored room events strictly in
 * `seq` order with `last_seq` committed atomically with their effects (RM-15); join
 * announcements, Welcomes and answers (RM-08, RM-09); departures with sender-key rotation
 * (RM-12) and room-secret rotation by the admin or successor (RM-13, RM-14); pending envelopes
 * (RM-16); ephemeral typing events (RM-17); pairwise content rules (RM-21, RM-22); the outbox
 * that performs pairwise sends and rotations after the state that caused them is stored.
 * The class is layered over files of one concern each: room-engine-base.ts (state,
 * transactions, queries, posting), room-log.ts (the room log), room-inbox.ts (the mailbox),
 * room-outbox.ts (the worker); this file adds creating and joining and the outbox jobs.
 * Does not own: the relay stream (client/relay), account upkeep (client/account), cryptography
 * below the room layer.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ContentSchema } from "../../gen/securecomm/wire/v1/content_pb.js";
import { RoomEnvelopeBodySchema } from "../../gen/securecomm/wire/v1/room_pb.js";
import { type RoomMember, RoomMemberSchema } from "../../gen/securecomm/storage/v1/room_pb.js";
import { VerificationState } from "../../gen/securecomm/storage/v1/keys_pb.js";
import { randomBytes, utf8 } from "../crypto/bytes.js";
import { addressFromSerializedIdentityKey } from "../keys/address.js";
import { createDistributionId, createSenderKeyDistributionMessage } from "../sender-keys/group-cipher.js";
import type { Txn } from "../store/state-store.js";
import { parseInviteLink } from "./invite.js";
import { createJoinAnnouncement } from "./join.js";
import { accessKey, accessKeyHash, ROOM_ID_LENGTH, ROOM_SECRET_LENGTH, sealRoomEnvelope } from "./room-keys.js";
import { allRooms, b64, deleteRoomKeys, pruneRetiredSecrets, enqueue, loadRoom, type OutboxJob, newRoom, ROOM_KEYS, retireSecret, roomKey, saveRoom, setDistOwner, setInitialSkdm, unb64 } from "./room-store.js";
import { closeEpoch, departedIn } from "./room-rules.js";
import { RoomSenderKeyStore } from "./sender-key-kv.js";
import { addrOf, type Effects, hexBytes, HISTORY_PAGE, roomHex, same } from "./room-engine-base.js";
import { RoomInbox } from "./room-inbox.js";

export {
  type EngineEvent,
  HISTORY_PAGE,
  MAX_SEEN_JOIN_NONCES,
  MAX_TEXT_BYTES,
  MESSAGE_ID_LENGTH,
  type RoomEngineDeps,
  roomHex,
} from "./room-engine-base.js";

/**
 * The room protocol engine: the log side (room-log.ts), the mailbox side (room-inbox.ts) and
 * shared plumbing (room-engine-base.ts), plus creating and joining rooms and performing outbox
 * jobs (pairwise sends, RM-13 rotations) here.
 */
export class RoomEngine extends RoomInbox {
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
      const dist = createDistributionId();
      await this.tx(async (t, fx) => {
        const room = newRoom({
          roomId,
          name,
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

  /** Joins by invite link (RM-08 steps 1–3); resolves with the room's hex id. */
  async joinRoom(link: string): Promise<string> {
    const inv = parseInviteLink(link);
    const existing = loadRoom(this.d.state, inv.roomId);
    if (existing !== undefined && !existing.departed) return roomHex(inv.roomId);
    const rec = this.d.account.record;
    const dist = createDistributionId();
    const ann = createJoinAnnouncement({
      identity: this.d.identity,
      roomId: inv.roomId,
      epoch: inv.epoch,
      deliveryToken: rec.deliveryToken,
      displayName: rec.displayName,
      nowMs: this.d.now(),
    });
    const envelope = sealRoomEnvelope(inv.roomId, inv.roomSecret, inv.epoch, create(RoomEnvelopeBodySchema, { body: { case: "join", value: ann } }));
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
    let before: bigint | undefined;
    try {
      // RM-33: where the log ended before our join, to find the join if the answer is lost.
      before = (await this.d.clients.rooms.getRoomHistory({ roomId: inv.roomId, accessKey: key, afterSeq: 0n, limit: 1 })).latestSeq;
      posted = await this.d.clients.rooms.postToRoom({ roomId: inv.roomId, accessKey: key, envelope });
    } catch (e) {
      if (expired(e)) throw new TypeError("The invite has expired or the room no longer exists.");
      // RM-33: the relay may have stored the join and its answer been lost. Never post a second
      // join: find this one (its exact bytes) in the log after `before`.
      const found = before === undefined ? undefined : await this.findOwnPost(inv.roomId, key, before, envelope).catch(() => undefined);
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
  protected async findOwnPost(roomId: Uint8Array, key: Uint8Array, afterSeq: bigint, envelope: Uint8Array): Promise<bigint | undefined> {
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

  /** Performs one outbox job and removes it, in one transaction. */
  protected async perform(key: string, job: OutboxJob): Promise<void> {
    await this.tx(async (t, fx) => {
      if (t.get(key) === undefined) return;
      t.delete(key);
      if (job.kind === "pairwise") {
        const content = fromBinary(ContentSchema, unb64(job.content));
        await this.d.pairwise.send(unb64(job.to), unb64(job.token), content);
      } else {
        await this.rotate(t, fx, job.room, unb64(job.secret), BigInt(job.departureSeq), job.departureEpoch);
      }
    });
  }

  protected held(identityKey: Uint8Array): boolean {
    return this.d.store.trustedRecord(addrOf(identityKey))?.verification === VerificationState.CHANGED;
  }

  /** RM-13: rotate the access key at the relay, then send the new secret to every member. */
  protected async rotate(t: Txn, fx: Effects, hex: string, secret: Uint8Array, departureSeq: bigint, departureEpoch?: number): Promise<void> {
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
    retireSecret(t, room, this.d.now());
    room.roomSecret = secret;
    room.epoch = epoch;
    for (const m of room.members) {
      if (same(m.identityKey, this.self)) continue;
      const c = this.content(room.roomId, {
        case: "roomSecretRotation",
        value: { $typeName: "securecomm.wire.v1.RoomSecretRotation", epoch, roomSecret: secret, departureSeq, closedAtSeq, departedIdentityKeys },
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
