import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { RoomRecordSchema } from "../../gen/securecomm/storage/v1/room_pb.js";
import { EpochBoundSchema } from "../../gen/securecomm/wire/v1/content_pb.js";
import { adoptBounds, closeEpoch, departedIn, holdExpired, MAX_HOLD_MS, noteDeparture, refuseEnvelope, refuseJoin, welcomeAuthority } from "./room-rules.js";

const key = (b: number) => new Uint8Array(33).fill(b);
const nonce = (b: number) => new Uint8Array(16).fill(b);

describe("room rules (spec/09-rooms.md)", () => {
  it("RM-23: an envelope of a closed epoch is refused after its closing seq, accepted up to it", () => {
    const room = create(RoomRecordSchema, { epoch: 1 });
    expect(refuseEnvelope(room, 0, 50n)).toBeUndefined(); // nothing known: accepted
    closeEpoch(room, 0, 40n, 30n);
    expect(refuseEnvelope(room, 0, 40n)).toBeUndefined();
    expect(refuseEnvelope(room, 0, 41n)).toBe("closed-epoch");
    expect(refuseEnvelope(room, 1, 41n)).toBeUndefined();
    // A later, larger closing seq from a lying sender does not reopen the epoch.
    closeEpoch(room, 0, 90n, 30n);
    expect(refuseEnvelope(room, 0, 41n)).toBe("closed-epoch");
  });

  it("RM-09 RM-24 RM-34: joins are refused after a departure in their epoch, by a member who departed in it, or when replayed", () => {
    const room = create(RoomRecordSchema, { epoch: 0, seenJoinNonces: [nonce(1)] });
    expect(refuseJoin(room, 0, 10n, nonce(2))).toBeUndefined();
    expect(refuseJoin(room, 0, 10n, nonce(1))).toBe("replayed-join");
    noteDeparture(room, 0, 12n, key(9));
    noteDeparture(room, 0, 15n, key(8)); // the first departure is the bound
    expect(refuseJoin(room, 0, 12n, nonce(3))).toBeUndefined();
    expect(refuseJoin(room, 0, 13n, nonce(3))).toBe("join-after-departure");
    expect(refuseJoin(room, 0, 11n, nonce(3), key(9))).toBe("join-after-departure");
    expect(refuseJoin(room, 1, 13n, nonce(3), key(9))).toBeUndefined(); // another epoch
    expect(departedIn(room, 0).map((k) => k[0])).toEqual([9, 8]);
  });

  it("RM-24: a joiner adopts the bounds its inviter's roster carries", () => {
    const room = create(RoomRecordSchema, { epoch: 1 });
    adoptBounds(room, [create(EpochBoundSchema, { epoch: 0, joinsUntilSeq: 7n, closedAtSeq: 9n })]);
    expect(refuseEnvelope(room, 0, 10n)).toBe("closed-epoch");
    expect(refuseJoin(room, 0, 8n, nonce(4))).toBe("join-after-departure");
  });

  it("RM-25: only the inviter's Welcome sets a joiner's roster; others wait, then only add keys", () => {
    const joining = create(RoomRecordSchema, { inviterIdentityKey: key(1) });
    expect(welcomeAuthority(joining, key(1))).toBe("adopt");
    expect(welcomeAuthority(joining, key(2))).toBe("wait");
    const joined = create(RoomRecordSchema, { inviterIdentityKey: key(1), adminIdentityKey: key(1) });
    expect(welcomeAuthority(joined, key(1))).toBe("keys");
    expect(welcomeAuthority(joined, key(2))).toBe("keys");
  });

  it("RM-26: a held message is given up only after MAX_HOLD_MS", () => {
    expect(MAX_HOLD_MS).toBe(3_600_000);
    expect(holdExpired(1_000, 1_000 + MAX_HOLD_MS)).toBe(false);
    expect(holdExpired(1_000, 1_001 + MAX_HOLD_MS)).toBe(true);
  });
});
