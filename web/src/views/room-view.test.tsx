// Component tests of the room screen: grouped timeline, composer keys, pending/failed states,
// members and verification, typing, key-change hold, leave and remove, invite sharing.
import { cleanup, fireEvent, render, screen, within } from "@solidjs/testing-library";
import { createSignal } from "solid-js";
import { afterEach, describe, expect, it } from "vitest";
import type { MemberView, RoomSummary } from "../../../client/app/securecomm-client.js";
import type { TimelineItem } from "../lib/message-groups.js";
import { RoomView, type RoomViewProps } from "./room-view.js";

afterEach(cleanup);

const ROOM: RoomSummary = { roomId: "r1", name: "Weekend plans", memberCount: 3, unread: 0, departed: false, isAdmin: true };
const ME: MemberView = { address: "me", displayName: "Alice", isAdmin: true, isSelf: true, verification: "unverified" };
const BOB: MemberView = { address: "bob", displayName: "Bob", isAdmin: false, isSelf: false, verification: "verified" };
const CAROL: MemberView = { address: "carol", displayName: "Carol", isAdmin: false, isSelf: false, verification: "unverified" };
const T0 = Date.UTC(2026, 0, 1, 12, 0);

const msg = (key: string, sender: MemberView, text: string, seq: number | undefined, extra: Partial<TimelineItem> = {}): TimelineItem => ({
  key,
  kind: "message",
  ...(seq !== undefined ? { seq, messageId: key } : {}),
  sender: sender.address,
  senderName: sender.displayName,
  text,
  atMs: T0 + (seq ?? 9) * 1000,
  own: sender.isSelf,
  status: "sent",
  ...extra,
});

function setup(overrides: Partial<RoomViewProps> = {}) {
  const calls = { sent: [] as string[], typing: 0, stopped: 0, left: 0, removed: [] as string[], verify: [] as string[], accepted: [] as string[], retried: [] as string[] };
  const props: RoomViewProps = {
    room: ROOM,
    timeline: [],
    members: [ME, BOB, CAROL],
    typingNames: [],
    closedReason: undefined,
    undecryptable: false,
    inviteLink: () => "http://localhost:8080/#join=SECRET",
    onSend: async (t) => void calls.sent.push(t),
    onRetry: async (k) => void calls.retried.push(k),
    onTyping: () => void calls.typing++,
    onStopTyping: () => void calls.stopped++,
    onLeave: async () => void calls.left++,
    onRemove: async (a) => void calls.removed.push(a),
    onVerify: (a) => void calls.verify.push(a),
    onAcceptChange: async (a) => void calls.accepted.push(a),
    ...overrides,
  };
  render(() => <RoomView {...props} />);
  return calls;
}

