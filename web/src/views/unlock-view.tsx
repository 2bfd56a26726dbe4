/**
 * The passphrase lock's screen: a profile locked with a passphrase (client/vault) opens only
 * after it is typed. Owns the form; main.tsx unlocks the vault and starts the app.
 */

import { createSignal, Show } from "solid-js";
import { errorSentence } from "../lib/error-messages.js";

/** Props of {@link UnlockView}. */
export interface UnlockViewProps {
  /** Unlocks with `passphrase`; rejects (VaultError "wrong_passphrase") when it is not it. */
  onUnlock: (passphrase: string) => Promise<void>;
  /** Deletes this browser's profile (the only way on without the passphrase). */
  onStartOver: () => Promise<void>;
}

/** "SecureComm is locked": the passphrase form. */
export function UnlockView(props: UnlockViewProps) {
  const [passphrase, setPassphrase] = createSignal("");
  const [busy, setBusy] = createSignal(false);
  const [error, setError] = createSignal<string>();
  const [confirmReset, setConfirmReset] = createSignal(false);

  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await props.onUnlock(passphrase());
    } catch (e) {
      setError(errorSentence(e, "unlock"));
      setBusy(false);
    }
  };

  return (
    <section class="card welcome" aria-labelledby="unlock-title">
      <h1 id="unlock-title">SecureComm is locked</h1>
      <p class="lead">Enter this browser's SecureComm passphrase to open your identity, rooms and history.</p>
      <form onSubmit={submit} class="stack">
        <label for="unlock-passphrase">Passphrase</label>
        <input
          id="unlock-passphrase"
          type="password"
          autocomplete="current-password"
          value={passphrase()}
          onInput={(e) => setPassphrase(e.currentTarget.value)}
          disabled={busy()}
          aria-invalid={error() !== undefined}
          autofocus
        />
        <Show when={error()}>
          <p class="error" role="alert">{error()}</p>
        </Show>
        <button type="submit" class="primary" disabled={busy() || passphrase().length === 0}>
          {busy() ? "Unlocking…" : "Unlock"}
        </button>
      </form>
      <p class="fineprint">
        There is no way to recover a forgotten passphrase.{" "}
        <Show
          when={confirmReset()}
          fallback={<button type="button" class="link-button" onClick={() => setConfirmReset(true)}>Start over…</button>}
        >
          <button type="button" class="link-button danger" onClick={() => void props.onStartOver()}>
            Yes, delete this browser's SecureComm data
          </button>
        </Show>
      </p>
    </section>
  );
}
