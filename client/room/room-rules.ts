/**
 * Pure room rules: how epochs are bound to the room log (spec/09-rooms.md RM-23, RM-24), who
 * may set a joiner's roster (RM-25) and how long undecryptable messages are held (RM-16,
 * RM-26). Every function here reads a `RoomRecord` (and returns a decision or a changed copy
 * of a small part of it); none touches a store, a clock or the network, so they are tested
 * directly (room-rules.test.ts) and by the engine's end-to-end regression tests.
 *
 * Owns: the refusal codes of the room log and the bound arithmetic. Does not own: applying a
 * decision (the engine), the storage layout (room-store.ts).
 */
import { create } from "@bufbuild/protobuf";
import { type RoomEpochBound, RoomEpochBoundSchema, type RoomRecord } from "../../gen/securecomm/storage/v1/room_pb.js";
import { type EpochBound, EpochBoundSchema } from "../../gen/securecomm/wire/v1/content_pb.js";
import { constantTimeEqual } from "../crypto/bytes.js";
import { hexOf } from "./room-ids.js";

/** Why a room-log event was refused (reported to the user, never applied; RM-23, RM-24, RM-09). */
export type LogRefusal = "closed-epoch" | "join-after-departure" | "replayed-join";

/**
 * RM-16, RM-26: a room message whose sender key has not arrived is held at most this long
 * (the spec's floor of one hour): longer than any mailbox round trip of a member that is
 * online, short enough that a hold never outlives the sender's intent to be read "now".
 */
export const MAX_HOLD_MS = 60 * 60 * 1000;

/** The bound of `epoch` in `room`, if any. */
export function boundOf(room: RoomRecord, epoch: number): RoomEpochBound | undefined {
  return room.epochBounds.find((b) => b.epoch === epoch);
}

function boundFor(room: RoomRecord, epoch: number): RoomEpochBound {
  let b = boundOf(room, epoch);
  if (b === undefined) {
    b = create(RoomEpochBoundSchema, { epoch, joinsUntilSeq: 0n, closedAtSeq: 0n });
    room.epochBounds.push(b);
    room.epochBounds.sort((x, y) => x.epoch - y.epoch);
  }
  return b;
}

/**
 * RM-23: an envelope of `epoch` at `seq` is refused when `epoch` was closed before `seq` (a
 * rotation said its last envelope was `closed_at_seq`). Whatever it carries, joins included.
 */
export function refuseEnvelope(room: RoomRecord, epoch: number, seq: bigint): LogRefusal | undefined {
  const b = boundOf(room, epoch);
  if (b !== undefined && b.closedAtSeq > 0n && seq > b.closedAtSeq) return "closed-epoch";
  return undefined;
}

/**
 * RM-23, RM-24, RM-09: a join of `epoch` at `seq` with `nonce` is refused when its epoch was
 * closed before it, when a member departed in that epoch before it (from then on someone who is
 * no longer a member holds the epoch's secret, so nothing signed with it may add a member), or
 * when its nonce was seen before.
 */
export function refuseJoin(room: RoomRecord, epoch: number, seq: bigint, nonce: Uint8Array, joiner?: Uint8Array): LogRefusal | undefined {
  const closed = refuseEnvelope(room, epoch, seq);
  if (closed !== undefined) return closed;
  const b = boundOf(room, epoch);
  if (b !== undefined && b.joinsUntilSeq > 0n && seq > b.joinsUntilSeq) return "join-after-departure";
  // RM-34: a member that departed in this epoch (a rotation may tell us before the log does)
  // never comes back through it.
  if (joiner !== undefined && b !== undefined && b.departedIdentityKeys.some((k) => k.length === joiner.length && constantTimeEqual(k, joiner))) return "join-after-departure";
  if (room.seenJoinNonces.some((n) => n.length === nonce.length && constantTimeEqual(n, nonce))) return "replayed-join";
  return undefined;
}

/**
 * RM-24, RM-34: a departure at `seq` in an envelope of `epoch` closes that epoch to joins (first
 * one wins) and is remembered so the rotation away from the epoch names every departed member.
 */
export function noteDeparture(room: RoomRecord, epoch: number, seq: bigint, departed?: Uint8Array): void {
  const b = boundFor(room, epoch);
  if (b.joinsUntilSeq === 0n || seq < b.joinsUntilSeq) b.joinsUntilSeq = seq;
  if (departed !== undefined && !b.departedIdentityKeys.some((k) => k.length === departed.length && constantTimeEqual(k, departed))) b.departedIdentityKeys.push(departed);
}

/** RM-34: every member whose departure was processed in an envelope of epoch `from`..`to`. */
export function departedIn(room: RoomRecord, from: number, to: number = from): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const b of room.epochBounds) {
    if (b.epoch < from || b.epoch > to) continue;
    for (const k of b.departedIdentityKeys) if (!out.some((x) => x.length === k.length && constantTimeEqual(x, k))) out.push(k);
  }
  return out;
}

