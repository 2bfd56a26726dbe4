/**
 * The mailbox side of the room engine (spec RM-08, RM-12, RM-14, RM-21, RM-22, API-14).
 * Part of the room engine (room-engine.ts).
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import type { MailboxEnvelope } from "../../gen/securecomm/relay/v1/messages_pb.js";
import { type Content, ContentSchema } from "../../gen/securecomm/wire/v1/content_pb.js";
import { RoomEpochSecretSchema, RoomMemberSchema, type RoomRecord } from "../../gen/securecomm/storage/v1/room_pb.js";
import { bytesToHex, hexToBytes } from "../crypto/bytes.js";
import { isProtocolError } from "../errors.js";
import { createSenderKeyDistributionMessage, processSenderKeyDistributionMessage } from "../sender-keys/group-cipher.js";
import type { Txn } from "../store/state-store.js";
import { isValidDisplayName } from "./join.js";
import type { Pairwise } from "./pairwise.js";
import { ROOM_SECRET_LENGTH } from "./room-keys.js";
import { b64, distOwner, enqueue, initialSkdm, loadRoom, MAX_HELD_WELCOMES, retireSecret, ROOM_KEYS, saveRoom, seqKey, setDistOwner } from "./room-store.js";
import { adoptBounds, closeEpoch, rosterDisagrees, welcomeAuthority } from "./room-rules.js";
import { RoomSenderKeyStore } from "./sender-key-kv.js";
import { addrOf, type Effects, reason, roomHex, same } from "./room-engine-base.js";
import { RoomLog } from "./room-log.js";

/**
 * Pairwise content from the mailbox (RM-08 Welcomes and answers, RM-12 SKDMs, RM-14 rotations,
 * RM-21 rosters, RM-22 rules), each envelope processed in one transaction and acknowledged
 * after it commits (API-14).
 */
export abstract class RoomInbox extends RoomLog {
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

