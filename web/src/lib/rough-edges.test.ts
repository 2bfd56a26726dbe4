// Unit tests of the helpers behind issue 12's smaller web items: safe links, dates in message
// times, and how often a run of messages repeats the sender's name.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_TEXT_BYTES } from "../../../client/room/room-engine-base.js";
import { MAX_MESSAGE_BYTES } from "../views/limits.js";
import { formatMessageTime, formatTime } from "./format.js";
import { linkify, safeHref } from "./linkify.js";
import { groupMessages, MAX_GROUP_ITEMS, MAX_GROUP_SPAN_MS, type TimelineItem } from "./message-groups.js";

const msg = (key: string, sender: string, atMs: number): TimelineItem => ({
  key,
  kind: "message",
  sender,
  senderName: sender,
  text: key,
  atMs,
  own: false,
  status: "sent",
});

describe("links in messages", () => {
  it("links only http(s) URLs, without trailing punctuation, and never other schemes", () => {
    expect(linkify("see https://example.org/a?b=1. ok")).toEqual([
      { kind: "text", text: "see " },
      { kind: "link", text: "https://example.org/a?b=1", href: "https://example.org/a?b=1" },
      { kind: "text", text: ". ok" },
    ]);
    expect(linkify("(http://x.test/Foo_(bar))")[1]).toMatchObject({ kind: "link", text: "http://x.test/Foo_(bar)" });
    for (const bad of ["javascript:alert(1)", "data:text/html,<b>x</b>", "file:///etc/passwd", "ftp://x.test", "example.org"]) {
      expect(linkify(bad).every((p) => p.kind === "text")).toBe(true);
    }
    expect(safeHref("https://user:pw@example.org/")).toBeUndefined();
  });

  it("never loses or adds text: the parts join back to the message, and every link is http(s)", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string(), fc.webUrl(), fc.constantFrom("javascript:x", ". ", ")", "https://")), { maxLength: 8 }), (pieces) => {
        const text = pieces.join(" ");
        const parts = linkify(text);
        expect(parts.map((p) => p.text).join("")).toBe(text);
        for (const p of parts) if (p.kind === "link") expect(new URL(p.href).protocol).toMatch(/^https?:$/);
      }),
      { numRuns: 200 },
    );
  });
});

describe("message times", () => {
  it("show the date when the message is not from today", () => {
    const now = new Date(2026, 11, 3, 15, 0).getTime();
    const today = new Date(2026, 11, 3, 9, 5).getTime();
    const yesterday = new Date(2026, 11, 2, 9, 5).getTime();
    const lastYear = new Date(2025, 0, 9, 9, 5).getTime();
    expect(formatMessageTime(today, now)).toBe(formatTime(today));
    expect(formatMessageTime(yesterday, now)).toBe(`Yesterday ${formatTime(yesterday)}`);
    expect(formatMessageTime(lastYear, now)).toContain("2025");
  });
});

describe("sender names in long runs", () => {
  it("repeat after MAX_GROUP_ITEMS messages and after MAX_GROUP_SPAN_MS, and before a given key", () => {
    const run = Array.from({ length: 25 }, (_, i) => msg(`m${i}`, "bob", i * 1000));
    expect(groupMessages(run).map((g) => g.items.length)).toEqual([MAX_GROUP_ITEMS, MAX_GROUP_ITEMS, 5]);
    const slow = Array.from({ length: 6 }, (_, i) => msg(`s${i}`, "bob", i * 4 * 60 * 1000)); // every 4 minutes
    const groups = groupMessages(slow);
    expect(groups.length).toBeGreaterThan(1);
    for (const g of groups) expect(g.items.at(-1)!.atMs - g.atMs).toBeLessThanOrEqual(MAX_GROUP_SPAN_MS);
    expect(groupMessages(run.slice(0, 5), "m3").map((g) => g.items[0]!.key)).toEqual(["m0", "m3"]);
  });
});

describe("message size limit", () => {
  it("is the room protocol's Text.body limit (RM-07)", () => {
    expect(MAX_MESSAGE_BYTES).toBe(MAX_TEXT_BYTES);
  });
});