/**
 * RM-23: a rotation away from `epoch` closed it at `closedAtSeq` (0 from a sender that predates
 * the field: only the departure bound applies) after the departure at `departureSeq`.
 */
export function closeEpoch(room: RoomRecord, epoch: number, closedAtSeq: bigint, departureSeq: bigint): void {
  const b = boundFor(room, epoch);
  if (closedAtSeq > 0n && (b.closedAtSeq === 0n || closedAtSeq < b.closedAtSeq)) b.closedAtSeq = closedAtSeq;
  if (departureSeq > 0n) noteDeparture(room, epoch, departureSeq);
}

/** RM-24: the bounds a member tells a joiner in its Welcome's roster. */
export function boundsForWelcome(room: RoomRecord): EpochBound[] {
  return room.epochBounds.map((b) => create(EpochBoundSchema, { epoch: b.epoch, joinsUntilSeq: b.joinsUntilSeq, closedAtSeq: b.closedAtSeq }));
}

/** RM-24: a joiner takes the bounds of the roster it adopted (only from its inviter, RM-25). */
export function adoptBounds(room: RoomRecord, bounds: readonly EpochBound[]): void {
  for (const b of bounds) {
    if (b.joinsUntilSeq > 0n) noteDeparture(room, b.epoch, b.joinsUntilSeq);
    if (b.closedAtSeq > 0n) closeEpoch(room, b.epoch, b.closedAtSeq, 0n);
  }
}

/**
 * RM-25: what a Welcome from `from` may do for a joiner. `adopt`: it sets the roster (it comes
 * from the inviter named in the invite link while the joiner has no roster yet); `wait`: it
 * arrived before the inviter's and is kept until then; `keys`: it only adds the sender's key.
 */
export function welcomeAuthority(room: RoomRecord, from: Uint8Array): "adopt" | "wait" | "keys" {
  const bootstrapping = room.adminIdentityKey.length === 0;
  if (!bootstrapping) return "keys";
  // A record made before RM-25 (no inviter kept) adopts as before.
  if (room.inviterIdentityKey.length === 0) return "adopt";
  return room.inviterIdentityKey.length === from.length && constantTimeEqual(room.inviterIdentityKey, from) ? "adopt" : "wait";
}

/**
 * RM-25: true when a Welcome's roster disagrees with ours: it names another admin, or another
 * set of members. Compared only while we have processed nothing after our join (both then
 * describe the log up to our join); later our roster reflects later events and a difference
 * means nothing.
 */
export function rosterDisagrees(
  room: RoomRecord,
  roster: { adminIdentityKey: Uint8Array; asOfSeq: bigint; members: ReadonlyArray<{ identityKey: Uint8Array }> },
): boolean {
  if (roster.asOfSeq !== room.joinedSeq || room.lastSeq !== room.joinedSeq) return false;
  const hex = hexOf;
  const theirs = new Set(roster.members.map((m) => hex(m.identityKey)));
  const ours = new Set(room.members.map((m) => hex(m.identityKey)));
  if (theirs.size !== ours.size || [...ours].some((k) => !theirs.has(k))) return true;
  return hex(roster.adminIdentityKey) !== hex(room.adminIdentityKey);
}

/** RM-26: a held message is given up (and reported lost) once held longer than MAX_HOLD_MS. */
export function holdExpired(heldAtMs: number, nowMs: number): boolean {
  return nowMs - heldAtMs > MAX_HOLD_MS;
}

/**
 * RM-54: the longest disappearing-messages setting a member accepts (a year); a larger value
 * is ignored, so a member cannot make every client keep or compute absurd lifetimes.
 */
export const MAX_RETENTION_SECONDS = 365 * 24 * 60 * 60;

/** RM-52: true when the admin removed `identityKey` from the room. */
export function isRemoved(room: RoomRecord, identityKey: Uint8Array): boolean {
  return room.removedIdentityKeys.some((k) => k.length === identityKey.length && constantTimeEqual(k, identityKey));
}

/**
 * RM-52: most removed identities remembered per room (oldest forgotten first). Each is 33
 * bytes; a thousand removals is far beyond any chat room's life.
 */
export const MAX_REMOVED_IDENTITIES = 1000;

/** RM-52: remembers that the admin removed `identityKey` (idempotent, bounded). */
export function noteRemoved(room: RoomRecord, identityKey: Uint8Array): void {
  if (isRemoved(room, identityKey)) return;
  room.removedIdentityKeys.push(identityKey);
  if (room.removedIdentityKeys.length > MAX_REMOVED_IDENTITIES) room.removedIdentityKeys.shift();
}
