/**
 * What a message bubble shows besides its text (spec/09-rooms.md RM-61..RM-64): the quote of
 * the message a reply answers, the reactions with their counts and who chose them, and the
 * reaction picker. Owns only layout; the room view decides what happens on a click.
 */

import { For, Show } from "solid-js";
import type { TimelineItem } from "../lib/message-groups.js";

/** The emoji the picker offers: the six most chat apps start with (any one emoji is allowed, RM-62). */
export const QUICK_REACTIONS: readonly string[] = ["👍", "❤️", "😂", "😮", "😢", "🙏"];

/** How much of the quoted message a reply shows: enough to recognise it on one line. */
export const QUOTE_CHARS = 80;

/** RM-64: what a deleted message shows in its place. */
export const TOMBSTONE_SENTENCE = "This message was deleted";

/** RM-61: what a quote shows when this device does not have the message it answers. */
export const ORIGINAL_MISSING_SENTENCE = "Original not available";

/** The start of `text` on one line, at most QUOTE_CHARS characters. */
export function excerpt(text: string): string {
  const chars = [...text.replace(/\s+/g, " ").trim()];
  return chars.length > QUOTE_CHARS ? `${chars.slice(0, QUOTE_CHARS).join("")}…` : chars.join("");
}

/** RM-61: the quote above a reply; clicking it shows the message it answers. */
export function ReplyQuote(props: { target: TimelineItem | undefined; onJump: () => void }) {
  return (
    <button type="button" class="reply-quote" data-testid="reply-quote" onClick={() => props.onJump()} disabled={props.target === undefined}>
      <Show when={props.target} fallback={<span class="quote-text">{ORIGINAL_MISSING_SENTENCE}</span>}>
        {(t) => (
          <>
            <span class="quote-author" dir="auto">{t().own ? "You" : t().senderName}</span>{" "}
            <span class="quote-text" dir="auto">{t().deleted === true ? TOMBSTONE_SENTENCE : excerpt(t().text)}</span>
          </>
        )}
      </Show>
    </button>
  );
}

/** RM-62: the reactions under a message; ours is pressed, and clicking one toggles ours. */
export function Reactions(props: { reactions: NonNullable<TimelineItem["reactions"]>; self: string | undefined; onToggle: (emoji: string) => void }) {
  return (
    <div class="reactions" data-testid="reactions">
      <For each={props.reactions}>
        {(r) => {
          const mine = () => r.members.some((m) => m.address === props.self);
          const names = () => r.members.map((m) => (m.address === props.self ? "You" : m.name)).join(", ");
          return (
            <button
              type="button"
              class="reaction"
              classList={{ mine: mine() }}
              aria-pressed={mine()}
              title={names()}
              aria-label={`${r.emoji} ${r.members.length}: ${names()}`}
              data-testid="reaction"
              data-emoji={r.emoji}
              onClick={() => props.onToggle(r.emoji)}
            >
              {r.emoji} <span class="reaction-count">{r.members.length}</span>
            </button>
          );
        }}
      </For>
    </div>
  );
}

/** RM-62: a row of common emoji to react with. */
export function ReactionPicker(props: { onPick: (emoji: string) => void; onClose: () => void }) {
  return (
    <div class="reaction-picker" role="group" aria-label="React" data-testid="reaction-picker" onKeyDown={(e) => e.key === "Escape" && props.onClose()}>
      <For each={QUICK_REACTIONS}>
        {(emoji) => (
          <button type="button" class="quiet" data-testid="pick-reaction" data-emoji={emoji} onClick={() => props.onPick(emoji)}>
            {emoji}
          </button>
        )}
      </For>
    </div>
  );
}
