import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { isMessageDraft, TYPING_SHOWN_MS, TypingIndicators } from "./typing.js";

describe("chat typing indicators", () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it("a member shown typing disappears by itself after TYPING_SHOWN_MS without a refresh", () => {
    const changes: string[][] = [];
    const t = new TypingIndicators(() => changes.push(t.names()));
    t.set("bob", "Bob", true);
    expect(t.names()).toEqual(["Bob"]);
    vi.advanceTimersByTime(TYPING_SHOWN_MS - 1);
    t.set("bob", "Bob", true); // a refresh keeps it
    vi.advanceTimersByTime(TYPING_SHOWN_MS - 1);
    expect(t.names()).toEqual(["Bob"]);
    vi.advanceTimersByTime(1);
    expect(t.names()).toEqual([]);
    expect(changes).toEqual([[]]);
  });

  it("stopped typing clears at once, and clear() stops every timer", () => {
    const t = new TypingIndicators(() => undefined);
    t.set("bob", "Bob", true);
    t.set("carol", "Carol", true);
    t.set("bob", "Bob", false);
    expect(t.names()).toEqual(["Carol"]);
    t.clear();
    expect(t.names()).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("only message text counts as typing: not slash commands, not answers, not an empty line", () => {
    expect(isMessageDraft("hel", false)).toBe(true);
    expect(isMessageDraft("//not a command", false)).toBe(true);
    expect(isMessageDraft("/members", false)).toBe(false);
    expect(isMessageDraft("  /verify Bob", false)).toBe(false);
    expect(isMessageDraft("/", false)).toBe(false);
    expect(isMessageDraft("yes", true)).toBe(false);
    expect(isMessageDraft("   ", false)).toBe(false);
    expect(isMessageDraft("", false)).toBe(false);
  });
});
