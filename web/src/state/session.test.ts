// Tests of the session state over a scripted SecureCommClient: relay order, de-duplication,
// outbox queued/sending → sent/failed with retry, unread counts, typing expiry, join/leave lines.
// (The real client runs against a real relay in web/e2e.)
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type {
  ClientEvents,
  MemberView,
  OutboxItem,
  RoomSummary,
  SecureCommClient,
} from "../../../client/app/securecomm-client.js";
import { MemoryKeyValueStore } from "../../../client/store/kv-store.js";
import { RoomHistory } from "../../../client/vault/room-history.js";
import { createWebSession, TYPING_REFRESH_MS, TYPING_TTL_MS } from "./session.js";

type Handlers = { [K in keyof ClientEvents]?: Array<(e: ClientEvents[K]) => void> };

/** A client whose answers and events the test scripts. */
function scriptedClient() {
  const handlers: Handlers = {};
  const room: RoomSummary = { roomId: "r1", name: "Room", memberCount: 2, unread: 0, departed: false, isAdmin: true };
  const me: MemberView = { address: "me", displayName: "Me", isAdmin: true, isSelf: true, verification: "unverified" };
  const bob: MemberView = { address: "bob", displayName: "Bob", isAdmin: false, isSelf: false, verification: "unverified" };
  const script = {
    members: [me, bob] as MemberView[],
    queued: [] as OutboxItem[],
    retried: [] as string[],
    discarded: [] as string[],
    typing: [] as boolean[],
  };
  const client = {
    hasIdentity: true,
    connection: "offline",
    identity: () => ({ address: "me", fingerprint: "f", displayName: "Me" }),
    rooms: () => [room],
    members: () => script.members.slice(),
    start: async () => undefined,
    stop: async () => undefined,
    queueText: async (roomId: string, text: string): Promise<OutboxItem> => {
      const item: OutboxItem = { messageId: `out${script.queued.length + 1}`, roomId, text, sentAtMs: 500, status: "queued", attempts: 0 };
      script.queued.push(item);
      return item;
    },
    outbox: () => script.queued.filter((o) => o.status !== "sent"),
    retryMessage: async (id: string) => void script.retried.push(id),
    discardMessage: async (id: string) => void script.discarded.push(id),
    setTyping: async (_roomId: string, typing: boolean) => void script.typing.push(typing),
    on<K extends keyof ClientEvents>(event: K, handler: (e: ClientEvents[K]) => void) {
      const list = (handlers[event] ??= []) as Array<(e: ClientEvents[K]) => void>;
      list.push(handler);
      return () => list.splice(list.indexOf(handler), 1);
    },
  } as unknown as SecureCommClient;
  const emit = <K extends keyof ClientEvents>(event: K, e: ClientEvents[K]) => {
    for (const h of (handlers[event] ?? []) as Array<(e: ClientEvents[K]) => void>) h(e);
  };
  return { client, emit, script, bob };
}

const message = (seq: number, text: string, extra: Partial<ClientEvents["message"]> = {}): ClientEvents["message"] => ({
  roomId: "r1",
  seq,
  messageId: `m${seq}`,
  sender: "bob",
  senderName: "Bob",
  text,
  sentAtMs: 1000 * seq,
  postedAtMs: 1000 * seq,
  own: false,
  ...extra,
});

beforeEach(() => void vi.useFakeTimers());
afterEach(() => void vi.useRealTimers());

