/**
 * The Welcome a member sends a joiner (spec RM-08, RM-21, RM-23).
 *
 * Owns: the roster as of a seq (with the epoch bounds RM-23 asks for) and the Welcome body built
 * from it, our profile, our delivery token and our sender key. Does not own: creating the sender
 * key message (the driver, over the state store), deciding who is welcomed (room-core.ts),
 * applying a received Welcome (room-core.ts `applyWelcome`). Pure: no I/O.
 */
import { create } from "@bufbuild/protobuf";
import { type Content, ProfileSchema, type Roster, RosterMemberSchema, RosterSchema, RoomSettingsSchema } from "../../gen/securecomm/wire/v1/content_pb.js";
import type { RoomRecord } from "../../gen/securecomm/storage/v1/room_pb.js";
import { boundsForWelcome } from "./room-rules.js";

/** The roster of `room` as of `asOf` (RM-08, RM-21). */
export function rosterOf(room: RoomRecord, asOf: bigint): Roster {
  return create(RosterSchema, {
    members: room.members.map((m) =>
      create(RosterMemberSchema, { identityKey: m.identityKey, profile: create(ProfileSchema, { displayName: m.displayName }), joinedSeq: m.joinedSeq, deliveryToken: m.deliveryToken }),
    ),
    asOfSeq: asOf,
    adminIdentityKey: room.adminIdentityKey,
    epoch: room.epoch,
    epochBounds: boundsForWelcome(room),
    // RM-52, RM-54: who may not come back, the link to share, the room's settings.
    removedIdentityKeys: room.removedIdentityKeys,
    inviteSecret: room.inviteSecret,
    settings: create(RoomSettingsSchema, { retentionSeconds: room.retentionSeconds }),
  });
}

/** Our Welcome body for a joiner at `asOf` (RM-08): SKDM, profile, token, roster as of that seq. */
export function welcomeBody(room: RoomRecord, asOf: bigint, skdm: Uint8Array, self: { displayName: string; deliveryToken: Uint8Array }): Content["body"] {
  return {
    case: "welcome",
    value: {
      $typeName: "securecomm.wire.v1.Welcome",
      distributionMessage: skdm,
      profile: create(ProfileSchema, { displayName: self.displayName }),
      deliveryToken: self.deliveryToken,
      roster: rosterOf(room, asOf),
    },
  };
}