  protected async pairwiseContent(t: Txn, fx: Effects, from: Uint8Array, content: Content): Promise<void> {
    const room = loadRoom(t, content.roomId);
    if (room === undefined || room.departed) return; // RM-22
    const hex = roomHex(room.roomId);
    const body = content.body;
    if (body.case === "welcome") {
      await this.onWelcome(t, fx, room, from, body.value);
      saveRoom(t, room);
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
        t.put(`${ROOM_KEYS.rotation}${hex}/${seqKey(rot.epoch)}`, new Uint8Array([...from, ...toBinary(ContentSchema, content)]));
        this.applyRotations(t, fx, room);
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

  protected async acceptSkdm(t: Txn, fx: Effects, room: RoomRecord, from: Uint8Array, skdm: Uint8Array): Promise<boolean> {
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

  protected async onWelcome(t: Txn, fx: Effects, room: RoomRecord, from: Uint8Array, w: import("../../gen/securecomm/wire/v1/content_pb.js").Welcome): Promise<void> {
    const hex = roomHex(room.roomId);
    const roster = w.roster;
    const adoptable =
      roster !== undefined &&
      roster.asOfSeq === room.joinedSeq &&
      roster.epoch === room.epoch &&
      roster.members.some((m) => same(m.identityKey, from)) &&
      roster.members.some((m) => same(m.identityKey, this.self)) &&
      roster.adminIdentityKey.length === 33;
    // RM-25: only the inviter named in the link sets our roster; a Welcome from anyone else
    // that comes first waits for it, and later ones only add their sender's key.
    const authority = welcomeAuthority(room, from);
    if (authority === "wait") {
      const prefix = `${ROOM_KEYS.heldWelcome}${hex}/`;
      if (t.list(prefix).length < MAX_HELD_WELCOMES) {
        t.put(`${prefix}${bytesToHex(from)}`, toBinary(ContentSchema, create(ContentSchema, { roomId: room.roomId, body: { case: "welcome", value: w } })));
      }
      return;
    }
    if (authority === "keys" && roster !== undefined && rosterDisagrees(room, roster)) {
      fx.events.push({ type: "decryption-failed", roomId: hex, sender: addrOf(from), reason: "roster disagreement" });
    }
    if (authority === "adopt" && adoptable) {
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
      const self = room.members.find((m) => same(m.identityKey, this.self));
      if (self !== undefined) {
        self.distributionId = room.distributionId;
        self.displayName = this.displayName;
        self.deliveryToken = this.d.account.record.deliveryToken;
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
      adoptBounds(room, roster!.epochBounds);
      fx.events.push({ type: "members-changed", roomId: hex }, { type: "rooms-changed" });
      fx.catchUp.push(room.roomId);
      await this.acceptWelcomeKeys(t, fx, room, from, w);
      // RM-25: the Welcomes that came before the inviter's now add their senders' keys.
      const prefix = `${ROOM_KEYS.heldWelcome}${hex}/`;
      for (const [key, value] of t.list(prefix)) {
        t.delete(key);
        const early = fromBinary(ContentSchema, value);
        if (early.body.case !== "welcome") continue;
        const sender = hexToBytes(key.slice(prefix.length));
        if (early.body.value.roster !== undefined && rosterDisagrees(room, early.body.value.roster)) {
          fx.events.push({ type: "decryption-failed", roomId: hex, sender: addrOf(sender), reason: "roster disagreement" });
        }
        await this.acceptWelcomeKeys(t, fx, room, sender, early.body.value);
      }
      return;
    }
    if (room.adminIdentityKey.length === 0) return; // not adoptable and no roster yet: nothing to add keys to
    await this.acceptWelcomeKeys(t, fx, room, from, w);
  }

  /** RM-08: a Welcome from a member in our roster adds its profile, token and sender key, and we answer. */
  protected async acceptWelcomeKeys(t: Txn, fx: Effects, room: RoomRecord, from: Uint8Array, w: import("../../gen/securecomm/wire/v1/content_pb.js").Welcome): Promise<void> {
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
    const c = this.content(room.roomId, { case: "senderKeyDistribution", value: { $typeName: "securecomm.wire.v1.SenderKeyDistribution", distributionMessage: skdm } });
    enqueue(t, { kind: "pairwise", room: hex, to: b64(from), token: b64(member.deliveryToken), content: b64(toBinary(ContentSchema, c)) });
    fx.outbox = true;
  }

  /** Applies every kept rotation that has become applicable (RM-14). */
  protected applyRotations(t: Txn, fx: Effects, room: RoomRecord): void {
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
      if (!this.mayRotate(room, from) || rot.roomSecret.length !== ROOM_SECRET_LENGTH) {
        fx.events.push({ type: "decryption-failed", roomId: hex, sender: addrOf(from), reason: "rotation from a non-admin" });
        continue;
      }
      // RM-23, RM-24: the old epoch is bound to the log: nothing of it after closed_at_seq, no
      // join of it after the departure.
      closeEpoch(room, room.epoch, rot.closedAtSeq, rot.departureSeq);
      retireSecret(t, room, this.d.now());
      room.roomSecret = rot.roomSecret;
      room.epoch = rot.epoch;
      this.awaitingRotation.delete(hex);
      fx.resubscribe = true;
    }
    // Drop kept rotations for epochs already passed.
    for (const [k] of t.list(`${ROOM_KEYS.rotation}${hex}/0`)) {
      const e = Number(k.slice(`${ROOM_KEYS.rotation}${hex}/`.length));
      if (e <= room.epoch) t.delete(k);
    }
  }

  /** The admin, or the successor if the admin left (lowest joined_seq among the others). */
  protected mayRotate(room: RoomRecord, from: Uint8Array): boolean {
    if (same(from, room.adminIdentityKey)) return true;
    const others = room.members.filter((m) => !same(m.identityKey, room.adminIdentityKey));
    others.sort((a, b) => (a.joinedSeq < b.joinedSeq ? -1 : a.joinedSeq > b.joinedSeq ? 1 : 0));
    return others[0] !== undefined && same(others[0].identityKey, from);
  }

}
