/**
 * The mailbox side of the room engine (spec RM-08, RM-12, RM-14, RM-21, RM-22, API-14).
 * Part of the room engine (room-engine.ts).
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import type { MailboxEnvelope } from "../../gen/securecomm/relay/v1/messages_pb.js";
import { type Content, ContentSchema } from "../../gen/securecomm/wire/v1/content_pb.js";
import type { RoomRecord } from "../../gen/securecomm/storage/v1/room_pb.js";
import { hexToBytes } from "../crypto/bytes.js";
import { isProtocolError } from "../errors.js";
import { createSenderKeyDistributionMessage, processSenderKeyDistributionMessage } from "../sender-keys/group-cipher.js";
import type { Txn } from "../store/state-store.js";
import { isValidDisplayName } from "./join.js";
import { b64, distOwner, enqueue, holdPairwise, initialSkdm, loadRoom, noteRetired, roomKey, saveRoom, setDistOwner } from "./room-store.js";
import { applyRotation, applyWelcome } from "./room-core.js";
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
    const rec = this.d.account.record;
    await this.step(t, fx, room, applyWelcome(room, this.self, from, w, { displayName: this.displayName, deliveryToken: rec.deliveryToken }));
  }

  /** RM-08, RM-25: our roster was just set: read the log, and let earlier Welcomes add their keys. */
  protected async rosterSet(t: Txn, fx: Effects, room: RoomRecord): Promise<void> {
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
      const from = hexToBytes(key.slice(prefix.length).split("/")[1] ?? "");
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
  protected async applyRotations(t: Txn, fx: Effects, room: RoomRecord): Promise<void> {
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
      const e = Number(k.slice(roomKey.rotationPrefix(hex).length));
      if (e <= room.epoch) t.delete(k);
    }
  }



}
