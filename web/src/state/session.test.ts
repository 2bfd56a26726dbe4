// Tests of the session state over a scripted SecureCommClient: relay order, de-duplication,
// pending → sent/failed with retry, unread counts, typing expiry, join/leave lines.
// (The real client runs against a real relay in web/e2e.)
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type {
  ClientEvents,
  MemberView,
  RoomSummary,
  SecureCommClient,
} from "../../../client/app/securecomm-client.js";
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
    sends: [] as Array<{ text: string; resolve: (r: { messageId: string; seq: number }) => void; reject: (e: unknown) => void }>,
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
    sendText: (_roomId: string, text: string) =>
      new Promise((resolve, reject) => script.sends.push({ text, resolve, reject })),
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

  it("shows own messages pending, then sent in relay order; an echo does not duplicate them", async () => {
    const { client, emit, script } = scriptedClient();
    const s = createWebSession(client);
    await s.init();
    const sending = s.send("r1", "  hello  ");
    expect(s.state.timelines.r1!.map((i) => [i.text, i.status])).toEqual([["hello", "pending"]]);
    emit("message", message(5, "hello", { own: true, messageId: "mine", sender: "me" }));
    script.sends[0]!.resolve({ messageId: "mine", seq: 5 });
    await sending;
    expect(s.state.timelines.r1!.map((i) => [i.text, i.status, i.seq])).toEqual([["hello", "sent", 5]]);
    s.dispose();
  });

  it("marks a failed send and retries it", async () => {
    const { client, script } = scriptedClient();
    const s = createWebSession(client);
    await s.init();
    const first = s.send("r1", "try");
    script.sends[0]!.reject(new Error("offline"));
    await expect(first).rejects.toThrow();
    const key = s.state.timelines.r1![0]!.key;
    expect(s.state.timelines.r1![0]!.status).toBe("failed");
    const again = s.retry("r1", key);
    expect(s.state.timelines.r1![0]!.status).toBe("pending");
    script.sends[1]!.resolve({ messageId: "x", seq: 9 });
    await again;
    expect(s.state.timelines.r1!.map((i) => [i.status, i.seq])).toEqual([["sent", 9]]);
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
    const pending = s.send("r1", "mine");
    emit("message", message(3, "after"));
    expect(s.state.timelines.r1!.map((i) => [i.kind, i.text])).toEqual([
      ["message", "before"],
      ["event", "Carol joined the room"],
      ["message", "between"],
      ["event", "Bob is no longer in the room"],
      ["message", "after"],
      ["message", "mine"],
    ]);
    void pending.catch(() => undefined);
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
});
