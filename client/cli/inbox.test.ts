import { describe, expect, it } from "vitest";
import { MemoryKeyValueStore } from "../store/kv-store.js";
import { INBOX_DROPPED_KEY, INBOX_PREFIX, MAX_INBOX_MESSAGES, isUpdate, openInbox, type InboxMessage } from "./inbox.js";

function message(roomId: string, text: string): InboxMessage {
  return { roomId, seq: 1, messageId: text, sender: "s", senderName: "S", text, sentAtMs: 1, postedAtMs: 2, own: false };
}

describe("CLI inbox (issue 9 finding 6)", () => {
  it("keeps messages per room in arrival order across reopenings and removes what was handed over", async () => {
    const store = new MemoryKeyValueStore();
    const first = await openInbox(store);
    for (const [room, text] of [["a", "1"], ["b", "x"], ["a", "2"], ["a", "3"]] as const) first.keep(message(room, text));
    await first.flush();

    const second = await openInbox(store);
    const waiting = await second.waiting("a");
    expect(waiting.map((k) => k.message?.text)).toEqual(["1", "2", "3"]);
    await second.remove(waiting.slice(0, 1).map((k) => k.key));
    second.keep(message("a", "4"));
    await second.flush();
    expect((await second.waiting("a")).map((k) => k.message?.text)).toEqual(["2", "3", "4"]);
    expect((await second.waiting("b")).map((k) => k.message?.text)).toEqual(["x"]);
  });

  it("an entry that does not parse is listed unprinted so it can be removed", async () => {
    const store = new MemoryKeyValueStore();
    await store.write([{ key: `${INBOX_PREFIX}0000000000000000`, value: new TextEncoder().encode("{not json") }]);
    const inbox = await openInbox(store);
    const waiting = await inbox.waiting("a");
    expect(waiting).toEqual([{ key: `${INBOX_PREFIX}0000000000000000`, message: undefined }]);
  });

  it(`keeps at most ${MAX_INBOX_MESSAGES} messages and counts the ones it drops`, async () => {
    const store = new MemoryKeyValueStore();
    const filler = new TextEncoder().encode(JSON.stringify(message("a", "old")));
    const writes = Array.from({ length: MAX_INBOX_MESSAGES }, (_, i) => ({ key: `${INBOX_PREFIX}${String(i).padStart(16, "0")}`, value: filler }));
    await store.write(writes);
    const inbox = await openInbox(store);
    inbox.keep(message("a", "new 1"));
    inbox.keep(message("a", "new 2"));
    await inbox.flush();
    expect((await store.list(INBOX_PREFIX)).length).toBe(MAX_INBOX_MESSAGES);
    expect(await store.get(INBOX_DROPPED_KEY)).toBeDefined();
    expect(await inbox.takeDropped()).toBe(2);
    expect(await inbox.takeDropped()).toBe(0);
  });

  it("RM-62..RM-64: keeps edits, deletes and reactions too, and refuses malformed ones", async () => {
    const store = new MemoryKeyValueStore();
    const inbox = await openInbox(store);
    const update: InboxMessage = { roomId: "a", messageId: "m", kind: "delete", seq: 3, sender: "s", senderName: "S", own: false, known: true, edited: false, deleted: true, reactions: [] };
    inbox.keep(message("a", "1"));
    inbox.keep(update);
    await inbox.flush();
    const waiting = (await (await openInbox(store)).waiting("a")).map((k) => k.message);
    expect(waiting).toEqual([message("a", "1"), update]);
    expect(isUpdate(waiting[1]!)).toBe(true);
    expect(isUpdate(waiting[0]!)).toBe(false);
    await store.write([{ key: `${INBOX_PREFIX}0000000000000009`, value: new TextEncoder().encode(JSON.stringify({ ...update, kind: "explode" })) }]);
    expect((await inbox.waiting("a")).at(-1)!.message).toBeUndefined();
  });

  it("RM-64: a kept delete scrubs the kept message's text and any kept edit's", async () => {
    const store = new MemoryKeyValueStore();
    const inbox = await openInbox(store);
    const base = { roomId: "a", messageId: "secret", seq: 3, sender: "s", senderName: "S", own: false, known: true, reactions: [] };
    inbox.keep(message("a", "secret"));
    inbox.keep(message("b", "secret")); // another room's message with the same id is not touched
    inbox.keep({ ...base, kind: "edit", text: "edited secret", edited: true, deleted: false });
    inbox.keep({ ...base, kind: "delete", seq: 4, edited: false, deleted: true });
    await inbox.flush();
    const raw = (await store.list(INBOX_PREFIX)).map(([, v]) => new TextDecoder().decode(v));
    expect(raw.filter((r) => r.includes('"roomId":"a"')).join("\n")).not.toMatch(/"text":"(edited )?secret"/);
    const kept = (await inbox.waiting("a")).map((k) => k.message);
    expect(kept[0]).toMatchObject({ text: "", deleted: true });
    expect(kept[1]).toMatchObject({ kind: "edit", deleted: true });
    expect((await inbox.waiting("b"))[0]!.message).toMatchObject({ text: "secret" });
  });
});
