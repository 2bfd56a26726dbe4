/**
 * RoomService: room creation, stored and ephemeral posts with fan-out, history pages and
 * access-key rotation (rooms.proto, spec/10-relay-api.md API-17..API-21).
 *
 * Owns: room authorization (SHA-256 of the presented access key compared in constant time
 * with the stored hash) and the post rules. Does not own sequence assignment or the log cap
 * (RelayStore.appendRoomEvent) or fan-out (LiveFeed).
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  CreateRoomResponseSchema,
  GetInviteBoxResponseSchema,
  GetRoomHistoryResponseSchema,
  PutInviteBoxResponseSchema,
  PostEphemeralResponseSchema,
  PostToRoomResponseSchema,
  RotateRoomAccessKeyResponseSchema,
  RoomService,
} from "../../gen/securecomm/relay/v1/rooms_pb.js";
import { authenticate, constantTimeEqual, SECRET_BYTES, sha256 } from "../auth.js";
import { relayError } from "../errors.js";
import { coarseTime } from "../limits.js";
import { keyOf } from "../hub/subscription.js";
import { unary, type RelayContext } from "./context.js";
import { authorizeRoom } from "./room-access.js";
import { HASH_BYTES, MAX_INVITE_BOX_BYTES, requireEnvelope, requireLength, ROOM_ID_BYTES } from "./validate.js";

/** The RoomService implementation (spec/10-relay-api.md API-17..API-21, API-40). */
export function createRoomService(rc: RelayContext): ServiceImpl<typeof RoomService> {
  const authorize = (roomId: Uint8Array, accessKey: Uint8Array) => authorizeRoom(rc.store, roomId, accessKey);
  const limitPosts = async (roomId: Uint8Array): Promise<void> => {
    const decision = await rc.rateLimiters.roomPosts.take(keyOf(roomId), rc.now());
    if (!decision.allowed) throw relayError("RATE_LIMITED", decision.retryAfterMs);
  };

  return {
    createRoom: unary(rc, async (req, ctx) => {
      const now = rc.now();
      const caller = await authenticate(ctx.requestHeader, rc.store, now);
      requireLength(req.roomId, ROOM_ID_BYTES, "BAD_ROOM_ID");
      requireLength(req.accessKeyHash, HASH_BYTES, "BAD_HASH");
      const decision = await rc.rateLimiters.roomCreations.take(keyOf(caller), now);
      if (!decision.allowed) throw relayError("RATE_LIMITED", decision.retryAfterMs);
      // SC-18: the creation time is stored (and answered) coarse, never to the millisecond.
      const createdAtMs = coarseTime(now, rc.limits.storedTimeGranularityMs);
      if (!(await rc.store.createRoom(req.roomId, req.accessKeyHash, createdAtMs))) throw relayError("ROOM_EXISTS");
      return create(CreateRoomResponseSchema, { createdAtMs: BigInt(createdAtMs) });
    }),

    postToRoom: unary(rc, async (req) => {
      requireEnvelope(req.envelope, rc.limits.maxEnvelopeBytes);
      await authorize(req.roomId, req.accessKey);
      await limitPosts(req.roomId);
      // SC-18: the stored post time is coarse (history answers it); the live fan-out and the
      // response carry the exact receive time, which is never stored.
      const receivedAtMs = rc.now();
      const storedAtMs = coarseTime(receivedAtMs, rc.limits.storedTimeGranularityMs);
      const result = await rc.store.appendRoomEvent(req.roomId, req.envelope, storedAtMs, rc.limits.maxRoomLogEnvelopes, {
        maxBytes: rc.limits.maxRoomLogBytes,
        maxTotalBytes: rc.limits.maxStoredBytes,
      });
      if (!result.ok) {
        throw relayError(result.reason === "room_full" ? "ROOM_FULL" : result.reason === "storage_full" ? "STORAGE_FULL" : "ROOM_NOT_FOUND");
      }
      rc.metrics.envelopesStored.inc({ kind: "room" });
      rc.metrics.envelopeBytes.observe(req.envelope.length, { kind: "room" });
      // Published in commit order: handlers resume in the order their commits resolved.
      rc.feed.roomStored(req.roomId, { seq: result.seq, postedAtMs: receivedAtMs, envelope: req.envelope, ephemeral: false });
      return create(PostToRoomResponseSchema, { seq: BigInt(result.seq), postedAtMs: BigInt(receivedAtMs) });
    }),

    postEphemeral: unary(rc, async (req) => {
      requireEnvelope(req.envelope, rc.limits.maxEnvelopeBytes);
      await authorize(req.roomId, req.accessKey);
      await limitPosts(req.roomId);
      rc.metrics.ephemeralPosts.inc();
      const delivered = await rc.feed.roomEphemeral(req.roomId, { seq: 0, postedAtMs: rc.now(), envelope: req.envelope, ephemeral: true });
      return create(PostEphemeralResponseSchema, { deliveredTo: delivered });
    }),

    getRoomHistory: unary(rc, async (req) => {
      const { room } = await authorize(req.roomId, req.accessKey);
      const max = rc.limits.maxHistoryPage;
      const limit = req.limit === 0 || req.limit > max ? max : req.limit;
      const afterSeq = req.afterSeq > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(req.afterSeq);
      const read = await rc.store.readRoomEvents(req.roomId, afterSeq, limit);
      // A page also stops at the response byte budget ("at most" max_history_page events).
      let bytes = 0;
      const rows = read.filter((r, i) => (bytes += r.envelope.length) <= rc.limits.maxResponseEnvelopeBytes || i === 0);
      const empty = room.oldestRetainedSeq > room.latestSeq;
      return create(GetRoomHistoryResponseSchema, {
        events: rows.map((r) => ({ seq: BigInt(r.seq), postedAtMs: BigInt(r.postedAtMs), envelope: r.envelope, ephemeral: false })),
        latestSeq: BigInt(room.latestSeq),
        oldestSeq: empty ? 0n : BigInt(room.oldestRetainedSeq),
      });
    }),

    rotateRoomAccessKey: unary(rc, async (req) => {
      requireLength(req.roomId, ROOM_ID_BYTES, "BAD_ROOM_ID");
      requireLength(req.accessKey, SECRET_BYTES, "BAD_ACCESS_KEY");
      requireLength(req.newAccessKeyHash, HASH_BYTES, "BAD_HASH");
      const room = await rc.store.getRoom(req.roomId);
      if (!room) throw relayError("ROOM_NOT_FOUND");
      const hash = sha256(req.accessKey);
      const isCurrent = constantTimeEqual(hash, room.accessKeyHash);
      // A retried rotation (old key, same new hash, already applied) succeeds without change.
      const isRetry =
        !isCurrent &&
        room.previousAccessKeyHash !== undefined &&
        constantTimeEqual(hash, room.previousAccessKeyHash) &&
        constantTimeEqual(req.newAccessKeyHash, room.accessKeyHash);
      if (!isCurrent && !isRetry) throw relayError("ROOM_ACCESS_DENIED");
      if (isCurrent && !constantTimeEqual(req.newAccessKeyHash, room.accessKeyHash)) {
        await rc.store.setRoomAccessKeyHash(req.roomId, req.newAccessKeyHash);
        rc.feed.roomRotated(req.roomId, req.newAccessKeyHash);
      }
      return create(RotateRoomAccessKeyResponseSchema, {});
    }),

    // API-40: the invite box, written by a holder of the current access key, read by a holder
    // of the box key (the invite link). The relay keeps only ciphertext and SHA-256(box key).
    putInviteBox: unary(rc, async (req) => {
      requireLength(req.boxAddressHash, HASH_BYTES, "BAD_HASH");
      if (req.box.length === 0 || req.box.length > MAX_INVITE_BOX_BYTES) throw relayError("BAD_INVITE_BOX");
      await authorize(req.roomId, req.accessKey);
      await limitPosts(req.roomId);
      if (!(await rc.store.putInviteBox(req.roomId, req.boxAddressHash, req.box, coarseTime(rc.now(), rc.limits.storedTimeGranularityMs)))) {
        throw relayError("ROOM_NOT_FOUND");
      }
      return create(PutInviteBoxResponseSchema, {});
    }),

    getInviteBox: unary(rc, async (req) => {
      requireLength(req.roomId, ROOM_ID_BYTES, "BAD_ROOM_ID");
      requireLength(req.boxKey, SECRET_BYTES, "BAD_BOX_KEY");
      await limitPosts(req.roomId);
      const room = await rc.store.getRoom(req.roomId);
      if (!room) throw relayError("ROOM_NOT_FOUND");
      const box = await rc.store.getInviteBox(req.roomId);
      if (box === undefined || !constantTimeEqual(sha256(req.boxKey), box.addressHash)) throw relayError("INVITE_NOT_FOUND");
      return create(GetInviteBoxResponseSchema, { box: box.box });
    }),
  };
}