describe("RoomView", () => {
  it("groups consecutive messages by sender with names, in the given order", () => {
    setup({
      timeline: [
        msg("m1", BOB, "Hi all", 1),
        msg("m2", BOB, "Anyone up for Saturday?", 2),
        msg("m3", ME, "Yes!", 3),
        { ...msg("e1", CAROL, "Carol joined the room", undefined), kind: "event" },
        msg("m4", CAROL, "Me too", 5),
      ],
    });
    const texts = screen.getAllByTestId("message").map((m) => m.querySelector(".bubble-text")?.textContent);
    expect(texts).toEqual(["Hi all", "Anyone up for Saturday?", "Yes!", "Me too"]);
    const groups = document.querySelectorAll(".message-group");
    expect(groups).toHaveLength(3);
    expect(groups[0]!.querySelector(".sender")?.textContent).toBe("Bob");
    expect(groups[1]!.querySelector(".sender")?.textContent).toBe("You");
    expect(groups[1]!.classList.contains("own")).toBe(true);
    expect(screen.getByText("Carol joined the room")).toBeTruthy();
  });

  it("sends on Enter, keeps Shift+Enter for new lines, and clears the composer", async () => {
    const calls = setup();
    const box = screen.getByLabelText("Message") as HTMLTextAreaElement;
    fireEvent.input(box, { target: { value: "line one" } });
    expect(calls.typing).toBe(1);
    fireEvent.keyDown(box, { key: "Enter", shiftKey: true });
    expect(calls.sent).toEqual([]);
    fireEvent.input(box, { target: { value: "line one\nline two" } });
    fireEvent.keyDown(box, { key: "Enter" });
    await Promise.resolve();
    expect(calls.sent).toEqual(["line one\nline two"]);
    expect(box.value).toBe("");
    fireEvent.keyDown(box, { key: "Enter" });
    expect(calls.sent).toHaveLength(1); // nothing to send
  });

  it("shows pending and failed states of own messages, with retry", () => {
    const calls = setup({
      timeline: [msg("l1", ME, "on its way", undefined, { status: "sending" }), msg("l2", ME, "lost", undefined, { status: "failed" })],
    });
    const [pending, failed] = screen.getAllByTestId("message");
    expect(pending!.dataset.status).toBe("sending");
    expect(pending!.textContent).toContain("Sending…");
    expect(failed!.textContent).toContain("Not sent");
    fireEvent.click(within(failed!).getByRole("button", { name: "Retry" }));
    expect(calls.retried).toEqual(["l2"]);
  });

  it("shows a send failure as a sentence", async () => {
    setup({
      onSend: async () => {
        throw new Error("raw internals");
      },
    });
    const box = screen.getByLabelText("Message");
    fireEvent.input(box, { target: { value: "hello" } });
    fireEvent.keyDown(box, { key: "Enter" });
    expect((await screen.findByRole("alert")).textContent).toBe("Your message was not sent. Try again.");
  });

  it("lists members with verification states and lets the admin remove after confirming", async () => {
    const calls = setup();
    const rows = screen.getAllByTestId("member");
    expect(rows.map((r) => r.querySelector(".member-name")?.textContent)).toEqual(["Alice (you)", "Bob", "Carol"]);
    expect(rows[1]!.textContent).toContain("Verified");
    expect(rows[2]!.textContent).toContain("Not verified");
    fireEvent.click(screen.getByRole("button", { name: "Verify Carol" }));
    expect(calls.verify).toEqual(["carol"]);
    fireEvent.click(screen.getByRole("button", { name: "Remove Carol" }));
    expect(calls.removed).toEqual([]);
    fireEvent.click(screen.getByRole("button", { name: "Confirm removing Carol" }));
    await Promise.resolve();
    expect(calls.removed).toEqual(["carol"]);
  });

  it("says it is waiting to be welcomed until another member shows up", () => {
    setup({ room: { ...ROOM, isAdmin: false }, members: [{ ...ME, isAdmin: false }] });
    expect(screen.getByText(/waiting for a member's device to welcome yours/)).toBeTruthy();
    cleanup();
    setup();
    expect(screen.getByText(/No messages yet/)).toBeTruthy();
  });

  it("offers no remove button to non-admins", () => {
    setup({ members: [{ ...ME, isAdmin: false }, { ...BOB, isAdmin: true }] });
    expect(screen.queryByRole("button", { name: /Remove/ })).toBeNull();
  });

  it("shows who is typing", () => {
    const [names, setNames] = createSignal<string[]>([]);
    render(() => (
      <RoomView
        room={ROOM}
        timeline={[]}
        members={[ME, BOB]}
        typingNames={names()}
        closedReason={undefined}
        undecryptable={false}
        inviteLink={() => ""}
        onSend={async () => undefined}
        onRetry={async () => undefined}
        onTyping={() => undefined}
        onStopTyping={() => undefined}
        onLeave={async () => undefined}
        onRemove={async () => undefined}
        onVerify={() => undefined}
        onAcceptChange={async () => undefined}
      />
    ));
    expect(screen.getByTestId("typing").textContent).toBe("");
    setNames(["Bob"]);
    expect(screen.getByTestId("typing").textContent).toBe("Bob is typing…");
    setNames(["Bob", "Carol"]);
    expect(screen.getByTestId("typing").textContent).toBe("Bob and Carol are typing…");
  });

  it("warns about a changed key and holds sending until accepted", () => {
    const calls = setup({ members: [ME, { ...BOB, verification: "changed" }] });
    const banner = screen.getByTestId("identity-changed");
    expect(banner.textContent).toContain("Bob's safety number has changed");
    expect((screen.getByLabelText("Message") as HTMLTextAreaElement).disabled).toBe(true);
    fireEvent.click(within(banner).getByRole("button", { name: "Accept and continue" }));
    expect(calls.accepted).toEqual(["bob"]);
    fireEvent.click(within(banner).getByRole("button", { name: "Review safety number" }));
    expect(calls.verify).toEqual(["bob"]);
  });

  it("leaves only after confirmation", async () => {
    const calls = setup();
    fireEvent.click(screen.getByRole("button", { name: "Leave" }));
    expect(calls.left).toBe(0);
    fireEvent.click(screen.getByRole("button", { name: "Yes, leave" }));
    await Promise.resolve();
    expect(calls.left).toBe(1);
  });

  it("shows a closed room as closed, without composer or invite", () => {
    setup({ closedReason: "removed" });
    expect(screen.getByText(/An admin removed you/)).toBeTruthy();
    expect((screen.getByLabelText("Message") as HTMLTextAreaElement).disabled).toBe(true);
    expect(screen.queryByRole("button", { name: "Share invite" })).toBeNull();
  });

  it("shares the invite link in a read-only field, falling back when the clipboard fails", async () => {
    setup({ showInvite: true });
    const field = screen.getByLabelText("Invite link") as HTMLInputElement;
    expect(field.value).toBe("http://localhost:8080/#join=SECRET");
    expect(field.readOnly).toBe(true);
    Object.defineProperty(navigator, "clipboard", {
      configurable: true,
      value: { writeText: async () => Promise.reject(new Error("denied")) },
    });
    fireEvent.click(screen.getByRole("button", { name: "Copy link" }));
    expect(await screen.findByText(/could not be copied automatically/)).toBeTruthy();
    const copied: string[] = [];
    Object.defineProperty(navigator, "clipboard", {
      configurable: true,
      value: { writeText: async (t: string) => void copied.push(t) },
    });
    fireEvent.click(screen.getByRole("button", { name: "Copy link" }));
    expect(await screen.findByText(/Invite link copied/)).toBeTruthy();
    expect(copied).toEqual(["http://localhost:8080/#join=SECRET"]);
  });

  it("RM-61..RM-64: quotes, tombstones, edited marks and reactions; only own messages offer edit and delete", async () => {
    const reacted: Array<[string, string | undefined]> = [];
    const edits: Array<[string, string]> = [];
    const sends: Array<[string, string | undefined]> = [];
    setup({
      timeline: [
        msg("m1", BOB, "Saturday at ten?", 1, { edited: true, reactions: [{ emoji: "👍", members: [{ address: "me", name: "Alice" }, { address: "carol", name: "Carol" }] }] }),
        msg("m2", ME, "Works for me", 2, { replyTo: "m1" }),
        msg("m3", CAROL, "", 3, { deleted: true }),
        msg("m4", BOB, "Me too", 4, { replyTo: "m3" }),
        msg("m5", BOB, "And me", 5, { replyTo: "00".repeat(16) }),
      ],
      onSend: async (t, r) => void sends.push([t, r]),
      onReact: async (id, e) => void reacted.push([id, e]),
      onEdit: async (id, t) => void edits.push([id, t]),
      onDelete: async () => undefined,
    });
    const quotes = screen.getAllByTestId("reply-quote").map((q) => q.textContent);
    expect(quotes).toEqual(["Bob Saturday at ten?", "Carol This message was deleted", "Original not available"]);
    expect(screen.getAllByTestId("tombstone").map((t) => t.textContent)).toEqual(["This message was deleted"]);
    expect(screen.getAllByTestId("edited")).toHaveLength(1);
    const chip = screen.getByTestId("reaction");
    expect(chip.getAttribute("aria-pressed")).toBe("true");
    expect(chip.getAttribute("title")).toBe("You, Carol");
    fireEvent.click(chip); // ours: taken back
    await Promise.resolve();
    expect(reacted).toEqual([["m1", undefined]]);
    // Edit and delete only on our own message; a deleted one offers nothing.
    expect(screen.getAllByTestId("edit")).toHaveLength(1);
    expect(screen.getAllByTestId("delete")).toHaveLength(1);
    expect(screen.getAllByTestId("reply")).toHaveLength(4);
    fireEvent.click(screen.getByTestId("edit"));
    const box = screen.getByLabelText("Message") as HTMLTextAreaElement;
    expect(box.value).toBe("Works for me");
    fireEvent.input(box, { target: { value: "Works for me!" } });
    fireEvent.keyDown(box, { key: "Enter" });
    await Promise.resolve();
    expect(edits).toEqual([["m2", "Works for me!"]]);
    // Replying names the target.
    fireEvent.click(screen.getAllByTestId("reply")[0]!);
    expect(screen.getByTestId("composing").textContent).toContain("Replying to Bob");
    fireEvent.input(box, { target: { value: "See you" } });
    fireEvent.keyDown(box, { key: "Enter" });
    await Promise.resolve();
    expect(sends).toEqual([["See you", "m1"]]);
  });
});
