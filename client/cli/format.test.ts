// Unit tests of the CLI's output formats and terminal safety.
import { describe, expect, it } from "vitest";
import type { ClientEvents, MemberView, RoomSummary } from "../app/securecomm-client.js";
import {
  formatChatLine,
  formatMembers,
  formatMessageJson,
  failureNotice,
  formatQuote,
  formatReactions,
  formatUpdateJson,
  QUOTE_CHARS,
  TOMBSTONE,
  formatRooms,
  formatSafetyNumber,
  formatTable,
  safeJson,
  terminalSafe,
} from "./format.js";

const message: ClientEvents["message"] = {
  roomId: "r1",
  seq: 7,
  messageId: "m1",
  sender: "addr-bob",
  senderName: "Bob",
  text: "hi \u001b[2J there\u009b",
  sentAtMs: Date.UTC(2026, 0, 2, 3, 4, 5),
  postedAtMs: Date.UTC(2026, 0, 2, 3, 4, 6),
  own: false,
};

describe("formats", () => {
  it("prints a listen line as one JSON object with every control character escaped", () => {
    const line = formatMessageJson(message);
    expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f\n]/);
    expect(JSON.parse(line)).toEqual({
      kind: "message",
      room: "r1",
      seq: 7,
      id: "m1",
      sender: "addr-bob",
      senderName: "Bob",
      text: "hi \u001b[2J there\u009b",
      sentAt: "2026-01-02T03:04:05.000Z",
      postedAt: "2026-01-02T03:04:06.000Z",
      own: false,
    });
    expect(safeJson({ t: "a\u2028b\u202ec" })).toBe('{"t":"a\\u2028b\\u202ec"}');
  });

  it("groups a safety number as 3 lines of 4 groups of 5 digits and refuses anything else", () => {
    const digits = "012345678901234567890123456789012345678901234567890123456789";
    expect(formatSafetyNumber(digits)).toBe(
      "01234 56789 01234 56789\n01234 56789 01234 56789\n01234 56789 01234 56789",
    );
    expect(formatSafetyNumber(digits).replace(/\D/g, "")).toBe(digits);
    expect(() => formatSafetyNumber(digits.slice(1))).toThrow(RangeError);
    expect(() => formatSafetyNumber(`${digits.slice(1)}x`)).toThrow(RangeError);
  });

  it("SC-18: a chat line shows the sender's time, not the relay's hour-floored post time (that only when the sender gave none)", () => {
    const sent = new Date(2026, 11, 3, 10, 37, 12).getTime(); // local time, as the line shows it
    const hour = new Date(2026, 11, 3, 10, 0, 0).getTime();
    expect(formatChatLine({ ...message, sentAtMs: sent, postedAtMs: hour })).toMatch(/^\[10:37\] Bob: /);
    expect(formatChatLine({ ...message, sentAtMs: 0, postedAtMs: hour })).toMatch(/^\[10:00\] Bob: /);
  });

  it("makes member-supplied text safe for a terminal", () => {
    expect(terminalSafe("a\u001b[31mb\rc\u009bd\u202ee")).toBe("a\uFFFD[31mb\uFFFDc\uFFFDd\uFFFDe");
    expect(formatChatLine(message)).toMatch(/^\[\d\d:\d\d\] Bob: hi \uFFFD\[2J there\uFFFD$/);
    expect(formatChatLine({ ...message, own: true })).toMatch(/\] you: /);
  });

  it("aligns tables and marks self, admin and verification in the member list", () => {
    const members: MemberView[] = [
      { address: "aaaa", displayName: "Alice", isAdmin: true, isSelf: true, verification: "unverified" },
      { address: "bbbb", displayName: "Bob\u001b", isAdmin: false, isSelf: false, verification: "changed" },
      { address: "cccc", displayName: "Carol", isAdmin: false, isSelf: false, verification: "verified" },
    ];
    expect(formatMembers(members, false)).toBe(
      [
        "NAME         ROLE    VERIFIED     ADDRESS",
        "Alice (you)  admin   -            aaaa",
        "Bob\uFFFD         member  KEY CHANGED  bbbb",
        "Carol        member  verified     cccc",
      ].join("\n"),
    );
    expect(JSON.parse(formatMembers(members, true))).toEqual(members);
    expect(formatTable(["A", "B"], [["x", ""]])).toBe("A  B\nx");
  });

  it("lists rooms with their state, or says there are none", () => {
    const rooms: RoomSummary[] = [
      { roomId: "id1", name: "Team", memberCount: 3, unread: 0, departed: false, isAdmin: true },
      { roomId: "id2", name: "Old", memberCount: 1, unread: 0, departed: true, isAdmin: false },
    ];
    expect(formatRooms(rooms, false)).toBe(["NAME  MEMBERS  STATE  ID", "Team  3        admin  id1", "Old   1        left   id2"].join("\n"));
    expect(formatRooms([], false)).toBe("(no rooms)");
    expect(JSON.parse(formatRooms(rooms, true))).toEqual(rooms);
  });

  it("RM-61..RM-64: listen lines for replies, edits, deletes and reactions carry their kind and the target's view", () => {
    const reply = JSON.parse(formatMessageJson({ ...message, replyTo: "ab".repeat(16), edited: true, reactions: [{ emoji: "👍", members: [{ address: "a", name: "Al" }] }] }));
    expect(reply).toMatchObject({ kind: "message", replyTo: "ab".repeat(16), edited: true, reactions: [{ emoji: "👍", count: 1, members: ["a"], names: ["Al"] }] });
    const base = { roomId: "r1", messageId: "m1", seq: 9, sender: "addr-al", senderName: "Al", own: false, known: true, edited: false, deleted: false, reactions: [] };
    expect(JSON.parse(formatUpdateJson({ ...base, kind: "edit", text: "new\u2028", edited: true }))).toEqual({
      kind: "edit", room: "r1", seq: 9, id: "m1", sender: "addr-al", senderName: "Al", own: false, text: "new\u2028", edited: true, deleted: false, reactions: [],
    });
    expect(formatUpdateJson({ ...base, kind: "edit", text: "x\u2028" })).not.toMatch(/\u2028/);
    expect(JSON.parse(formatUpdateJson({ ...base, kind: "delete", deleted: true }))).toMatchObject({ kind: "delete", deleted: true });
    expect(JSON.parse(formatUpdateJson({ ...base, kind: "reaction", emoji: "" }))).toMatchObject({ kind: "reaction", emoji: "" });
  });

  it("RM-61 RM-62: quotes and reactions are short, terminal-safe, and say when the original is missing", () => {
    expect(formatQuote(undefined)).toBe("original not available");
    expect(formatQuote({ senderName: "Bob\u001b[2J", own: false, text: "x".repeat(100) })).toBe(`Bob\uFFFD[2J: ${"x".repeat(QUOTE_CHARS)}…`);
    expect(formatQuote({ senderName: "Bob", own: false, text: "gone", deleted: true })).toBe(`Bob: ${TOMBSTONE}`);
    expect(formatQuote({ senderName: "Me", own: true, text: "a\nb" })).toBe("you: a b");
    expect(formatReactions([])).toBe("no reactions");
    expect(formatReactions([{ emoji: "👍", members: [{ address: "a", name: "Al" }, { address: "b", name: "Bo" }] }])).toBe("👍 2 (Al, Bo)");
    expect(failureNotice("forged edit (not the author)", "Mal")).toBe("Mal tried to edit a message they did not write; ignored.");
    expect(failureNotice("no_sender_key")).toBe("A message could not be decrypted (reported by the client).");
  });
});
