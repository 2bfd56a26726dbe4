/**
 * Room events encoded once for all their subscribers (spec/10-relay-api.md API-11, API-13).
 *
 * Owns: the per-event cache of protobuf bytes and the assembly of a RoomBatch response from
 * those bytes. Does not own coalescing (relay/services/subscribe.ts `coalesce`) or framing
 * (Connect).
 * Why: the hub hands the same event object to every stream following the room, yet Connect
 * serialises each stream's SubscribeResponse on its own, walking the schema by reflection for
 * every subscriber. Here each RoomEvent is encoded once; a stream's response carries the
 * finished bytes as a pre-encoded field (protobuf-es writes a message's `$unknown` fields
 * verbatim), so Connect only copies them. The bytes are identical to encoding the message
 * (relay/hub/shared-encoding.test.ts).
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { RoomEventSchema, SubscribeResponseSchema, type RoomEvent, type SubscribeResponse } from "../../gen/securecomm/relay/v1/messages_pb.js";

/** Field numbers of messages.proto this module writes by hand. */
const SUBSCRIBE_RESPONSE_ROOM = 2;
const ROOM_BATCH_ROOM_ID = 1;
const ROOM_BATCH_EVENTS = 2;

interface Encoded {
  seq: bigint;
  postedAtMs: bigint;
  ephemeral: boolean;
  /** `RoomBatch.events` field: tag, length and the encoded RoomEvent. */
  field: Uint8Array;
}

/**
 * Keyed by the envelope bytes, which the hub shares among all subscribers of one event (and
 * which die with it); the other fields are checked so a reused array is never mis-shared.
 */
const cache = new WeakMap<Uint8Array, Encoded>();

/** The `RoomBatch.events` field bytes of one event, encoded at most once per event. */
export function encodedRoomEventField(e: RoomEvent): Uint8Array {
  const hit = cache.get(e.envelope);
  if (hit && hit.seq === e.seq && hit.postedAtMs === e.postedAtMs && hit.ephemeral === e.ephemeral) return hit.field;
  const field = new BinaryWriter()
    .tag(ROOM_BATCH_EVENTS, WireType.LengthDelimited)
    .bytes(toBinary(RoomEventSchema, e))
    .finish();
  cache.set(e.envelope, { seq: e.seq, postedAtMs: e.postedAtMs, ephemeral: e.ephemeral, field });
  return field;
}

/**
 * The same response with a RoomBatch carried as pre-encoded bytes (other responses are
 * returned unchanged). Encodes to exactly the bytes `toBinary(SubscribeResponseSchema, m)`
 * gives; it is for the wire only (its `event` is unset).
 */
export function withSharedEncoding(m: SubscribeResponse): SubscribeResponse {
  if (m.event.case !== "room" || (m.$unknown !== undefined && m.$unknown.length > 0)) return m;
  const batch = m.event.value;
  if (batch.$unknown !== undefined && batch.$unknown.length > 0) return m;
  const body = new BinaryWriter();
  if (batch.roomId.length > 0) body.tag(ROOM_BATCH_ROOM_ID, WireType.LengthDelimited).bytes(batch.roomId);
  for (const e of batch.events) {
    if (e.$unknown !== undefined && e.$unknown.length > 0) return m;
    body.raw(encodedRoomEventField(e));
  }
  const out = create(SubscribeResponseSchema);
  // `data` of a length-delimited unknown field is the length prefix and the body.
  out.$unknown = [{ no: SUBSCRIBE_RESPONSE_ROOM, wireType: WireType.LengthDelimited, data: new BinaryWriter().bytes(body.finish()).finish() }];
  return out;
}