describe("createWebSession", () => {
  it("orders by relay sequence, drops duplicates, counts unread only off screen", async () => {
    const { client, emit } = scriptedClient();
    const s = createWebSession(client, { origin: "http://x" });
    await s.init();
    expect(s.state.phase).toBe("ready");
    emit("message", message(3, "three"));
    emit("message", message(1, "one"));
    emit("message", message(3, "three"));
    expect(s.state.timelines.r1!.map((i) => i.text)).toEqual(["one", "three"]);
    expect(s.state.unread.r1).toBe(2);
    s.setActiveRoom("r1");
    expect(s.state.unread.r1).toBe(0);
    emit("message", message(2, "two"));
    expect(s.state.timelines.r1!.map((i) => i.text)).toEqual(["one", "two", "three"]);
    expect(s.state.unread.r1).toBe(0);
    s.dispose();
  });

  it("shows own messages as the outbox reports them, then sent in relay order; the echo does not duplicate them", async () => {
    const { client, emit } = scriptedClient();
    const s = createWebSession(client);
    await s.init();
    await s.send("r1", "  hello  ");
    expect(s.state.timelines.r1!.map((i) => [i.text, i.status])).toEqual([["hello", "queued"]]);
    const queued = { messageId: "out1", roomId: "r1", text: "hello", sentAtMs: 500, attempts: 0 };
    emit("outbox", { ...queued, status: "sending" });
    expect(s.state.timelines.r1![0]!.status).toBe("sending");
    emit("outbox", { ...queued, status: "queued", reason: "relay-unreachable", attempts: 1 });
    expect(s.state.timelines.r1!.map((i) => [i.status, i.reason])).toEqual([["queued", "relay-unreachable"]]);
    emit("message", message(4, "before it"));
    emit("message", message(5, "hello", { own: true, messageId: "out1", sender: "me" }));
    emit("outbox", { ...queued, status: "sent", seq: 5, postedAtMs: 5000 });
    expect(s.state.timelines.r1!.map((i) => [i.text, i.status, i.seq])).toEqual([
      ["before it", "sent", 4],
      ["hello", "sent", 5],
    ]);
    s.dispose();
  });

  it("SC-18: a message is shown at the sender's time, not the relay's hour-floored post time (that only when the sender gave none)", async () => {
    const { client, emit } = scriptedClient();
    const s = createWebSession(client);
    await s.init();
    const sent = Date.UTC(2026, 11, 3, 10, 37, 12);
    const hour = Date.UTC(2026, 11, 3, 10, 0, 0); // what a relay keeps (floored to the hour)
    emit("message", message(1, "from history", { sentAtMs: sent, postedAtMs: hour }));
    emit("message", message(2, "no sender time", { sentAtMs: 0, postedAtMs: hour }));
    expect(s.state.timelines.r1!.map((i) => [i.text, i.atMs])).toEqual([
      ["from history", sent],
      ["no sender time", hour],
    ]);
    // Our own line, once sent, keeps our own time too.
    await s.send("r1", "mine");
    emit("outbox", { messageId: "out1", roomId: "r1", text: "mine", sentAtMs: sent + 5000, status: "sent", seq: 3, postedAtMs: hour, attempts: 1 });
    expect(s.state.timelines.r1!.find((i) => i.text === "mine")!.atMs).toBe(sent + 5000);
    s.dispose();
  });

  it("shows a failed message with its reason, retries and discards through the outbox", async () => {
    const { client, emit, script } = scriptedClient();
    const s = createWebSession(client);
    await s.init();
    await s.send("r1", "try");
    emit("outbox", { messageId: "out1", roomId: "r1", text: "try", sentAtMs: 500, status: "failed", reason: "not-a-member", attempts: 1 });
    const line = s.state.timelines.r1![0]!;
    expect([line.status, line.reason]).toEqual(["failed", "not-a-member"]);
    await s.retry("r1", line.key);
    expect(script.retried).toEqual(["out1"]);
    await s.discard("r1", line.key);
    expect(script.discarded).toEqual(["out1"]);
    expect(s.state.timelines.r1).toEqual([]);
    s.dispose();
  });

  it("shows what is still in the outbox after a reload", async () => {
    const { client, script } = scriptedClient();
    script.queued.push({ messageId: "old", roomId: "r1", text: "typed before the reload", sentAtMs: 100, status: "queued", reason: "relay-unreachable", attempts: 2 });
    const s = createWebSession(client);
    await s.init();
    expect(s.state.timelines.r1!.map((i) => [i.text, i.status])).toEqual([["typed before the reload", "queued"]]);
    s.dispose();
  });

  it("expires a typing indicator without a refresh, and a message clears it", async () => {
    const { client, emit } = scriptedClient();
    const s = createWebSession(client);
    await s.init();
    emit("typing", { roomId: "r1", sender: "bob", typing: true });
    expect(Object.keys(s.state.typing.r1!)).toEqual(["bob"]);
    vi.advanceTimersByTime(TYPING_TTL_MS + 1);
    expect(Object.keys(s.state.typing.r1!)).toEqual([]);
    emit("typing", { roomId: "r1", sender: "bob", typing: true });
    emit("message", message(1, "done"));
    expect(Object.keys(s.state.typing.r1!)).toEqual([]);
    s.dispose();
  });

  it("sends typing at most once per refresh interval and stops after sending", async () => {
    const { client, script } = scriptedClient();
    const s = createWebSession(client);
    await s.init();
    s.noteTyping("r1");
    s.noteTyping("r1");
    expect(script.typing).toEqual([true]);
    vi.advanceTimersByTime(TYPING_REFRESH_MS);
    s.noteTyping("r1");
    expect(script.typing).toEqual([true, true]);
    void s.send("r1", "x");
    expect(script.typing).toEqual([true, true, false]);
    s.dispose();
  });

  it("adds join and leave lines when the roster changes", async () => {
    const { client, emit, script, bob } = scriptedClient();
    const s = createWebSession(client);
    await s.init();
    emit("message", message(1, "before"));
    script.members = [script.members[0]!, bob, { ...bob, address: "carol", displayName: "Carol" }];
    emit("members-changed", { roomId: "r1" });
    emit("message", message(2, "between"));
    script.members = script.members.filter((m) => m.address !== "bob");
    emit("members-changed", { roomId: "r1" });
    await s.send("r1", "mine");
    emit("message", message(3, "after"));
    expect(s.state.timelines.r1!.map((i) => [i.kind, i.text])).toEqual([
      ["message", "before"],
      ["event", "Carol joined the room"],
      ["message", "between"],
      ["event", "Bob is no longer in the room"],
      ["message", "after"],
      ["message", "mine"],
    ]);
    expect(s.state.members.r1!.map((m) => m.displayName)).toEqual(["Me", "Carol"]);
    s.dispose();
  });

  it("follows the connection state and closed rooms", async () => {
    const { client, emit } = scriptedClient();
    const s = createWebSession(client);
    await s.init();
    emit("connection", { state: "online" });
    expect(s.state.connection).toBe("online");
    emit("room-closed", { roomId: "r1", reason: "removed" });
    expect(s.state.closed.r1).toBe("removed");
    s.dispose();
  });

  it("RM-62..RM-64: edits, reactions and deletes replace the target's line on screen and in history; a delete leaves no text stored", async () => {
    const { client, emit } = scriptedClient();
    const kv = new MemoryKeyValueStore();
    const history = new RoomHistory(kv);
    const s = createWebSession(client, { history });
    await s.init();
    emit("message", message(1, "original words"));
    emit("message", message(2, "a reply", { replyTo: "m1", sender: "me", own: true, messageId: "m2" }));
    const base = { roomId: "r1", messageId: "m1", sender: "bob", senderName: "Bob", own: false, known: true, deleted: false };
    emit("message-updated", { ...base, kind: "edit", seq: 3, text: "edited words", edited: true, reactions: [] });
    emit("message-updated", { ...base, kind: "reaction", seq: 4, text: "edited words", edited: true, emoji: "👍", reactions: [{ emoji: "👍", members: [{ address: "me", name: "Me" }] }] });
    emit("message-updated", { ...base, kind: "reaction", seq: 5, text: "edited words", edited: true, emoji: "", reactions: [] });
    const line = () => s.state.timelines.r1!.find((i) => i.messageId === "m1")!;
    expect(line()).toMatchObject({ text: "edited words", edited: true });
    expect(line().reactions).toBeUndefined(); // taken back: the field goes, not merged
    expect(s.state.timelines.r1!.find((i) => i.messageId === "m2")!.replyTo).toBe("m1");
    await vi.advanceTimersByTimeAsync(1);
    expect((await history.load("r1")).find((l) => l.messageId === "m1")).toMatchObject({ text: "edited words", edited: true });

    emit("message-updated", { ...base, kind: "delete", seq: 6, edited: false, deleted: true, reactions: [] });
    expect(line()).toMatchObject({ text: "", deleted: true });
    expect(line().edited).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    const stored = await history.load("r1");
    expect(stored.find((l) => l.messageId === "m1")).toMatchObject({ text: "", deleted: true });
    const raw = (await kv.list("")).map(([, v]) => new TextDecoder().decode(v)).join("\n");
    expect(raw).not.toContain("original words");
    expect(raw).not.toContain("edited words");
    // RM-63: a forged edit is a refusal, not an undecryptable message.
    emit("decryption-failed", { roomId: "r1", sender: "bob", reason: "forged edit (not the author)" });
    expect([s.state.forged.r1, s.state.undecryptable.r1]).toEqual([true, undefined]);
    // An update for a message this device never had changes nothing.
    emit("message-updated", { ...base, messageId: "zz", kind: "delete", seq: 7, edited: false, deleted: true, reactions: [] });
    expect(s.state.timelines.r1!.length).toBe(2);
    s.dispose();
  });
});
