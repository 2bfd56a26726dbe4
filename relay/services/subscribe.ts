/**
 * The Subscribe stream: one server stream per client carrying its mailbox and its rooms
 * (messages.proto Subscribe, spec/10-relay-api.md API-11..API-14).
 *
 * Order of a stream: RoomClosed for rooms that cannot be followed, the mailbox backlog and
 * each room's backlog (in pages, coalesced), CaughtUp, then live events coalesced from the
 * subscription's bounded buffer, with KeepAlive when idle. A consumer whose buffer overflows
 * is cut off with resource_exhausted SLOW_CONSUMER.
 */
import { create } from "@bufbuild/protobuf";
import { ConnectError, type HandlerContext } from "@connectrpc/connect";
import {
  RoomClosedReason,
  SubscribeResponseSchema,
  type RoomEvent,
  type SubscribeRequest,
  type SubscribeResponse,
} from "../../gen/securecomm/relay/v1/messages_pb.js";
import { authenticateSession, constantTimeEqual, sha256 } from "../auth.js";
import { errorReason, relayError } from "../errors.js";
import { withSharedEncoding } from "../hub/shared-encoding.js";
import { keyOf, Subscription, type StreamItem } from "../hub/subscription.js";
import type { RelayContext } from "./context.js";
import { ROOM_ID_BYTES, requireLength } from "./validate.js";
import { SECRET_BYTES } from "../auth.js";

/** Backlog passes in backlog mode before switching to live mode regardless of new traffic. */
const MAX_BACKLOG_PASSES = 3;

function msg(event: SubscribeResponse["event"]): SubscribeResponse {
  return create(SubscribeResponseSchema, { event });
}

function roomEvent(e: { seq: number; postedAtMs: number; envelope: Uint8Array; ephemeral: boolean }): RoomEvent {
  return { $typeName: "securecomm.relay.v1.RoomEvent", seq: BigInt(e.seq), postedAtMs: BigInt(e.postedAtMs), envelope: e.envelope, ephemeral: e.ephemeral };
}

/**
 * Groups taken items into stream messages: one per mailbox run and one per room run, in
 * order, each holding at most `maxBytes` of envelopes (one envelope always fits).
 */
export function coalesce(items: readonly StreamItem[], maxBytes: number = Number.MAX_SAFE_INTEGER): SubscribeResponse[] {
  const out: SubscribeResponse[] = [];
  let runKey: string | undefined; // "m" for the mailbox, "r:<room>" for a room, undefined after RoomClosed
  let runBytes = 0;
  for (const item of items) {
    if (item.kind === "closed") {
      out.push(msg({ case: "roomClosed", value: { $typeName: "securecomm.relay.v1.RoomClosed", roomId: item.roomId, reason: item.reason } }));
      runKey = undefined;
      continue;
    }
    if (item.kind === "prekeysLow") {
      out.push(msg({ case: "preKeysLow", value: { $typeName: "securecomm.relay.v1.PreKeysLow", handoutLimited: item.handoutLimited } }));
      runKey = undefined;
      continue;
    }
    const key = item.kind === "mailbox" ? "m" : `r:${item.roomKey}`;
    const size = item.kind === "mailbox" ? item.envelope.envelope.length : item.event.envelope.length;
    const prev = out[out.length - 1];
    const extend = runKey === key && runBytes + size <= maxBytes;
    runBytes = extend ? runBytes + size : size;
    runKey = key;
    if (item.kind === "mailbox") {
      const env = { $typeName: "securecomm.relay.v1.MailboxEnvelope" as const, id: BigInt(item.envelope.id), storedAtMs: BigInt(item.envelope.storedAtMs), envelope: item.envelope.envelope };
      if (extend && prev?.event.case === "mailbox") prev.event.value.envelopes.push(env);
      else out.push(msg({ case: "mailbox", value: { $typeName: "securecomm.relay.v1.MailboxBatch", envelopes: [env] } }));
    } else if (extend && prev?.event.case === "room") {
      prev.event.value.events.push(roomEvent(item.event));
    } else {
      out.push(msg({ case: "room", value: { $typeName: "securecomm.relay.v1.RoomBatch", roomId: item.roomId, events: [roomEvent(item.event)] } }));
    }
  }
  return out;
}

