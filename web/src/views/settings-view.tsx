/**
 * Settings: your identity's fingerprint, your display name, the passphrase lock of this
 * browser's profile, and deleting the identity with all local data (DESIGN.md §6). Owns the
 * forms and the two-step delete.
 */

import { createSignal, Show } from "solid-js";
import { errorSentence } from "../lib/error-messages.js";
import { groupFingerprint } from "../lib/format.js";
import { MAX_DISPLAY_NAME } from "./limits.js";
import type { ProfileLock } from "../app.js";

/** Props of {@link SettingsView}. */
export interface SettingsViewProps {
  identity: { fingerprint: string; displayName: string };
  onRename: (name: string) => Promise<void>;
  /** The passphrase lock (absent: the section is not shown). */
  lock?: ProfileLock;
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

  const [hasPassphrase, setHasPassphrase] = createSignal(props.lock?.hasPassphrase() === true);
  const [pass1, setPass1] = createSignal("");
  const [pass2, setPass2] = createSignal("");
  const [lockNote, setLockNote] = createSignal<{ ok: boolean; text: string }>();
  const [lockBusy, setLockBusy] = createSignal(false);

  const setLock = async (event: SubmitEvent) => {
    event.preventDefault();
    const lock = props.lock;
    if (lock === undefined) return;
    if (pass1() !== pass2()) {
      setLockNote({ ok: false, text: "The two passphrases are not the same." });
      return;
    }
    setLockBusy(true);
    setLockNote(undefined);
    try {
      await lock.setPassphrase(pass1());
      setHasPassphrase(true);
      setPass1("");
      setPass2("");
      setLockNote({ ok: true, text: "Passphrase set. It is asked every time SecureComm opens in this browser." });
    } catch (e) {
      setLockNote({ ok: false, text: errorSentence(e, "set-passphrase") });
    } finally {
      setLockBusy(false);
    }
  };

  const removeLock = async () => {
    const lock = props.lock;
    if (lock === undefined) return;
    setLockBusy(true);
    try {
      await lock.removePassphrase();
      setHasPassphrase(false);
      setLockNote({ ok: true, text: "Passphrase removed." });
    } catch (e) {
      setLockNote({ ok: false, text: errorSentence(e, "set-passphrase") });
    } finally {
      setLockBusy(false);
    }
  };

  const notifications = typeof Notification === "undefined" ? undefined : Notification;
  const [permission, setPermission] = createSignal(notifications?.permission ?? "denied");
  const askNotifications = async () => {
    if (notifications === undefined) return;
    setPermission(await notifications.requestPermission());
  };

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
      <section class="card" aria-labelledby="notify-title">
        <h2 id="notify-title">Notifications</h2>
        <Show when={notifications !== undefined} fallback={<p class="hint">This browser does not offer notifications.</p>}>
          <Show when={permission() === "default"}>
            <p class="hint">Get a notification when a message arrives while SecureComm is in the background. It names the room and the sender, never the text.</p>
            <button type="button" onClick={() => void askNotifications()}>Turn on notifications</button>
          </Show>
          <Show when={permission() === "granted"}>
            <p class="hint">On: messages that arrive while this tab is in the background raise a notification naming the room and the sender (never the text).</p>
          </Show>
          <Show when={permission() === "denied"}>
            <p class="hint">Notifications are blocked for this site. Allow them in the browser's site settings to get them.</p>
          </Show>
        </Show>
      </section>
      <Show when={props.lock}>
        {(lock) => (
          <section class="card" aria-labelledby="lock-title">
            <h2 id="lock-title">Passphrase lock</h2>
            <p class="hint">
              Everything SecureComm keeps in this browser is encrypted. With a passphrase, the key
              to it is derived from the passphrase (scrypt), so someone who copies this browser's
              files, or opens it after you, cannot read your identity, rooms or history without it.
              It is asked whenever SecureComm opens; a forgotten passphrase cannot be recovered.
            </p>
            <Show when={hasPassphrase()}>
              <p class="success" data-testid="lock-state">This browser's SecureComm is locked with a passphrase.</p>
              <div class="actions">
                <button type="button" onClick={() => lock().lockNow()}>Lock now</button>
                <button type="button" class="quiet" onClick={() => void removeLock()} disabled={lockBusy()}>Remove the passphrase</button>
              </div>
            </Show>
            <form class="stack" onSubmit={setLock}>
              <label for="lock-pass1">{hasPassphrase() ? "New passphrase" : "Passphrase"}</label>
              <input id="lock-pass1" type="password" autocomplete="new-password" value={pass1()} onInput={(e) => setPass1(e.currentTarget.value)} />
              <label for="lock-pass2">Repeat it</label>
              <input id="lock-pass2" type="password" autocomplete="new-password" value={pass2()} onInput={(e) => setPass2(e.currentTarget.value)} />
              <button type="submit" disabled={lockBusy() || pass1().length === 0}>
                {lockBusy() ? "Deriving the key…" : hasPassphrase() ? "Change passphrase" : "Set passphrase"}
              </button>
            </form>
            <Show when={lockNote()}>
              <p class={lockNote()!.ok ? "success" : "error"} role="status">{lockNote()!.text}</p>
            </Show>
          </section>
        )}
      </Show>
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
