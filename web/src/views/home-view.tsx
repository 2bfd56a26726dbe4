/**
 * Home: create a room, open one of yours (with unread counts), or join with a pasted link
 * (DESIGN.md §6). Owns the forms and the list; the session does the work.
 */

import { For, Show, createSignal, onMount } from "solid-js";
import type { RoomSummary } from "../../../client/app/securecomm-client.js";
import { errorSentence } from "../lib/error-messages.js";
import { looksLikeInviteLink } from "../lib/invite-fragment.js";
import { MAX_ROOM_NAME } from "./limits.js";

/** Props of {@link HomeView}. */
export interface HomeViewProps {
  displayName: string;
  rooms: readonly RoomSummary[];
  unread: Readonly<Record<string, number>>;
  onCreateRoom: (name: string) => Promise<void>;
  onOpenRoom: (roomId: string) => void;
  /** A pasted invite link: the app asks for confirmation next. */
  onInviteLink: (link: string) => void;
}

/** The home screen. */
export function HomeView(props: HomeViewProps) {
  const [roomName, setRoomName] = createSignal("");
  const [busy, setBusy] = createSignal(false);
  const [error, setError] = createSignal<string>();
  const [link, setLink] = createSignal("");
  const [linkError, setLinkError] = createSignal<string>();

  const create = async (event: SubmitEvent) => {
    event.preventDefault();
    const name = roomName().trim();
    if (name.length === 0) {
      setError("Give the room a name, for example “Weekend plans”.");
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      await props.onCreateRoom(name);
      setRoomName("");
    } catch (e) {
      setError(errorSentence(e, "create-room"));
    } finally {
      setBusy(false);
    }
  };

  const join = (event: SubmitEvent) => {
    event.preventDefault();
    if (!looksLikeInviteLink(link())) {
      setLinkError("That is not an invite link. It should end in #join= followed by a code.");
      return;
    }
    setLinkError(undefined);
    props.onInviteLink(link().trim());
    setLink("");
  };

  let heading: HTMLHeadingElement | undefined;
  // Focus starts at the screen's heading, not the page body (after Continue, or coming back).
  onMount(() => heading?.focus());

  const unreadOf = (roomId: string) => props.unread[roomId] ?? 0;

  return (
    <div class="home">
      <section class="card" aria-labelledby="rooms-title">
        <h1 id="rooms-title" tabindex="-1" ref={heading}>Your rooms</h1>
        <Show
          when={props.rooms.length > 0}
          fallback={<p class="empty">No rooms yet. Create one below and share its invite link.</p>}
        >
          <ul class="room-list" aria-label="Rooms">
            <For each={props.rooms}>
              {(room) => (
                <li>
                  <button
                    type="button"
                    class="room-item"
                    classList={{ departed: room.departed }}
                    onClick={() => props.onOpenRoom(room.roomId)}
                    aria-label={`${room.name}, ${room.memberCount} ${room.memberCount === 1 ? "member" : "members"}${unreadOf(room.roomId) > 0 ? `, ${unreadOf(room.roomId)} unread` : ""}${room.departed ? ", closed" : ""}`}
                  >
                    <span class="room-item-name">{room.name}</span>
                    <span class="room-item-meta">
                      {room.departed ? "Closed" : `${room.memberCount} ${room.memberCount === 1 ? "member" : "members"}`}
                      {room.isAdmin ? " · admin" : ""}
                    </span>
                    <Show when={unreadOf(room.roomId) > 0}>
                      <span class="badge" data-testid="unread">{unreadOf(room.roomId)}</span>
                    </Show>
                  </button>
                </li>
              )}
            </For>
          </ul>
        </Show>
      </section>

      <section class="card" aria-labelledby="create-title">
        <h2 id="create-title">Create a room</h2>
        <form onSubmit={create} class="inline-form">
          <label for="room-name" class="visually-hidden">Room name</label>
          <input
            id="room-name"
            placeholder="Room name"
            maxLength={MAX_ROOM_NAME}
            value={roomName()}
            onInput={(e) => setRoomName(e.currentTarget.value)}
            disabled={busy()}
            aria-describedby={error() !== undefined ? "create-error" : undefined}
          />
          <button type="submit" class="primary" disabled={busy()}>
            {busy() ? "Creating…" : "Create room"}
          </button>
        </form>
        <Show when={error()}>
          <p id="create-error" class="error" role="alert">{error()}</p>
        </Show>
      </section>

      <section class="card" aria-labelledby="join-title">
        <h2 id="join-title">Join with an invite link</h2>
        <form onSubmit={join} class="inline-form">
          <label for="invite-link" class="visually-hidden">Invite link</label>
          <input
            id="invite-link"
            placeholder="Paste an invite link"
            value={link()}
            onInput={(e) => setLink(e.currentTarget.value)}
            autocomplete="off"
            spellcheck={false}
          />
          <button type="submit">Join</button>
        </form>
        <Show when={linkError()}>
          <p class="error" role="alert">{linkError()}</p>
        </Show>
      </section>
    </div>
  );
}
