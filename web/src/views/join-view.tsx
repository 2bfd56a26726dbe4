/**
 * The one confirmation before joining a room from an invite link (DESIGN.md §6). Owns the
 * question and its two answers; the session joins.
 */

import { createSignal, onMount, Show } from "solid-js";
import { errorSentence } from "../lib/error-messages.js";

/**
 * The join confirmation; `onJoin` joins, `onCancel` forgets the invite. `roomName` and
 * `inviterName` are what the link states (spec RM-53), shown as plain text.
 */
export function JoinView(props: { roomName?: string; inviterName?: string; onJoin: () => Promise<void>; onCancel: () => void }) {
  const [busy, setBusy] = createSignal(false);
  const [error, setError] = createSignal<string>();
  let joinButton: HTMLButtonElement | undefined;
  // Focus the question's main answer, not the page body (after Continue on a first visit).
  onMount(() => joinButton?.focus());
  const join = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await props.onJoin();
    } catch (e) {
      setError(errorSentence(e, "join-room"));
      setBusy(false);
    }
  };
  return (
    <section class="card join" aria-labelledby="join-confirm-title">
      <h1 id="join-confirm-title">
        <Show when={props.roomName} fallback="Join this room?">
          Join “<span data-testid="join-room-name">{props.roomName}</span>”?
        </Show>
      </h1>
      <p class="lead">
        <Show when={props.inviterName} fallback="Someone shared an invite with you.">
          <span data-testid="join-inviter-name">{props.inviterName}</span> invited you (as the link says; the
          room's members confirm who is in it once you join).
        </Show>{" "}
        Members will see your display name, and you will see messages sent from now on.
      </p>
      <Show when={error()}>
        <p class="error" role="alert">{error()}</p>
      </Show>
      <div class="actions">
        <button type="button" class="primary" ref={joinButton} onClick={join} disabled={busy()}>
          {busy() ? "Joining…" : "Join room"}
        </button>
        <button type="button" onClick={() => props.onCancel()} disabled={busy()}>
          Not now
        </button>
      </div>
    </section>
  );
}
