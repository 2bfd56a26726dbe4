/**
 * The stored form of a room record (spec/09-rooms.md; storage/v1 RoomRecord).
 *
 * Owns: `encodeRoom`, the protobuf encoding of a RoomRecord that re-encodes only the members
 * that changed. A room record lists every member; it is saved on every room event (`last_seq`
 * commits with the event's effects, RM-15), and encoding a 100-member record took most of a
 * member's time per message. Each member's encoding is kept by its identity key's bytes object
 * with the field values it was made from; it is used only while every field is still the same
 * value (strings and numbers equal, byte strings the very same objects: nothing writes into a
 * record's bytes, fields are replaced). The output is a valid RoomRecord encoding that decodes
 * to the same record (members come last instead of in field order, which protobuf allows).
 * Pure: no I/O.
 */
import { toBinary } from "@bufbuild/protobuf";
import { type RoomMember, RoomMemberSchema, type RoomRecord, RoomRecordSchema } from "../../gen/securecomm/storage/v1/room_pb.js";

/** Tag of RoomRecord.members (field 7, length-delimited). */
const MEMBERS_TAG = (7 << 3) | 2;

interface KeptMember {
  displayName: string;
  joinedSeq: bigint;
  deliveryToken: Uint8Array;
  distributionId: Uint8Array;
  /** Tag, length and the member's encoding: what it adds to the record. */
  bytes: Uint8Array;
}

const kept = new WeakMap<Uint8Array, KeptMember>();

/** The member's part of a record's encoding, from `kept` when nothing changed. */
function memberPart(m: RoomMember): Uint8Array {
  const k = kept.get(m.identityKey);
  if (k !== undefined && k.displayName === m.displayName && k.joinedSeq === m.joinedSeq && k.deliveryToken === m.deliveryToken && k.distributionId === m.distributionId && m.$unknown === undefined) return k.bytes;
  const body = toBinary(RoomMemberSchema, m);
  const len = varint(body.length);
  const bytes = new Uint8Array(1 + len.length + body.length);
  bytes[0] = MEMBERS_TAG;
  bytes.set(len, 1);
  bytes.set(body, 1 + len.length);
  if (m.$unknown === undefined) kept.set(m.identityKey, { displayName: m.displayName, joinedSeq: m.joinedSeq, deliveryToken: m.deliveryToken, distributionId: m.distributionId, bytes });
  return bytes;
}

function varint(n: number): Uint8Array {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Uint8Array.from(out);
}

/** The encoding of `room` (decodes to a record equal to `room`). */
export function encodeRoom(room: RoomRecord): Uint8Array {
  const rest = toBinary(RoomRecordSchema, { ...room, members: [] });
  const parts = room.members.map(memberPart);
  let length = rest.length;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  out.set(rest, 0);
  let at = rest.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
