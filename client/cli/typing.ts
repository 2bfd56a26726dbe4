/**
 * The chat's typing indicators, both ways: which members to show as typing (each indicator
 * expires on its own), and when our own keystrokes count as typing a message.
 *
 * Owns: the timing constants and the rules. Does not own: the terminal (chat.ts) or sending
 * (the client's `setTyping`, an ephemeral room envelope).
 */

/**
 * How long another member shows as typing without a refresh. They refresh every
 * TYPING_REFRESH_MS while typing, so a lost "stopped" (they quit, the network dropped it) clears
 * by itself after this; the web app uses the same 6 s.
 */
export const TYPING_SHOWN_MS = 6_000;
/** Quiet time after our last keystroke in a message before we send "stopped typing". */
export const TYPING_IDLE_MS = 4_000;

/**
 * True when the line being edited is message text others may be told about: not empty, not a
 * slash command (`/members`; `//` escapes a leading slash, so that is text), and not an answer
 * to a question the chat asked (the "yes" after `/verify`).
 */
export function isMessageDraft(line: string, answeringQuestion: boolean): boolean {
  if (answeringQuestion) return false;
  const text = line.trimStart();
  if (text.length === 0) return false;
  return !(text.startsWith("/") && !text.startsWith("//"));
}

/** Who is shown typing, each until their indicator expires (timers call `onChange`). */
export class TypingIndicators {
  readonly #names = new Map<string, { name: string; timer: ReturnType<typeof setTimeout> }>();

  constructor(private readonly onChange: () => void, private readonly shownMs = TYPING_SHOWN_MS) {}

  /** `sender` is typing (refreshes their expiry) or stopped. */
  set(sender: string, name: string, typing: boolean): void {
    const old = this.#names.get(sender);
    if (old !== undefined) clearTimeout(old.timer);
    if (!typing) {
      this.#names.delete(sender);
      return;
    }
    const timer = setTimeout(() => {
      this.#names.delete(sender);
      this.onChange();
    }, this.shownMs);
    timer.unref?.();
    this.#names.set(sender, { name, timer });
  }

  /** Display names shown as typing now. */
  names(): string[] {
    return [...this.#names.values()].map((v) => v.name);
  }

  /** Stops every timer. */
  clear(): void {
    for (const v of this.#names.values()) clearTimeout(v.timer);
    this.#names.clear();
  }
}