/** The Subscribe handler body (spec/10-relay-api.md API-11..API-13). */
export async function* subscribe(rc: RelayContext, req: SubscribeRequest, ctx: HandlerContext): AsyncGenerator<SubscribeResponse> {
  const { address, expiresAtMs: tokenExpiresAtMs } = await authenticateSession(ctx.requestHeader, rc.store, rc.now());
  if (req.rooms.length > rc.limits.maxRoomsPerSubscription) throw relayError("TOO_MANY_ROOMS");
  const seen = new Set<string>();
  for (const cursor of req.rooms) {
    requireLength(cursor.roomId, ROOM_ID_BYTES, "BAD_ROOM_ID");
    requireLength(cursor.accessKey, SECRET_BYTES, "BAD_ACCESS_KEY");
    const k = keyOf(cursor.roomId);
    if (seen.has(k)) throw relayError("DUPLICATE_ROOM");
    seen.add(k);
  }
  if (rc.hub.streamsFor(address) >= rc.limits.maxStreamsPerAccount) throw relayError("TOO_MANY_STREAMS");

  const sub = new Subscription(address, {
    maxBufferEvents: rc.limits.maxSubscriberBufferEvents,
    maxBufferBytes: rc.limits.maxSubscriberBufferBytes,
  });
  const closedAtStart: StreamItem[] = [];
  for (const cursor of req.rooms) {
    const room = await rc.store.getRoom(cursor.roomId);
    const afterSeq = Number(cursor.afterSeq);
    let reason: RoomClosedReason | undefined;
    const hash = sha256(cursor.accessKey);
    if (!room) reason = RoomClosedReason.NOT_FOUND;
    else if (!constantTimeEqual(hash, room.accessKeyHash)) reason = RoomClosedReason.ACCESS_DENIED;
    else if (afterSeq > 0 && afterSeq + 1 < room.oldestRetainedSeq) reason = RoomClosedReason.HISTORY_EXPIRED;
    if (reason !== undefined) closedAtStart.push({ kind: "closed", roomId: cursor.roomId, reason });
    else sub.rooms.set(keyOf(cursor.roomId), { roomId: cursor.roomId, accessKeyHash: hash, lastSeq: afterSeq });
  }

  const signal = AbortSignal.any([ctx.signal, rc.lifecycle.shutdownSignal]);
  // Checked again with no await before add(): concurrent subscribes cannot overshoot the cap.
  if (rc.hub.streamsFor(address) >= rc.limits.maxStreamsPerAccount) throw relayError("TOO_MANY_STREAMS");
  rc.hub.add(sub);
  rc.metrics.streamsOpened.inc();
  let endReason = "client";
  const page = rc.limits.maxCoalescedEvents;
  const maxBytes = rc.limits.maxResponseEnvelopeBytes;
  const emit = function* (messages: SubscribeResponse[]): Generator<SubscribeResponse> {
    for (const m of messages) {
      rc.metrics.streamMessages.inc({ event: m.event.case ?? "none" });
      // Room events are encoded once for all their subscribers (relay/hub/shared-encoding.ts).
      yield withSharedEncoding(m);
    }
  };
  try {
    // A rotation between the checks above and add() reached no stream: check the keys again.
    for (const [roomKey, room] of [...sub.rooms]) {
      const current = await rc.store.getRoom(room.roomId);
      if (!current || !constantTimeEqual(current.accessKeyHash, room.accessKeyHash)) sub.closeRoom(roomKey, RoomClosedReason.ACCESS_DENIED);
    }
    yield* emit(coalesce(closedAtStart));
    const backlogPass = async function* (): AsyncGenerator<SubscribeResponse> {
      for (;;) {
        const rows = await rc.store.readMailbox(address, sub.lastMailboxId, page);
        if (rows.length === 0 || sub.error || signal.aborted) break;
        sub.lastMailboxId = rows[rows.length - 1]!.id;
        yield* emit(coalesce(rows.map((envelope) => ({ kind: "mailbox" as const, envelope })), maxBytes));
      }
      for (const [roomKey, room] of sub.rooms) {
        for (;;) {
          if (!sub.rooms.has(roomKey) || sub.error || signal.aborted) break;
          const rows = await rc.store.readRoomEvents(room.roomId, room.lastSeq, page);
          if (rows.length === 0) break;
          room.lastSeq = rows[rows.length - 1]!.seq;
          yield* emit(coalesce(rows.map((r) => ({ kind: "room" as const, roomKey, roomId: room.roomId, event: { ...r, ephemeral: false } })), maxBytes));
        }
      }
    };
    // Backlog: stored events published meanwhile only mark the stream dirty; read again until
    // a pass ends clean. The check and the switch to live mode run with no await between, so
    // every later publish is buffered (and de-duplicated by cursor when taken).
    let passes = 0;
    do {
      sub.dirty = false;
      yield* backlogPass();
      passes++;
      if (sub.error) throw sub.error;
    } while (sub.dirty && passes < MAX_BACKLOG_PASSES && !signal.aborted);
    const stillDirty = sub.dirty;
    if (sub.mode === "backlog") sub.mode = "live";
    // Under sustained traffic: one last pass in live mode closes the gap; the buffer holds
    // what arrives meanwhile and the cursors drop what that pass already delivered.
    if (stillDirty) yield* backlogPass();
    if (!signal.aborted) yield* emit([msg({ case: "caughtUp", value: { $typeName: "securecomm.relay.v1.CaughtUp" } })]);

    for (;;) {
      if (sub.error) throw sub.error;
      // A stream lives no longer than the token that opened it (API-03).
      if (rc.now() >= tokenExpiresAtMs) throw relayError("BAD_TOKEN");
      if (signal.aborted) {
        if (rc.lifecycle.closing) {
          endReason = "shutdown";
          throw relayError("SHUTTING_DOWN");
        }
        // The caller's deadline passed: say so (a plain return would end the stream as if it
        // had completed; "a stream cut by the caller's deadline" in over-http.test.ts). A
        // caller that went away hears nothing either way.
        if (ctx.signal.reason instanceof ConnectError) throw ctx.signal.reason;
        return;
      }
      const items = sub.take(page);
      if (items.length > 0) {
        for (const item of items) if (item.kind === "mailbox" || item.kind === "room") rc.metrics.deliveries.inc({ kind: item.kind === "mailbox" ? "mailbox" : item.event.ephemeral ? "ephemeral" : "room" });
        yield* emit(coalesce(items, maxBytes));
        continue;
      }
      if (sub.gap !== undefined) {
        // A live event came before one it follows (events reached this process out of order):
        // read what lies between from the store, so the stream never skips a seq.
        const { roomKey, beforeSeq } = sub.gap;
        sub.gap = undefined;
        const room = sub.rooms.get(roomKey);
        if (!room) continue;
        while (sub.rooms.has(roomKey) && room.lastSeq + 1 < beforeSeq && !sub.error && !signal.aborted) {
          const rows = (await rc.store.readRoomEvents(room.roomId, room.lastSeq, page)).filter((r) => r.seq < beforeSeq);
          if (rows.length === 0) break;
          room.lastSeq = rows[rows.length - 1]!.seq;
          rc.metrics.deliveries.inc({ kind: "room" }, rows.length);
          yield* emit(coalesce(rows.map((r) => ({ kind: "room" as const, roomKey, roomId: room.roomId, event: { ...r, ephemeral: false } })), maxBytes));
        }
        // What the store no longer holds (expired) is skipped: the event after it is delivered.
        room.gapCheckedBefore = beforeSeq;
        continue;
      }
      const untilExpiry = Math.max(1, tokenExpiresAtMs - rc.now());
      const outcome = await sub.wait(Math.min(rc.limits.keepAliveIntervalMs, untilExpiry), signal);
      if (outcome === "timeout" && rc.now() < tokenExpiresAtMs) {
        yield* emit([msg({ case: "keepAlive", value: { $typeName: "securecomm.relay.v1.KeepAlive", nowMs: BigInt(rc.now()) } })]);
      }
    }
  } catch (err) {
    const reason = errorReason(err);
    endReason = reason === "SLOW_CONSUMER" ? "slow_consumer" : reason === "SHUTTING_DOWN" ? "shutdown" : ctx.signal.aborted ? "client" : "error";
    throw err;
  } finally {
    sub.mode = "closed";
    rc.hub.remove(sub);
    rc.metrics.streamsClosed.inc({ reason: endReason });
  }
}
