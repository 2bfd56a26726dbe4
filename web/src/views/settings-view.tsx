/**
 * Settings: your identity's fingerprint, your display name, and deleting the identity with
 * all local data (DESIGN.md §6). Owns the forms and the two-step delete.
 */

import { createSignal, Show } from "solid-js";
import { errorSentence } from "../lib/error-messages.js";
import { groupFingerprint } from "../lib/format.js";
import { MAX_DISPLAY_NAME } from "./limits.js";

/** Props of {@link SettingsView}. */
export interface SettingsViewProps {
  identity: { fingerprint: string; displayName: string };
  onRename: (name: string) => Promise<void>;
  onDeleteEverything: () => Promise<void>;
  onBack: () => void;
}

/** The settings screen. */
export function SettingsView(props: SettingsViewProps) {
  const [name, setName] = createSignal(props.identity.displayName);
  const [note, setNote] = createSignal<{ ok: boolean; text: string }>();
  const [confirmDelete, setConfirmDelete] = createSignal(false);
  const [deleting, setDeleting] = createSignal(false);
  const [deleteError, setDeleteError] = createSignal<string>();

  const rename = async (event: SubmitEvent) => {
    event.preventDefault();
    const chosen = name().trim();
    if (chosen.length === 0) {
      setNote({ ok: false, text: "A display name cannot be empty." });
      return;
    }
    try {
      await props.onRename(chosen);
      setNote({ ok: true, text: "Display name saved." });
    } catch (e) {
      setNote({ ok: false, text: errorSentence(e, "rename") });
    }
  };

  const destroy = async () => {
    setDeleting(true);
    setDeleteError(undefined);
    try {
      await props.onDeleteEverything();
    } catch (e) {
      setDeleteError(errorSentence(e, "delete-everything"));
      setDeleting(false);
    }
  };

  return (
    <div class="settings">
      <button type="button" class="link-button back" onClick={() => props.onBack()}>← Back</button>
      <section class="card" aria-labelledby="identity-title">
        <h1 id="identity-title">Your identity</h1>
        <p class="hint">Your identity key's fingerprint. It changes only if you delete your identity.</p>
        <p class="fingerprint" data-testid="fingerprint">{groupFingerprint(props.identity.fingerprint)}</p>
      </section>
      <section class="card" aria-labelledby="name-title">
        <h2 id="name-title">Display name</h2>
        <form class="inline-form" onSubmit={rename}>
          <label for="settings-name" class="visually-hidden">Display name</label>
          <input id="settings-name" maxLength={MAX_DISPLAY_NAME} value={name()} onInput={(e) => setName(e.currentTarget.value)} />
          <button type="submit">Save</button>
        </form>
        <Show when={note()}>
          <p class={note()!.ok ? "success" : "error"} role="status">{note()!.text}</p>
        </Show>
      </section>
      <section class="card danger-zone" aria-labelledby="delete-title">
        <h2 id="delete-title">Delete everything</h2>
        <p>
          Deletes your identity from the relay and every key and room from this browser. You
          leave all your rooms, and this cannot be undone.
        </p>
        <Show
          when={confirmDelete()}
          fallback={<button type="button" class="danger" onClick={() => setConfirmDelete(true)}>Delete identity and all data…</button>}
        >
          <div class="actions">
            <button type="button" class="danger" onClick={destroy} disabled={deleting()}>
              {deleting() ? "Deleting…" : "Yes, delete everything"}
            </button>
            <button type="button" class="quiet" onClick={() => setConfirmDelete(false)} disabled={deleting()}>Cancel</button>
          </div>
        </Show>
        <Show when={deleteError()}>
          <p class="error" role="alert">{deleteError()}</p>
        </Show>
      </section>
    </div>
  );
}
