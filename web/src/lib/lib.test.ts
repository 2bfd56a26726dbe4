// Unit tests of the web's pure helpers: safety-number grouping, message grouping and relay
// order, invite fragments, error sentences.
import { Code, ConnectError } from "@connectrpc/connect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ProtocolError, type ProtocolErrorCode } from "../../../client/errors.js";
import { ACTION_SENTENCES, errorSentence, PROTOCOL_SENTENCES } from "./error-messages.js";
import { safetyNumberGroups, typingSentence } from "./format.js";
import { takeInviteFromAddressBar, looksLikeInviteLink } from "./invite-fragment.js";
import { GROUP_GAP_MS, groupMessages, insertInOrder, type TimelineItem } from "./message-groups.js";

const item = (key: string, sender: string, atMs: number, seq?: number): TimelineItem => ({
  key,
  kind: "message",
  ...(seq !== undefined ? { seq } : {}),
  sender,
  senderName: sender,
  text: key,
  atMs,
  own: false,
  status: seq === undefined ? "queued" : "sent",
});

describe("safetyNumberGroups", () => {
  it("splits 60 digits into 12 groups of 5 and refuses anything else", () => {
    const digits = "0123456789".repeat(6);
    expect(safetyNumberGroups(digits)).toEqual(["01234", "56789", "01234", "56789", "01234", "56789", "01234", "56789", "01234", "56789", "01234", "56789"]);
    expect(() => safetyNumberGroups(digits.slice(1))).toThrow(RangeError);
    expect(() => safetyNumberGroups(digits.slice(1) + "x")).toThrow(RangeError);
  });
});

describe("groupMessages", () => {
  it("starts a new group on a sender change or a long pause", () => {
    const groups = groupMessages([
      item("a", "bob", 0, 1),
      item("b", "bob", 1000, 2),
      item("c", "bob", 1000 + GROUP_GAP_MS + 1, 3),
      item("d", "carol", 1000 + GROUP_GAP_MS + 2, 4),
    ]);
    expect(groups.map((g) => g.items.map((i) => i.key))).toEqual([["a", "b"], ["c"], ["d"]]);
  });
});

describe("insertInOrder", () => {
  it("keeps relay order for any arrival order, pending items last", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat(1000), { maxLength: 20 }), fc.nat(3), (seqs, pendings) => {
        let items: TimelineItem[] = [];
        for (let p = 0; p < pendings; p++) items = insertInOrder(items, item(`p${p}`, "me", 0));
        for (const s of seqs) items = insertInOrder(items, item(`s${s}`, "x", 0, s));
        const ordered = items.filter((i) => i.seq !== undefined).map((i) => i.seq);
        expect(ordered).toEqual([...seqs].sort((a, b) => a - b));
        expect(items.slice(items.length - pendings).every((i) => i.seq === undefined)).toBe(true);
      }),
    );
  });
});

describe("takeInviteFromAddressBar", () => {
  it("returns the link and strips the fragment from the address bar", () => {
    const replaced: Array<string | URL | null | undefined> = [];
    const bar = {
      location: { href: "http://localhost:8080/?x=1#join=SECRET", hash: "#join=SECRET", pathname: "/", search: "?x=1" },
      history: { replaceState: (_d: unknown, _u: string, url?: string | URL | null) => void replaced.push(url) },
    };
    expect(takeInviteFromAddressBar(bar)).toBe("http://localhost:8080/?x=1#join=SECRET");
    expect(replaced).toEqual(["/?x=1"]);
  });

  it("leaves other fragments alone", () => {
    const replaced: unknown[] = [];
    const bar = {
      location: { href: "http://h/#other", hash: "#other", pathname: "/", search: "" },
      history: { replaceState: () => void replaced.push(1) },
    };
    expect(takeInviteFromAddressBar(bar)).toBeUndefined();
    expect(replaced).toEqual([]);
  });

  it("recognises pasted invite links", () => {
    expect(looksLikeInviteLink(" https://chat.example/#join=abc ")).toBe(true);
    expect(looksLikeInviteLink("https://chat.example/#join=")).toBe(false);
    expect(looksLikeInviteLink("#join=abc")).toBe(false);
  });
});

describe("errorSentence", () => {
  it("has a fixed sentence for every protocol code and never echoes error text", () => {
    for (const code of Object.keys(PROTOCOL_SENTENCES) as ProtocolErrorCode[]) {
      expect(errorSentence(new ProtocolError(code), "send")).toBe(PROTOCOL_SENTENCES[code]);
    }
    fc.assert(
      fc.property(fc.string({ minLength: 8 }), fc.constantFrom(...(Object.keys(ACTION_SENTENCES) as Array<keyof typeof ACTION_SENTENCES>)), (text, action) => {
        const sentences = [
          errorSentence(new Error(text), action),
          errorSentence(new ConnectError(text, Code.Internal), action),
          errorSentence(new ConnectError(text, Code.Unavailable), action),
          errorSentence(text, action),
        ];
        for (const s of sentences) {
          expect(s.endsWith(".")).toBe(true);
          if (!ACTION_SENTENCES[action].includes(text)) expect(s.includes(text)).toBe(false);
        }
      }),
    );
  });

  it("maps relay codes", () => {
    expect(errorSentence(new ConnectError("x", Code.ResourceExhausted), "create-room")).toMatch(/Too many requests/);
    expect(errorSentence(new ConnectError("x", Code.Internal), "create-room")).toBe(ACTION_SENTENCES["create-room"]);
  });
});

describe("typingSentence", () => {
  it("names one or two people and summarises more", () => {
    expect(typingSentence([])).toBe("");
    expect(typingSentence(["A"])).toBe("A is typing…");
    expect(typingSentence(["A", "B", "C"])).toBe("Several people are typing…");
  });
});
