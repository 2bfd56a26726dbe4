/**
 * First visit: choose a display name; the identity is created and registered behind it
 * (DESIGN.md §6). Owns the form; the session does the work.
 */

import { createSignal, Show } from "solid-js";
import { errorSentence } from "../lib/error-messages.js";
import { MAX_DISPLAY_NAME } from "./limits.js";

/** The welcome screen; `onCreate` sets up the identity under the chosen name. */
export function WelcomeView(props: { onCreate: (displayName: string) => Promise<void>; invited?: boolean }) {
  const [name, setName] = createSignal("");
  const [busy, setBusy] = createSignal(false);
  const [error, setError] = createSignal<string>();

  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    const chosen = name().trim();
    if (chosen.length === 0) {
      setError("Enter a name so others in your rooms know who you are.");
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      await props.onCreate(chosen);
    } catch (e) {
      setError(errorSentence(e, "create-identity"));
      setBusy(false);
    }
  };

  return (
    <section class="card welcome" aria-labelledby="welcome-title">
      <div class="welcome-mark" aria-hidden="true">
        <svg viewBox="0 0 24 24" width="40" height="40">
          <path fill="currentColor" d="M12 2 4 5v6c0 5 3.4 9.7 8 11 4.6-1.3 8-6 8-11V5l-8-3Zm0 5a3 3 0 0 1 3 3v1h.5c.8 0 1.5.7 1.5 1.5v4c0 .8-.7 1.5-1.5 1.5h-7c-.8 0-1.5-.7-1.5-1.5v-4c0-.8.7-1.5 1.5-1.5H9v-1a3 3 0 0 1 3-3Zm0 1.6c-.8 0-1.4.6-1.4 1.4v1h2.8v-1c0-.8-.6-1.4-1.4-1.4Z" />
        </svg>
      </div>
      <h1 id="welcome-title">Welcome to SecureComm</h1>
      <p class="lead">
        Private chat rooms, encrypted on your device. No phone number, no e-mail: just a name
        people in your rooms will see.
      </p>
      <Show when={props.invited}>
        <p class="hint">You opened an invite. Choose a name first, then you can join the room.</p>
      </Show>
      <form onSubmit={submit} class="stack">
        <label for="display-name">Your display name</label>
        <input
          id="display-name"
          name="display-name"
          autocomplete="nickname"
          maxLength={MAX_DISPLAY_NAME}
          value={name()}
          onInput={(e) => setName(e.currentTarget.value)}
          disabled={busy()}
          aria-invalid={error() !== undefined}
          aria-describedby={error() !== undefined ? "welcome-error" : undefined}
          autofocus
        />
        <Show when={error()}>
          <p id="welcome-error" class="error" role="alert">{error()}</p>
        </Show>
        <button type="submit" class="primary" disabled={busy()}>
          {busy() ? "Setting up your keys…" : "Continue"}
        </button>
      </form>
      <p class="fineprint">Your keys are created and kept in this browser. Messages are never stored.</p>
    </section>
  );
}
