/**
 * Sharing a room's invite link: copy to the clipboard, with the link always visible in a
 * read-only field as the fallback, and, for the admin, "Reset link" (spec RM-50, RM-52).
 * Owns the copy attempt, the reset confirmation and their notes.
 */

import { createSignal, onMount, Show } from "solid-js";
import { ACTION_SENTENCES, errorSentence } from "../lib/error-messages.js";

/** The current link, or undefined when the room has none yet (made before RM-50). */
function current(link: () => string): string | undefined {
  try {
    return link();
  } catch {
    return undefined;
  }
}

/**
 * The invite panel. `link` is read reactively: the link changes when the admin resets it
 * (here or on another member's device), and the field follows. `onReset` is given to admins.
 */
export function InvitePanel(props: { link: () => string; onReset?: () => Promise<string>; onClose: () => void }) {
  const [note, setNote] = createSignal<{ ok: boolean; text: string }>();
  const [confirmReset, setConfirmReset] = createSignal(false);
  const [busy, setBusy] = createSignal(false);
  const link = () => current(props.link);
  let field: HTMLInputElement | undefined;

  const copy = async () => {
    const text = link();
    if (text === undefined) return;
    try {
      if (navigator.clipboard === undefined) throw new Error("no clipboard");
      await navigator.clipboard.writeText(text);
      setNote({ ok: true, text: "Invite link copied. Send it to the people you want in this room." });
    } catch {
      field?.select();
      setNote({ ok: false, text: ACTION_SENTENCES["copy-link"] });
    }
  };

  const reset = async () => {
    setBusy(true);
    try {
      await props.onReset!();
      setConfirmReset(false);
      setNote({ ok: true, text: "The link was reset. The old link no longer works; every member's app now shows the new one." });
    } catch (e) {
      setNote({ ok: false, text: errorSentence(e, "reset-link") });
    } finally {
      setBusy(false);
    }
  };

  onMount(() => field?.select());

  return (
    <section class="invite card" aria-labelledby="invite-title">
      <h2 id="invite-title">Invite people</h2>
      <p class="hint">
        Anyone with this link can join the room, so share it privately. It keeps working when
        members leave; removing a member, or “Reset link”, replaces it. The secret part after “#”
        never reaches the server.
      </p>
      <Show
        when={link()}
        fallback={<p class="hint" data-testid="no-invite-link">This room has no invite link yet. {props.onReset !== undefined ? "Reset the link to make one." : "Ask the room's admin to reset the link."}</p>}
      >
        {(text) => (
          <div class="inline-form">
            <label for="invite-field" class="visually-hidden">Invite link</label>
            <input id="invite-field" readOnly value={text()} ref={field} onFocus={(e) => e.currentTarget.select()} spellcheck={false} />
            <button type="button" class="primary" onClick={copy}>Copy link</button>
          </div>
        )}
      </Show>
      <div class="actions">
        <Show when={props.onReset !== undefined}>
          <Show
            when={confirmReset()}
            fallback={<button type="button" class="quiet" onClick={() => setConfirmReset(true)}>Reset link…</button>}
          >
            <span class="confirm">
              <button type="button" class="danger" onClick={reset} disabled={busy()}>
                {busy() ? "Resetting…" : "Yes, reset: the old link stops working"}
              </button>
              <button type="button" class="quiet" onClick={() => setConfirmReset(false)} disabled={busy()}>Keep it</button>
            </span>
          </Show>
        </Show>
        <button type="button" class="quiet" onClick={() => props.onClose()}>Done</button>
      </div>
      <Show when={note()}>
        <p class={note()!.ok ? "success" : "error"} role="status">{note()!.text}</p>
      </Show>
    </section>
  );
}
