// Component tests of the home screen: room list with unread counts, create, join by link.
import { cleanup, fireEvent, render, screen, within } from "@solidjs/testing-library";
import { afterEach, describe, expect, it } from "vitest";
import type { RoomSummary } from "../../../client/app/securecomm-client.js";
import { HomeView, type HomeViewProps } from "./home-view.js";

afterEach(cleanup);

const room = (roomId: string, name: string, extra: Partial<RoomSummary> = {}): RoomSummary => ({
  roomId,
  name,
  memberCount: 2,
  unread: 0,
  departed: false,
  isAdmin: false,
  ...extra,
});

function setup(overrides: Partial<HomeViewProps> = {}) {
  const calls = { created: [] as string[], opened: [] as string[], links: [] as string[] };
  const props: HomeViewProps = {
    displayName: "Alice",
    rooms: [],
    unread: {},
    onCreateRoom: async (name) => void calls.created.push(name),
    onOpenRoom: (id) => void calls.opened.push(id),
    onInviteLink: (link) => void calls.links.push(link),
    ...overrides,
  };
  render(() => <HomeView {...props} />);
  return calls;
}

describe("HomeView", () => {
  it("says there are no rooms yet", () => {
    setup();
    expect(screen.getByText(/No rooms yet/)).toBeTruthy();
  });

  it("lists rooms with unread counts and opens one", () => {
    const calls = setup({
      rooms: [room("r1", "Weekend plans", { isAdmin: true }), room("r2", "Book club", { memberCount: 1 }), room("r3", "Old", { departed: true })],
      unread: { r2: 3 },
    });
    const list = screen.getByRole("list", { name: "Rooms" });
    const items = within(list).getAllByRole("button");
    expect(items.map((b) => b.getAttribute("aria-label"))).toEqual([
      "Weekend plans, 2 members",
      "Book club, 1 member, 3 unread",
      "Old, 2 members, closed",
    ]);
    expect(within(items[1]!).getByTestId("unread").textContent).toBe("3");
    expect(within(items[0]!).queryByTestId("unread")).toBeNull();
    fireEvent.click(items[1]!);
    expect(calls.opened).toEqual(["r2"]);
  });

  it("creates a room with the trimmed name and refuses an empty one", async () => {
    const calls = setup();
    fireEvent.click(screen.getByRole("button", { name: "Create room" }));
    expect((await screen.findByRole("alert")).textContent).toMatch(/Give the room a name/);
    fireEvent.input(screen.getByLabelText("Room name"), { target: { value: " Team " } });
    fireEvent.click(screen.getByRole("button", { name: "Create room" }));
    await Promise.resolve();
    expect(calls.created).toEqual(["Team"]);
  });

  it("passes a pasted invite link on and rejects other text", async () => {
    const calls = setup();
    const field = screen.getByLabelText("Invite link");
    fireEvent.input(field, { target: { value: "not a link" } });
    fireEvent.click(screen.getByRole("button", { name: "Join" }));
    expect((await screen.findByRole("alert")).textContent).toMatch(/not an invite link/);
    fireEvent.input(field, { target: { value: "http://localhost:8080/#join=abc" } });
    fireEvent.click(screen.getByRole("button", { name: "Join" }));
    expect(calls.links).toEqual(["http://localhost:8080/#join=abc"]);
  });
});
