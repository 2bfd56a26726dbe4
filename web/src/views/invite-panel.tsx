/**
 * Sharing a room's invite link: copy to the clipboard, with the link always visible in a
 * read-only field as the fallback (DESIGN.md §4, invites). Owns the copy attempt and its note.
 */

import { createSignal, onMount, Show } from "solid-js";
import { ACTION_SENTENCES } from "../lib/error-messages.js";

/**
 * The invite panel. `link` is asked again on every copy: a departure rotates the room secret,
 * and a link shown before that no longer admits anyone.
 */
export function InvitePanel(props: { link: () => string; onClose: () => void }) {
  const [note, setNote] = createSignal<{ ok: boolean; text: string }>();
  const [link, setLink] = createSignal(props.link());
  let field: HTMLInputElement | undefined;

  const copy = async () => {
    const current = props.link();
    setLink(current);
    try {
      if (navigator.clipboard === undefined) throw new Error("no clipboard");
      await navigator.clipboard.writeText(current);
      setNote({ ok: true, text: "Invite link copied. Send it to the people you want in this room." });
    } catch {
      field?.select();
      setNote({ ok: false, text: ACTION_SENTENCES["copy-link"] });
    }
  };

  onMount(() => field?.select());

  return (
    <section class="invite card" aria-labelledby="invite-title">
      <h2 id="invite-title">Invite people</h2>
      <p class="hint">
        Anyone with this link can join the room, so share it privately. The secret part after
        “#” never reaches the server.
      </p>
      <div class="inline-form">
        <label for="invite-field" class="visually-hidden">Invite link</label>
        <input id="invite-field" readOnly value={link()} ref={field} onFocus={(e) => e.currentTarget.select()} spellcheck={false} />
        <button type="button" class="primary" onClick={copy}>Copy link</button>
        <button type="button" class="quiet" onClick={() => props.onClose()}>Done</button>
      </div>
      <Show when={note()}>
        <p class={note()!.ok ? "success" : "error"} role="status">{note()!.text}</p>
      </Show>
    </section>
  );
}
