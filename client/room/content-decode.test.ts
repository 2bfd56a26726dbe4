// decodeContent (RM-22, RM-08; issue 14) against protobuf-es's fromBinary: the same Content for
// every Welcome (rosters decoded once per distinct value or not), any other body, unknown
// fields, repeated welcome or roster fields, a roster with a forged entry among valid ones, and
// malformed bytes (both throw). Each caller gets its own roster: changing one changes no other.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import fc from "fast-check";
import { beforeEach, describe, expect, it } from "vitest";
import { type Content, ContentSchema, ProfileSchema, RosterMemberSchema, RosterSchema, WelcomeSchema } from "../../gen/securecomm/wire/v1/content_pb.js";
import { decodeContent, forgetDecodedRosters } from "./content-decode.js";

beforeEach(() => forgetDecodedRosters());

const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
const member = fc.record({ key: bytes(33, 33), name: fc.string({ maxLength: 12 }), seq: fc.bigInt({ min: 0n, max: 1n << 40n }), token: bytes(0, 32) });
const roster = fc.record({ members: fc.array(member, { maxLength: 12 }), asOf: fc.bigInt({ min: 0n, max: 1n << 40n }), epoch: fc.nat(1000), admin: bytes(0, 33) });

interface RosterInput {
  members: { key: Uint8Array; name: string; seq: bigint; token: Uint8Array }[];
  asOf: bigint;
  epoch: number;
  admin: Uint8Array;
}

function rosterMessage(r: RosterInput) {
  return create(RosterSchema, {
    members: r.members.map((m) => create(RosterMemberSchema, { identityKey: m.key, profile: create(ProfileSchema, { displayName: m.name }), joinedSeq: m.seq, deliveryToken: m.token })),
    asOfSeq: r.asOf,
    epoch: r.epoch,
    adminIdentityKey: r.admin,
  });
}

function welcomeBytes(roomId: Uint8Array, r: RosterInput | undefined, skdm: Uint8Array): Uint8Array {
  return toBinary(
    ContentSchema,
    create(ContentSchema, {
      roomId,
      body: { case: "welcome", value: create(WelcomeSchema, { distributionMessage: skdm, profile: create(ProfileSchema, { displayName: "m" }), deliveryToken: new Uint8Array(32).fill(7), ...(r === undefined ? {} : { roster: rosterMessage(r) }) }) },
    }),
  );
}

/** What fromBinary gives, or the fact that it throws. */
function reference(b: Uint8Array): Content | "throws" {
  try {
    return fromBinary(ContentSchema, b);
  } catch {
    return "throws";
  }
}
function ours(b: Uint8Array): Content | "throws" {
  try {
    return decodeContent(b);
  } catch {
    return "throws";
  }
}

describe("decodeContent equals fromBinary(ContentSchema)", () => {
  it("for Welcomes with and without rosters, decoded twice (the second from the kept roster), with extra fields appended (property)", () => {
    fc.assert(
      fc.property(bytes(16, 16), fc.option(roster, { nil: undefined }), bytes(0, 40), fc.array(fc.tuple(fc.integer({ min: 1, max: 40 }), bytes(0, 20)), { maxLength: 3 }), (roomId, r, skdm, extras) => {
        let b = welcomeBytes(roomId, r, skdm);
        // Extra LEN fields: unknown ones, or a second welcome / another body case (oneof: last wins).
        const w = new BinaryWriter().raw(b);
        for (const [no, payload] of extras) w.tag(no, WireType.LengthDelimited).bytes(payload);
        b = w.finish();
        const expected = reference(b);
        expect(ours(b)).toEqual(expected);
        expect(ours(b)).toEqual(expected); // again: roster from the kept copy
      }),
      { numRuns: 300 },
    );
  });

  it("for a Welcome whose roster field comes twice (protobuf merges them) or holds unknown fields", () => {
    const r1 = toBinary(RosterSchema, rosterMessage({ members: [{ key: new Uint8Array(33).fill(1), name: "a", seq: 1n, token: new Uint8Array(32) }], asOf: 3n, epoch: 0, admin: new Uint8Array(33).fill(1) }));
    const r2 = toBinary(RosterSchema, rosterMessage({ members: [{ key: new Uint8Array(33).fill(2), name: "b", seq: 2n, token: new Uint8Array(32) }], asOf: 4n, epoch: 1, admin: new Uint8Array(0) }));
    const withUnknown = new BinaryWriter().raw(r1).tag(99, WireType.Varint).uint32(5).finish();
    for (const rosters of [[r1, r2], [withUnknown]]) {
      const welcome = new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(new Uint8Array([0x33]));
      for (const r of rosters) welcome.tag(4, WireType.LengthDelimited).bytes(r);
      const b = new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(new Uint8Array(16)).tag(19, WireType.LengthDelimited).bytes(welcome.finish()).finish();
      expect(ours(b)).toEqual(reference(b));
      expect(ours(b)).not.toBe("throws");
    }
  });

  it("a forged entry among valid ones decodes exactly as sent (the rules still see it), and each caller gets its own roster", () => {
    const valid = { key: new Uint8Array(33).fill(5), name: "ok", seq: 1n, token: new Uint8Array(32).fill(1) };
    const forged = { key: new Uint8Array(33).fill(6), name: "forged", seq: 1n, token: new Uint8Array(32).fill(2) }; // same joined_seq: a lie
    const b = welcomeBytes(new Uint8Array(16), { members: [valid, forged, valid], asOf: 9n, epoch: 2, admin: valid.key }, new Uint8Array([0x33]));
    const first = decodeContent(b);
    const second = decodeContent(b);
    expect(first).toEqual(reference(b));
    expect(second).toEqual(reference(b));
    if (first.body.case !== "welcome" || second.body.case !== "welcome") throw new Error("not a welcome");
    expect(second.body.value.roster!.members.map((m) => m.profile?.displayName)).toEqual(["ok", "forged", "ok"]);
    first.body.value.roster!.members.pop();
    first.body.value.roster!.asOfSeq = 1n;
    const third = decodeContent(b);
    if (third.body.case !== "welcome") throw new Error("not a welcome");
    expect(third.body.value.roster!.members.length).toBe(3);
    expect(third.body.value.roster!.asOfSeq).toBe(9n);
  });

  it("malformed bytes: throws whenever fromBinary throws, and decodes the same otherwise (property over truncations and bit flips)", () => {
    const base = welcomeBytes(new Uint8Array(16), { members: Array.from({ length: 5 }, (_, i) => ({ key: new Uint8Array(33).fill(i), name: `m${i}`, seq: BigInt(i), token: new Uint8Array(32) })), asOf: 4n, epoch: 0, admin: new Uint8Array(33) }, new Uint8Array([0x33, 1, 2]));
    fc.assert(
      fc.property(fc.nat(base.length), fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 }), fc.boolean(), (cut, at, value, truncate) => {
        const b = truncate ? base.subarray(0, cut) : Uint8Array.from(base, (x, i) => (i === at ? value : x));
        const expected = reference(b);
        const got = ours(b);
        if (expected === "throws") expect(got).toBe("throws");
        else expect(got).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });
});
