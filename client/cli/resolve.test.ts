// Unit tests of ROOM and MEMBER resolution: id or name, exact before case-insensitive, and
// a not-found error (exit code 6) for no match or an ambiguous one.
import { describe, expect, it } from "vitest";
import type { MemberView, RoomSummary } from "../app/securecomm-client.js";
import { CliError, EXIT_NOT_FOUND } from "./exit-codes.js";
import { resolveMember, resolveRoom } from "./resolve.js";

const room = (roomId: string, name: string, departed = false): RoomSummary => ({ roomId, name, memberCount: 2, unread: 0, departed, isAdmin: false });
const member = (address: string, displayName: string): MemberView => ({ address, displayName, isAdmin: false, isSelf: false, verification: "unverified" });

function notFound(run: () => unknown): string {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(CliError);
    expect((e as CliError).exitCode).toBe(EXIT_NOT_FOUND);
    return (e as CliError).message;
  }
  throw new Error("expected a not-found error");
}

describe("resolveRoom", () => {
  const rooms = [room("id-1", "Team"), room("id-2", "team"), room("id-3", "Family"), room("id-4", "Dup"), room("id-5", "Dup"), room("id-6", "Gone", true)];

  it("matches an id, then an exact name, then a name ignoring case", () => {
    expect(resolveRoom(rooms, "id-3").roomId).toBe("id-3");
    expect(resolveRoom(rooms, "Team").roomId).toBe("id-1");
    expect(resolveRoom(rooms, "team").roomId).toBe("id-2");
    expect(resolveRoom(rooms, "FAMILY").roomId).toBe("id-3");
    expect(resolveRoom(rooms, "Gone").roomId).toBe("id-6");
  });

  it("prefers a current room over one already left", () => {
    expect(resolveRoom([room("old", "X", true), room("new", "X")], "X").roomId).toBe("new");
  });

  it("refuses an unknown or ambiguous room, listing ids for the ambiguous case", () => {
    expect(notFound(() => resolveRoom(rooms, "nothing"))).toContain("No room");
    const message = notFound(() => resolveRoom(rooms, "Dup"));
    expect(message).toContain("id-4");
    expect(message).toContain("id-5");
    expect(notFound(() => resolveRoom([], "x"))).toContain("No room");
  });
});

describe("resolveMember", () => {
  const members = [member("addr-a", "Alice"), member("addr-b", "Bob"), member("addr-c", "bob"), member("addr-d", "Eve"), member("addr-e", "Eve")];

  it("matches an address, then a display name", () => {
    expect(resolveMember(members, "addr-d").displayName).toBe("Eve");
    expect(resolveMember(members, "Bob").address).toBe("addr-b");
    expect(resolveMember(members, "ALICE").address).toBe("addr-a");
  });

  it("refuses an unknown or ambiguous member", () => {
    expect(notFound(() => resolveMember(members, "Mallory"))).toContain("No member");
    expect(notFound(() => resolveMember(members, "Eve"))).toContain("addr-e");
    expect(notFound(() => resolveMember(members, "BOB"))).toContain("addr-c");
  });
});
